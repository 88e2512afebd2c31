"""Payment requests: made by a merchant, paid once, expired, cancelled; on both databases."""

from __future__ import annotations

import pytest

from fakes import FakeClock
from merchants import Snapshot, balance, consumer, kes, key, shop
from soko.context import Context
from soko.kernel import limits
from soko.kernel.errors import AmountMustBePositive, CursorInvalid, DomainError
from soko.ledger.reconcile import reconcile
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.payments.domain import PaymentRequestStatus
from soko.payments.errors import (
    AmountDiffersFromRequest,
    ExpiryInvalid,
    PaymentRequestAlreadyPaid,
    PaymentRequestCancelled,
    PaymentRequestExpired,
    PaymentRequestNotFound,
    ReferenceInvalid,
)
from soko.people import service as users
from soko.people.domain import UserKind
from soko.people.errors import MessageTooLong, NoWalletInCurrency, UserKindMismatch


def test_a_request_is_paid_once_and_records_its_payment(any_ctx: Context) -> None:
    ctx = any_ctx
    amina = consumer(ctx, funds="1000.00")
    baraka = consumer(ctx, "Baraka", funds="1000.00")
    kiosk = shop(ctx)
    made = payment_requests.create_request(
        ctx, merchant_id=kiosk.user_id, amount=kes("250.00"), reference="INV-0042",
        description="Two bags of maize flour", idempotency_key=key(),
    )  # fmt: skip
    assert made.status_at(ctx.clock.now()) is PaymentRequestStatus.OPEN
    payment = payment_requests.pay_request(
        ctx, payer_id=amina.id, request_id=made.id, amount=kes("250.00"), idempotency_key=key()
    )
    assert (payment.kind, payment.amount, payment.message) == ("merchant", 25_000, "INV-0042")
    paid = payment_requests.get_request(ctx, made.id)
    assert (paid.stored_status, paid.payment_id) == (PaymentRequestStatus.PAID, payment.id)
    before = Snapshot.of(ctx)
    with pytest.raises(PaymentRequestAlreadyPaid):
        payment_requests.pay_request(
            ctx, payer_id=baraka.id, request_id=made.id, idempotency_key=key()
        )
    assert Snapshot.of(ctx) == before
    assert balance(ctx, baraka.id) == 100_000
    assert reconcile(ctx).passed


def test_a_retried_payment_of_a_request_replays_instead_of_refusing(ctx: Context) -> None:
    amina = consumer(ctx, funds="1000.00")
    kiosk = shop(ctx)
    made = payment_requests.create_request(
        ctx, merchant_id=kiosk.user_id, amount=kes("10.00"), reference="A1", idempotency_key=key()
    )
    first = payment_requests.pay_request(
        ctx, payer_id=amina.id, request_id=made.id, idempotency_key="pay-a1"
    )
    again = payment_requests.pay_request(
        ctx, payer_id=amina.id, request_id=made.id, idempotency_key="pay-a1"
    )
    assert again == first
    assert balance(ctx, amina.id) == 99_000


def test_an_expired_request_cannot_be_paid(ctx: Context, clock: FakeClock) -> None:
    amina = consumer(ctx, funds="1000.00")
    kiosk = shop(ctx)
    made = payment_requests.create_request(
        ctx, merchant_id=kiosk.user_id, amount=kes("10.00"), reference="A1",
        expires_in_seconds=600, idempotency_key=key(),
    )  # fmt: skip
    clock.advance(599)
    assert payment_requests.get_request(ctx, made.id).status_at(clock.now()).value == "open"
    clock.advance(1)
    assert payment_requests.get_request(ctx, made.id).status_at(clock.now()).value == "expired"
    with pytest.raises(PaymentRequestExpired):
        payment_requests.pay_request(
            ctx, payer_id=amina.id, request_id=made.id, idempotency_key=key()
        )
    with pytest.raises(PaymentRequestExpired):
        payment_requests.cancel_request(ctx, merchant_id=kiosk.user_id, request_id=made.id)
    assert balance(ctx, amina.id) == 100_000


def test_a_cancelled_request_cannot_be_paid_and_a_paid_one_cannot_be_cancelled(
    ctx: Context,
) -> None:
    amina = consumer(ctx, funds="1000.00")
    kiosk = shop(ctx)
    first, second = (
        payment_requests.create_request(
            ctx, merchant_id=kiosk.user_id, amount=kes("10.00"), reference=reference,
            idempotency_key=key(),
        )
        for reference in ("A1", "A2")
    )  # fmt: skip
    cancelled = payment_requests.cancel_request(ctx, merchant_id=kiosk.user_id, request_id=first.id)
    assert cancelled.stored_status is PaymentRequestStatus.CANCELLED
    with pytest.raises(PaymentRequestCancelled):
        payment_requests.pay_request(
            ctx, payer_id=amina.id, request_id=first.id, idempotency_key=key()
        )
    payment_requests.pay_request(
        ctx, payer_id=amina.id, request_id=second.id, idempotency_key=key()
    )
    with pytest.raises(PaymentRequestAlreadyPaid):
        payment_requests.cancel_request(ctx, merchant_id=kiosk.user_id, request_id=second.id)


