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

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Final

from soko.context import Context, UnitOfWork
from soko.deposits.domain import (
    CURRENCY,
    MINOR_PER_SHILLING,
    SHILLINGS_MAX,
    C2BPayment,
    C2BState,
    Deposit,
    DepositOutcome,
    DepositState,
    Receipt,
    Reversal,
    ReversalState,
    account_reference,
    bill_reference_kind,
    bounded_text,
    e164,
    matches_request,
    msisdn,
    query_delay_seconds,
    whole_shillings,
)
from soko.deposits.errors import (
    DepositNotFound,
    MpesaNotConfigured,
    MpesaPaymentNotFound,
    MpesaPaymentNotInSuspense,
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
)
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


def confirm_c2b(ctx: Context, notification: C2BNotification) -> str:
    """Credit a confirmed C2B payment once per TransID: to the wallet its account reference
    names (a phone number or a till), or to suspense. Says what came of it: "credited",
    "suspense", or why nothing moved ("duplicate", "mismatch", "wrong_shortcode",
    "receipt_reused")."""
    settings = mpesa(ctx)
    if notification.business_shortcode != settings.shortcode:
        log.warning("C2B %s for short code %s, not ours", notification.trans_id,
                    notification.business_shortcode)  # fmt: skip
        return "wrong_shortcode"

    def work(uow: UnitOfWork) -> str:
        existing = uow.deposits.get_c2b(notification.trans_id, lock=True)
        if existing is not None:
            if existing.amount != notification.amount_minor:
                log.warning("C2B %s confirmed again with another amount; nothing moved",
                            notification.trans_id)  # fmt: skip
                return "mismatch"
            return "duplicate"
        if uow.deposits.get_receipt(notification.trans_id) is not None:
            log.warning("C2B %s: the receipt is another payment's", notification.trans_id)
            return "receipt_reused"
        payee = _payee(uow, notification.bill_ref_number)
        transfer_id = ctx.ids.new("tr")
        float_id = _float_id(uow, ctx, settings.shortcode)
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
                 amount=notification.amount_minor, currency=CURRENCY,
                 code=TransferCode.DEPOSIT, reference=notification.trans_id),
        ])  # fmt: skip
        now = ctx.clock.now()
        uow.deposits.insert_c2b(
            C2BPayment(
                trans_id=notification.trans_id,
                shortcode=settings.shortcode,
                bill_ref_number=bounded_text(notification.bill_ref_number)[:40],
                msisdn=notification.msisdn[:64],
                amount=notification.amount_minor,
                currency=CURRENCY,
                state=state,
                user_id=None if payee is None else payee.user_id,
                transfer_id=transfer_id,
                paid_at=notification.trans_time,
                created_at=now,
            )
        )
        _insert_receipt(uow, ctx, Receipt(notification.trans_id, "c2b", "in",
                                          notification.amount_minor, settings.shortcode,
                                          transfer_id, notification.trans_id))  # fmt: skip
        return state.value

    return in_transaction(ctx, work)


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


def _patiently(ctx: Context, find: Callable[[UnitOfWork], Reversal | None]) -> Reversal | None:
    """The reversal a Result is for. Daraja may POST the Result before Soko has recorded the
    ids Daraja's answer to the request gave (the two race by milliseconds), so a Result for ids
    not yet recorded is looked for again a few times, backing off, before it is given up."""
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


__all__ = [
    "assign_c2b",
    "check_deposits",
    "confirm_c2b",
    "get_deposit",
    "match_statement_text",
    "record_stk_callback",
    "register_c2b_urls",
    "request_deposit",
    "request_reversal",
    "validate_c2b",
]
