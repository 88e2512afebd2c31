"""Races on merchant money, on SQLite and PostgreSQL: refunds never exceed the payment, and a
payment request is paid once however many customers pay it at the same moment."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from merchants import balance, consumer, kes, shop
from soko.bootstrap import Runtime
from soko.context import Context
from soko.kernel.errors import DomainError
from soko.kernel.money import Money
from soko.ledger.reconcile import reconcile
from soko.payments import requests as payment_requests
from soko.payments import service as payments

THREADS = 8
RACE_TIMEOUT = 60


@pytest.fixture
def any_runtime(race_runtime: Runtime) -> Runtime:
    """Every race here runs on SQLite, PostgreSQL, and PostgreSQL in SERIALIZABLE."""
    return race_runtime


def _race(work: object, threads: int = THREADS) -> Counter[str]:
    start = threading.Barrier(threads, timeout=RACE_TIMEOUT)

    def attempt(thread: int) -> str:
        start.wait()
        try:
            work(thread)  # type: ignore[operator]
        except DomainError as refused:
            return refused.code
        return "ok"

    with ThreadPoolExecutor(threads) as pool:
        return Counter(pool.map(attempt, range(threads), timeout=RACE_TIMEOUT))


def test_concurrent_refunds_never_give_back_more_than_was_paid(any_ctx: Context) -> None:
    """Eight refunds of a quarter each, at once: exactly four pass, and the whole fee returns."""
    ctx = any_ctx
    amina = consumer(ctx, funds="1000.00")
    kiosk = shop(ctx)
    payment = payments.pay_merchant(
        ctx, payer_id=amina.id, till_number=kiosk.till_number, amount=kes("1000.00"),
        idempotency_key="pay",
    )  # fmt: skip

    def refund_quarter(thread: int) -> None:
        payments.refund(
            ctx, merchant_id=kiosk.user_id, payment_id=payment.id, amount=kes("250.00"),
            idempotency_key=f"refund-{thread}",
        )  # fmt: skip

    outcomes = _race(refund_quarter)
    assert outcomes == {"ok": 4, "exceeds_refundable_amount": THREADS - 4}
    after = payments.get_payment(ctx, payment.id)
    assert (after.refunded, after.fee_refunded) == (after.amount, after.fee)
    assert balance(ctx, amina.id) == 100_000
    assert balance(ctx, kiosk.user_id) == 0
    assert reconcile(ctx).passed


def test_a_request_paid_by_many_at_once_is_paid_once(any_ctx: Context) -> None:
    ctx = any_ctx
    kiosk = shop(ctx)
    payers = [consumer(ctx, f"Payer {n}", funds="100.00") for n in range(THREADS)]
    made = payment_requests.create_request(
        ctx, merchant_id=kiosk.user_id, amount=kes("60.00"), reference="ONCE",
        idempotency_key="request",
    )  # fmt: skip

    def pay(thread: int) -> None:
        payment_requests.pay_request(
            ctx, payer_id=payers[thread].id, request_id=made.id, idempotency_key=f"p{thread}"
        )

    outcomes = _race(pay)
    assert outcomes == {"ok": 1, "payment_request_already_paid": THREADS - 1}
    paid = [p for p in payers if balance(ctx, p.id) == 4_000]
    assert len(paid) == 1
    assert sum(balance(ctx, p.id) for p in payers) == THREADS * 10_000 - 6_000
    assert Money.of(balance(ctx, kiosk.user_id), "KES") == kes("60.00") - kes("0.30")
    assert reconcile(ctx).passed
