"""M-Pesa use cases: STK push deposits, C2B payments, reversals and the statement's match.

Money moves in one transaction with the record that says why, and only on M-Pesa's word as Soko
can trust it: a callback that came with the secret path token from Safaricom's networks (the
route checks both) and names what Soko asked for (amount and phone), or Daraja's own answer to
a query. Daraja calls happen outside any transaction. A money-moving call whose answer was lost
is never sent again: it is settled by a query or a later callback.

Exactly one ledger movement per M-Pesa transaction: each deposit, C2B payment and reversal moves
money only in the transaction that takes its row out of the state it was in (`UPDATE ... WHERE
state = ...`), and every M-Pesa receipt is recorded once (`mpesa_receipts`' primary key).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, TypeVar

from soko.context import Context, UnitOfWork
from soko.deposits.domain import (
    CURRENCY,
    MINOR_PER_SHILLING,
    SHILLINGS_MAX,
    STATUS_COMPLETED,
    STATUS_REVERSED,
    C2BPayment,
    C2BState,
    CheckKind,
    CheckState,
    Deposit,
    DepositOutcome,
    DepositState,
    Receipt,
    Reversal,
    ReversalState,
    StatementCredit,
    StatusCheck,
    account_reference,
    bill_reference_kind,
    bounded_text,
    e164,
    matches_request,
    msisdn,
    query_delay_seconds,
    status_delay_seconds,
    whole_shillings,
)
from soko.deposits.errors import (
    DepositNotFound,
    MpesaNotConfigured,
    MpesaPaymentNotFound,
    MpesaPaymentNotInSuspense,
    MpesaReceiptNotInStatement,
    MpesaReversalNotAllowed,
)
from soko.deposits.ports import (
    DarajaOutcomeUnknown,
    DarajaRejected,
    DarajaUnavailable,
    Mpesa,
)
from soko.kernel.errors import CurrencyMismatch
from soko.kernel.idempotency import run_idempotent
from soko.kernel.money import Money
from soko.kernel.transactions import in_transaction
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import hold, move, post, void
from soko.notify import sms_service as sms
from soko.notify.sms import N_, compose
from soko.people.domain import UserKind
from soko.people.errors import UserNotFound
from soko.people.kyc import check_incoming, tier_of
from soko.people.wallets import check_amount, wallet_for
from soko.rails.mpesa.callbacks import (
    C2BNotification,
    C2BRejection,
    QueueTimeout,
    ReversalResult,
    StkCallback,
    StkPayment,
    TransactionStatusResult,
)
from soko.rails.mpesa.daraja import CallbackKind
from soko.rails.mpesa.statement import (
    Direction,
    LedgerEntry,
    StatementMatch,
    match_statement,
    parse_statement,
)

log = logging.getLogger("soko.mpesa")

#: Shown on the customer's STK prompt (Daraja allows 13 characters).
STK_DESCRIPTION: Final = "Soko deposit"
#: Deposits the worker looks at per tick.
DEPOSITS_PER_TICK_MAX: Final = 20


def mpesa(ctx: Context) -> Mpesa:
    """The operator's M-Pesa settings, or `MpesaNotConfigured` when SOKO_MPESA_* are unset."""
    if ctx.mpesa is None:
        raise MpesaNotConfigured("set the SOKO_MPESA_* settings to take M-Pesa payments")
    return ctx.mpesa


# --- STK push deposits ---------------------------------------------------------------------------


def request_deposit(
    ctx: Context,
    *,
    user_id: str,
    amount: Money,
    phone: str | None,
    idempotency_key: str | None,
) -> Deposit:
    """Prompt a phone to pay `amount` into the user's wallet by M-Pesa (an STK push).

    Records the deposit, then asks Daraja to push, then records Daraja's CheckoutRequestID. The
    wallet is credited later, once, by the callback or the worker's query. A retry with the
    same key returns the deposit as it stands, and never pushes twice.
    """
    settings = mpesa(ctx)
    check_amount(ctx, amount)
    if amount.currency.code != CURRENCY:
        raise CurrencyMismatch(f"M-Pesa takes {CURRENCY} only", currency=amount.currency.code)
    whole_shillings(amount.amount_minor)
    number = None if phone is None else msisdn(phone)
    request = {"amount": amount.to_decimal_string(), "currency": CURRENCY, "phone": number}

    def work(uow: UnitOfWork) -> Deposit:
        user = uow.people.get_user(user_id)
        if user is None:
            raise UserNotFound(user_id=user_id)
        prompted = number if number is not None else msisdn(user.phone)
        wallet = wallet_for(uow, ctx, user, CURRENCY)
        if user.kind is UserKind.CONSUMER:
            # Checked before the customer pays: once M-Pesa has the money it must be taken.
            account = uow.ledger.lock_accounts([wallet.account_id])[wallet.account_id]
            check_incoming(
                ctx.kyc_limits[CURRENCY][tier_of(user.kyc_tier)],
                amount=amount.amount_minor,
                balance=account.balance + account.credits_pending,
                currency=CURRENCY,
            )
        now = ctx.clock.now()
        deposit_id = ctx.ids.new("dep")
        deposit = Deposit(
            id=deposit_id,
            user_id=user.id,
            wallet_id=wallet.id,
            shortcode=settings.shortcode,
            phone=prompted,
            amount=amount.amount_minor,
            currency=CURRENCY,
            account_reference=account_reference(deposit_id),
            state=DepositState.INITIATED,
            checkout_request_id=None,
            merchant_request_id=None,
            receipt=None,
            outcome=None,
            result_code=None,
            result_desc=None,
            transfer_id=None,
            queries=0,
            # If this process dies before Daraja's answer is recorded, the worker finds the
            # deposit here, after the push surely ended, and marks its outcome unknown.
            next_check_at=now + timedelta(seconds=ctx.payout_lease_seconds),
            created_at=now,
            updated_at=now,
        )
        uow.deposits.insert_deposit(deposit)
        return deposit

    first = run_idempotent(
        ctx,
        scope=f"user:{user_id}:deposit",
        key=idempotency_key,
        request=request,
        work=work,
        result=Deposit,
    )
    if not first.replayed:
        _push(ctx, settings, first.value)
    return get_deposit(ctx, first.value.id)


