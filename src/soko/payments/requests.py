"""Payment requests: a merchant asks for an amount with a reference; it is paid once, or expires.

A request is an invoice or a payment link: the public pay page and the dynamic QR code show it,
and a customer pays it with a session or a PIN. Paying it is a merchant payment and the
request's move to "paid" in one transaction, so a request is never paid twice and a payment
never lands without marking its request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.errors import (
    CursorInvalid,
    PageSizeInvalid,
)
from soko.kernel.idempotency import run_idempotent
from soko.kernel.money import Currency, Money
from soko.kernel.transactions import in_transaction
from soko.notify import service as webhooks
from soko.notify.domain import EventType
from soko.payments import service as payments
from soko.payments.domain import Payment, PaymentRequest, PaymentRequestStatus
from soko.payments.errors import (
    AmountDiffersFromRequest,
    ExpiryInvalid,
    MerchantNotFound,
    PaymentRequestAlreadyPaid,
    PaymentRequestCancelled,
    PaymentRequestExpired,
    PaymentRequestNotFound,
    ReferenceInvalid,
)
from soko.people.domain import UserKind
from soko.people.errors import MessageTooLong, UserKindMismatch, UserNotFound
from soko.people.wallets import check_amount


def create_request(
    ctx: Context,
    *,
    merchant_id: str,
    amount: Money,
    reference: str,
    idempotency_key: str | None,
    description: str | None = None,
    expires_in_seconds: int = limits.PAYMENT_REQUEST_SECONDS_DEFAULT,
) -> PaymentRequest:
    """A request for `amount` that the merchant's customer can pay until it expires."""
    check_amount(ctx, amount)
    check_reference(reference)
    if description is not None and len(description) > limits.MESSAGE_LENGTH_MAX:
        raise MessageTooLong(f"a description is at most {limits.MESSAGE_LENGTH_MAX} characters")
    if (
        not limits.PAYMENT_REQUEST_SECONDS_MIN
        <= expires_in_seconds
        <= limits.PAYMENT_REQUEST_SECONDS_MAX
    ):
        raise ExpiryInvalid(
            f"expires_in_seconds from {limits.PAYMENT_REQUEST_SECONDS_MIN} "
            f"to {limits.PAYMENT_REQUEST_SECONDS_MAX}"
        )
    request = {
        "amount": amount.to_decimal_string(),
        "currency": amount.currency.code,
        "reference": reference,
        "description": description,
        "expires_in_seconds": expires_in_seconds,
    }

    def work(uow: UnitOfWork) -> PaymentRequest:
        _merchant_user(uow, merchant_id)
        now = ctx.clock.now()
        made = PaymentRequest(
            id=ctx.ids.new("prq"),
            merchant_id=merchant_id,
            currency=amount.currency.code,
            amount=amount.amount_minor,
            reference=reference,
            description=description,
            stored_status=PaymentRequestStatus.OPEN,
            expires_at=now + timedelta(seconds=expires_in_seconds),
            payment_id=None,
            created_at=now,
        )
        uow.merchant_payments.insert_request(made)
        return made

    return run_idempotent(
        ctx,
        scope=f"user:{merchant_id}:payment_request",
        key=idempotency_key,
        request=request,
        work=work,
        result=PaymentRequest,
    ).value


def get_request(ctx: Context, request_id: str) -> PaymentRequest:
    found = in_transaction(
        ctx, lambda uow: uow.merchant_payments.get_request(request_id), read_only=True
    )
    if found is None:
        raise PaymentRequestNotFound(payment_request_id=request_id)
    return found


@dataclass(frozen=True, slots=True)
class RequestPage:
    requests: list[PaymentRequest]
    #: Pass as `cursor` for the next (older) page; None on the last page.
    next_cursor: str | None


def list_requests(
    ctx: Context, merchant_id: str, *, limit: int = limits.PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
) -> RequestPage:  # fmt: skip
    """The merchant's requests, newest first."""
    if not 1 <= limit <= limits.PAGE_SIZE_MAX:
        raise PageSizeInvalid(f"page size {limit}; allowed 1 to {limits.PAGE_SIZE_MAX}")

    def work(uow: UnitOfWork) -> RequestPage:
        if cursor is not None:
            after = uow.merchant_payments.get_request(cursor)
            if after is None or after.merchant_id != merchant_id:
                raise CursorInvalid()
        rows = uow.merchant_payments.list_requests(merchant_id, limit=limit + 1, before_id=cursor)
        page = rows[:limit]
        return RequestPage(page, page[-1].id if len(rows) > limit else None)

    return in_transaction(ctx, work, read_only=True)


def find_request(ctx: Context, *, till_number: str, reference: str) -> PaymentRequest:
    """The merchant's newest request with this reference, to be paid by it: what a customer types
    on a phone without the link (the till number and the reference, as for a bill). An open one
    is preferred; otherwise the newest says why it cannot be paid (paid, expired, cancelled)."""
    check_reference(reference)

    def work(uow: UnitOfWork) -> PaymentRequest:
        merchant = uow.people.get_merchant_by_till(till_number)
        if merchant is None:
            raise MerchantNotFound(till_number=till_number)
        rows = uow.merchant_payments.list_requests(
            merchant.user_id, limit=limits.PAGE_SIZE_MAX, before_id=None
        )
        matching = [row for row in rows if row.reference == reference]
        now = ctx.clock.now()
        for found in matching:
            if found.status_at(now) is PaymentRequestStatus.OPEN:
                return found
        if not matching:
            raise PaymentRequestNotFound(reference=reference)
        _refuse_closed(matching[0], now)
        raise AssertionError(matching[0])  # pragma: no cover - _refuse_closed raised

    return in_transaction(ctx, work, read_only=True)


