"""The merchant's pages in a real browser on a 360-pixel phone: a customer pays the till, the
merchant sees the sale on the chart, prints the QR sticker (read back from the screenshot by
zxing-cpp: the till's own EMVCo code, with the shop's own city), refunds the payment, asks for a
payment, ships an escrow order, and borrows against its sales."""

from __future__ import annotations

import io
from datetime import timedelta

import zxingcpp
from phone_checks import inspect
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect

from credit_world import DAY_SECONDS, funded_lender, pay
from fakes import FakeClock
from merchants import balance, consumer, kes, key
from merchants import phone as new_phone
from soko.bootstrap import Runtime
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowState, OrderItem
from soko.escrow.tracking import service as tracking
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.payments.qr import service as qr
from soko.payments.qr.domain import parse_qr
from soko.people import service as users
from soko.people.domain import UserKind
from soko.people.service import MerchantDetails

PIN = "1357"


def decoded(page: Page) -> list[str]:
    """Every QR code zxing-cpp reads in a screenshot of the whole page."""
    picture = Image.open(io.BytesIO(page.screenshot(full_page=True)))
    return [found.text for found in zxingcpp.read_barcodes(picture)]


def test_a_merchant_sells_prints_refunds_asks_ships_and_borrows(
    phone: BrowserContext, served: str, runtime: Runtime, clock: FakeClock
) -> None:
    ctx = runtime.context
    funded_lender(ctx)
    shop_user = users.register(
        ctx, kind=UserKind.MERCHANT, phone=phone_number(), name="Nakato", pin=PIN,
        merchant=MerchantDetails(trading_name="Nakato Fabrics", category_code="5651",
                                 city="Kampala Central Division"),
    )  # fmt: skip
    merchant = users.get_merchant(ctx, shop_user.id)
    regulars = [consumer(ctx, f"Payer {n}", funds="400000.00") for n in range(5)]
    # Six months of sales on five days a week, so that the shop has a credit offer.
    pay(ctx, regulars[0], merchant, "500.00")
    clock.advance(100 * DAY_SECONDS)
    for day in range(91):
        if day % 7 < 5:
            pay(ctx, regulars[day % 5], merchant, "500.00")
        clock.advance(DAY_SECONDS)
    amina = consumer(ctx, "Amina", funds="5000.00")
    sale = payments.pay_merchant(ctx, payer_id=amina.id, till_number=merchant.till_number,
                                 amount=kes("750.00"), idempotency_key=key())  # fmt: skip

    page = phone.new_page()
    page.goto(f"{served}/app/shop")
    expect(page).to_have_url(f"{served}/app/sign-in?next=%2Fapp%2Fshop")
    page.get_by_label("Phone number").fill(shop_user.phone)
    page.get_by_label("PIN").fill(PIN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{served}/app/shop")  # back where they were going

    # The sale, today and on the chart.
    expect(page.get_by_test_id("sales-today")).to_have_text("KES 750.00")
    chart = page.get_by_test_id("sales-chart")
    expect(chart).to_be_visible()
    assert chart.locator("[data-testid=bar]").count() >= 1
    assert chart.bounding_box()["width"] <= 360  # type: ignore[index]
    inspect(page, "merchant-shop")

    # The sticker: on screen and as printed, the till's own code with the shop's own city.
    page.get_by_role("link", name="QR code").click()
    expect(page.get_by_test_id("till")).to_have_text(merchant.till_number)
    inspect(page, "merchant-qr")
    wanted = qr.merchant_code(ctx, merchant.user_id).payload()
    assert dict(parse_qr(wanted).tree())["60"] == "Kampala Central"
    assert wanted in decoded(page)  # scaled to the phone, not clipped
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Shop menu")).to_be_hidden()
    assert wanted in decoded(page)
    page.emulate_media(media="screen")

    # A partial refund of the sale.
    page.get_by_role("link", name="Sales").click()
    row = page.get_by_test_id(f"payment-{sale.id}")
    row.locator("summary").click()
    refund = row.get_by_role("form", name="Refund")
    before = balance(ctx, amina.id)
    refund.get_by_label("Amount to give back").fill("250")
    refund.get_by_label("Your PIN").fill(PIN)
    refund.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("status")).to_have_text("Refunded KES 250.00 to the customer.")
    assert balance(ctx, amina.id) == before + 25_000
    expect(page.get_by_test_id(f"payment-{sale.id}")).to_contain_text("Refunded KES 250.00 on")

    # A payment request to share.
    page.get_by_role("link", name="Requests").click()
    inspect(page, "merchant-requests")
    asking = page.get_by_role("form", name="Ask for a payment")
    asking.get_by_label("Amount").fill("1,200")
    asking.get_by_label("What it is for").fill("Two kitenge")
    asking.get_by_label("Open for").select_option(label="1 week")
    asking.get_by_role("button", name="Make the request").click()
    link = page.get_by_test_id("share-link").inner_text()
    assert "/pay/prq_" in link
    inspect(page, "merchant-request-made")

    # An escrow order to ship.
    tracking.add_carrier(ctx, code="g4s", name="G4S Courier")
    order = escrow.create_order(
        ctx, seller_id=merchant.user_id, buyer_id=amina.id, amount=kes("1500.00"),
        items=[OrderItem("Kitenge", 1)], ship_by=clock.now() + timedelta(days=2),
        idempotency_key=key(),
    )  # fmt: skip
    escrow.fund(ctx, buyer_id=amina.id, order_id=order.id, idempotency_key=key())
    page.get_by_role("link", name="To ship").click()
    inspect(page, "merchant-orders")
    shipping = page.get_by_test_id(f"order-{order.id}").get_by_role("form", name="Mark shipped")
    shipping.get_by_label("Carrier").select_option("g4s")
    shipping.get_by_label("Tracking number").fill("KLA123456")
    shipping.get_by_role("button", name="Mark shipped").click()
    expect(page.get_by_role("status")).to_contain_text("is marked shipped")
    assert escrow.get_order(ctx, order.id).state is EscrowState.SHIPPED

    # Payouts.
    page.get_by_role("link", name="Payouts").click()
    inspect(page, "merchant-payouts")

    # Credit: the offer in words, then a loan of part of it.
    page.get_by_role("link", name="Credit").click()
    expect(page.get_by_test_id("offer")).to_contain_text("of every sale")
    inspect(page, "merchant-credit")
    before = balance(ctx, merchant.user_id)
    taking = page.get_by_role("form", name="Take the loan")
    taking.get_by_label("Amount").fill("1000")
    taking.get_by_label("Your PIN").fill(PIN)
    taking.get_by_role("button", name="Borrow").click()
    expect(page.get_by_test_id("loan")).to_be_visible()
    assert balance(ctx, merchant.user_id) == before + 100_000
    inspect(page, "merchant-loan")


