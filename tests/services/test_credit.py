"""Merchant credit through its use cases: offers from sales, loans, sweeps, minimums, write-offs."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from credit_world import DAY_SECONDS, an_offer, funded_lender, pay, trading_shop
from fakes import FakeClock
from merchants import balance, consumer, kes, key, shop
from soko.context import Context
from soko.credit import service as credit
from soko.credit.domain import Frequency, LoanStatus, Method, OfferStatus, RepaymentKind
from soko.credit.errors import (
    ExceedsOfferLimit,
    LenderCapitalInsufficient,
    LoanInArrears,
    LoanNotFound,
    OfferAlreadyUsed,
    OfferExpired,
    OfferNotFound,
    RepaymentCurrencyMismatch,
    RepaymentExceedsOutstanding,
)
from soko.credit.service import InstalmentTerms
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments


def receivable(ctx: Context) -> int:
    total = ledger.system_total(ctx, AccountCode.LOANS_RECEIVABLE, "KES")
    return total.debits_posted - total.credits_posted


def test_a_new_merchant_gets_no_offer_and_is_told_why(ctx: Context) -> None:
    merchant = shop(ctx)
    found = credit.credit_offers(ctx, merchant.user_id)
    assert found.offers == []
    codes = {reason.code for reason in found.reasons}
    assert "tenure_too_short" in codes
    assert all(reason.text.endswith(".") for reason in found.reasons)
    # The decision is stored with what it saw, offer or not.
    assert found.decision is not None and not found.decision.offered
    record = json.loads(found.decision.record)
    assert record["scorecard_version"] == ctx.credit.scorecard.version
    assert record["features"]["sales_count"] == 0


def test_a_trading_shop_gets_an_offer_once_a_day_with_its_audit_record(
    ctx: Context, clock: FakeClock
) -> None:
    trader = trading_shop(ctx, clock, tenure_days=100)
    found = credit.credit_offers(ctx, trader.merchant.user_id)
    assert len(found.offers) == 1
    offer = found.offers[0]
    assert offer.currency == "KES" and offer.limit_minor > 0
    assert found.decision is not None and found.decision.offered
    record = json.loads(found.decision.record)
    # 65 selling days, the first of them now just outside the 91 days ending today.
    assert record["features"]["active_days"] == 64
    assert record["offer"]["limit_minor"] == offer.limit_minor
    # Asked again the same day: the same offer and decision, nothing scored again.
    again = credit.credit_offers(ctx, trader.merchant.user_id)
    assert [o.id for o in again.offers] == [offer.id]
    assert again.decision == found.decision


def test_the_same_history_and_scorecard_give_the_same_decision(
    ctx: Context, clock: FakeClock
) -> None:
    trader = trading_shop(ctx, clock, days=70)
    first = credit.score(ctx, trader.merchant.user_id)
    assert credit.score(ctx, trader.merchant.user_id) == first


def test_accepting_an_offer_pays_the_loan_into_the_wallet_at_once(
    ctx: Context, clock: FakeClock
) -> None:
    trader = trading_shop(ctx, clock, tenure_days=100)
    funded_lender(ctx)
    offer = an_offer(ctx, trader.merchant)
    before = balance(ctx, trader.merchant.user_id)
    idem = key()
    loan = credit.accept_offer(ctx, merchant_id=trader.merchant.user_id, offer_id=offer.id,
                               amount=kes("1000.00"), idempotency_key=idem)  # fmt: skip
    assert balance(ctx, trader.merchant.user_id) == before + 100_000
    assert loan.principal_minor == 100_000
    assert loan.fee_minor == -(-100_000 * offer.fee_bps // 10_000)
    assert loan.status is LoanStatus.ACTIVE
    assert receivable(ctx) == 100_000
    # A retry replays the loan; nothing is lent twice.
    again = credit.accept_offer(ctx, merchant_id=trader.merchant.user_id, offer_id=offer.id,
                                amount=kes("1000.00"), idempotency_key=idem)  # fmt: skip
    assert again == loan
    assert balance(ctx, trader.merchant.user_id) == before + 100_000
    assert reconcile(ctx).passed
    # The offer is spent.
    with pytest.raises(OfferAlreadyUsed):
        credit.accept_offer(ctx, merchant_id=trader.merchant.user_id, offer_id=offer.id,
                            amount=kes("10.00"), idempotency_key=key())  # fmt: skip
    assert credit.credit_offers(ctx, trader.merchant.user_id).reasons[0].code == "loan_open"


def test_refusals_change_nothing(ctx: Context, clock: FakeClock) -> None:
    trader = trading_shop(ctx, clock, tenure_days=100)
    other = shop(ctx)
    funded_lender(ctx)
    offer = an_offer(ctx, trader.merchant)
    limit = Money.of(offer.limit_minor, "KES")
    before = balance(ctx, trader.merchant.user_id)
    attempts = [
        (ExceedsOfferLimit, trader.merchant.user_id, offer.id, limit + kes("0.01")),
        (OfferNotFound, other.user_id, offer.id, kes("10.00")),
        (OfferNotFound, trader.merchant.user_id, "off_unknown", kes("10.00")),
        (RepaymentCurrencyMismatch, trader.merchant.user_id, offer.id, Money.parse("10", "UGX")),
    ]
    for error, merchant_id, offer_id, amount in attempts:
        with pytest.raises(error):
            credit.accept_offer(ctx, merchant_id=merchant_id, offer_id=offer_id, amount=amount,
                                idempotency_key=key())  # fmt: skip
    assert balance(ctx, trader.merchant.user_id) == before
    assert receivable(ctx) == 0
    clock.advance(8 * DAY_SECONDS)
    with pytest.raises(OfferExpired):
        credit.accept_offer(ctx, merchant_id=trader.merchant.user_id, offer_id=offer.id,
                            amount=kes("10.00"), idempotency_key=key())  # fmt: skip
    assert reconcile(ctx).passed


def test_no_loan_beyond_the_lenders_capital(ctx: Context, clock: FakeClock) -> None:
    trader = trading_shop(ctx, clock, tenure_days=100)
    funded_lender(ctx, "500.00")
    offer = an_offer(ctx, trader.merchant)
    with pytest.raises(LenderCapitalInsufficient):
        credit.accept_offer(ctx, merchant_id=trader.merchant.user_id, offer_id=offer.id,
                            amount=kes("500.01"), idempotency_key=key())  # fmt: skip
    loan = credit.accept_offer(ctx, merchant_id=trader.merchant.user_id, offer_id=offer.id,
                               amount=kes("500.00"), idempotency_key=key())  # fmt: skip
    assert loan.principal_minor == 50_000


def borrowed(ctx: Context, clock: FakeClock, amount: str = "1000.00", sale: str = "500.00",
             **terms: object):  # type: ignore[no-untyped-def]  # fmt: skip
    trader = trading_shop(ctx, clock, tenure_days=100, sale=sale)
    funded_lender(ctx)
    offer = an_offer(ctx, trader.merchant)
    loan = credit.accept_offer(ctx, merchant_id=trader.merchant.user_id, offer_id=offer.id,
                               amount=kes(amount), idempotency_key=key(), **terms)  # type: ignore[arg-type]  # fmt: skip
    return trader, loan


def test_each_sale_repays_its_withhold_share_in_the_same_transaction(
    ctx: Context, clock: FakeClock
) -> None:
    trader, loan = borrowed(ctx, clock)
    before = balance(ctx, trader.merchant.user_id)
    pay(ctx, trader.payers[0], trader.merchant, "300.00")
    swept = 30_000 * loan.withhold_bps // 10_000
    repayments = credit.list_repayments(ctx, loan.id)
    assert [(r.kind, r.amount_minor) for r in repayments] == [(RepaymentKind.SWEEP, swept)]
    assert repayments[0].principal_part_minor + repayments[0].fee_part_minor == swept
    after = credit.get_loan(ctx, loan.id)
    assert after.repaid_minor == swept
    mdr = payments.get_payment(ctx, repayments[0].payment_id or "").fee
    assert balance(ctx, trader.merchant.user_id) == before + 30_000 - mdr - swept
    assert receivable(ctx) == after.principal_outstanding_minor
    assert reconcile(ctx).passed


def test_sweeps_stop_at_what_is_owed_and_the_loan_closes(ctx: Context, clock: FakeClock) -> None:
    trader, loan = borrowed(ctx, clock, amount="20.00")
    big = consumer(ctx, "Big buyer", funds="100000.00")
    for _ in range(3):
        pay(ctx, big, trader.merchant, "5000.00")
    closed = credit.get_loan(ctx, loan.id)
    assert closed.status is LoanStatus.REPAID and closed.outstanding_minor == 0
    assert closed.repaid_minor == loan.total_repayable_minor
    assert sum(r.amount_minor for r in credit.list_repayments(ctx, loan.id)) == (
        loan.total_repayable_minor
    )
    assert receivable(ctx) == 0
    # Free of its loan, the merchant's next sales repay nothing.
    pay(ctx, big, trader.merchant, "100.00")
    assert len(credit.list_repayments(ctx, loan.id)) == 1
    assert reconcile(ctx).passed


def test_a_merchant_without_a_loan_repays_nothing(ctx: Context) -> None:
    merchant = shop(ctx)
    payer = consumer(ctx, funds="1000.00")
    pay(ctx, payer, merchant, "100.00")
    assert credit.list_loans(ctx, merchant_id=merchant.user_id, status=None) == []
    assert receivable(ctx) == 0


def test_a_refund_after_a_sweep_leaves_the_repayment_standing(
    ctx: Context, clock: FakeClock
) -> None:
    trader, loan = borrowed(ctx, clock)
    pay(ctx, trader.payers[1], trader.merchant, "300.00")
    [sweep] = credit.list_repayments(ctx, loan.id)
    payments.refund(ctx, merchant_id=trader.merchant.user_id, payment_id=sweep.payment_id or "",
                    amount=kes("300.00"), idempotency_key=key())  # fmt: skip
    # docs/credit.md: the sweep is not reversed; the refund comes out of the wallet.
    assert credit.get_loan(ctx, loan.id).repaid_minor == sweep.amount_minor
    assert reconcile(ctx).passed


def test_manual_repayments_are_checked_and_idempotent(ctx: Context, clock: FakeClock) -> None:
    trader, loan = borrowed(ctx, clock)
    merchant_id = trader.merchant.user_id
    owed = Money.of(loan.outstanding_minor, "KES")
    with pytest.raises(RepaymentExceedsOutstanding):
        credit.repay(ctx, merchant_id=merchant_id, loan_id=loan.id, amount=owed + kes("0.01"),
                     idempotency_key=key())  # fmt: skip
    with pytest.raises(RepaymentCurrencyMismatch):
        credit.repay(ctx, merchant_id=merchant_id, loan_id=loan.id,
                     amount=Money.parse("10", "UGX"), idempotency_key=key())  # fmt: skip
    with pytest.raises(LoanNotFound):
        credit.repay(ctx, merchant_id=shop(ctx).user_id, loan_id=loan.id, amount=kes("1.00"),
                     idempotency_key=key())  # fmt: skip
    idem = key()
    made = credit.repay(ctx, merchant_id=merchant_id, loan_id=loan.id, amount=owed,
                        idempotency_key=idem)  # fmt: skip
    assert credit.repay(ctx, merchant_id=merchant_id, loan_id=loan.id, amount=owed,
                        idempotency_key=idem) == made  # fmt: skip
    assert credit.get_loan(ctx, loan.id).status is LoanStatus.REPAID
    assert reconcile(ctx).passed


def test_the_worker_collects_a_missed_minimum_from_the_wallet(
    ctx: Context, clock: FakeClock
) -> None:
    _, loan = borrowed(ctx, clock)
    clock.advance(31 * DAY_SECONDS)
    assert credit.collect_dues(ctx) == 1
    due = -(-loan.total_repayable_minor // 6)
    collected = credit.get_loan(ctx, loan.id)
    assert collected.repaid_minor == due
    assert [r.kind for r in credit.list_repayments(ctx, loan.id)] == [RepaymentKind.MINIMUM]
    # Nothing more is due until the next period: the worker has nothing to do.
    assert credit.collect_dues(ctx) == 0
    assert reconcile(ctx).passed


def test_an_empty_wallet_falls_into_arrears_then_is_written_off(
    ctx: Context, clock: FakeClock
) -> None:
    trader, loan = borrowed(ctx, clock, amount="500.00", sale="50.00")
    # The merchant spends everything: nothing left to collect.
    spend = balance(ctx, trader.merchant.user_id)
    payments.send_money(ctx, sender_id=trader.merchant.user_id, to_phone=trader.payers[0].phone,
                        amount=Money.of(spend - 10_000, "KES"), idempotency_key=key())  # fmt: skip
    left = balance(ctx, trader.merchant.user_id)
    clock.advance(32 * DAY_SECONDS)
    credit.collect_dues(ctx)
    late = credit.get_loan(ctx, loan.id)
    assert late.missed_periods == 1 and late.max_days_past_due >= 1
    assert balance(ctx, trader.merchant.user_id) == 0 < left
    assert credit.credit_offers(ctx, trader.merchant.user_id).reasons[0].code == ("loan_in_arrears")
    capital_before = ledger.system_total(ctx, AccountCode.LENDER_CAPITAL, "KES").balance
    clock.advance(ctx.credit.repayment.write_off_after_days * DAY_SECONDS)
    credit.collect_dues(ctx)
    gone = credit.get_loan(ctx, loan.id)
    assert gone.status is LoanStatus.WRITTEN_OFF
    assert receivable(ctx) == 0
    capital_after = ledger.system_total(ctx, AccountCode.LENDER_CAPITAL, "KES").balance
    assert capital_before - capital_after == gone.principal_outstanding_minor
    assert reconcile(ctx).passed
    [book] = credit.portfolio(ctx)
    assert book.written_off_minor == gone.principal_outstanding_minor
    assert [(s.key, s.written_off) for s in book.by_scorecard] == [
        (ctx.credit.scorecard.version, 1)
    ]


def test_a_written_off_loan_takes_no_repayment(ctx: Context, clock: FakeClock) -> None:
    """Found by the credit state machine: a written-off loan still "owed" its principal, so a
    manual repayment went through and credited loans_receivable past zero (the write-off had
    cleared it), and reconcile failed. Once written off, nothing is collected on the loan."""
    trader, loan = borrowed(ctx, clock, amount="500.00", sale="50.00")
    payments.send_money(ctx, sender_id=trader.merchant.user_id, to_phone=trader.payers[0].phone,
                        amount=Money.of(balance(ctx, trader.merchant.user_id) - 10_000, "KES"),
                        idempotency_key=key())  # fmt: skip
    clock.advance(32 * DAY_SECONDS)
    credit.collect_dues(ctx)
    clock.advance(ctx.credit.repayment.write_off_after_days * DAY_SECONDS)
    credit.collect_dues(ctx)
    gone = credit.get_loan(ctx, loan.id)
    assert gone.status is LoanStatus.WRITTEN_OFF and gone.outstanding_minor > 0
    # The merchant has money again (its sales no longer repay anything) and offers to repay.
    pay(ctx, trader.payers[1], trader.merchant, "5000.00")
    owed = Money.of(gone.outstanding_minor, "KES")
    with pytest.raises(RepaymentExceedsOutstanding):
        credit.repay(ctx, merchant_id=trader.merchant.user_id, loan_id=loan.id, amount=owed,
                     idempotency_key=key())  # fmt: skip
    assert credit.get_loan(ctx, loan.id) == gone
    assert receivable(ctx) == 0
    assert reconcile(ctx).passed


def test_a_second_loan_is_refused_while_one_is_in_arrears(ctx: Context, clock: FakeClock) -> None:
    trader, loan = borrowed(ctx, clock, amount="500.00", sale="50.00")
    payments.send_money(ctx, sender_id=trader.merchant.user_id, to_phone=trader.payers[0].phone,
                        amount=Money.of(balance(ctx, trader.merchant.user_id) - 10_000, "KES"),
                        idempotency_key=key())  # fmt: skip
    clock.advance(32 * DAY_SECONDS)
    credit.collect_dues(ctx)
    # An offer made before the loan (a race the storage could leave) still cannot add a loan.
    spare = _open_offer_like(ctx, loan.offer_id)
    with pytest.raises(LoanInArrears):
        credit.accept_offer(ctx, merchant_id=trader.merchant.user_id, offer_id=spare,
                            amount=kes("10.00"), idempotency_key=key())  # fmt: skip


def _open_offer_like(ctx: Context, offer_id: str) -> str:
    from dataclasses import replace

    def work(uow):  # type: ignore[no-untyped-def]
        offer = uow.credit.get_offer(offer_id)
        spare = replace(offer, id=ctx.ids.new("off"), status=OfferStatus.OPEN,
                        expires_at=ctx.clock.now() + timedelta(days=1))  # fmt: skip
        uow.credit.insert_offer(spare)
        return spare.id

    from soko.kernel.transactions import in_transaction

    return in_transaction(ctx, work)


@pytest.mark.parametrize("method", [Method.FLAT, Method.DECLINING])
def test_an_instalment_loan_follows_its_schedule(
    ctx: Context, clock: FakeClock, method: Method
) -> None:
    trader, loan = borrowed(ctx, clock, instalments=InstalmentTerms(4, Frequency.WEEKLY, method))
    dues = credit.schedule(ctx, loan)
    assert len(dues) == 4
    assert sum(d.amount_minor for d in dues) == loan.total_repayable_minor
    assert loan.withhold_bps == 0
    # Instalment loans are not swept from sales.
    pay(ctx, trader.payers[0], trader.merchant, "300.00")
    assert credit.list_repayments(ctx, loan.id) == []
    clock.advance(7 * DAY_SECONDS)
    assert credit.collect_dues(ctx) == 1
    assert credit.get_loan(ctx, loan.id).repaid_minor == dues[0].amount_minor
    assert credit.schedule(ctx, credit.get_loan(ctx, loan.id))[0].met
    assert reconcile(ctx).passed


def test_the_portfolio_counts_the_book(ctx: Context, clock: FakeClock) -> None:
    trader, loan = borrowed(ctx, clock)
    pay(ctx, trader.payers[0], trader.merchant, "300.00")
    [book] = credit.portfolio(ctx)
    current = credit.get_loan(ctx, loan.id)
    assert book.currency == "KES" and book.loans == 1 and book.active == 1
    assert book.disbursed_minor == loan.principal_minor
    assert book.outstanding_principal_minor == current.principal_outstanding_minor
    assert book.fees_earned_minor == current.repaid_fee_minor
    assert book.at_risk_minor == (0, 0, 0)
