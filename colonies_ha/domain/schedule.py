"""When a cron fires next, and how many workflows a generator's queue fills: pure arithmetic."""

from __future__ import annotations

import random as _random
from datetime import datetime, timedelta

from croniter import croniter

from colonies_ha.domain.errors import BadRequest

CRON_EXPRESSION_INTERVAL = -1


def validate_cron(expression: str, interval: int) -> None:
    """interval > 0 is a period in seconds; -1 means a 6-field cron expression with seconds."""
    if interval == 0 or interval < CRON_EXPRESSION_INTERVAL:
        raise BadRequest("a cron needs interval > 0 seconds, or -1 with a cron expression")
    if interval == CRON_EXPRESSION_INTERVAL:
        if len(expression.split()) != 6:
            raise BadRequest(
                f"the cron expression '{expression}' must have 6 fields, seconds first "
                "(e.g. '0/2 * * * * *')"
            )
        if not croniter.is_valid(expression, second_at_beginning=True):
            raise BadRequest(f"the cron expression '{expression}' is not valid")


def next_run(
    expression: str,
    interval: int,
    after: datetime,
    *,
    jitter: bool = False,
    rng: _random.Random | None = None,
) -> datetime:
    """The first firing time strictly after `after`.

    With `jitter` (the protocol's `random`) an interval cron fires at a uniformly random
    moment within its next period instead of at its end.
    """
    if interval > 0:
        seconds = (rng or _random).uniform(0, interval) if jitter else interval
        return after + timedelta(seconds=seconds)
    return croniter(expression, after, second_at_beginning=True).get_next(datetime)


def generator_batches(queued: int, trigger: int) -> int:
    """How many workflows a queue of `queued` packed args starts: ⌊queued / trigger⌋."""
    return queued // trigger if trigger > 0 else 0
