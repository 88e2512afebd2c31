"""SMS in each person's language, on both databases: a person who chose Kiswahili, or whose
number is Tanzanian and chose nothing, gets their receipts, refunds and escrow codes in
Kiswahili with amounts the local way; the other side of the same payment keeps English."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fakes import FakeClock
from merchants import consumer, kes, key, shop
from merchants import fund as fund_wallet
from soko.context import Context
from soko.escrow import service as escrow
from soko.escrow.domain import OrderItem
from soko.kernel.money import Money
from soko.payments import service as payments
from soko.people import service as users
from soko.people.domain import User, UserKind

pytestmark = pytest.mark.usefixtures("clock")


def texts_to(ctx: Context, phone: str, about: str = "") -> list[str]:
    """The texts sent to `phone` that mention `about` (a payment's reference, say)."""
    with ctx.unit_of_work(read_only=True) as uow:
        texts = [message.text for message in uow.notifications.list_sms_to(phone, 100)]
    return [text for text in texts if about in text]


def tzs(text: str) -> Money:
    return Money.parse(text, "TZS")


def tanzanian(ctx: Context, number: str, name: str) -> User:
    user = users.register(ctx, kind=UserKind.CONSUMER, phone=number, name=name, pin="2468")
    return users.set_kyc_tier(ctx, user.id, 2, national_id="87654321")


def test_a_p2p_receipt_goes_in_the_language_each_side_chose(any_ctx: Context) -> None:
    ctx = any_ctx
    amina = consumer(ctx, "Amina", funds="5000.00")
    baraka = users.set_language(ctx, consumer(ctx, "Baraka").id, "sw")
    made = payments.send_money(ctx, sender_id=amina.id, to_phone=baraka.phone,
                               amount=kes("1500.00"), idempotency_key=key())  # fmt: skip
    ref = made.id[-10:]
    [received] = texts_to(ctx, baraka.phone)
    assert received == (
        f"Soko: {ref} imethibitishwa. Umepokea KES 1,500.00 kutoka kwa Amina. Salio KES 1,500.00."
    )
    [paid] = texts_to(ctx, amina.phone, ref)
    assert paid.startswith(f"Soko: {ref} confirmed. You paid KES 1,500.00 to Baraka. Fee KES ")


def test_a_tanzanian_number_is_written_to_in_kiswahili_until_it_chooses(
    any_ctx: Context,
) -> None:
    ctx = any_ctx
    agent = users.register(ctx, kind=UserKind.AGENT, phone="+255754000001", name="Wakala")
    asha = tanzanian(ctx, "+255754000002", "Asha")
    juma = tanzanian(ctx, "+255754000003", "Juma")
    payments.top_up_float(ctx, agent_id=agent.id, amount=tzs("50000"), idempotency_key=key())
    payments.cash_in(ctx, agent_id=agent.id, customer_phone=asha.phone, amount=tzs("50000"),
                     idempotency_key=key())  # fmt: skip
    made = payments.send_money(ctx, sender_id=asha.id, to_phone=juma.phone,
                               amount=tzs("20000"), idempotency_key=key())  # fmt: skip
    assert texts_to(ctx, juma.phone, made.id[-10:]) == [
        f"Soko: {made.id[-10:]} imethibitishwa. Umepokea TZS 20,000.00 kutoka kwa Asha. "
        "Salio TZS 20,000.00."
    ]
    [paid] = texts_to(ctx, asha.phone, made.id[-10:])
    assert paid.startswith(f"Soko: {made.id[-10:]} imethibitishwa. Umelipa TZS 20,000.00 kwa Juma.")
    # Once Juma chooses English, his texts are in English.
    users.set_language(ctx, juma.id, "en")
    again = payments.send_money(ctx, sender_id=asha.id, to_phone=juma.phone,
                                amount=tzs("1000"), idempotency_key=key())  # fmt: skip
    [received] = texts_to(ctx, juma.phone, again.id[-10:])
    assert received.startswith(
        f"Soko: {again.id[-10:]} confirmed. You received TZS 1,000.00 from Asha."
    )


def test_money_held_for_an_unregistered_tanzanian_number_is_told_in_kiswahili(
    any_ctx: Context,
) -> None:
    ctx = any_ctx
    amina = consumer(ctx, "Amina", funds="5000.00")
    payments.send_money(ctx, sender_id=amina.id, to_phone="+255754000009",
                        amount=kes("1000.00"), idempotency_key=key())  # fmt: skip
    [held] = texts_to(ctx, "+255754000009")
    assert held.startswith("Soko: Amina amekutumia KES 1,000.00. Jisajili na Soko")


def test_a_refund_is_told_in_the_customers_language(any_ctx: Context) -> None:
    ctx = any_ctx
    amina = users.set_language(ctx, consumer(ctx, "Amina", funds="5000.00").id, "sw")
    kiosk = shop(ctx)
    payment = payments.pay_merchant(ctx, payer_id=amina.id, till_number=kiosk.till_number,
                                    amount=kes("1000.00"), idempotency_key=key())  # fmt: skip
    made = payments.refund(ctx, merchant_id=kiosk.user_id, payment_id=payment.id,
                           amount=kes("400.00"), idempotency_key=key(), reason="")  # fmt: skip
    assert texts_to(ctx, amina.phone, made.id[-10:]) == [
        f"Soko: {made.id[-10:]} imethibitishwa. Wanjiru's Kiosk amekurudishia KES 400.00. "
        "Salio KES 4,400.00."
    ]


def test_an_escrow_code_is_given_in_the_buyers_language(any_ctx: Context, clock: FakeClock) -> None:
    ctx = any_ctx
    buyer = users.set_language(ctx, consumer(ctx, "Amina").id, "sw")
    fund_wallet(ctx, buyer, kes("5000.00"))
    seller = shop(ctx)
    order = escrow.create_order(
        ctx, seller_id=seller.user_id, buyer_id=buyer.id, amount=kes("4500.00"),
        items=[OrderItem("Kitenge", 1)], ship_by=clock.now() + timedelta(days=2),
        idempotency_key=key(),
    )  # fmt: skip
    escrow.fund(ctx, buyer_id=buyer.id, order_id=order.id, idempotency_key=key())
    [text] = [t for t in texts_to(ctx, buyer.phone) if "msimbo" in t]
    code = escrow.delivery_code(ctx, buyer_id=buyer.id, order_id=order.id).code
    assert text == (
        f"Soko: KES 4,500.00 imeshikiliwa kwa oda {order.id[-8:]} ya Wanjiru's Kiosk. "
        f"Toa msimbo {code} kwa msafirishaji ukishapata bidhaa tu."
    )
