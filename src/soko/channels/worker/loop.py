"""`soko worker`: runs the jobs at its own pace, in bounded batches, safe beside other workers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from soko.services import idempotency, ledger
from soko.services.ports import Context


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    run: Callable[[Context], int]


JOBS: tuple[Job, ...] = (
    Job("expire_holds", lambda ctx: len(ledger.expire_due(ctx))),
    Job("forget_idempotency_keys", idempotency.forget_expired),
)


def run_once(ctx: Context) -> dict[str, int]:
    """Run every job once; each returns how many items it handled."""
    return {job.name: job.run(ctx) for job in JOBS}


def run_forever(
    ctx: Context,
    *,
    interval_seconds: float,
    on_tick: Callable[[dict[str, int]], None],
    max_ticks: int | None = None,
) -> None:
    """Run the jobs every `interval_seconds`; a busy tick (a full batch) runs again at once."""
    ticks = 0
    while max_ticks is None or ticks < max_ticks:
        handled = run_once(ctx)
        on_tick(handled)
        ticks += 1
        if not any(handled.values()):
            time.sleep(interval_seconds)
