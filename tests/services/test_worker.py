"""The worker loop: bounded ticks; a failing job stops neither the others nor the loop."""

from __future__ import annotations

import pytest

from fakes import FakeClock
from soko.channels.worker import loop
from soko.context import Context
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import PendingState


def test_a_tick_expires_holds_past_their_timeout(ctx: Context, clock: FakeClock) -> None:
    wallet = ledger.open_account(ctx, currency="KES", code=AccountCode.WALLET)
    bank = ledger.system_account(ctx, AccountCode.SETTLEMENT, "KES")
    ledger.transfer(
        ctx,
        debit_account_id=bank.id,
        credit_account_id=wallet.id,
        amount=Money.of(500, "KES"),
        code=TransferCode.DEPOSIT,
    )
    hold = ledger.hold_funds(
        ctx,
        debit_account_id=wallet.id,
        credit_account_id=bank.id,
        amount=Money.of(300, "KES"),
        code=TransferCode.PAYOUT,
        timeout_seconds=60,
    )
    assert loop.run_once(ctx).handled["expire_holds"] == 0
    clock.advance(60)
    tick = loop.run_once(ctx)
    assert tick.handled["expire_holds"] == 1
    assert tick.failed == []
    assert ledger.get_account(ctx, wallet.id).available == 500
    with ctx.unit_of_work(read_only=True) as uow:
        assert uow.ledger.pending_state(hold.id) is PendingState.EXPIRED


def test_a_failing_job_is_logged_and_the_loop_goes_on(
    ctx: Context, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: Context) -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(loop, "JOBS", (loop.Job("broken", broken), loop.Job("fine", lambda _: 0)))
    ticks: list[loop.Tick] = []
    slept: list[float] = []
    loop.run_forever(
        ctx, interval_seconds=2.5, on_tick=ticks.append, max_ticks=3, sleep=slept.append
    )
    assert [tick.failed for tick in ticks] == [["broken"]] * 3
    assert [tick.handled for tick in ticks] == [{"fine": 0}] * 3
    assert slept == [2.5, 2.5, 2.5]  # idle ticks wait; none spins
    assert "job broken failed" in caplog.text


def test_a_busy_tick_runs_again_without_waiting(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loop, "JOBS", (loop.Job("busy", lambda _: 7),))
    slept: list[float] = []
    loop.run_forever(
        ctx, interval_seconds=1, on_tick=lambda _: None, max_ticks=2, sleep=slept.append
    )
    assert slept == []