def _push(ctx: Context, settings: Mpesa, deposit: Deposit) -> None:
    try:
        accepted = settings.daraja.stk_push(
            amount_minor=deposit.amount,
            phone=deposit.phone,
            account_reference=deposit.account_reference,
            description=STK_DESCRIPTION,
        )
    except DarajaOutcomeUnknown as error:
        log.warning("deposit %s: the STK push's answer was lost (%s)", deposit.id, error.reason)
        _end_push(ctx, deposit, DepositState.UNKNOWN, DepositOutcome.OUTCOME_UNKNOWN, str(error))
        return
    except DarajaRejected as error:
        log.warning("deposit %s: Daraja refused the STK push: %s", deposit.id, error)
        _end_push(ctx, deposit, DepositState.FAILED, DepositOutcome.REFUSED, str(error))
        return
    except DarajaUnavailable as error:
        log.warning("deposit %s: Daraja unreachable: %s", deposit.id, error)
        _end_push(ctx, deposit, DepositState.FAILED, DepositOutcome.REFUSED, str(error))
        return
    now = ctx.clock.now()
    # False when the callback came first and settled it already: nothing left to record.
    in_transaction(
        ctx,
        lambda uow: uow.deposits.update_deposit(
            deposit.id,
            DepositState.INITIATED,
            state=DepositState.PENDING,
            now=now,
            next_check_at=now + timedelta(seconds=settings.query_after_seconds),
            checkout_request_id=accepted.checkout_request_id,
            merchant_request_id=accepted.merchant_request_id or None,
        ),
    )


def _end_push(
    ctx: Context, deposit: Deposit, state: DepositState, outcome: DepositOutcome, why: str
) -> None:
    now = ctx.clock.now()
    in_transaction(
        ctx,
        lambda uow: uow.deposits.update_deposit(
            deposit.id,
            DepositState.INITIATED,
            state=state,
            now=now,
            next_check_at=None,
            outcome=outcome,
            result_desc=bounded_text(why),
        ),
    )


def get_deposit(ctx: Context, deposit_id: str) -> Deposit:
    found = in_transaction(ctx, lambda uow: uow.deposits.get_deposit(deposit_id), read_only=True)
    if found is None:
        raise DepositNotFound(deposit_id=deposit_id)
    return found


def record_stk_callback(ctx: Context, callback: StkCallback) -> str:
    """Apply an STK callback (already believed by its route) and say what came of it: "paid",
    "failed", "duplicate", "receipt_recorded", or why nothing moved ("unknown_checkout",
    "mismatch", "receipt_reused", "conflict")."""
    settings = mpesa(ctx)
    what = in_transaction(ctx, lambda uow: _apply_stk_callback(uow, ctx, callback))
    if what == "unknown_checkout" and callback.payment is not None:
        # The push's answer may not be recorded yet (the callback raced it), or was lost.
        return _adopt(ctx, settings, callback)
    return what


def _apply_stk_callback(uow: UnitOfWork, ctx: Context, callback: StkCallback) -> str:
    deposit = uow.deposits.deposit_by_checkout(callback.checkout_request_id, lock=True)
    if deposit is None:
        return "unknown_checkout"
    if callback.payment is None:
        if deposit.state is not DepositState.PENDING:
            return "duplicate"
        _fail(uow, ctx, deposit, outcome=DepositOutcome.of_result_code(callback.result_code),
              result_code=callback.result_code, result_desc=callback.result_desc)  # fmt: skip
        return "failed"
    return _apply_payment(uow, ctx, deposit, callback, callback.payment)


def _apply_payment(
    uow: UnitOfWork, ctx: Context, deposit: Deposit, callback: StkCallback, payment: StkPayment
) -> str:
    if not matches_request(deposit, amount_minor=payment.amount_minor, phone=payment.phone):
        log.warning(
            "deposit %s: a callback for %s cents from ...%s, not what was asked; nothing moved",
            deposit.id, payment.amount_minor, payment.phone[-4:],
        )  # fmt: skip
        return "mismatch"
    reused = uow.deposits.get_receipt(payment.receipt) is not None
    if reused and deposit.receipt != payment.receipt:
        log.warning("deposit %s: receipt %s is another's", deposit.id, payment.receipt)
        return "receipt_reused"
    if deposit.state is DepositState.PENDING:
        _credit(uow, ctx, deposit, DepositState.PENDING, receipt=payment.receipt,
                result_code=callback.result_code, result_desc=callback.result_desc)  # fmt: skip
        return "paid"
    if deposit.state is DepositState.PAID:
        if deposit.receipt is None:
            # Settled by a query, which carries no receipt: the late callback brings it.
            _record_receipt(uow, ctx, deposit, payment.receipt)
            return "receipt_recorded"
        return "duplicate"
    log.error(
        "deposit %s is %s but a callback says paid (receipt %s): for the operator",
        deposit.id, deposit.state.value, payment.receipt,
    )  # fmt: skip
    return "conflict"


def _adopt(ctx: Context, settings: Mpesa, callback: StkCallback) -> str:
    """A paid callback for a CheckoutRequestID Soko has not recorded: the push it answers is
    one whose answer is not recorded (in flight, or lost). Daraja's own query must confirm it
    before the one deposit pushed for that phone and amount takes it."""
    payment = callback.payment
    assert payment is not None
    try:
        answer = settings.daraja.stk_query(callback.checkout_request_id)
    except (DarajaUnavailable, DarajaRejected) as error:
        log.warning("STK callback %s: not confirmed (%s)", callback.checkout_request_id, error)
        return "unknown_checkout"
    if answer.result_code != 0:
        log.warning("STK callback %s: Daraja does not confirm it", callback.checkout_request_id)
        return "unknown_checkout"

    def work(uow: UnitOfWork) -> str:
        # The push's answer may have been recorded meanwhile: then it is the usual path.
        usual = _apply_stk_callback(uow, ctx, callback)
        if usual != "unknown_checkout":
            return usual
        found = uow.deposits.unpushed_deposit_for(
            settings.shortcode, payment.phone, payment.amount_minor
        )
        if found is None or uow.deposits.get_receipt(payment.receipt) is not None:
            return "unknown_checkout"
        deposit = uow.deposits.get_deposit(found.id, lock=True)
        assert deposit is not None
        if deposit.state not in (DepositState.INITIATED, DepositState.UNKNOWN):
            return "duplicate"
        _credit(uow, ctx, deposit, deposit.state, receipt=payment.receipt,
                result_code=callback.result_code, result_desc=callback.result_desc,
                checkout_request_id=callback.checkout_request_id)  # fmt: skip
        return "paid"

    return in_transaction(ctx, work)


