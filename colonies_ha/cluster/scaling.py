"""Changing a StatefulSet's replica count with `kubectl apply` alone.

Each pod knows the count it was started with, so it knows which pods *should* be members.
Raft (PySyncObj, dynamic membership) knows who *are*, in its log; the two meet here:

- At start, before Raft runs, `settle_membership` asks the other pods of this pod's list for
  the current members (the leader's view when one is known).  Nobody answers: a fresh
  cluster, started with the derived list.  The members include this pod: it starts with
  them.  They do not (a pod added by a scale-up): it asks the leader to add it first.
- While running, `MembershipKeeper` asks the leader now and then: a pod that is not a
  member (removed while it was away) asks to be added again, and a member outside this
  pod's list (left behind by a scale-down) is removed once the leader has been without a
  connection to it for `grace` seconds; one change at a time, each committed by a quorum.

PySyncObj names members by address and refuses connections from addresses it does not
know, so a pod that is not a member cannot disturb the cluster.  A member's Raft journal (an
emptyDir) is lost with its pod: the replacement starts from the members the others report,
and replaying the leader's log (or snapshot) over them ends in the same members, because
each change names its node and the last change to name a node decides.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pysyncobj.syncobj import _RAFT_STATE
from pysyncobj.utility import UtilityException

from colonies_ha.cluster.membership import PARTNER_PREFIX, JoinError, join_cluster, utility

log = logging.getLogger(__name__)

Status = dict[str, Any]

# How long a fresh pod keeps asking before it concludes that no cluster runs yet.
DISCOVERY_WITHIN = 2.0
QUERY_TIMEOUT = 1.0
# A member outside the list must have been disconnected from the leader this long.
REMOVAL_GRACE = 2.0
KEEPER_PERIOD = 1.0


def _address(node: object) -> str | None:
    if node is None:
        return None
    return str(getattr(node, "address", node))


def read_status(address: str, secret: str, timeout: float = QUERY_TIMEOUT) -> Status | None:
    """PySyncObj's status of the node at `address`, or None if it does not answer."""
    try:
        status = utility(secret, timeout=timeout).executeCommand(address, ["status"])
    except Exception:  # refused, unresolvable, timed out, wrong secret: no answer
        return None
    return status if isinstance(status, dict) else None


def members_of(status: Status) -> list[str]:
    partners = [key[len(PARTNER_PREFIX) :] for key in status if key.startswith(PARTNER_PREFIX)]
    return sorted({str(_address(status["self"])), *partners})


def is_leader(status: Status | None) -> bool:
    return status is not None and status.get("state") == _RAFT_STATE.LEADER


def leader_status(statuses: Iterable[Status], secret: str) -> Status | None:
    """The status of the leader that any of `statuses` names (asked, to be sure it leads)."""
    statuses = list(statuses)
    for status in statuses:
        if is_leader(status):
            return status
    for address in {_address(s.get("leader")) for s in statuses} - {None}:
        status = read_status(str(address), secret)
        if is_leader(status):
            return status
    return None


def discover(
    peers: list[str], secret: str, *, within: float = DISCOVERY_WITHIN
) -> list[str] | None:
    """The members of the running cluster, as its leader (or else the most advanced node
    that answered) sees them; None if no peer answered within `within` seconds."""
    if not peers:
        return None
    deadline = time.monotonic() + within
    with ThreadPoolExecutor(max_workers=len(peers)) as pool:
        while True:
            answers = [s for s in pool.map(lambda p: read_status(p, secret), peers) if s]
            if answers:
                leader = leader_status(answers, secret)
                if leader is not None:
                    return members_of(leader)
                best = max(answers, key=lambda s: (s.get("raft_term", 0), s.get("commit_idx", 0)))
                return members_of(best)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.2)


def settle_membership(
    self_address: str,
    peers: list[str],
    secret: str,
    *,
    within: float = DISCOVERY_WITHIN,
    join_within: float = 60.0,
) -> list[str]:
    """The peers this pod starts Raft with; joins the cluster first if it is not a member."""
    members = discover(peers, secret, within=within)
    if members is None:
        log.info("no other pod answered: starting a new cluster of %d", len(peers) + 1)
        return list(peers)
    if self_address in members:
        others = [m for m in members if m != self_address]
        log.info("rejoining the running cluster; members: %s", ", ".join(members))
        return others
    log.info("not a member of the running cluster (%s): asking to be added", ", ".join(members))
    try:
        return join_cluster(members, self_address, secret, within=join_within)
    except JoinError:
        log.exception("could not join the running cluster")
        raise


class MembershipKeeper:
    """Brings Raft's members to this pod's list, through the leader, one change at a time."""

    def __init__(
        self,
        self_address: str,
        expected: Iterable[str],
        secret: str,
        *,
        grace: float = REMOVAL_GRACE,
        period: float = KEEPER_PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.self_address = self_address
        self.expected = frozenset(expected) | {self_address}
        self.secret = secret
        self.grace = grace
        self.period = period
        self._clock = clock
        self._gone_since: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="membership-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.step()
            except Exception:
                log.exception("membership check failed; retrying")

    def _leader(self) -> Status | None:
        own = read_status(self.self_address, self.secret)
        if own is None:
            return None  # Raft not up yet, or shutting down
        if _address(own.get("leader")) is not None:
            return leader_status([own], self.secret)
        # No leader heard of: perhaps this pod is not a member, and nobody talks to it.
        others = sorted(self.expected - {self.self_address})
        answers = [s for s in (read_status(p, self.secret) for p in others) if s]
        return leader_status(answers, self.secret)

    def step(self) -> str | None:
        """One look at the leader and at most one change asked of it; returns what was asked."""
        leader = self._leader()
        if leader is None:
            return None
        leader_address = str(_address(leader["self"]))
        members = members_of(leader)
        if self.self_address not in members:
            log.warning("not a member of the cluster led by %s: asking to be added", leader_address)
            return self._ask(leader_address, "add", self.self_address)
        now = self._clock()
        outside = [m for m in members if m not in self.expected and m != leader_address]
        for member in list(self._gone_since):
            if member not in outside:
                del self._gone_since[member]
        for member in outside:
            if leader.get(PARTNER_PREFIX + member) == 2:  # connected to the leader
                self._gone_since.pop(member, None)
            else:
                self._gone_since.setdefault(member, now)
        gone = sorted(m for m, since in self._gone_since.items() if now - since >= self.grace)
        if not gone:
            return None
        return self._ask(leader_address, "remove", gone[0])

    def _ask(self, leader: str, verb: str, member: str) -> str:
        try:
            answer = utility(self.secret).executeCommand(leader, [verb, member])
        except (UtilityException, OSError) as exc:
            answer = f"no answer ({exc})"
        log.info("asked %s to %s %s: %s", leader, verb, member, answer)
        return f"{verb} {member}"
