"""Paying a merchant at its till, the merchant discount rate, and refunds, on both databases.

Every refusal is checked to leave the ledger as it was; every flow ends with reconcile passing.
"""

from __future__ import annotations

import pytest

from merchants import Snapshot, balance, consumer, fees, kes, key, phone, shop
from soko.context import Context
from soko.kernel.errors import (
    AmountMustBePositive,
    CurrencyMismatch,
    CurrencyNotOffered,
    DomainError,
)
from soko.kernel.money import Money
from soko.ledger.errors import ExceedsCredits
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.payments.errors import (
    ExceedsRefundableAmount,
    MerchantNotFound,
    PaymentNotFound,
    PaymentNotRefundable,
)
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import Merchant, User, UserKind, mask_phone
from soko.people.errors import (
    ExceedsDailyLimit,
    MessageTooLong,
    RecipientIsSender,
    RecipientRequired,
    UserKindMismatch,
)

# --- paying at the till -----------------------------------------------------------------------


def test_a_till_payment_moves_the_amount_and_charges_the_merchant_its_rate(
    any_ctx: Context,
) -> None:
    ctx = any_ctx
    amina = consumer(ctx, funds="5000.00")
    kiosk = shop(ctx)
    fees_before = fees(ctx)
    payment = payments.pay_merchant(
        ctx, payer_id=amina.id, till_number=kiosk.till_number, amount=kes("1234.56"),
        idempotency_key=key(), message="2 kg sugar",
    )  # fmt: skip
    # 0.5 % of 123,456 cents is 617.28: rounded up to 618, in the operator's favour.
    assert (payment.kind, payment.amount, payment.fee) == ("merchant", 123_456, 618)
    assert balance(ctx, amina.id) == 500_000 - 123_456
    assert balance(ctx, kiosk.user_id) == 123_456 - 618
    assert fees(ctx) - fees_before == 618
    assert payments.get_payment(ctx, payment.id) == payment
    assert reconcile(ctx).passed


@pytest.mark.parametrize(
    ("category", "amount", "fee"),
    [
        ("5999", "100.00", 50),  # 0.5 %
        ("5999", "0.01", 1),  # a fraction of a cent is charged as a cent
        ("5999", "40000.00", 20_000),  # 0.5 % is KES 200: the cap
        ("5999", "90000.00", 20_000),  # capped at KES 200
        ("5411", "100.00", 25),  # groceries: 0.25 %
        ("5411", "90000.00", 10_000),  # capped at KES 100
    ],
)
def test_the_rate_depends_on_the_merchant_category(
    ctx: Context, category: str, amount: str, fee: int
) -> None:
    amina = consumer(ctx, funds="100000.00")
    merchant = shop(ctx, category)
    payment = payments.pay_merchant(
        ctx, payer_id=amina.id, merchant_id=merchant.user_id, amount=kes(amount),
        idempotency_key=key(),
    )  # fmt: skip
    assert payment.fee == fee


def test_a_retry_with_the_same_key_pays_once(ctx: Context) -> None:
    amina = consumer(ctx, funds="1000.00")
    kiosk = shop(ctx)
    first = payments.pay_merchant(
        ctx, payer_id=amina.id, till_number=kiosk.till_number, amount=kes("100.00"),
        idempotency_key="till-1",
    )  # fmt: skip
    again = payments.pay_merchant(
        ctx, payer_id=amina.id, till_number=kiosk.till_number, amount=kes("100.00"),
        idempotency_key="till-1",
    )  # fmt: skip
    assert again == first
    assert balance(ctx, amina.id) == 90_000