def _credit(
    uow: UnitOfWork,
    ctx: Context,
    deposit: Deposit,
    expected: DepositState,
    *,
    receipt: str | None,
    result_code: int,
    result_desc: str,
    checkout_request_id: str | None = None,
) -> None:
    """The deposit is paid: M-Pesa float -> wallet, once. The caller holds the deposit's row
    (locked, and found in `expected`), so the guarded update after the movement cannot miss."""
    assert deposit.state is expected, (deposit, expected)
    now = ctx.clock.now()
    transfer_id = ctx.ids.new("tr")
    wallet = uow.people.get_wallet(deposit.wallet_id)
    assert wallet is not None, deposit
    float_id = _float_id(uow, ctx, deposit.shortcode)
    ledger.record(uow, ctx, [
        move(transfer_id, debit_account_id=float_id, credit_account_id=wallet.account_id,
             amount=deposit.amount, currency=deposit.currency, code=TransferCode.DEPOSIT,
             reference=receipt or deposit.id),
    ])  # fmt: skip
    updated = uow.deposits.update_deposit(
        deposit.id,
        expected,
        state=DepositState.PAID,
        now=now,
        next_check_at=None,
        checkout_request_id=checkout_request_id,
        receipt=receipt,
        outcome=DepositOutcome.PAID,
        result_code=result_code,
        result_desc=bounded_text(result_desc),
        transfer_id=transfer_id,
    )
    assert updated, deposit
    if receipt is not None:
        _insert_receipt(uow, ctx, Receipt(receipt, "stk", "in", deposit.amount,
                                          deposit.shortcode, transfer_id, deposit.id))  # fmt: skip
    user = uow.people.get_user(deposit.user_id)
    assert user is not None, deposit
    text = compose(sms.reader(user), DEPOSITED, amount=Money.of(deposit.amount, CURRENCY),
                   ref=receipt or deposit.account_reference)  # fmt: skip
    sms.queue(uow, ctx, phone=user.phone, text=text)


#: To the depositor, in their language (Kiswahili in locale/sw/LC_MESSAGES/sms.po).
DEPOSITED: Final = N_("Soko: {amount} from M-Pesa is in your wallet. Ref {ref}.")


def _record_receipt(uow: UnitOfWork, ctx: Context, deposit: Deposit, receipt: str) -> None:
    if uow.deposits.get_receipt(receipt) is not None:
        return
    if uow.deposits.set_deposit_receipt(deposit.id, receipt, ctx.clock.now()):
        found = Receipt(receipt, "stk", "in", deposit.amount, deposit.shortcode,
                        deposit.transfer_id, deposit.id)  # fmt: skip
        _insert_receipt(uow, ctx, found)


def _fail(
    uow: UnitOfWork,
    ctx: Context,
    deposit: Deposit,
    *,
    outcome: DepositOutcome,
    result_code: int,
    result_desc: str,
) -> None:
    uow.deposits.update_deposit(
        deposit.id,
        DepositState.PENDING,
        state=DepositState.FAILED,
        now=ctx.clock.now(),
        next_check_at=None,
        outcome=outcome,
        result_code=result_code,
        result_desc=bounded_text(result_desc),
    )


def _float_id(uow: UnitOfWork, ctx: Context, shortcode: str) -> str:
    return ledger.system_account_id_in(
        uow, ctx, AccountCode.MPESA_FLOAT, CURRENCY, qualifier=shortcode
    )


def _insert_receipt(uow: UnitOfWork, ctx: Context, receipt: Receipt) -> None:
    inserted = uow.deposits.insert_receipt(receipt, ctx.clock.now())
    assert inserted, f"receipt {receipt.receipt} recorded twice"


# --- the worker ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Asked:
    """What the worker learnt of one deposit, before recording it."""

    deposit: Deposit
    #: None when Daraja could not say (unreachable): ask again later.
    pending: bool
    outcome: DepositOutcome | None
    result_code: int | None
    result_desc: str


def check_deposits(ctx: Context, *, limit: int = DEPOSITS_PER_TICK_MAX) -> int:
    """The worker's job: ask M-Pesa about deposits that had no callback in time (STK query),
    and settle them from its answer; mark pushes whose answer was never recorded as unknown.
    Returns how many deposits it looked at. Nothing to do when M-Pesa is off."""
    if ctx.mpesa is None:
        return 0
    claimed = claim_deposits(ctx, limit=limit)
    for deposit in claimed:
        # No transaction is open here: a Daraja call may take seconds.
        if deposit.state is DepositState.INITIATED:
            _end_push(ctx, deposit, DepositState.UNKNOWN, DepositOutcome.OUTCOME_UNKNOWN,
                      "the STK push's answer was never recorded")  # fmt: skip
            continue
        record_answer(ctx, ask(ctx, deposit))
    return len(claimed)


def claim_deposits(ctx: Context, *, limit: int = DEPOSITS_PER_TICK_MAX) -> list[Deposit]:
    """Due deposits, leased to this worker for `payout_lease_seconds`."""
    assert 0 < limit <= DEPOSITS_PER_TICK_MAX, limit
    now = ctx.clock.now()
    lease_until = now + timedelta(seconds=ctx.payout_lease_seconds)
    return in_transaction(ctx, lambda uow: uow.deposits.claim_due_deposits(now, lease_until, limit))


def ask(ctx: Context, deposit: Deposit) -> Asked:
    """Daraja's STK query about one pending deposit (no transaction open)."""
    assert deposit.checkout_request_id is not None, deposit
    try:
        answer = mpesa(ctx).daraja.stk_query(deposit.checkout_request_id)
    except (DarajaUnavailable, DarajaRejected) as error:
        log.warning("deposit %s: STK query failed, asking later: %s", deposit.id, error)
        return Asked(deposit, True, None, None, str(error))
    if answer.pending or answer.result_code is None:
        return Asked(deposit, True, None, None, answer.result_desc)
    outcome = DepositOutcome.of_result_code(answer.result_code)
    return Asked(deposit, False, outcome, answer.result_code, answer.result_desc)


def record_answer(ctx: Context, asked: Asked) -> None:
    """Settle a deposit from the query's answer, or ask again later (doubling the wait)."""
    deposit = asked.deposit
    settings = mpesa(ctx)

    def work(uow: UnitOfWork) -> None:
        current = uow.deposits.get_deposit(deposit.id, lock=True)
        assert current is not None
        if current.state is not DepositState.PENDING:
            return  # a callback (or another worker) settled it meanwhile
        if asked.pending or asked.outcome is None or asked.result_code is None:
            now = ctx.clock.now()
            queries = current.queries + 1
            delay = query_delay_seconds(settings.query_after_seconds, queries)
            uow.deposits.update_deposit(
                deposit.id, DepositState.PENDING, state=DepositState.PENDING, now=now,
                next_check_at=now + timedelta(seconds=delay), queries=queries,
            )  # fmt: skip
        elif asked.outcome is DepositOutcome.PAID:
            # Daraja's own answer: it charged what was pushed. Its query has no receipt; the
            # late callback, or the statement (by account reference), supplies it.
            _credit(uow, ctx, current, DepositState.PENDING, receipt=None,
                    result_code=asked.result_code, result_desc=asked.result_desc)  # fmt: skip
        else:
            _fail(uow, ctx, current, outcome=asked.outcome, result_code=asked.result_code,
                  result_desc=asked.result_desc)  # fmt: skip

    in_transaction(ctx, work)


