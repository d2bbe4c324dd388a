"""Errors that travel back to the client as an error envelope with an HTTP status."""

from __future__ import annotations


class ColoniesError(Exception):
    """A refusal the client must see; `status` becomes the HTTP status of the reply."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ColoniesError):
    status = 400


class Forbidden(ColoniesError):
    status = 403


class NotFound(ColoniesError):
    status = 404


class PayloadTooLarge(ColoniesError):
    status = 413


class NotLeader(ColoniesError):
    """Raised inside a leader-only transaction when the fencing epoch is no longer ours."""

    status = 503


class Conflict(ColoniesError):
    """The request clashes with what is stored (a name taken, an object still in use)."""

    status = 409


class TooManyRequests(ColoniesError):
    status = 429
