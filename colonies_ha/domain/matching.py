"""Which waiting executor gets which locked candidate, when one claim serves several."""

from __future__ import annotations

from collections.abc import Sequence


def pair_claims(
    candidates: Sequence[tuple[str, Sequence[str]]], executorids: Sequence[str]
) -> dict[int, str]:
    """Waiter index → processid.

    `candidates` are (processid, executorids condition) in priority order; `executorids`
    are the waiters in arrival order.  The best candidate goes to the earliest waiter it
    allows (an empty condition allows everybody), so with no conditions the i-th waiter
    gets the i-th best process, as if they had claimed one after the other.
    """
    paired: dict[int, str] = {}
    for processid, allowed in candidates:
        for index, executorid in enumerate(executorids):
            if index not in paired and (not allowed or executorid in allowed):
                paired[index] = processid
                break
        if len(paired) == len(executorids):
            break
    return paired