# --- C2B -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Payee:
    """Whose wallet an account reference names."""

    user_id: str
    kind: UserKind


def _payee(uow: UnitOfWork, reference: str) -> Payee | None:
    named = bill_reference_kind(reference)
    if named is None:
        return None
    kind, value = named
    if kind == "phone":
        user = uow.people.get_user_by_phone(e164(value))
        return None if user is None else Payee(user.id, user.kind)
    merchant = uow.people.get_merchant_by_till(value)
    return None if merchant is None else Payee(merchant.user_id, UserKind.MERCHANT)


def register_c2b_urls(ctx: Context) -> str:
    """Tell Daraja where to send C2B validations and confirmations for the short code (once per
    short code, and again when the callback base URL or token changes). Returns Daraja's id of
    the registration."""
    return mpesa(ctx).daraja.register_c2b_urls().originator_conversation_id


def validate_c2b(ctx: Context, notification: C2BNotification) -> C2BRejection | None:
    """Whether to let a C2B payment through (None) or refuse it before the customer pays.

    Refused: another short code's payment, a payer without a number (C2B00011), an account
    reference that names no phone number or till (C2B00012), an amount M-Pesa cannot send or a
    person's wallet cannot take (C2B00013). A readable reference Soko does not know is let
    through: it is held in suspense for an operator.
    """
    settings = mpesa(ctx)
    if notification.business_shortcode != settings.shortcode:
        return C2BRejection.INVALID_SHORTCODE
    if not any(c.isdigit() for c in notification.msisdn):
        return C2BRejection.INVALID_MSISDN
    if bill_reference_kind(notification.bill_ref_number) is None:
        return C2BRejection.INVALID_ACCOUNT_NUMBER
    if notification.amount_minor > SHILLINGS_MAX * MINOR_PER_SHILLING:
        return C2BRejection.INVALID_AMOUNT

    def read(uow: UnitOfWork) -> C2BRejection | None:
        payee = _payee(uow, notification.bill_ref_number)
        if payee is None or payee.kind is not UserKind.CONSUMER:
            return None
        user = uow.people.get_user(payee.user_id)
        wallet = uow.people.find_wallet(payee.user_id, CURRENCY)
        if user is None or wallet is None:
            return None
        account = uow.ledger.get_account(wallet.account_id)
        assert account is not None
        room = ctx.kyc_limits[CURRENCY][tier_of(user.kyc_tier)].balance - (
            account.balance + account.credits_pending
        )
        return C2BRejection.INVALID_AMOUNT if notification.amount_minor > room else None

    return in_transaction(ctx, read, read_only=True)


@dataclass(frozen=True, slots=True)
class C2BFacts:
    """A C2B payment as Soko credits it: from a confirmation, a status check or the statement."""

    trans_id: str
    amount_minor: int
    bill_ref_number: str
    msisdn: str
    paid_at: datetime

    @classmethod
    def of(cls, notification: C2BNotification) -> C2BFacts:
        return cls(notification.trans_id, notification.amount_minor,
                   notification.bill_ref_number, notification.msisdn,
                   notification.trans_time)  # fmt: skip


def confirm_c2b(ctx: Context, notification: C2BNotification) -> str:
    """Take a C2B confirmation, once per TransID. With the initiator set up (the usual case), it
    is credited only once M-Pesa's Transaction Status API confirms the payment (the callback is
    believed on its token and source, which a leaked token defeats); without it, at once. The
    wallet is the one its account reference names (a phone number or a till), or suspense.
    Says what came of it: "checking" (a status query asked), "credited", "suspense", or why
    nothing moved ("duplicate", "mismatch", "wrong_shortcode", "receipt_reused")."""
    settings = mpesa(ctx)
    if notification.business_shortcode != settings.shortcode:
        log.warning("C2B %s for short code %s, not ours", notification.trans_id,
                    notification.business_shortcode)  # fmt: skip
        return "wrong_shortcode"
    facts = C2BFacts.of(notification)
    if not settings.checks_by_status:
        return in_transaction(ctx, lambda uow: _credit_c2b(uow, ctx, settings.shortcode, facts))
    what = in_transaction(ctx, lambda uow: _hold_for_check(uow, ctx, settings, facts))
    if what == "checking":
        _ask_status(ctx, settings, CheckKind.C2B, facts.trans_id, facts.trans_id, queries=1)
    return what


def _known_c2b(uow: UnitOfWork, facts: C2BFacts) -> str | None:
    """Why a C2B payment must not be credited now (it was, or its receipt is another's)."""
    existing = uow.deposits.get_c2b(facts.trans_id, lock=True)
    if existing is not None:
        if existing.amount != facts.amount_minor:
            log.warning("C2B %s confirmed again with another amount; nothing moved",
                        facts.trans_id)  # fmt: skip
            return "mismatch"
        return "duplicate"
    if uow.deposits.get_receipt(facts.trans_id) is not None:
        log.warning("C2B %s: the receipt is another payment's", facts.trans_id)
        return "receipt_reused"
    return None


def _hold_for_check(uow: UnitOfWork, ctx: Context, settings: Mpesa, facts: C2BFacts) -> str:
    known = _known_c2b(uow, facts)
    if known is not None:
        return known
    check = uow.deposits.get_check(CheckKind.C2B, facts.trans_id, lock=True)
    if check is not None:
        if check.amount != facts.amount_minor:
            log.warning("C2B %s confirmed again with another amount; nothing moved",
                        facts.trans_id)  # fmt: skip
            return "mismatch"
        return "duplicate"
    now = ctx.clock.now()
    uow.deposits.insert_check(
        StatusCheck(
            kind=CheckKind.C2B,
            subject=facts.trans_id,
            transaction_id=facts.trans_id,
            state=CheckState.OPEN,
            query_id=None,
            queries=0,
            next_check_at=now + timedelta(seconds=settings.status_after_seconds),
            amount=facts.amount_minor,
            shortcode=settings.shortcode,
            bill_ref_number=bounded_text(facts.bill_ref_number)[:40],
            msisdn=facts.msisdn[:64],
            paid_at=facts.paid_at,
            created_at=now,
            updated_at=now,
        )
    )
    return "checking"