def phone_number() -> str:
    return new_phone()


def test_the_pay_pages_qr_code_is_whole_on_a_small_phone(
    phone: BrowserContext, served: str, runtime: Runtime
) -> None:
    """The defect: the SVG had a width and height but no viewBox, so the CSS that shrinks it to
    the phone clipped it to its top-left corner, and no phone could scan it."""
    ctx = runtime.context
    shop_user = users.register(
        ctx, kind=UserKind.MERCHANT, phone=phone_number(), name="Nakato",
        merchant=MerchantDetails(trading_name="Nakato Fabrics", category_code="5651",
                                 city="Dar es Salaam"),
    )  # fmt: skip
    made = payment_requests.create_request(
        ctx, merchant_id=shop_user.id, amount=kes("25.00"), reference="INV-77",
        idempotency_key=key(),
    )  # fmt: skip
    page = phone.new_page()
    page.goto(f"{served}/pay/{made.id}")
    svg = page.locator(".qr svg")
    expect(svg).to_be_visible()
    assert svg.bounding_box()["width"] < 300  # type: ignore[index]  # shrunk by the CSS
    wanted = qr.request_code(ctx, made).payload()
    assert dict(parse_qr(wanted).tree())["60"] == "Dar es Salaam"
    assert decoded(page) == [wanted]
