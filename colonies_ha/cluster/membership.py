"""Dynamic membership: ask a running member, over the encrypted Raft port, to add us."""

from __future__ import annotations

import functools
import logging
import time

from cryptography.fernet import Fernet
from pysyncobj.encryptor import getEncryptor
from pysyncobj.utility import TcpUtility, UtilityException

log = logging.getLogger(__name__)

PARTNER_PREFIX = "partner_node_status_server_"


class JoinError(RuntimeError):
    pass


@functools.lru_cache(maxsize=4)
def _encryptor(secret: str) -> Fernet:
    return getEncryptor(secret)


def utility(secret: str, *, timeout: float = 5.0) -> TcpUtility:
    """A TcpUtility for one command.  PySyncObj derives the key from the secret anew for each
    (PBKDF2, ~25 ms of CPU); the key is derived once here, for callers that ask every second."""
    if not secret:
        return TcpUtility(None, timeout=timeout)
    tool = TcpUtility(None, timeout=timeout)
    connection = getattr(tool, "_TcpUtility__connection", None)  # a private of PySyncObj's
    if connection is None or not hasattr(connection, "encryptor"):
        return TcpUtility(secret, timeout=timeout)  # another PySyncObj: the slow, sure way
    connection.encryptor = _encryptor(secret)
    return tool


def cluster_members(peer: str, secret: str, *, timeout: float = 5.0) -> list[str]:
    """Raft addresses of every member, as `peer` knows them."""
    try:
        status = utility(secret, timeout=timeout).executeCommand(peer, ["status"])
    except UtilityException as exc:
        raise JoinError(f"cannot read the cluster from {peer}: {exc}") from exc
    if not isinstance(status, dict):
        raise JoinError(f"{peer} did not answer with its status (wrong cluster secret?)")
    partners = [key[len(PARTNER_PREFIX) :] for key in status if key.startswith(PARTNER_PREFIX)]
    return sorted(
        {
            str(status["self"].address if hasattr(status["self"], "address") else status["self"]),
            *partners,
        }
    )


def join_cluster(
    peers: list[str], self_address: str, secret: str, *, within: float = 60.0
) -> list[str]:
    """Add `self_address` through any reachable peer; returns the members to start with.

    Raft changes membership one node at a time, so a member answers with an error while
    another change is in flight: retry until `within` seconds have passed.
    """
    deadline = time.monotonic() + within
    problems: list[str] = []
    while time.monotonic() < deadline:
        for peer in peers:
            try:
                members = cluster_members(peer, secret)
                if self_address in members:
                    return [m for m in members if m != self_address]
                utility(secret).executeCommand(peer, ["add", self_address])
                log.info("asked %s to add %s to the cluster", peer, self_address)
            except (JoinError, UtilityException) as exc:
                problems.append(f"{peer}: {exc}")
                log.info("join attempt through %s failed: %s", peer, exc)
        time.sleep(0.5)
    raise JoinError(f"could not join through {', '.join(peers)}: {problems[-3:]}")