def _credit_c2b(uow: UnitOfWork, ctx: Context, shortcode: str, facts: C2BFacts) -> str:
    """Float -> the wallet the account reference names (or suspense), once per TransID."""
    known = _known_c2b(uow, facts)
    if known is not None:
        return known
    payee = _payee(uow, facts.bill_ref_number)
    transfer_id = ctx.ids.new("tr")
    float_id = _float_id(uow, ctx, shortcode)
    if payee is None:
        credit_id = ledger.system_account_id_in(uow, ctx, AccountCode.SUSPENSE, CURRENCY)
        state = C2BState.SUSPENSE
    else:
        user = uow.people.get_user(payee.user_id)
        assert user is not None
        credit_id = wallet_for(uow, ctx, user, CURRENCY).account_id
        state = C2BState.CREDITED
    ledger.record(uow, ctx, [
        move(transfer_id, debit_account_id=float_id, credit_account_id=credit_id,
             amount=facts.amount_minor, currency=CURRENCY,
             code=TransferCode.DEPOSIT, reference=facts.trans_id),
    ])  # fmt: skip
    now = ctx.clock.now()
    uow.deposits.insert_c2b(
        C2BPayment(
            trans_id=facts.trans_id,
            shortcode=shortcode,
            bill_ref_number=bounded_text(facts.bill_ref_number)[:40],
            msisdn=facts.msisdn[:64],
            amount=facts.amount_minor,
            currency=CURRENCY,
            state=state,
            user_id=None if payee is None else payee.user_id,
            transfer_id=transfer_id,
            paid_at=facts.paid_at,
            created_at=now,
        )
    )
    _insert_receipt(uow, ctx, Receipt(facts.trans_id, "c2b", "in", facts.amount_minor,
                                      shortcode, transfer_id, facts.trans_id))  # fmt: skip
    # A check still open for it (the statement came first) has its answer now.
    uow.deposits.update_check(CheckKind.C2B, facts.trans_id, state=CheckState.CONFIRMED,
                              now=now, next_check_at=None)  # fmt: skip
    return state.value


def get_c2b(ctx: Context, trans_id: str) -> C2BPayment:
    found = in_transaction(ctx, lambda uow: uow.deposits.get_c2b(trans_id), read_only=True)
    if found is None:
        raise MpesaPaymentNotFound(trans_id=trans_id)
    return found


def assign_c2b(ctx: Context, trans_id: str, user_id: str) -> C2BPayment:
    """An operator gives a payment held in suspense to its owner: suspense -> their wallet."""

    def work(uow: UnitOfWork) -> C2BPayment:
        payment = uow.deposits.get_c2b(trans_id, lock=True)
        if payment is None:
            raise MpesaPaymentNotFound(trans_id=trans_id)
        if payment.state is not C2BState.SUSPENSE:
            raise MpesaPaymentNotInSuspense(trans_id=trans_id, state=payment.state.value)
        user = uow.people.get_user(user_id)
        if user is None:
            raise UserNotFound(user_id=user_id)
        if not uow.deposits.update_c2b(
            trans_id, C2BState.SUSPENSE, state=C2BState.ASSIGNED, user_id=user.id
        ):
            raise MpesaPaymentNotInSuspense(trans_id=trans_id)
        wallet = wallet_for(uow, ctx, user, CURRENCY)
        suspense_id = ledger.system_account_id_in(uow, ctx, AccountCode.SUSPENSE, CURRENCY)
        ledger.record(uow, ctx, [
            move(ctx.ids.new("tr"), debit_account_id=suspense_id,
                 credit_account_id=wallet.account_id, amount=payment.amount, currency=CURRENCY,
                 code=TransferCode.DEPOSIT, reference=trans_id),
        ])  # fmt: skip
        return replace(payment, state=C2BState.ASSIGNED, user_id=user.id)

    return in_transaction(ctx, work)


# --- reversals -----------------------------------------------------------------------------------


def request_reversal(ctx: Context, receipt: str) -> Reversal:
    """Ask M-Pesa to send a received payment (an STK deposit or a C2B payment) back to its
    payer. The money is held at once where it now is (the wallet, or suspense), and moves back
    to the float only when M-Pesa's Result confirms; a refused or expired reversal releases it.
    """
    settings = mpesa(ctx)

    def work(uow: UnitOfWork) -> Reversal:
        found = uow.deposits.get_receipt(receipt)
        if found is None:
            raise MpesaPaymentNotFound(trans_id=receipt)
        if found.direction != "in" or found.kind not in ("stk", "c2b"):
            raise MpesaReversalNotAllowed(f"{receipt} is a {found.kind} payment", trans_id=receipt)
        if uow.deposits.open_reversal_for(receipt) is not None or _reversed(uow, receipt):
            raise MpesaReversalNotAllowed(f"{receipt} is being or was reversed", trans_id=receipt)
        holder = _holder(uow, ctx, found)
        now = ctx.clock.now()
        hold_id = ctx.ids.new("tr")
        # Timeout 0: only M-Pesa's answer may release the money, never the clock.
        ledger.record(uow, ctx, [
            hold(hold_id, debit_account_id=holder, credit_account_id=_float_id(
                uow, ctx, found.shortcode), amount=found.amount, currency=CURRENCY,
                code=TransferCode.REFUND, timeout_seconds=0, reference=receipt),
        ])  # fmt: skip
        reversal = Reversal(
            id=ctx.ids.new("rev"),
            receipt=receipt,
            amount=found.amount,
            currency=CURRENCY,
            state=ReversalState.REQUESTED,
            originator_conversation_id=None,
            conversation_id=None,
            result_code=None,
            result_desc=None,
            reversal_receipt=None,
            hold_id=hold_id,
            transfer_id=None,
            created_at=now,
            updated_at=now,
        )
        uow.deposits.insert_reversal(reversal)
        # Asked about (transaction status) if no Result comes: a reversal never stays unknown.
        uow.deposits.insert_check(
            StatusCheck(
                kind=CheckKind.REVERSAL, subject=reversal.id, transaction_id=receipt,
                state=CheckState.OPEN, query_id=None, queries=0,
                next_check_at=now + timedelta(seconds=settings.status_after_seconds),
                amount=found.amount, shortcode=found.shortcode, bill_ref_number="", msisdn="",
                paid_at=None, created_at=now, updated_at=now,
            )
        )  # fmt: skip
        return reversal

    reversal = in_transaction(ctx, work)
    try:
        accepted = settings.daraja.reversal(
            transaction_id=receipt, amount_minor=reversal.amount, remarks="Soko reversal"
        )
    except DarajaOutcomeUnknown as error:
        # Its Result may still come (found by the original receipt); nothing is resent.
        _reversal_state(ctx, reversal, ReversalState.UNKNOWN, None, str(error))
    except (DarajaRejected, DarajaUnavailable) as error:
        _finish_reversal(ctx, reversal.id, succeeded=False, code="refused", desc=str(error))
    else:
        _reversal_state(ctx, reversal, ReversalState.REQUESTED, accepted, None)
    return get_reversal(ctx, reversal.id)


def _reversed(uow: UnitOfWork, receipt: str) -> bool:
    payment = uow.deposits.get_c2b(receipt)
    if payment is not None and payment.state is C2BState.REVERSED:
        return True
    return uow.deposits.reversal_done_for(receipt)