def test_till_payments_count_towards_the_daily_limit(ctx: Context) -> None:
    amina = consumer(ctx, funds="500000.00")
    kiosk = shop(ctx)
    daily = ctx.kyc_limits["KES"][2].daily_outgoing
    per_transaction = ctx.kyc_limits["KES"][2].per_transaction
    spent = 0
    while spent + per_transaction <= daily:
        payments.pay_merchant(
            ctx, payer_id=amina.id, till_number=kiosk.till_number,
            amount=Money.of(per_transaction, "KES"), idempotency_key=key(),
        )  # fmt: skip
        spent += per_transaction
    with pytest.raises(ExceedsDailyLimit):
        payments.pay_merchant(
            ctx, payer_id=amina.id, till_number=kiosk.till_number,
            amount=Money.of(daily - spent + 1, "KES"), idempotency_key=key(),
        )  # fmt: skip


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("unknown till", MerchantNotFound),
        ("unknown merchant id", MerchantNotFound),
        ("no merchant named", RecipientRequired),
        ("till and id both", RecipientRequired),
        ("paying oneself", RecipientIsSender),
        ("an agent pays", UserKindMismatch),
        ("more than the balance", ExceedsCredits),
        ("zero", AmountMustBePositive),
        ("a currency not offered", CurrencyNotOffered),
        ("a long message", MessageTooLong),
    ],
)
def test_bad_till_payments_change_nothing(
    any_ctx: Context, case: str, error: type[DomainError]
) -> None:
    ctx = any_ctx
    amina = consumer(ctx, funds="100.00")
    kiosk = shop(ctx)
    agent = users.register(ctx, kind=UserKind.AGENT, phone=phone(), name="Agency")
    payments.top_up_float(ctx, agent_id=agent.id, amount=kes("100.00"), idempotency_key=key())
    args: dict[str, object] = {
        "payer_id": amina.id,
        "till_number": kiosk.till_number,
        "amount": kes("10.00"),
    }
    match case:
        case "unknown till":
            args["till_number"] = "000000" if kiosk.till_number != "000000" else "000001"
        case "unknown merchant id":
            del args["till_number"]
            args["merchant_id"] = "usr_01JH0000000000000000000000"
        case "no merchant named":
            del args["till_number"]
        case "till and id both":
            args["merchant_id"] = kiosk.user_id
        case "paying oneself":
            args["payer_id"] = kiosk.user_id
        case "an agent pays":
            args["payer_id"] = agent.id
        case "more than the balance":
            args["amount"] = kes("100.01")
        case "zero":
            args["amount"] = kes("0")
        case "a currency not offered":
            args["amount"] = Money.parse("10", "XAF")
        case "a long message":
            args["message"] = "x" * 200
    before = Snapshot.of(ctx)
    with pytest.raises(error):
        payments.pay_merchant(ctx, idempotency_key=key(), **args)  # type: ignore[arg-type]
    assert Snapshot.of(ctx) == before
    assert reconcile(ctx).passed


# --- refunds ----------------------------------------------------------------------------------


def paid(
    ctx: Context, amount: str = "1000.00", category: str = "5999"
) -> tuple[User, Merchant, str]:
    amina = consumer(ctx, funds="5000.00")
    kiosk = shop(ctx, category)
    payment = payments.pay_merchant(
        ctx, payer_id=amina.id, till_number=kiosk.till_number, amount=kes(amount),
        idempotency_key=key(),
    )  # fmt: skip
    return amina, kiosk, payment.id


def test_a_full_refund_gives_everything_back_including_the_fee(any_ctx: Context) -> None:
    ctx = any_ctx
    amina, kiosk, payment_id = paid(ctx)
    fees_before = fees(ctx)
    made = payments.refund(
        ctx, merchant_id=kiosk.user_id, payment_id=payment_id, amount=kes("1000.00"),
        idempotency_key=key(), reason="out of stock",
    )  # fmt: skip
    assert (made.amount, made.fee_returned, made.reason) == (100_000, 500, "out of stock")
    assert balance(ctx, amina.id) == 500_000
    assert balance(ctx, kiosk.user_id) == 0
    assert fees(ctx) == fees_before - 500
    payment = payments.get_payment(ctx, payment_id)
    assert (payment.refunded, payment.fee_refunded, payment.refundable) == (100_000, 500, 0)
    assert payments.list_refunds(ctx, payment_id) == [made]
    assert reconcile(ctx).passed
    # Both statements name the other side of the refund, with its reason.
    for owner, other in ((amina.id, kiosk.user_id), (kiosk.user_id, amina.id)):
        wallet = wallets.open_wallet(ctx, owner).wallet
        refund_lines = [
            line for line in wallets.statement(ctx, wallet.id).entries
            if line.reference == made.id
        ]  # fmt: skip
        assert refund_lines, owner
        expected = mask_phone(users.get_user(ctx, other).phone)
        for line in refund_lines:
            assert line.counterparty is not None and line.counterparty.phone == expected
            assert line.message == "out of stock"


