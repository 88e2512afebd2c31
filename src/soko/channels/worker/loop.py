"""`soko worker`: runs the jobs at its own pace, in bounded batches, safe beside other workers."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from soko.context import Context
from soko.credit import service as credit
from soko.deposits import service as deposits
from soko.escrow import service as escrow
from soko.fx.jobs import RateFetcher
from soko.kernel import idempotency
from soko.ledger import service as ledger
from soko.notify import service as webhooks
from soko.notify import sms_service as sms
from soko.payouts import service as payouts
from soko.people import service as people

log = logging.getLogger("soko.worker")


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    run: Callable[[Context], int]


#: Tests only (SOKO_FAULT=escrow_after_first_timer): die as SIGKILL would, right after the
#: first order a timer moved has committed, in the middle of the batch.
_ESCROW_FAULT = "escrow_after_first_timer"
_KILLED_STATUS = 137


def _run_escrow_timers(ctx: Context) -> int:
    crash = os.environ.get("SOKO_FAULT") == _ESCROW_FAULT
    return escrow.run_timers(
        ctx, after_each=(lambda _: os._exit(_KILLED_STATUS)) if crash else None
    )


JOBS: tuple[Job, ...] = (
    Job("expire_holds", lambda ctx: len(ledger.expire_due(ctx))),
    Job("forget_idempotency_keys", idempotency.forget_expired),
    Job("forget_pin_tries", people.forget_pin_tries),
    Job("deliver_webhooks", webhooks.deliver_due),
    Job("send_sms", sms.send_due),
    Job("advance_payouts", payouts.advance_payouts),
    # M-Pesa deposits with no callback in time: asked about (STK query) and settled.
    Job("check_mpesa_deposits", deposits.check_deposits),
    # C2B payments not yet confirmed and reversals with no answer: M-Pesa's transaction status.
    Job("check_mpesa_statuses", deposits.check_statuses),
    Job("run_escrow_timers", _run_escrow_timers),
    # Minimums the sales did not cover, late fees and write-offs; each loan in its own
    # transaction, so a crash part-way leaves every loan done or untouched.
    Job("collect_loan_dues", credit.collect_dues),
    # The ECB's (or another source's) rate file at SOKO_FX_RATES_URL, once an hour at most.
    Job("fetch_fx_rates", RateFetcher()),
)


@dataclass(frozen=True, slots=True)
class Tick:
    #: job name -> items handled this tick
    handled: dict[str, int] = field(default_factory=dict)
    #: jobs that raised; each rolled back and runs again next tick
    failed: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return any(self.handled.values())


def run_once(ctx: Context) -> Tick:
    """Run every job once. A failing job is logged and does not stop the others."""
    tick = Tick()
    for job in JOBS:
        try:
            tick.handled[job.name] = job.run(ctx)
        except Exception:
            # A worker must outlive a database restart or a conflict storm: the job's
            # transaction rolled back, so running it again next tick is safe.
            log.exception("job %s failed; it runs again next tick", job.name)
            tick.failed.append(job.name)
    return tick


def run_forever(
    ctx: Context,
    *,
    interval_seconds: float,
    on_tick: Callable[[Tick], None],
    max_ticks: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Run the jobs every `interval_seconds`; a tick that handled anything runs again at once."""
    ticks = 0
    while max_ticks is None or ticks < max_ticks:
        tick = run_once(ctx)
        on_tick(tick)
        ticks += 1
        if not tick.busy:
            sleep(interval_seconds)