def _holder(uow: UnitOfWork, ctx: Context, found: Receipt) -> str:
    """The account that now holds a received payment's money."""
    if found.kind == "stk":
        deposit = uow.deposits.get_deposit(found.source_id)
        assert deposit is not None, found
        wallet = uow.people.get_wallet(deposit.wallet_id)
        assert wallet is not None, deposit
        return wallet.account_id
    payment = uow.deposits.get_c2b(found.receipt, lock=True)
    assert payment is not None, found
    if payment.state is C2BState.SUSPENSE:
        return ledger.system_account_id_in(uow, ctx, AccountCode.SUSPENSE, CURRENCY)
    assert payment.user_id is not None, payment
    wallet = uow.people.find_wallet(payment.user_id, CURRENCY)
    assert wallet is not None, payment
    return wallet.account_id


def _reversal_state(
    ctx: Context,
    reversal: Reversal,
    state: ReversalState,
    accepted: object,
    why: str | None,
) -> None:
    originator = getattr(accepted, "originator_conversation_id", None) or None
    conversation = getattr(accepted, "conversation_id", None) or None
    in_transaction(
        ctx,
        lambda uow: uow.deposits.update_reversal(
            reversal.id, ReversalState.REQUESTED, state=state, now=ctx.clock.now(),
            originator_conversation_id=originator, conversation_id=conversation,
            result_desc=None if why is None else bounded_text(why),
        ),
    )  # fmt: skip


def get_reversal(ctx: Context, reversal_id: str) -> Reversal:
    found = in_transaction(ctx, lambda uow: uow.deposits.get_reversal(reversal_id), read_only=True)
    assert found is not None, reversal_id
    return found


def record_reversal_result(ctx: Context, result: ReversalResult) -> str:
    """M-Pesa's Result of a reversal: post the hold (reversed) or void it (failed), once."""
    header = result.header

    def find(uow: UnitOfWork) -> Reversal | None:
        found = uow.deposits.reversal_by_conversation(
            header.originator_conversation_id, header.conversation_id, lock=False
        )
        if found is None and result.reversed is not None:
            # The request's answer was lost: the Result names the payment it reversed.
            found = uow.deposits.open_reversal_for(result.reversed.original_transaction_id)
        return found

    reversal = _patiently(ctx, find)
    if reversal is None:
        log.warning("reversal Result %s matches no reversal; nothing moved",
                    header.originator_conversation_id)  # fmt: skip
        return "unknown"
    if result.reversed is not None and (
        result.reversed.amount_minor != reversal.amount
        or result.reversed.original_transaction_id != reversal.receipt
    ):
        log.warning("reversal %s: the Result is for another payment or amount", reversal.id)
        return "mismatch"
    return _finish_reversal(
        ctx,
        reversal.id,
        succeeded=result.reversed is not None,
        code=header.result_code,
        desc=header.result_desc,
        reversal_receipt=header.transaction_id or None,
    )


def record_reversal_timeout(ctx: Context, timeout: QueueTimeout) -> str:
    """A reversal expired in M-Pesa's queue, unprocessed: release the money."""
    found = _patiently(
        ctx,
        lambda uow: uow.deposits.reversal_by_conversation(
            timeout.originator_conversation_id, timeout.conversation_id, lock=False
        ),
    )
    if found is None:
        return "unknown"
    return _finish_reversal(
        ctx, found.id, succeeded=False, code=timeout.result_code, desc=timeout.result_desc
    )


#: Looks for the request a Result answers, this many times, backing off between looks.
RESULT_LOOKS_MAX: Final = 40


_Found = TypeVar("_Found")


def _patiently(ctx: Context, find: Callable[[UnitOfWork], _Found | None]) -> _Found | None:
    """The reversal (or status check) a Result is for. Daraja may POST the Result before Soko
    has recorded the ids Daraja's answer to the request gave (the two race by milliseconds), so
    a Result for ids not yet recorded is looked for again a few times, backing off, before it is
    given up."""
    for attempt in range(1, RESULT_LOOKS_MAX + 1):
        found = in_transaction(ctx, find, read_only=True)
        if found is not None:
            return found
        ctx.backoff(attempt)
    return None


def _finish_reversal(
    ctx: Context,
    reversal_id: str,
    *,
    succeeded: bool,
    code: str,
    desc: str,
    reversal_receipt: str | None = None,
) -> str:
    def work(uow: UnitOfWork) -> str:
        reversal = uow.deposits.get_reversal(reversal_id, lock=True)
        assert reversal is not None
        if reversal.state not in (ReversalState.REQUESTED, ReversalState.UNKNOWN):
            if succeeded and reversal.state is ReversalState.FAILED:
                log.error("reversal %s was taken as failed, but M-Pesa now says it reversed %s:"
                          " for the operator", reversal.id, reversal.receipt)  # fmt: skip
            return "duplicate"
        state = ReversalState.REVERSED if succeeded else ReversalState.FAILED
        transfer_id = ctx.ids.new("tr")
        resolve = post if succeeded else void
        # The reversal's row is locked and in flight: the movement, then the guarded update.
        ledger.record(uow, ctx, [resolve(transfer_id, reversal.hold_id)])
        updated = uow.deposits.update_reversal(
            reversal.id, reversal.state, state=state, now=ctx.clock.now(), result_code=code[:32],
            result_desc=bounded_text(desc), reversal_receipt=reversal_receipt,
            transfer_id=transfer_id,
        )  # fmt: skip
        assert updated, reversal
        uow.deposits.update_check(CheckKind.REVERSAL, reversal.id, state=CheckState.CONFIRMED,
                                  now=ctx.clock.now(), next_check_at=None)  # fmt: skip
        if succeeded:
            found = uow.deposits.get_receipt(reversal.receipt)
            assert found is not None
            _insert_receipt(uow, ctx, Receipt(reversal_receipt or reversal.id[-20:], "reversal",
                                              "out", reversal.amount, found.shortcode,
                                              transfer_id, reversal.id))  # fmt: skip
            payment = uow.deposits.get_c2b(reversal.receipt)
            if payment is not None:
                uow.deposits.update_c2b(reversal.receipt, payment.state, state=C2BState.REVERSED)
        return state.value

    return in_transaction(ctx, work)


# --- the statement -------------------------------------------------------------------------------