def cancel_request(ctx: Context, *, merchant_id: str, request_id: str) -> PaymentRequest:
    """The merchant withdraws an open request; a paid one stays paid (refund it instead)."""

    def work(uow: UnitOfWork) -> PaymentRequest:
        found = _locked_open(uow, ctx, request_id, merchant_id=merchant_id)
        uow.merchant_payments.set_request_status(found.id, PaymentRequestStatus.CANCELLED)
        cancelled = uow.merchant_payments.get_request(found.id)
        assert cancelled is not None
        return cancelled

    return in_transaction(ctx, work)


def pay_request(
    ctx: Context,
    *,
    payer_id: str,
    request_id: str,
    idempotency_key: str | None,
    amount: Money | None = None,
) -> Payment:
    """Pay an open request in full. `amount`, when the payer's app sends what it showed, must
    be the requested amount: a request is never paid short or over."""
    request = {"payment_request_id": request_id,
               "amount": None if amount is None else str(amount)}  # fmt: skip

    def work(uow: UnitOfWork) -> Payment:
        found = lock_open_request(uow, ctx, request_id)
        asked = Money(found.amount, Currency.of(found.currency))
        if amount is not None and amount != asked:
            raise AmountDiffersFromRequest(f"the request is for {asked}", amount=str(asked))
        payer = uow.people.get_user(payer_id)
        if payer is None:
            raise UserNotFound(user_id=payer_id)
        merchant = uow.people.get_merchant(found.merchant_id)
        assert merchant is not None, found
        payment = payments.pay_merchant_in(
            uow, ctx, payer, merchant, asked, message=found.reference,
            notify={"payment_request_id": found.id, "reference": found.reference},
        )  # fmt: skip
        mark_request_paid(uow, ctx, found, payment)
        return payment

    return run_idempotent(
        ctx,
        scope=f"user:{payer_id}:payment_request",
        key=idempotency_key,
        request=request,
        work=work,
        result=Payment,
    ).value


def lock_open_request(uow: UnitOfWork, ctx: Context, request_id: str) -> PaymentRequest:
    """The request, locked inside the caller's transaction, if it can still be paid: what a
    payment of it (here, or FX's payment from a wallet in another currency) starts with."""
    return _locked_open(uow, ctx, request_id)


def mark_request_paid(
    uow: UnitOfWork, ctx: Context, found: PaymentRequest, payment: Payment
) -> None:
    """In the payment's transaction: the request is paid by `payment`, and its merchant is told
    (payment_request.paid, with the amount asked, in the request's currency)."""
    uow.merchant_payments.set_request_status(found.id, PaymentRequestStatus.PAID, payment.id)
    asked = Money(found.amount, Currency.of(found.currency))
    webhooks.emit(
        uow, ctx, owner_id=found.merchant_id, type=EventType.PAYMENT_REQUEST_PAID,
        data={"payment_request_id": found.id, "reference": found.reference,
              "payment_id": payment.id, "amount": asked.to_decimal_string(),
              "currency": found.currency},
    )  # fmt: skip


def check_reference(reference: str) -> str:
    if (
        not isinstance(reference, str)
        or not 1 <= len(reference) <= limits.PAYMENT_REQUEST_REFERENCE_LENGTH_MAX
        or not reference.isascii()
        or not reference.isprintable()
    ):
        raise ReferenceInvalid()
    return reference


def _merchant_user(uow: UnitOfWork, merchant_id: str) -> None:
    user = uow.people.get_user(merchant_id)
    if user is None:
        raise UserNotFound(user_id=merchant_id)
    if user.kind is not UserKind.MERCHANT:
        raise UserKindMismatch(f"{merchant_id} is a {user.kind.value}, not a merchant")


def _locked_open(
    uow: UnitOfWork, ctx: Context, request_id: str, *, merchant_id: str | None = None
) -> PaymentRequest:
    """The request, locked, if it can still be paid or cancelled; else the rule it breaks."""
    found = uow.merchant_payments.get_request(request_id, lock=True)
    if found is None or (merchant_id is not None and found.merchant_id != merchant_id):
        raise PaymentRequestNotFound(payment_request_id=request_id)
    _refuse_closed(found, ctx.clock.now())
    return found


def _refuse_closed(found: PaymentRequest, now: datetime) -> None:
    """Raise the rule a request that is no longer open breaks; nothing for an open one."""
    match found.status_at(now):
        case PaymentRequestStatus.PAID:
            raise PaymentRequestAlreadyPaid(payment_id=found.payment_id)
        case PaymentRequestStatus.CANCELLED:
            raise PaymentRequestCancelled()
        case PaymentRequestStatus.EXPIRED:
            raise PaymentRequestExpired(expired_at=found.expires_at.isoformat())


__all__ = [
    "RequestPage",
    "cancel_request",
    "check_reference",
    "create_request",
    "find_request",
    "get_request",
    "list_requests",
    "lock_open_request",
    "mark_request_paid",
    "pay_request",
]
