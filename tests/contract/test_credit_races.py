"""Races on merchant credit, on SQLite, PostgreSQL and PostgreSQL in SERIALIZABLE: an offer lends
once however many accept it at the same moment, and sales swept at the same moment never repay a
loan past what it owes.

Every race starts its contenders together on a barrier and bounds how long it may take; none
sleeps to synchronise. The ledger is the oracle: the wallet, loans_receivable and the loan
transfers must tell the same story as the loan's row and its repayments.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from credit_world import an_offer, funded_lender, trading_shop
from fakes import FakeClock
from merchants import balance, consumer, kes
from soko.bootstrap import Runtime
from soko.context import Context
from soko.credit import service as credit
from soko.credit.domain import LoanStatus, RepaymentKind
from soko.kernel.errors import DomainError
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.reconcile import reconcile
from soko.ledger.tables import transfers
from soko.payments import service as payments

THREADS = 8
SALES_PER_THREAD = 4
RACE_TIMEOUT = 60  # seconds: a bound for a hung race, far above the few seconds one takes
#: A clean refusal under SERIALIZABLE: the bounded retries ran out; nothing was written.
CONFLICT = "transaction_conflict"


@pytest.fixture
def any_runtime(race_runtime: Runtime) -> Runtime:
    """Every race here runs on SQLite, PostgreSQL, and PostgreSQL in SERIALIZABLE."""
    return race_runtime


def _race(work: Callable[[int], object], threads: int = THREADS) -> Counter[str]:
    """`work(i)` on `threads` threads at once: outcome code (or "ok") -> count."""
    start = threading.Barrier(threads, timeout=RACE_TIMEOUT)

    def attempt(thread: int) -> str:
        start.wait()
        try:
            work(thread)
        except DomainError as refused:
            return refused.code
        return "ok"

    with ThreadPoolExecutor(threads) as pool:
        return Counter(pool.map(attempt, range(threads), timeout=RACE_TIMEOUT))


def receivable(ctx: Context) -> int:
    total = ledger.system_total(ctx, AccountCode.LOANS_RECEIVABLE, "KES")
    return total.debits_posted - total.credits_posted


def moved(runtime: Runtime, code: TransferCode) -> int:
    """What the ledger moved under `code`, over every transfer."""
    with runtime.engine.connect() as connection:
        found = connection.execute(
            sa.select(sa.func.coalesce(sa.func.sum(transfers.c.amount), 0)).where(
                transfers.c.code == code.value
            )
        ).scalar_one()
    return int(found)


def test_an_offer_accepted_by_many_at_once_lends_once(
    any_ctx: Context, any_runtime: Runtime, clock: FakeClock
) -> None:
    ctx = any_ctx
    trader = trading_shop(ctx, clock, tenure_days=100)
    funded_lender(ctx)
    offer = an_offer(ctx, trader.merchant)
    merchant_id = trader.merchant.user_id
    before = balance(ctx, merchant_id)
    amount = Money.of(min(offer.limit_minor, 100_000), "KES")

    def accept(thread: int) -> None:
        credit.accept_offer(ctx, merchant_id=merchant_id, offer_id=offer.id, amount=amount,
                            idempotency_key=f"accept-{thread}")  # fmt: skip

    outcomes = _race(accept)

    assert outcomes["ok"] == 1, outcomes
    # The losers see the offer spent (or, in SERIALIZABLE, ran out of retries): nothing else.
    assert set(outcomes) <= {"ok", "offer_already_used", CONFLICT}, outcomes
    [loan] = credit.list_loans(ctx, merchant_id=merchant_id, status=None)
    assert loan.principal_minor == amount.amount_minor and loan.status is LoanStatus.ACTIVE
    assert balance(ctx, merchant_id) == before + amount.amount_minor
    assert receivable(ctx) == amount.amount_minor
    assert moved(any_runtime, TransferCode.LOAN_DISBURSEMENT) == amount.amount_minor
    report = reconcile(ctx)
    assert report.passed, [(c.name, c.problems) for c in report.checks if not c.passed]


def test_sales_swept_at_once_never_repay_past_what_is_owed(
    any_ctx: Context, any_runtime: Runtime, clock: FakeClock
) -> None:
    """A small loan and many sales at once: their shares add up to more than the loan owes, so
    the last sweeps race over the last units owed. Each takes at most what is left."""
    ctx = any_ctx
    trader = trading_shop(ctx, clock, tenure_days=100)
    funded_lender(ctx)
    offer = an_offer(ctx, trader.merchant)
    merchant_id = trader.merchant.user_id
    loan = credit.accept_offer(ctx, merchant_id=merchant_id, offer_id=offer.id,
                               amount=kes("100.00"), idempotency_key="borrow")  # fmt: skip
    sale = kes("150.00")
    share = sale.amount_minor * loan.withhold_bps // 10_000
    assert share * THREADS * SALES_PER_THREAD > loan.total_repayable_minor, "the race is moot"
    payers = [consumer(ctx, f"Payer {n}", funds="1000.00") for n in range(THREADS)]
    before = balance(ctx, merchant_id)

    def sell(thread: int) -> Counter[str]:
        made: Counter[str] = Counter()
        for n in range(SALES_PER_THREAD):
            try:
                payments.pay_merchant(
                    ctx, payer_id=payers[thread].id, merchant_id=merchant_id, amount=sale,
                    idempotency_key=f"sale-{thread}-{n}",
                )  # fmt: skip
            except DomainError as refused:
                made[refused.code] += 1
            else:
                made["ok"] += 1
        return made

    per_thread: list[Counter[str]] = [Counter() for _ in range(THREADS)]
    outcomes = _race(lambda thread: per_thread[thread].update(sell(thread)))
    assert outcomes == {"ok": THREADS}
    sold = sum(per_thread, Counter())
    # Every sale went through, or (SERIALIZABLE) ran out of retries and wrote nothing.
    assert set(sold) <= {"ok", CONFLICT} and sold["ok"] > 0, sold

    after = credit.get_loan(ctx, loan.id)
    sweeps = credit.list_repayments(ctx, loan.id)
    assert all(r.kind is RepaymentKind.SWEEP for r in sweeps)
    # One sweep at most per sale, each at most the sale's share.
    assert len({r.payment_id for r in sweeps}) == len(sweeps)
    assert all(0 < r.amount_minor <= share for r in sweeps)
    swept = sum(r.amount_minor for r in sweeps)
    # Repaid == the sum of sweeps == what the ledger moved, and never past what was owed.
    assert after.repaid_minor == swept <= loan.total_repayable_minor
    assert moved(any_runtime, TransferCode.LOAN_REPAYMENT) == after.repaid_principal_minor
    assert moved(any_runtime, TransferCode.LOAN_FEE) == after.repaid_fee_minor
    assert receivable(ctx) == after.principal_outstanding_minor
    sold = [p for p in payers if balance(ctx, p.id) < 100_000]
    paid = sum(100_000 - balance(ctx, p.id) for p in sold)
    fee = payments.get_payment(ctx, sweeps[0].payment_id or "").fee
    assert balance(ctx, merchant_id) == before + paid - fee * (paid // sale.amount_minor) - swept
    if share * (paid // sale.amount_minor) >= loan.total_repayable_minor:
        # Enough was sold: the loan is repaid exactly, and closed.
        assert after.status is LoanStatus.REPAID and after.outstanding_minor == 0
        assert credit.credit_offers(ctx, merchant_id).reasons[0].code != "loan_open"
    report = reconcile(ctx)
    assert report.passed, [(c.name, c.problems) for c in report.checks if not c.passed]