def test_only_the_merchant_cancels_and_lists_its_requests(ctx: Context, clock: FakeClock) -> None:
    kiosk = shop(ctx)
    rival = shop(ctx, name="Rival")
    made = []
    for n in range(5):
        clock.advance(1)  # ids order by time, and within one millisecond at random
        made.append(
            payment_requests.create_request(
                ctx, merchant_id=kiosk.user_id, amount=kes("1.00"), reference=f"R{n}",
                idempotency_key=key(),
            )
        )  # fmt: skip
    with pytest.raises(PaymentRequestNotFound):
        payment_requests.cancel_request(ctx, merchant_id=rival.user_id, request_id=made[0].id)
    first = payment_requests.list_requests(ctx, kiosk.user_id, limit=3)
    assert [r.id for r in first.requests] == [r.id for r in reversed(made)][:3]
    rest = payment_requests.list_requests(ctx, kiosk.user_id, limit=3, cursor=first.next_cursor)
    assert [r.id for r in rest.requests] == [made[1].id, made[0].id]
    assert rest.next_cursor is None
    assert payment_requests.list_requests(ctx, rival.user_id).requests == []
    with pytest.raises(CursorInvalid):
        payment_requests.list_requests(ctx, rival.user_id, cursor=made[0].id)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"amount": kes("0")}, AmountMustBePositive),
        ({"reference": ""}, ReferenceInvalid),
        ({"reference": "x" * 26}, ReferenceInvalid),
        ({"reference": "caf\u00e9"}, ReferenceInvalid),
        ({"description": "x" * 141}, MessageTooLong),
        ({"expires_in_seconds": limits.PAYMENT_REQUEST_SECONDS_MIN - 1}, ExpiryInvalid),
        ({"expires_in_seconds": limits.PAYMENT_REQUEST_SECONDS_MAX + 1}, ExpiryInvalid),
        ({"merchant_id": "consumer"}, UserKindMismatch),
    ],
)
def test_bad_requests_are_refused(
    ctx: Context, change: dict[str, object], error: type[DomainError]
) -> None:
    kiosk = shop(ctx)
    amina = consumer(ctx)
    args: dict[str, object] = {
        "merchant_id": kiosk.user_id,
        "amount": kes("10.00"),
        "reference": "INV-1",
    } | change
    if args["merchant_id"] == "consumer":
        args["merchant_id"] = amina.id
    with pytest.raises(error):
        payment_requests.create_request(ctx, idempotency_key=key(), **args)  # type: ignore[arg-type]
    assert payment_requests.list_requests(ctx, kiosk.user_id).requests == []


def test_a_payer_must_pay_exactly_the_requested_amount(ctx: Context) -> None:
    amina = consumer(ctx, funds="1000.00")
    kiosk = shop(ctx)
    made = payment_requests.create_request(
        ctx, merchant_id=kiosk.user_id, amount=kes("10.00"), reference="A1", idempotency_key=key()
    )
    before = Snapshot.of(ctx)
    with pytest.raises(AmountDiffersFromRequest):
        payment_requests.pay_request(
            ctx, payer_id=amina.id, request_id=made.id, amount=kes("9.99"), idempotency_key=key()
        )
    with pytest.raises(PaymentRequestNotFound):
        payment_requests.pay_request(
            ctx, payer_id=amina.id, request_id="prq_01JH0000000000000000000000",
            idempotency_key=key(),
        )  # fmt: skip
    assert Snapshot.of(ctx) == before


def test_a_paid_request_can_be_refunded_like_any_merchant_payment(ctx: Context) -> None:
    amina = consumer(ctx, funds="1000.00")
    kiosk = shop(ctx)
    made = payment_requests.create_request(
        ctx, merchant_id=kiosk.user_id, amount=kes("100.00"), reference="A1",
        idempotency_key=key(),
    )  # fmt: skip
    payment = payment_requests.pay_request(
        ctx, payer_id=amina.id, request_id=made.id, idempotency_key=key()
    )
    payments.refund(
        ctx, merchant_id=kiosk.user_id, payment_id=payment.id, amount=kes("100.00"),
        idempotency_key=key(),
    )  # fmt: skip
    assert balance(ctx, amina.id) == 100_000
    assert reconcile(ctx).passed


def test_a_payer_with_no_wallet_in_the_currency_is_told_so_not_short_of_money(
    any_ctx: Context,
) -> None:
    """A Ugandan with shillings but no KES wallet is told they hold no KES wallet (not "not
    enough money"), at a request, at a till and by QR, and nothing moves."""
    ctx = any_ctx
    kiosk = shop(ctx)
    okello = users.register(ctx, kind=UserKind.CONSUMER, phone="+256772000123", name="Okello",
                            pin="2468")  # fmt: skip
    made = payment_requests.create_request(
        ctx, merchant_id=kiosk.user_id, amount=kes("250.00"), reference="INV-UG",
        idempotency_key=key(),
    )  # fmt: skip
    baraka = consumer(ctx, "Baraka")
    before = Snapshot.of(ctx)
    with pytest.raises(NoWalletInCurrency) as refused:
        payment_requests.pay_request(ctx, payer_id=okello.id, request_id=made.id,
                                     idempotency_key=key())  # fmt: skip
    assert refused.value.context["currency"] == "KES"
    assert refused.value.code == "no_wallet_in_currency"
    with pytest.raises(NoWalletInCurrency):
        payments.pay_merchant(ctx, payer_id=okello.id, till_number=kiosk.till_number,
                              amount=kes("10.00"), idempotency_key=key())  # fmt: skip
    with pytest.raises(NoWalletInCurrency):
        payments.send_money(ctx, sender_id=okello.id, to_phone=baraka.phone,
                            amount=kes("10.00"), idempotency_key=key())  # fmt: skip
    assert Snapshot.of(ctx) == before
    assert payment_requests.get_request(ctx, made.id).stored_status is PaymentRequestStatus.OPEN