def test_partial_refunds_return_the_fee_in_proportion_and_exactly_in_total(
    any_ctx: Context,
) -> None:
    ctx = any_ctx
    # KES 10.01 at 0.5 %: a fee of 6 cents (5.005 rounded up); thirds of it do not divide.
    amina, kiosk, payment_id = paid(ctx, "10.01")
    assert payments.get_payment(ctx, payment_id).fee == 6
    returned = [
        payments.refund(
            ctx, merchant_id=kiosk.user_id, payment_id=payment_id, amount=Money.of(part, "KES"),
            idempotency_key=key(),
        ).fee_returned
        for part in (333, 334, 334)
    ]  # fmt: skip
    # floor(6 x 333 / 1001) = 1, floor(6 x 667 / 1001) = 3, then the rest: 6.
    assert returned == [1, 2, 3]
    assert sum(returned) == 6
    assert balance(ctx, amina.id) == 500_000
    assert balance(ctx, kiosk.user_id) == 0
    assert reconcile(ctx).passed


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("more than paid", ExceedsRefundableAmount),
        ("more than is left", ExceedsRefundableAmount),
        ("another merchant's payment", PaymentNotFound),
        ("an unknown payment", PaymentNotFound),
        ("a person-to-person payment", PaymentNotRefundable),
        ("another currency", CurrencyMismatch),
        ("zero", AmountMustBePositive),
        ("the merchant spent the money", ExceedsCredits),
    ],
)
def test_bad_refunds_change_nothing(any_ctx: Context, case: str, error: type[DomainError]) -> None:
    ctx = any_ctx
    amina, kiosk, payment_id = paid(ctx, "100.00")
    rival = shop(ctx, name="Rival Stores")
    args: dict[str, object] = {
        "merchant_id": kiosk.user_id,
        "payment_id": payment_id,
        "amount": kes("10.00"),
    }
    match case:
        case "more than paid":
            args["amount"] = kes("100.01")
        case "more than is left":
            payments.refund(ctx, idempotency_key=key(), **args)  # type: ignore[arg-type]
            args["amount"] = kes("90.01")
        case "another merchant's payment":
            args["merchant_id"] = rival.user_id
        case "an unknown payment":
            args["payment_id"] = "pay_01JH0000000000000000000000"
        case "a person-to-person payment":
            p2p = payments.send_money(
                ctx, sender_id=amina.id, to_phone=users.get_user(ctx, kiosk.user_id).phone,
                amount=kes("5.00"), idempotency_key=key(),
            )  # fmt: skip
            args["payment_id"] = p2p.id
        case "another currency":
            args["amount"] = Money.parse("10", "UGX")
        case "zero":
            args["amount"] = kes("0")
        case "the merchant spent the money":
            payments.pay_merchant(
                ctx, payer_id=kiosk.user_id, merchant_id=rival.user_id,
                amount=Money.of(balance(ctx, kiosk.user_id) - 500, "KES"), idempotency_key=key(),
            )  # fmt: skip
    before = Snapshot.of(ctx)
    with pytest.raises(error):
        payments.refund(ctx, idempotency_key=key(), **args)  # type: ignore[arg-type]
    assert Snapshot.of(ctx) == before
    assert reconcile(ctx).passed


def test_a_refund_retried_with_its_key_refunds_once(ctx: Context) -> None:
    _, kiosk, payment_id = paid(ctx)
    first = payments.refund(
        ctx, merchant_id=kiosk.user_id, payment_id=payment_id, amount=kes("600.00"),
        idempotency_key="refund-1",
    )  # fmt: skip
    again = payments.refund(
        ctx, merchant_id=kiosk.user_id, payment_id=payment_id, amount=kes("600.00"),
        idempotency_key="refund-1",
    )  # fmt: skip
    assert again == first
    assert payments.get_payment(ctx, payment_id).refunded == 60_000
