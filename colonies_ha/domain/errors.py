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


class DatabaseUnavailable(ColoniesError):
    """The database could not serve the request within its bound (down, failing over, or
    accepting connections but committing nothing).  Nothing was acknowledged: the client may
    try again after `retry_after` seconds; a write may or may not have taken effect, exactly
    as when a reply is lost."""

    status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