def match_statement_text(ctx: Context, text: str) -> StatementMatch:
    """An M-Pesa organisation statement (its CSV export) against the ledger's movements on the
    short code: by receipt, and, for deposits settled by a query (no receipt yet), by the
    account reference each STK push carried. Raises `StatementInvalid` for an unreadable file."""
    settings = mpesa(ctx)
    rows = parse_statement(text)

    def read(uow: UnitOfWork) -> tuple[list[Receipt], list[Deposit]]:
        return (
            uow.deposits.receipts(settings.shortcode),
            uow.deposits.paid_deposits_without_receipt(settings.shortcode),
        )

    receipts, unreceipted = in_transaction(ctx, read, read_only=True)
    entries = [
        LedgerEntry(r.receipt, r.amount, Direction.IN if r.direction == "in" else Direction.OUT)
        for r in receipts
    ]
    if settings.b2c is not None:
        entries += [
            LedgerEntry(receipt, amount, Direction.OUT)
            for receipt, amount in settings.b2c.paid_receipts()
        ]
    known = {entry.receipt for entry in entries}
    by_reference = {deposit.account_reference: deposit for deposit in unreceipted}
    for row in rows:
        deposit = by_reference.pop(row.account_number, None) if row.receipt not in known else None
        if deposit is not None:
            entries.append(LedgerEntry(row.receipt, deposit.amount, Direction.IN))
    entries += [
        LedgerEntry(f"({deposit.account_reference})", deposit.amount, Direction.IN)
        for deposit in by_reference.values()
    ]
    return match_statement(rows, entries)


# --- transaction status checks -------------------------------------------------------------------

#: Status checks the worker asks about per tick.
CHECKS_PER_TICK_MAX: Final = 20
#: A reversal whose original payment M-Pesa still shows unreversed (Completed) after this many
#: status queries (doubling waits from SOKO_MPESA_STATUS_AFTER_SECONDS: hours) did not happen.
REVERSAL_QUERIES_MAX: Final = 6
#: A C2B confirmation M-Pesa's status query has not confirmed after this many queries is refused.
C2B_QUERIES_MAX: Final = 6

_STATUS_URLS: Final = {
    CheckKind.C2B: (CallbackKind.C2B_STATUS_RESULT, CallbackKind.C2B_STATUS_TIMEOUT),
    CheckKind.REVERSAL: (CallbackKind.REVERSAL_STATUS_RESULT, CallbackKind.REVERSAL_STATUS_TIMEOUT),
}


def _ask_status(
    ctx: Context, settings: Mpesa, kind: CheckKind, subject: str, transaction_id: str, *,
    queries: int,
) -> bool:  # fmt: skip
    """Send one Transaction Status query (no transaction open) and record the id Daraja gave
    it: only a Result naming that id is believed. False when Daraja could not be asked (the
    check stays due, and the worker asks again)."""
    result_kind, timeout_kind = _STATUS_URLS[kind]
    try:
        accepted = settings.daraja.transaction_status(
            transaction_id=transaction_id,
            remarks=f"Soko {kind.value} check",
            result_url=settings.daraja.callback_url(result_kind),
            timeout_url=settings.daraja.callback_url(timeout_kind),
        )
    except (DarajaUnavailable, DarajaRejected, DarajaOutcomeUnknown) as error:
        log.warning("%s check %s: status query not sent (%s)", kind.value, subject, error)
        return False
    now = ctx.clock.now()
    delay = status_delay_seconds(settings.status_after_seconds, queries - 1)
    in_transaction(
        ctx,
        lambda uow: uow.deposits.update_check(
            kind, subject, state=CheckState.OPEN, now=now,
            next_check_at=now + timedelta(seconds=delay),
            query_id=accepted.originator_conversation_id or None, queries=queries,
        ),
    )  # fmt: skip
    return True


def check_statuses(ctx: Context, *, limit: int = CHECKS_PER_TICK_MAX) -> int:
    """The worker's job: ask M-Pesa's Transaction Status API about C2B confirmations not yet
    confirmed and reversals with no answer, so none stays unknown. Returns how many it asked
    about. Nothing to do when M-Pesa is off."""
    if ctx.mpesa is None:
        return 0
    settings = ctx.mpesa
    assert 0 < limit <= CHECKS_PER_TICK_MAX, limit
    now = ctx.clock.now()
    lease_until = now + timedelta(seconds=ctx.payout_lease_seconds)
    claimed = in_transaction(
        ctx, lambda uow: uow.deposits.claim_due_checks(now, lease_until, limit)
    )
    for check in claimed:
        _ask_status(ctx, settings, check.kind, check.subject, check.transaction_id,
                    queries=check.queries + 1)  # fmt: skip
    return len(claimed)


def ask_reversal_status(ctx: Context, reversal_id: str) -> Reversal:
    """An operator asks now about a reversal with no answer (the worker asks by itself)."""
    settings = mpesa(ctx)
    check = in_transaction(
        ctx, lambda uow: uow.deposits.get_check(CheckKind.REVERSAL, reversal_id), read_only=True
    )
    if check is None:
        raise MpesaPaymentNotFound(f"no reversal {reversal_id}", reversal_id=reversal_id)
    if check.state is CheckState.OPEN:
        _ask_status(ctx, settings, CheckKind.REVERSAL, check.subject, check.transaction_id,
                    queries=check.queries + 1)  # fmt: skip
    return get_reversal(ctx, reversal_id)


def record_status_result(ctx: Context, kind: CheckKind, result: TransactionStatusResult) -> str:
    """A Transaction Status Result for a C2B or reversal check: believed only for the query Soko
    sent last (its OriginatorConversationID). Says what came of it."""
    header = result.header
    check = _patiently(
        ctx, lambda uow: uow.deposits.check_by_query(kind, header.originator_conversation_id)
    )
    if check is None:
        log.warning("status Result %s answers no %s query of ours; nothing moved",
                    header.originator_conversation_id, kind.value)  # fmt: skip
        return "unknown"
    if check.state is not CheckState.OPEN:
        return "duplicate"
    if kind is CheckKind.C2B:
        return _c2b_status(ctx, check, result)
    return _reversal_status(ctx, check, result)


def _c2b_status(ctx: Context, check: StatusCheck, result: TransactionStatusResult) -> str:
    found = result.found
    settings = mpesa(ctx)
    if found is None:
        if check.queries < C2B_QUERIES_MAX:
            return "asking_again"  # the worker asks again after the wait
        log.warning("C2B %s: M-Pesa's status query never confirmed it (%s); nothing moved",
                    check.subject, result.header.result_desc)  # fmt: skip
        return _close_check(ctx, check, CheckState.REFUSED)
    ours = not found.credit_party_name or found.credit_party_name.startswith(settings.shortcode)
    if (
        found.receipt != check.transaction_id
        or found.amount_minor != check.amount
        or found.status != STATUS_COMPLETED
        or not ours
    ):
        log.warning(
            "C2B %s: M-Pesa says %s of %s cents to %r, not the confirmation's %s; nothing moved",
            check.subject, found.status, found.amount_minor, found.credit_party_name, check.amount,
        )  # fmt: skip
        return _close_check(ctx, check, CheckState.REFUSED)
    assert check.paid_at is not None, check
    facts = C2BFacts(check.subject, check.amount, check.bill_ref_number, check.msisdn,
                     check.paid_at)  # fmt: skip

    def work(uow: UnitOfWork) -> str:
        current = uow.deposits.get_check(CheckKind.C2B, check.subject, lock=True)
        if current is None or current.state is not CheckState.OPEN:
            return "duplicate"
        return _credit_c2b(uow, ctx, check.shortcode, facts)

    return in_transaction(ctx, work)


