"""The worker loop: bounded ticks; a failing job stops neither the others nor the loop."""

from __future__ import annotations

import pytest

from credit_world import DAY_SECONDS, an_offer, funded_lender, trading_shop
from fakes import FakeClock
from merchants import kes, key
from soko.channels.worker import loop
from soko.context import Context
from soko.credit import service as credit
from soko.credit.domain import RepaymentKind
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


def test_a_tick_collects_a_loan_minimum_the_sales_did_not_cover(
    ctx: Context, clock: FakeClock
) -> None:
    trader = trading_shop(ctx, clock, tenure_days=100)
    funded_lender(ctx)
    offer = an_offer(ctx, trader.merchant)
    loan = credit.accept_offer(ctx, merchant_id=trader.merchant.user_id, offer_id=offer.id,
                               amount=kes("1000.00"), idempotency_key=key())  # fmt: skip
    assert loop.run_once(ctx).handled["collect_loan_dues"] == 0
    clock.advance(31 * DAY_SECONDS)
    tick = loop.run_once(ctx)
    assert tick.handled["collect_loan_dues"] == 1 and tick.failed == []
    [minimum] = credit.list_repayments(ctx, loan.id)
    assert minimum.kind is RepaymentKind.MINIMUM
    assert minimum.amount_minor == -(-loan.total_repayable_minor // 6)
    assert loop.run_once(ctx).handled["collect_loan_dues"] == 0
