"""B2C payouts through the M-Pesa payout rail, end to end against the sandbox on SQLite and
PostgreSQL: paid, failed, expired in the queue, a lost Result settled by a status query, and a
worker killed after sending: never sent twice, settled once through payouts' own path."""

from __future__ import annotations

import pytest

from merchants import available, kes, key, shop
from mpesa_world import STATUS_AFTER, MpesaWorld, wait_for
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode
from soko.payouts import service as payouts
from soko.payouts.domain import MobileMoney, Payout, PayoutState
from soko.people import service as users
from soko.rails.mpesa.sandbox import CallbackMode, Kind, Script


def funded_merchant(world: MpesaWorld, amount: str = "2000.00") -> str:
    merchant = shop(world.ctx)
    person = users.get_user(world.ctx, merchant.user_id)
    assert world.settled(world.deposit(person, amount)).receipt is not None
    return merchant.user_id


def pay_out(world: MpesaWorld, merchant_id: str, amount: str = "500.00") -> Payout:
    return payouts.request_payout(
        world.ctx,
        merchant_id=merchant_id,
        amount=kes(amount),
        destination=MobileMoney("+254708374149"),
        idempotency_key=key(),
    )


def run_until_final(world: MpesaWorld, payout: Payout) -> Payout:
    """Runs the worker with the clock moving until the payout is final. M-Pesa's answers come
    on the sandbox's own thread: a test waits for the one it needs before calling this."""
    for _ in range(50):
        payouts.advance_payouts(world.ctx)
        current = payouts.get_payout(world.ctx, payout.id)
        if current.state in (PayoutState.PAID, PayoutState.FAILED):
            return current
        world.clock.advance(1)
    raise AssertionError("the payout never settled")


def b2c_entries(world: MpesaWorld) -> list[object]:
    return [t for t in world.sandbox.transactions() if t.kind is Kind.B2C]


def test_a_b2c_payout_is_paid_from_the_mpesa_float(world: MpesaWorld) -> None:
    merchant_id = funded_merchant(world)
    before = available(world.ctx, merchant_id)
    payout = pay_out(world, merchant_id)
    payouts.advance_payouts(world.ctx)  # sent; the Result arrives by callback
    wait_for(lambda: any(d.url.endswith("/b2c/result") for d in world.sandbox.deliveries()))
    paid = run_until_final(world, payout)
    assert paid.state is PayoutState.PAID and paid.rail == "mpesa"
    assert available(world.ctx, merchant_id) == before - 50000 - paid.fee
    [entry] = b2c_entries(world)
    assert entry.submissions == 1  # type: ignore[attr-defined]
    [float_total] = [
        t for t in ledger.system_totals(world.ctx) if t.code is AccountCode.MPESA_FLOAT
    ]
    assert float_total.debits_posted - float_total.credits_posted == 200000 - 50000
    assert world.reconciled() and world.statement_agrees()


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(Script(result_code=2001), id="refused"),
        pytest.param(Script(queue_timeout=True), id="queue-timeout"),
    ],
)
def test_a_failed_b2c_payout_gives_the_money_back(world: MpesaWorld, script: Script) -> None:
    merchant_id = funded_merchant(world)
    before = available(world.ctx, merchant_id)
    world.sandbox.script(script)
    payout = pay_out(world, merchant_id)
    payouts.advance_payouts(world.ctx)
    wait_for(lambda: any("/b2c/" in d.url for d in world.sandbox.deliveries()))
    failed = run_until_final(world, payout)
    assert failed.state is PayoutState.FAILED and failed.failure_reason
    assert available(world.ctx, merchant_id) == before
    assert world.reconciled() and world.statement_agrees()


def test_a_lost_result_is_settled_by_a_transaction_status_query(world: MpesaWorld) -> None:
    merchant_id = funded_merchant(world)
    world.sandbox.script(Script(mode=CallbackMode.NEVER))
    payout = pay_out(world, merchant_id)
    payouts.advance_payouts(world.ctx)
    world.clock.advance(STATUS_AFTER)
    payouts.advance_payouts(world.ctx)  # no answer yet: asks M-Pesa by a status query
    wait_for(lambda: any(d.url.endswith("/status/result") for d in world.sandbox.deliveries()))
    paid = run_until_final(world, payout)
    assert paid.state is PayoutState.PAID
    assert world.reconciled() and world.statement_agrees()


def test_a_worker_killed_after_sending_never_sends_twice(world: MpesaWorld) -> None:
    merchant_id = funded_merchant(world)
    payout = pay_out(world, merchant_id)
    rail = world.ctx.payout_rail
    # The worker sends it and dies before recording the rail's reference.
    rail.submit(payout.id, payout.amount, payout.currency, payout.destination)
    assert payouts.get_payout(world.ctx, payout.id).state is PayoutState.REQUESTED
    # M-Pesa pays it and says so (a real thread POSTing to Soko): wait for that, then the
    # next worker finds the payout still requested and submits it again.
    wait_for(lambda: any(d.url.endswith("/b2c/result") for d in world.sandbox.deliveries()))
    assert payouts.get_payout(world.ctx, payout.id).state is PayoutState.REQUESTED
    paid = run_until_final(world, payout)
    assert paid.state is PayoutState.PAID
    [entry] = b2c_entries(world)
    assert entry.submissions == 1  # type: ignore[attr-defined]
    assert world.reconciled() and world.statement_agrees()


def test_a_forged_b2c_result_moves_nothing(world: MpesaWorld) -> None:
    merchant_id = funded_merchant(world)
    world.sandbox.script(Script(mode=CallbackMode.NEVER))
    payout = pay_out(world, merchant_id)
    payouts.advance_payouts(world.ctx)
    forged = {
        "Result": {
            "ResultType": 0,
            "ResultCode": 0,
            "ResultDesc": "ok",
            "OriginatorConversationID": payout.id,
            "ConversationID": "AG_x",
            "TransactionID": "SFORGED999",
            "ResultParameters": {
                "ResultParameter": [
                    {"Key": "TransactionAmount", "Value": 9999},
                    {"Key": "TransactionReceipt", "Value": "SFORGED999"},
                    {"Key": "TransactionCompletedDateTime", "Value": "01.01.2026 12:00:00"},
                ]
            },
        }
    }
    assert (
        world.callback("b2c/result", forged, token="NotTheToken0123456789abcd").status_code == 404
    )
    assert world.callback("b2c/result", forged).status_code == 200  # another amount: ignored
    world.clock.advance(1)
    payouts.advance_payouts(world.ctx)
    assert payouts.get_payout(world.ctx, payout.id).state is PayoutState.SUBMITTED