def _reversal_status(ctx: Context, check: StatusCheck, result: TransactionStatusResult) -> str:
    reversal = get_reversal(ctx, check.subject)
    if reversal.state not in (ReversalState.REQUESTED, ReversalState.UNKNOWN):
        return _close_check(ctx, check, CheckState.CONFIRMED)
    found = result.found
    if found is None or found.receipt != reversal.receipt:
        # M-Pesa could not say: never guess with money; ask again (the waits are capped).
        log.warning("reversal %s: the status query did not answer (%s); asking again",
                    reversal.id, result.header.result_desc)  # fmt: skip
        return "asking_again"
    if found.status == STATUS_REVERSED:
        return _finish_reversal(ctx, reversal.id, succeeded=True, code="0",
                                desc="Reversed, by M-Pesa's transaction status")  # fmt: skip
    if found.status == STATUS_COMPLETED and check.queries >= REVERSAL_QUERIES_MAX:
        return _finish_reversal(
            ctx,
            reversal.id,
            succeeded=False,
            code="not_reversed",
            desc="M-Pesa still shows the payment completed, not reversed",
        )
    return "asking_again"


def _close_check(ctx: Context, check: StatusCheck, state: CheckState) -> str:
    in_transaction(
        ctx,
        lambda uow: uow.deposits.update_check(
            check.kind, check.subject, state=state, now=ctx.clock.now(), next_check_at=None
        ),
    )
    return "refused" if state is CheckState.REFUSED else "closed"


# --- receipts only the statement has -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementCreditOutcome:
    #: "credited" / "suspense" (money moved now), "receipt_recorded" (a deposit already paid by
    #: a query got its receipt), or "already_credited" (nothing to do: it was, once, already).
    what: str
    credit: StatementCredit | None


def credit_statement_receipt(
    ctx: Context, text: str, receipt: str, *, credited_by: str, reason: str
) -> StatementCreditOutcome:
    """Credit an incoming payment the organisation statement shows but Soko never heard of (its
    callback was lost): an STK deposit found by the account reference its push carried, or a
    C2B payment to the wallet its account number names (or suspense). Once per receipt, ever,
    whichever path sees it first; each credit is recorded with who asked, why, and the
    statement file's digest. Raises `MpesaReceiptNotInStatement` for a receipt the statement
    does not show as a completed payment in, and `StatementInvalid` for an unreadable file."""
    settings = mpesa(ctx)
    rows = [
        row
        for row in parse_statement(text)
        if row.receipt == receipt and not row.is_charge and row.direction is Direction.IN
    ]
    if len(rows) != 1 or rows[0].status.strip().lower() != "completed":
        raise MpesaReceiptNotInStatement(receipt=receipt)
    row = rows[0]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    who = bounded_text(credited_by)[:64] or "operator"
    why = bounded_text(reason) or "credited from the M-Pesa statement"

    def work(uow: UnitOfWork) -> StatementCreditOutcome:
        if uow.deposits.get_receipt(receipt) is not None or (
            uow.deposits.get_statement_credit(receipt) is not None
        ):
            return StatementCreditOutcome("already_credited", None)
        deposit = uow.deposits.deposit_by_reference(settings.shortcode, row.account_number)
        if deposit is not None:
            paid_in = row.paid_in_minor or 0
            return _credit_deposit_from_statement(
                uow, ctx, deposit, paid_in, receipt, digest=digest, who=who, why=why
            )
        facts = C2BFacts(receipt, row.amount_minor, row.account_number, row.other_party,
                         row.completed_at)  # fmt: skip
        what = _credit_c2b(uow, ctx, settings.shortcode, facts)
        if what not in (C2BState.CREDITED.value, C2BState.SUSPENSE.value):
            return StatementCreditOutcome("already_credited", None)
        payment = uow.deposits.get_c2b(receipt)
        assert payment is not None
        credit = StatementCredit(
            receipt,
            "c2b",
            receipt,
            payment.amount,
            row.account_number[:40],
            digest,
            who,
            why,
            payment.transfer_id,
            ctx.clock.now(),
        )
        uow.deposits.insert_statement_credit(credit)
        return StatementCreditOutcome(what, credit)

    outcome = in_transaction(ctx, work)
    if outcome.credit is not None:
        log.info("receipt %s credited from the statement by %s: %s", receipt, who, why)
    return outcome


def _credit_deposit_from_statement(
    uow: UnitOfWork, ctx: Context, found: Deposit, amount: int, receipt: str, *, digest: str,
    who: str, why: str,
) -> StatementCreditOutcome:  # fmt: skip
    deposit = uow.deposits.get_deposit(found.id, lock=True)
    assert deposit is not None
    if amount != deposit.amount:
        raise MpesaReceiptNotInStatement(
            f"the statement's {receipt} is {amount} cents; deposit {deposit.id} asked for "
            f"{deposit.amount}", receipt=receipt,
        )  # fmt: skip
    if deposit.state is DepositState.PAID:
        if deposit.receipt is not None:
            return StatementCreditOutcome("already_credited", None)
        _record_receipt(uow, ctx, deposit, receipt)
        what = "receipt_recorded"
    else:
        # A push whose answer was lost has no CheckoutRequestID: the statement's receipt stands in.
        _credit(
            uow,
            ctx,
            deposit,
            deposit.state,
            receipt=receipt,
            result_code=0,
            result_desc="paid, by the M-Pesa statement",
            checkout_request_id=deposit.checkout_request_id or f"statement-{receipt}",
        )
        what = "credited"
    current = uow.deposits.get_deposit(deposit.id)
    assert current is not None
    credit = StatementCredit(receipt, "stk", deposit.id, deposit.amount,
                             deposit.account_reference, digest, who, why,
                             current.transfer_id if what == "credited" else None,
                             ctx.clock.now())  # fmt: skip
    uow.deposits.insert_statement_credit(credit)
    return StatementCreditOutcome(what, credit)


__all__ = [
    "assign_c2b",
    "check_deposits",
    "check_statuses",
    "confirm_c2b",
    "credit_statement_receipt",
    "get_deposit",
    "match_statement_text",
    "record_status_result",
    "record_stk_callback",
    "register_c2b_urls",
    "request_deposit",
    "request_reversal",
    "validate_c2b",
]
