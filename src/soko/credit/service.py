"""Merchant credit's use cases: offers scored from the merchant's own sales, loans disbursed at
once, repaid from each sale (in the sale's own transaction), by hand, or collected by the worker.

Money (docs/money-flows.md, "Merchant loans"): the operator funds `lender_capital` from
settlement; a disbursement debits `loans_receivable` (the merchant's bucket) and credits the
merchant's wallet, never more than the capital not yet lent; a repayment's principal part credits
the same bucket back and its fee part the fees; a write-off moves what is still owed of the
principal from `lender_capital` to the bucket, so loans_receivable always equals the principal of
the active loans, which `soko reconcile` checks.

Days are UTC days: the sales window, due dates and days past due count them the same everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from soko.context import Context, UnitOfWork
from soko.credit.domain import (
    WINDOW_DAYS,
    CreditFeatures,
    Decision,
    Frequency,
    Loan,
    LoanRepayment,
    LoanStatus,
    Method,
    OfferStatus,
    Reason,
    Repayment,
    RepaymentKind,
    SalesDay,
    StoredOffer,
    bps_percent,
    compute_features,
    decide,
    declining_rate,
    due_by,
    flat_fee,
    instalment_schedule,
    late_fee,
    said,
    split_repayment,
    sweep_amount,
    unmet_due_dates,
)
from soko.credit.errors import (
    ExceedsOfferLimit,
    LenderCapitalInsufficient,
    LoanAlreadyOpen,
    LoanInArrears,
    LoanNotFound,
    OfferAlreadyUsed,
    OfferExpired,
    OfferNotFound,
    RepaymentCurrencyMismatch,
    RepaymentExceedsOutstanding,
)
from soko.credit.ports import StoredDecision
from soko.kernel import limits
from soko.kernel.errors import AmountMustBePositive, InvalidInput, PageSizeInvalid
from soko.kernel.idempotency import run_idempotent
from soko.kernel.money import Money
from soko.kernel.transactions import in_transaction
from soko.ledger import service as ledger
from soko.ledger.chart import SYSTEM_ACCOUNTS, AccountCode, TransferCode
from soko.ledger.domain import TransferRequest, move
from soko.notify import service as webhooks
from soko.notify import sms_service as sms
from soko.notify.domain import EventType
from soko.notify.sms import N_, compose
from soko.payments.domain import text_name
from soko.people.domain import Merchant, User, UserKind
from soko.people.errors import UserKindMismatch, UserNotFound
from soko.people.wallets import wallet_for


@dataclass(frozen=True, slots=True)
class CreditOffers:
    """What a merchant may borrow now, and why (or why not)."""

    merchant_id: str
    offers: list[StoredOffer]
    decision: StoredDecision | None
    reasons: list[Reason]
    improvements: list[Reason]


def today(ctx: Context) -> date:
    return ctx.clock.now().astimezone(UTC).date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# --- features and decisions ---------------------------------------------------------------------


def features_in(uow: UnitOfWork, ctx: Context, merchant: Merchant, as_of: date) -> CreditFeatures:
    """The merchant's features on `as_of`, read by index over the 91-day window only: the cost
    depends on the window's payments, never on the merchant's older history."""
    currency = merchant.settlement_currency
    wallet = uow.people.find_wallet(merchant.user_id, currency)
    since = _midnight(as_of - timedelta(days=WINDOW_DAYS - 1))
    until = _midnight(as_of + timedelta(days=1))
    epoch = date(1970, 1, 1)
    window = uow.credit.window(None if wallet is None else wallet.id, merchant.user_id,
                               since, until)  # fmt: skip
    disputes = window.disputes
    days: dict[int, SalesDay] = {
        row.day: SalesDay(
            day=epoch + timedelta(days=row.day),
            sales_minor=row.sales_minor,
            sales_count=row.sales_count,
            refunds_minor=row.refunded_minor,
            disputes=disputes.get(row.day, 0),
        )
        for row in window.days
    }
    first_sale_on = (
        None if window.first_sale_day is None else epoch + timedelta(days=window.first_sale_day)
    )
    balance = 0
    if wallet is not None:
        account = uow.ledger.get_account(wallet.account_id)
        balance = 0 if account is None else max(account.balance, 0)
    for day, count in disputes.items():
        if day not in days:
            days[day] = SalesDay(epoch + timedelta(days=day), 0, 0, 0, count)
    return compute_features(
        sorted(days.values(), key=lambda d: d.day),
        as_of=as_of,
        first_sale_on=first_sale_on,
        distinct_payers=window.distinct_payers,
        repeat_payers=window.repeat_payers,
        # A daily closing balance is not kept (it would cost every payment a write): the
        # balance today stands for the window's average (docs/credit.md).
        average_balance_minor=balance,
        zero_balance_days=0 if balance > 0 else WINDOW_DAYS,
        loans_repaid=window.loans_repaid,
        loans_late=window.loans_late,
        max_days_past_due=window.max_days_past_due,
        currency=currency,
    )


def score(ctx: Context, merchant_id: str) -> Decision:
    """The decision the scorecard would make now, stored nowhere (`soko credit score`)."""

    def work(uow: UnitOfWork) -> Decision:
        merchant = _merchant(uow, merchant_id)
        features = features_in(uow, ctx, merchant, today(ctx))
        return decide(features, ctx.credit.scorecard)

    return in_transaction(ctx, work, read_only=True)


def credit_offers(ctx: Context, merchant_id: str) -> CreditOffers:
    """The merchant's current offers, or none and why.

    An open offer stands until it expires or is used. Otherwise the merchant is scored again,
    at most once a day per scorecard version (the same history and version give the same
    decision, so scoring again the same day would only repeat it), and the decision is stored
    with its inputs whether it offers anything or not.
    """

    def work(uow: UnitOfWork) -> CreditOffers:
        merchant = _merchant(uow, merchant_id)
        now = ctx.clock.now()
        if merchant.open_loan_id is not None:
            loan = uow.credit.get_loan(merchant.open_loan_id)
            assert loan is not None, merchant.open_loan_id
            owed = Money.of(loan.outstanding_minor, loan.currency)
            if unmet_due_dates(loan, as_of=today(ctx), policy=ctx.credit.repayment):
                reason = Reason(
                    "loan_in_arrears", said("Your loan is behind: {owed} is owed.", owed=owed)
                )
            else:
                reason = Reason(
                    "loan_open", said("Repay your open loan first: {owed} is owed.", owed=owed)
                )
            return CreditOffers(merchant_id, [], None, [reason], [])
        version = ctx.credit.scorecard.version
        offers = [o for o in uow.credit.open_offers(merchant_id) if o.expires_at > now]
        latest = uow.credit.latest_decision(merchant_id)
        fresh = (
            latest is not None
            and latest.scorecard_version == version
            and (bool(offers) or latest.created_at.astimezone(UTC).date() == today(ctx))
        )
        if latest is not None and fresh:
            return _view(merchant_id, latest, offers)
        decision = decide(features_in(uow, ctx, merchant, today(ctx)), ctx.credit.scorecard)
        stored = StoredDecision(
            id=ctx.ids.new("cdec"),
            merchant_id=merchant_id,
            currency=decision.currency,
            scorecard_version=decision.scorecard_version,
            score=decision.score,
            grade=decision.grade,
            offered=decision.offered,
            record=json.dumps(decision.as_record(), sort_keys=True, separators=(",", ":")),
            created_at=now,
        )
        uow.credit.insert_decision(stored)
        for old in uow.credit.open_offers(merchant_id):
            uow.credit.set_offer_status(old.id, OfferStatus.OPEN, OfferStatus.SUPERSEDED)
        offers = []
        if decision.offer is not None:
            offer = StoredOffer(
                id=ctx.ids.new("off"),
                decision_id=stored.id,
                merchant_id=merchant_id,
                currency=decision.offer.currency,
                limit_minor=decision.offer.limit_minor,
                fee_bps=decision.offer.fee_bps,
                withhold_bps=decision.offer.withhold_bps,
                term_days=decision.offer.term_days,
                grade=decision.grade,
                # The offer's last day is `expires_on`, whole.
                expires_at=_midnight(decision.offer.expires_on + timedelta(days=1)),
                status=OfferStatus.OPEN,
                created_at=now,
            )
            uow.credit.insert_offer(offer)
            offers = [offer]
            _announce_offer(uow, ctx, merchant, offer)
        return _view(merchant_id, stored, offers)

    return in_transaction(ctx, work)


def _view(merchant_id: str, decision: StoredDecision, offers: list[StoredOffer]) -> CreditOffers:
    record = json.loads(decision.record)
    return CreditOffers(
        merchant_id,
        offers,
        decision,
        [Reason.from_record(r) for r in record["reasons"]],
        [Reason.from_record(r) for r in record["improvements"]],
    )


# The texts a merchant gets, in their language (Kiswahili in locale/sw/LC_MESSAGES/sms.po).
OFFERED: Final = N_(
    "Soko: {name} can borrow up to {limit}: fee {rate}, repaid as {share} of each sale. Offer "
    "{offer}"
)
DISBURSED_REVENUE: Final = N_(
    "Soko: {amount} from loan {loan} is in your wallet. You repay {owed} in all, {share} of "
    "each sale."
)
DISBURSED_INSTALMENTS: Final = N_(
    "Soko: {amount} from loan {loan} is in your wallet. You repay {owed} in {count} instalments."
)
MINIMUM_TAKEN: Final = N_(
    "Soko: {amount} was taken from your wallet for the minimum due on loan {loan}."
)
BEHIND: Final = N_(
    "Soko: loan {loan} is behind by {owed}. Sell through Soko or repay from your wallet to "
    "catch up."
)


def _announce_offer(uow: UnitOfWork, ctx: Context, merchant: Merchant, offer: StoredOffer) -> None:
    limit = Money.of(offer.limit_minor, offer.currency)
    webhooks.emit(uow, ctx, owner_id=merchant.user_id, type=EventType.LOAN_OFFERED,
                  data=offer_event(offer))  # fmt: skip
    user = uow.people.get_user(merchant.user_id)
    assert user is not None
    sms.queue(
        uow,
        ctx,
        phone=user.phone,
        text=compose(
            sms.reader(user),
            OFFERED,
            name=text_name(merchant.trading_name),
            limit=limit,
            rate=bps_percent(offer.fee_bps),
            share=bps_percent(offer.withhold_bps),
            offer=offer.id,
        ),
    )


# --- loans ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstalmentTerms:
    count: int
    frequency: Frequency
    method: Method


def accept_offer(
    ctx: Context,
    *,
    merchant_id: str,
    offer_id: str,
    amount: Money,
    idempotency_key: str | None,
    instalments: InstalmentTerms | None = None,
) -> Loan:
    """The merchant borrows `amount` (at most the offer's limit): the money is in its wallet at
    once. Revenue-based unless `instalments` are asked for. One loan per offer, whatever races."""
    if amount.amount_minor <= 0:
        raise AmountMustBePositive()
    if instalments is not None and not 1 <= instalments.count <= limits.LOAN_INSTALMENTS_MAX:
        raise InvalidInput(
            f"instalments must be 1 to {limits.LOAN_INSTALMENTS_MAX}", field="instalments"
        )
    request = {
        "offer_id": offer_id,
        "amount": amount.to_decimal_string(),
        "currency": amount.currency.code,
        "instalments": None
        if instalments is None
        else [instalments.count, instalments.frequency.value, instalments.method.value],
    }

    def work(uow: UnitOfWork) -> Loan:
        merchant = _merchant(uow, merchant_id)
        offer = uow.credit.get_offer(offer_id, lock=True)
        if offer is None or offer.merchant_id != merchant_id:
            raise OfferNotFound(offer_id=offer_id[:64])
        now = ctx.clock.now()
        if offer.status is OfferStatus.USED:
            raise OfferAlreadyUsed(offer_id=offer.id)
        if offer.status is OfferStatus.SUPERSEDED or offer.expires_at <= now:
            raise OfferExpired(offer_id=offer.id)
        _check_no_open_loan(uow, ctx, merchant)
        if amount.currency.code != offer.currency:
            raise RepaymentCurrencyMismatch(
                f"the offer is in {offer.currency}, not {amount.currency.code}"
            )
        if amount.amount_minor > offer.limit_minor:
            raise ExceedsOfferLimit(
                f"at most {Money.of(offer.limit_minor, offer.currency)}",
                limit=Money.of(offer.limit_minor, offer.currency).to_decimal_string(),
            )
        if not uow.credit.set_offer_status(offer.id, OfferStatus.OPEN, OfferStatus.USED):
            raise OfferAlreadyUsed(offer_id=offer.id)
        user = _user(uow, merchant_id)
        wallet = wallet_for(uow, ctx, user, offer.currency)
        receivable = _receivable(uow, ctx, offer.currency, wallet.account_id)
        capital = ledger.system_account_id_in(uow, ctx, AccountCode.LENDER_CAPITAL, offer.currency)
        _check_capital(uow, offer.currency, capital, amount.amount_minor)
        loan = _new_loan(ctx, offer, amount.amount_minor, instalments, now)
        uow.credit.insert_loan(loan)
        uow.people.set_open_loan(merchant_id, loan.id)
        ledger.record(uow, ctx, [
            move(ctx.ids.new("tr"), debit_account_id=receivable,
                 credit_account_id=wallet.account_id,
                 amount=loan.principal_minor, currency=loan.currency,
                 code=TransferCode.LOAN_DISBURSEMENT, reference=loan.id),
        ])  # fmt: skip
        webhooks.emit(
            uow, ctx, owner_id=merchant_id, type=EventType.LOAN_DISBURSED, data=loan_event(loan)
        )
        owed = Money.of(loan.total_repayable_minor, loan.currency)
        to = sms.reader(user)
        sms.queue(uow, ctx, phone=user.phone, text=compose(
            to, DISBURSED_REVENUE, amount=amount, loan=loan.id, owed=owed,
            share=bps_percent(loan.withhold_bps))
            if loan.repayment is Repayment.REVENUE
            else compose(to, DISBURSED_INSTALMENTS, amount=amount, loan=loan.id, owed=owed,
                         count=loan.instalments))  # fmt: skip
        return loan

    return run_idempotent(
        ctx,
        scope=f"merchant:{merchant_id}:loan",
        key=idempotency_key,
        request=request,
        work=work,
        result=Loan,
    ).value


def _new_loan(
    ctx: Context,
    offer: StoredOffer,
    principal: int,
    instalments: InstalmentTerms | None,
    now: datetime,
) -> Loan:
    fee = flat_fee(principal, offer.fee_bps)
    if instalments is not None and instalments.method is Method.DECLINING:
        # The interest a declining-balance schedule charges is its fee.
        schedule = instalment_schedule(
            principal,
            count=instalments.count,
            method=Method.DECLINING,
            frequency=instalments.frequency,
            start=now.astimezone(UTC).date(),
            rate=declining_rate(offer.fee_bps, instalments.count),
        )
        fee = sum(i.charge_minor for i in schedule)
    return Loan(
        id=ctx.ids.new("loan"),
        merchant_id=offer.merchant_id,
        offer_id=offer.id,
        currency=offer.currency,
        principal_minor=principal,
        fee_minor=fee,
        late_fees_minor=0,
        fee_bps=offer.fee_bps,
        withhold_bps=offer.withhold_bps if instalments is None else 0,
        term_days=offer.term_days,
        repayment=Repayment.REVENUE if instalments is None else Repayment.INSTALMENTS,
        method=None if instalments is None else instalments.method,
        frequency=None if instalments is None else instalments.frequency,
        instalments=None if instalments is None else instalments.count,
        repaid_principal_minor=0,
        repaid_fee_minor=0,
        missed_periods=0,
        max_days_past_due=0,
        status=LoanStatus.ACTIVE,
        scorecard_version=ctx.credit.scorecard.version,
        grade=offer.grade,
        disbursed_at=now,
        closed_at=None,
    )


def _check_no_open_loan(uow: UnitOfWork, ctx: Context, merchant: Merchant) -> None:
    if merchant.open_loan_id is None:
        return
    loan = uow.credit.get_loan(merchant.open_loan_id)
    assert loan is not None and loan.status is LoanStatus.ACTIVE, merchant.open_loan_id
    if unmet_due_dates(loan, as_of=today(ctx), policy=ctx.credit.repayment):
        raise LoanInArrears(loan_id=loan.id)
    raise LoanAlreadyOpen(loan_id=loan.id)


def _check_capital(uow: UnitOfWork, currency: str, capital_id: str, amount: int) -> None:
    """Loans outstanding never exceed the lender's capital, so every lent unit is backed.

    The capital account is locked (disbursements take turns on it); the buckets of loans
    receivable are read without locks: a sale racing with this only lowers them, so what is
    read is never less than what is lent."""
    capital = uow.ledger.lock_accounts([capital_id])[capital_id]
    lent = sum(
        account.debits_posted - account.credits_posted
        for account in uow.ledger.get_accounts_by_name(
            SYSTEM_ACCOUNTS[AccountCode.LOANS_RECEIVABLE].names(currency)
        )
    )
    free = capital.balance - lent
    if amount > free:
        raise LenderCapitalInsufficient(
            f"the lender has {Money.of(max(free, 0), currency)} left to lend",
            available=Money.of(max(free, 0), currency).to_decimal_string(),
        )


def _receivable(uow: UnitOfWork, ctx: Context, currency: str, wallet_account_id: str) -> str:
    """The merchant's bucket of loans receivable: its disbursement and every repayment meet the
    same bucket, so no bucket is ever credited past its debits."""
    return ledger.system_account_id_in(
        uow, ctx, AccountCode.LOANS_RECEIVABLE, currency, spread_by=wallet_account_id
    )


def repay(ctx: Context, *, merchant_id: str, loan_id: str, amount: Money,
          idempotency_key: str | None) -> LoanRepayment:  # fmt: skip
    """The merchant repays part or all of its loan early, from its wallet."""
    if amount.amount_minor <= 0:
        raise AmountMustBePositive()
    request = {"loan_id": loan_id, "amount": amount.to_decimal_string(),
               "currency": amount.currency.code}  # fmt: skip

    def work(uow: UnitOfWork) -> LoanRepayment:
        loan = uow.credit.get_loan(loan_id, lock=True)
        if loan is None or loan.merchant_id != merchant_id:
            raise LoanNotFound(loan_id=loan_id[:64])
        if amount.currency.code != loan.currency:
            raise RepaymentCurrencyMismatch(f"the loan is in {loan.currency}")
        # A written-off loan owes nothing more to collect: its principal left was taken from
        # the lender's capital and its receivable cleared, so a repayment would credit the
        # receivable past zero (another merchant's loan in the same bucket would hide it).
        outstanding = loan.outstanding_minor if loan.status is LoanStatus.ACTIVE else 0
        if amount.amount_minor > outstanding:
            owed = Money.of(outstanding, loan.currency)
            raise RepaymentExceedsOutstanding(
                f"{owed} is owed"
                + (" (the loan was written off)" if loan.status is LoanStatus.WRITTEN_OFF else ""),
                outstanding=owed.to_decimal_string(),
            )
        wallet = uow.people.find_wallet(merchant_id, loan.currency)
        assert wallet is not None, (merchant_id, loan.currency)
        _, repayment, legs = _repay_in(uow, ctx, loan, wallet.account_id, amount.amount_minor,
                                       kind=RepaymentKind.MANUAL, payment_id=None)  # fmt: skip
        ledger.record(uow, ctx, legs)
        return repayment

    return run_idempotent(
        ctx,
        scope=f"merchant:{merchant_id}:loan_repayment",
        key=idempotency_key,
        request=request,
        work=work,
        result=LoanRepayment,
    ).value


def repay_from_sale(
    uow: UnitOfWork,
    ctx: Context,
    *,
    loan_id: str,
    wallet_account_id: str,
    sale_minor: int,
    payment_id: str,
) -> list[TransferRequest]:
    """A sale's sweep, in the sale's transaction: the loan's withhold share of `sale_minor`
    (never more than is owed), as transfers for the caller to record with the sale's own.

    Wired into payments as `ctx.repay_from_sale`; payments call it only for a merchant whose row
    names an open loan, so merchants without one pay nothing for it."""
    # Only what a sweep needs, read (and locked) off the row: the loan itself is read only when
    # this sale repays it in full and closes it.
    terms = uow.credit.lock_sweep_terms(loan_id)
    if terms is None or terms.status is not LoanStatus.ACTIVE:
        return []
    swept = sweep_amount(sale_minor, terms.withhold_bps, terms.outstanding_minor)
    if swept == 0:
        return []
    if swept == terms.outstanding_minor:
        loan = uow.credit.get_loan(loan_id, lock=True)
        assert loan is not None, loan_id
        _, _, legs = _repay_in(uow, ctx, loan, wallet_account_id, swept,
                               kind=RepaymentKind.SWEEP, payment_id=payment_id)  # fmt: skip
        return legs
    principal, fee = split_repayment(
        swept, terms.principal_outstanding_minor, terms.fee_outstanding_minor
    )
    repayment = LoanRepayment(
        id=ctx.ids.new("lrp"),
        loan_id=loan_id,
        kind=RepaymentKind.SWEEP,
        amount_minor=swept,
        principal_part_minor=principal,
        fee_part_minor=fee,
        payment_id=payment_id,
        created_at=ctx.clock.now(),
    )
    uow.credit.record_sweep(repayment)
    return _repayment_legs(uow, ctx, terms.currency, wallet_account_id, repayment)


def _repay_in(
    uow: UnitOfWork,
    ctx: Context,
    loan: Loan,
    wallet_account_id: str,
    amount: int,
    *,
    kind: RepaymentKind,
    payment_id: str | None,
) -> tuple[Loan, LoanRepayment, list[TransferRequest]]:
    """Store one repayment of a locked loan and return its transfers: principal back to the
    merchant's receivable bucket, the fee's part to the fees. Closes the loan when it is paid."""
    assert 0 < amount <= loan.outstanding_minor, (amount, loan.outstanding_minor)
    principal, fee = split_repayment(
        amount, loan.principal_outstanding_minor, loan.fee_outstanding_minor
    )
    now = ctx.clock.now()
    repayment = LoanRepayment(
        id=ctx.ids.new("lrp"),
        loan_id=loan.id,
        kind=kind,
        amount_minor=amount,
        principal_part_minor=principal,
        fee_part_minor=fee,
        payment_id=payment_id,
        created_at=now,
    )
    legs = _repayment_legs(uow, ctx, loan.currency, wallet_account_id, repayment)
    loan = replace(
        loan,
        repaid_principal_minor=loan.repaid_principal_minor + principal,
        repaid_fee_minor=loan.repaid_fee_minor + fee,
    )
    if loan.outstanding_minor == 0:
        loan = replace(loan, status=LoanStatus.REPAID, closed_at=now)
        uow.people.set_open_loan(loan.merchant_id, None)
        webhooks.emit(uow, ctx, owner_id=loan.merchant_id, type=EventType.LOAN_REPAID,
                      data=loan_event(loan))  # fmt: skip
    uow.credit.update_loan(loan)
    uow.credit.insert_repayment(repayment)
    return loan, repayment, legs


def _repayment_legs(
    uow: UnitOfWork, ctx: Context, currency: str, wallet_account_id: str, repayment: LoanRepayment
) -> list[TransferRequest]:
    """A repayment's transfers from the merchant's wallet: principal back to its receivable
    bucket, the fee's part to the fees."""
    legs = []
    if repayment.principal_part_minor:
        legs.append(move(ctx.ids.new("tr"), debit_account_id=wallet_account_id,
                         credit_account_id=_receivable(uow, ctx, currency, wallet_account_id),
                         amount=repayment.principal_part_minor, currency=currency,
                         code=TransferCode.LOAN_REPAYMENT, reference=repayment.id))  # fmt: skip
    if repayment.fee_part_minor:
        fees = ledger.system_account_id_in(uow, ctx, AccountCode.FEES, currency,
                                           spread_by=wallet_account_id)  # fmt: skip
        legs.append(move(ctx.ids.new("tr"), debit_account_id=wallet_account_id,
                         credit_account_id=fees, amount=repayment.fee_part_minor,
                         currency=currency, code=TransferCode.LOAN_FEE,
                         reference=repayment.id))  # fmt: skip
    return legs


# --- the worker: minimums, late fees, write-offs --------------------------------------------


def collect_dues(ctx: Context, *, limit: int = limits.LOANS_PER_BATCH_MAX) -> int:
    """Collect what each active loan owes by today and its sales did not repay, from the
    merchant's wallet; charge a late fee once per missed minimum; write off a loan late past the
    operator's limit. Each loan in its own transaction. Returns how many loans changed."""
    changed = 0
    after: str | None = None
    while True:

        def page(uow: UnitOfWork, after: str | None = after) -> list[str]:
            return uow.credit.active_loan_ids(limit, after)

        ids = in_transaction(ctx, page, read_only=True)
        for loan_id in ids:

            def collect(uow: UnitOfWork, loan_id: str = loan_id) -> bool:
                return _collect_in(uow, ctx, loan_id)

            if in_transaction(ctx, collect):
                changed += 1
        if len(ids) < limit:
            return changed
        after = ids[-1]


def _collect_in(uow: UnitOfWork, ctx: Context, loan_id: str) -> bool:
    loan = uow.credit.get_loan(loan_id, lock=True)
    if loan is None or loan.status is not LoanStatus.ACTIVE:
        return False
    policy = ctx.credit.repayment
    as_of = today(ctx)
    disbursed_on = loan.disbursed_at.astimezone(UTC).date()
    missing = (
        due_by(loan, disbursed_on=disbursed_on, as_of=as_of, policy=policy) - loan.repaid_minor
    )
    if missing <= 0:
        return False
    wallet = uow.people.find_wallet(loan.merchant_id, loan.currency)
    assert wallet is not None, loan
    available = uow.ledger.lock_accounts([wallet.account_id])[wallet.account_id].available
    take = min(missing, max(available, 0), loan.outstanding_minor)
    user = _user(uow, loan.merchant_id)
    if take > 0:
        loan, _, legs = _repay_in(uow, ctx, loan, wallet.account_id, take,
                                  kind=RepaymentKind.MINIMUM, payment_id=None)  # fmt: skip
        ledger.record(uow, ctx, legs)
        sms.queue(
            uow,
            ctx,
            phone=user.phone,
            text=compose(
                sms.reader(user), MINIMUM_TAKEN, amount=Money.of(take, loan.currency), loan=loan.id
            ),
        )
        missing -= take
    if missing <= 0 or loan.status is not LoanStatus.ACTIVE:
        return True
    unmet = unmet_due_dates(loan, as_of=as_of, policy=policy)
    late_days = (as_of - unmet[0]).days if unmet else 0
    loan = replace(loan, max_days_past_due=max(loan.max_days_past_due, late_days))
    if len(unmet) > loan.missed_periods:
        fee = late_fee(missing, policy) * (len(unmet) - loan.missed_periods)
        loan = replace(loan, missed_periods=len(unmet), late_fees_minor=loan.late_fees_minor + fee)
        owed = Money.of(missing + fee, loan.currency)
        webhooks.emit(uow, ctx, owner_id=loan.merchant_id, type=EventType.LOAN_OVERDUE,
                      data=loan_event(loan) | {"overdue": owed.to_decimal_string()})  # fmt: skip
        sms.queue(
            uow,
            ctx,
            phone=user.phone,
            text=compose(sms.reader(user), BEHIND, loan=loan.id, owed=owed),
        )
    if late_days >= policy.write_off_after_days:
        loan = _write_off_in(uow, ctx, loan, wallet.account_id)
    uow.credit.update_loan(loan)
    return True


def _write_off_in(uow: UnitOfWork, ctx: Context, loan: Loan, wallet_account_id: str) -> Loan:
    """The lender gives up what is left of the principal: the capital absorbs the loss and the
    receivable bucket is cleared. Unpaid fees were never booked as income, so nothing to undo."""
    principal_left = loan.principal_outstanding_minor
    if principal_left:
        capital = ledger.system_account_id_in(uow, ctx, AccountCode.LENDER_CAPITAL, loan.currency)
        ledger.record(uow, ctx, [
            move(ctx.ids.new("tr"), debit_account_id=capital,
                 credit_account_id=_receivable(uow, ctx, loan.currency, wallet_account_id),
                 amount=principal_left, currency=loan.currency,
                 code=TransferCode.LOAN_WRITE_OFF, reference=loan.id),
        ])  # fmt: skip
    uow.people.set_open_loan(loan.merchant_id, None)
    return replace(loan, status=LoanStatus.WRITTEN_OFF, closed_at=ctx.clock.now())


# --- reads -----------------------------------------------------------------------------------


def get_loan(ctx: Context, loan_id: str) -> Loan:
    found = in_transaction(ctx, lambda uow: uow.credit.get_loan(loan_id), read_only=True)
    if found is None:
        raise LoanNotFound(loan_id=loan_id[:64])
    return found


def list_loans(
    ctx: Context,
    *,
    merchant_id: str | None,
    status: LoanStatus | None,
    limit: int = limits.PAGE_SIZE_DEFAULT,
    before: str | None = None,
) -> list[Loan]:
    """Newest first; `before` is the id of the last loan of the previous page."""
    if not 1 <= limit <= limits.PAGE_SIZE_MAX:
        raise PageSizeInvalid(f"page size {limit}; allowed 1 to {limits.PAGE_SIZE_MAX}")
    return in_transaction(
        ctx,
        lambda uow: uow.credit.list_loans(
            merchant_id=merchant_id, status=status, limit=limit, before=before
        ),
        read_only=True,
    )


def list_repayments(ctx: Context, loan_id: str) -> list[LoanRepayment]:
    return in_transaction(
        ctx,
        lambda uow: uow.credit.list_repayments(loan_id, limits.LOAN_REPAYMENTS_SHOWN_MAX),
        read_only=True,
    )


@dataclass(frozen=True, slots=True)
class Due:
    """One due date of a loan: what must have been repaid by then, in all."""

    number: int
    due_on: date
    amount_minor: int
    cumulative_minor: int
    met: bool


def schedule(ctx: Context, loan: Loan) -> list[Due]:
    """The loan's due dates: a revenue loan's minimum per period (cumulative), or the
    instalments; each marked met when what was repaid covers it."""
    disbursed_on = loan.disbursed_at.astimezone(UTC).date()
    policy = ctx.credit.repayment
    dues: list[Due] = []
    if loan.repayment is Repayment.INSTALMENTS:
        cumulative = 0
        for item in loan.schedule(disbursed_on):
            cumulative += item.amount_minor
            met = loan.repaid_minor >= cumulative
            dues.append(Due(item.number, item.due_on, item.amount_minor, cumulative, met))
        return dues
    previous = 0
    end = disbursed_on + timedelta(days=loan.term_days)
    number = 1
    while True:
        on = min(disbursed_on + timedelta(days=number * policy.period_days), end)
        cumulative = due_by(loan, disbursed_on=disbursed_on, as_of=on, policy=policy)
        dues.append(Due(number, on, cumulative - previous, cumulative,
                        loan.repaid_minor >= cumulative))  # fmt: skip
        if on >= end or cumulative >= loan.total_repayable_minor:
            return dues
        previous = cumulative
        number += 1


def fund_capital(ctx: Context, amount: Money) -> None:
    """The operator puts capital in for lending: money in at the bank (settlement) becomes the
    lender's capital."""
    if amount.amount_minor <= 0:
        raise AmountMustBePositive()
    currency = amount.currency.code

    def work(uow: UnitOfWork) -> None:
        settlement = ledger.system_account_id_in(uow, ctx, AccountCode.SETTLEMENT, currency)
        capital = ledger.system_account_id_in(uow, ctx, AccountCode.LENDER_CAPITAL, currency)
        ledger.record(uow, ctx, [
            move(ctx.ids.new("tr"), debit_account_id=settlement, credit_account_id=capital,
                 amount=amount.amount_minor, currency=currency,
                 code=TransferCode.CAPITAL_INJECTION),
        ])  # fmt: skip

    in_transaction(ctx, work)


# --- the portfolio -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """Loans of one grade or one scorecard version: how many, and how many were written off."""

    key: str
    loans: int
    written_off: int

    @property
    def default_rate_bps(self) -> int:
        # Rounded up: the report never shows a rate better than the book's.
        return -(-self.written_off * 10_000 // self.loans) if self.loans else 0


@dataclass(frozen=True, slots=True)
class CurrencyPortfolio:
    currency: str
    loans: int
    active: int
    disbursed_minor: int
    outstanding_principal_minor: int
    repaid_principal_minor: int
    fees_earned_minor: int
    written_off_minor: int
    #: Outstanding principal of loans at least 1, 30 and 90 days past due.
    at_risk_minor: tuple[int, int, int]
    by_grade: tuple[Segment, ...]
    by_scorecard: tuple[Segment, ...]


def portfolio(ctx: Context) -> list[CurrencyPortfolio]:
    """The operator's loan book per currency: PAR 1/30/90 on today's lateness, default rate (the
    share of loans written off) by grade and by scorecard version."""
    as_of = today(ctx)
    policy = ctx.credit.repayment
    loans = in_transaction(
        ctx, lambda uow: list(uow.credit.all_loans(limits.PORTFOLIO_LOANS_MAX)), read_only=True
    )
    report = []
    for currency in sorted({loan.currency for loan in loans}):
        book = [loan for loan in loans if loan.currency == currency]
        active = [loan for loan in book if loan.status is LoanStatus.ACTIVE]
        at_risk = [0, 0, 0]
        for loan in active:
            unmet = unmet_due_dates(loan, as_of=as_of, policy=policy)
            late = (as_of - unmet[0]).days if unmet else 0
            for index, bound in enumerate((1, 30, 90)):
                if late >= bound:
                    at_risk[index] += loan.principal_outstanding_minor
        report.append(
            CurrencyPortfolio(
                currency=currency,
                loans=len(book),
                active=len(active),
                disbursed_minor=sum(loan.principal_minor for loan in book),
                outstanding_principal_minor=sum(
                    loan.principal_outstanding_minor for loan in active
                ),
                repaid_principal_minor=sum(loan.repaid_principal_minor for loan in book),
                fees_earned_minor=sum(loan.repaid_fee_minor for loan in book),
                written_off_minor=sum(
                    loan.principal_outstanding_minor
                    for loan in book
                    if loan.status is LoanStatus.WRITTEN_OFF
                ),
                at_risk_minor=(at_risk[0], at_risk[1], at_risk[2]),
                by_grade=_segments(book, lambda loan: loan.grade),
                by_scorecard=_segments(book, lambda loan: loan.scorecard_version),
            )
        )
    return report


def _segments(book: Sequence[Loan], key: Callable[[Loan], str]) -> tuple[Segment, ...]:
    keys = sorted({key(loan) for loan in book})
    return tuple(
        Segment(
            k,
            sum(1 for loan in book if key(loan) == k),
            sum(1 for loan in book if key(loan) == k and loan.status is LoanStatus.WRITTEN_OFF),
        )
        for k in keys
    )


# --- events and helpers -------------------------------------------------------------------------


def offer_event(offer: StoredOffer) -> dict[str, Any]:
    return {
        "offer_id": offer.id,
        "limit": Money.of(offer.limit_minor, offer.currency).to_decimal_string(),
        "currency": offer.currency,
        "fee_bps": offer.fee_bps,
        "withhold_bps": offer.withhold_bps,
        "term_days": offer.term_days,
        "expires_at": offer.expires_at.isoformat(),
    }


def loan_event(loan: Loan) -> dict[str, Any]:
    def text(minor: int) -> str:
        return Money.of(minor, loan.currency).to_decimal_string()

    return {
        "loan_id": loan.id,
        "currency": loan.currency,
        "principal": text(loan.principal_minor),
        "fee": text(loan.fee_minor + loan.late_fees_minor),
        "repaid": text(loan.repaid_minor),
        "outstanding": text(loan.outstanding_minor),
        "status": loan.status.value,
    }


def _user(uow: UnitOfWork, user_id: str) -> User:
    user = uow.people.get_user(user_id)
    if user is None:
        raise UserNotFound(user_id=user_id[:64])
    return user


def _merchant(uow: UnitOfWork, merchant_id: str) -> Merchant:
    user = _user(uow, merchant_id)
    if user.kind is not UserKind.MERCHANT:
        raise UserKindMismatch(f"{merchant_id} is a {user.kind.value}, not a merchant")
    merchant = uow.people.get_merchant(merchant_id)
    assert merchant is not None, merchant_id
    return merchant
