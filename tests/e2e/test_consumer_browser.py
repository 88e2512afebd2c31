"""The consumer's pages in a real browser on a 360-pixel phone: send money, pay a till, pay a
request by its reference, pay by a pasted QR code, a double-tapped confirmation that pays once,
and a buyer's dispute. Every main screen is inspected (screenshot, width, axe-core)."""

from __future__ import annotations

from datetime import timedelta

from phone_checks import inspect
from playwright.sync_api import Browser, BrowserContext, Page, expect

from merchants import balance, consumer, kes, key, shop
from soko.bootstrap import Runtime
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowState, OrderItem
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.payments.domain import PaymentRequestStatus
from soko.payments.qr import service as qr

PIN = "2468"


def sign_in(page: Page, served: str, phone: str) -> None:
    page.goto(f"{served}/app/sign-in")
    form = page.locator('form[action="/app/sign-in"]')
    form.locator('input[name="phone"]').fill(phone)
    form.locator('input[name="pin"]').fill(PIN)
    form.locator('button[type="submit"]').click()
    expect(page).to_have_url(f"{served}/app")


def test_a_person_sends_money_and_reads_the_statement(
    phone: BrowserContext, served: str, runtime: Runtime
) -> None:
    ctx = runtime.context
    amina = consumer(ctx, "Amina Wanjiku", funds="10000.00")
    baraka = consumer(ctx, "Baraka Otieno")
    page = phone.new_page()
    sign_in(page, served, amina.phone)
    page.get_by_role("link", name="Send", exact=True).click()
    inspect(page, "consumer-send")
    form = page.get_by_role("form", name="Send money")
    form.get_by_label("Phone number").fill(baraka.phone)
    form.get_by_label("Amount").fill("1,500 KES")
    form.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Type the amount in figures, like 1500 or 1500.50."
    )
    form = page.get_by_role("form", name="Send money")
    form.get_by_label("Amount").fill("1500")
    form.get_by_label("Message (optional)").fill("School fees")
    form.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("recipient")).to_contain_text("Baraka Otieno")
    fee = payments.p2p_fee(ctx, kes("1500"))
    expect(page.get_by_test_id("fee")).to_have_text(fee.to_display_string())
    inspect(page, "consumer-send-confirm")
    page.get_by_label("Your PIN").fill(PIN)
    page.get_by_role("button", name="Send KES 1,500.00").click()
    expect(page.get_by_role("heading", name="Sent")).to_be_visible()
    inspect(page, "consumer-sent")
    assert balance(ctx, baraka.id) == 150_000

    page.get_by_role("link", name="Statement").last.click()
    expect(page.get_by_test_id("line").first).to_contain_text("Fee: Baraka Otieno")
    inspect(page, "consumer-statement")
    page.get_by_label("Name, number, message or reference").fill("school")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("line")).to_have_count(2)
    expect(page.get_by_test_id("line").last).to_contain_text("Sent to Baraka Otieno")
    expect(page.get_by_test_id("line").last).to_contain_text("Balance KES 8,500.00")


def test_a_person_pays_a_till_a_request_and_a_qr_code(
    phone: BrowserContext, served: str, runtime: Runtime
) -> None:
    ctx = runtime.context
    amina = consumer(ctx, "Amina Wanjiku", funds="10000.00")
    kiosk = shop(ctx, "5411", name="Mama Njeri's Kiosk")
    invoice = payment_requests.create_request(
        ctx, merchant_id=kiosk.user_id, amount=kes("1200"), reference="INV-7",
        description="Two sacks of maize flour", idempotency_key=key(),
    )  # fmt: skip
    page = phone.new_page()
    sign_in(page, served, amina.phone)

    # A till.
    page.get_by_role("link", name="Pay", exact=True).click()
    inspect(page, "consumer-pay")
    till = page.get_by_role("form", name="Pay a till")
    till.get_by_label("Till number").fill("000000")
    till.get_by_label("Amount").fill("750")
    till.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_have_text("There is no till with this number.")
    till = page.get_by_role("form", name="Pay a till")
    till.get_by_label("Till number").fill(kiosk.till_number)
    till.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("shop")).to_have_text("Mama Njeri's Kiosk")
    inspect(page, "consumer-pay-confirm")
    page.get_by_label("Your PIN").fill(PIN)
    page.get_by_role("button", name="Pay KES 750.00").click()
    expect(page.get_by_role("heading", name="Paid")).to_be_visible()
    assert balance(ctx, amina.id) == 1_000_000 - 75_000

    # A request, by the till and its reference.
    page.get_by_role("link", name="Pay", exact=True).click()
    request = page.get_by_role("form", name="Pay a request")
    request.get_by_label("Link or reference").fill("INV-7")
    request.get_by_label("Till number (with a reference)").fill(kiosk.till_number)
    request.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("description")).to_have_text("Two sacks of maize flour")
    page.get_by_label("Your PIN").fill(PIN)
    page.get_by_role("button", name="Pay KES 1,200.00").click()
    expect(page.get_by_role("heading", name="Paid")).to_be_visible()
    paid = payment_requests.get_request(ctx, invoice.id)
    assert paid.stored_status is PaymentRequestStatus.PAID

    # A pasted QR code with its amount.
    payload = qr.merchant_code(ctx, kiosk.user_id, amount=kes("320")).payload()
    page.get_by_role("link", name="Pay", exact=True).click()
    code = page.get_by_role("form", name="Pay by QR code")
    code.get_by_label("QR code text").fill(payload)
    code.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("amount")).to_have_text("KES 320.00")
    expect(page.get_by_test_id("shop")).to_have_text("Mama Njeri's Kiosk")
    page.get_by_label("Your PIN").fill(PIN)
    page.get_by_role("button", name="Pay KES 320.00").click()
    expect(page.get_by_role("heading", name="Paid")).to_be_visible()
    assert balance(ctx, amina.id) == 1_000_000 - 75_000 - 120_000 - 32_000


def test_a_double_tapped_confirmation_pays_once(
    phone: BrowserContext, served: str, runtime: Runtime
) -> None:
    ctx = runtime.context
    amina = consumer(ctx, "Amina Wanjiku", funds="10000.00")
    kiosk = shop(ctx, "5411", name="Mama Njeri's Kiosk")
    page = phone.new_page()
    sign_in(page, served, amina.phone)
    page.goto(f"{served}/app/pay")
    till = page.get_by_role("form", name="Pay a till")
    till.get_by_label("Till number").fill(kiosk.till_number)
    till.get_by_label("Amount").fill("500")
    till.get_by_role("button", name="Next").click()
    page.get_by_label("Your PIN").fill(PIN)
    # The same drawn form sent three times: a double tap, then again as a resent page would
    # (the browser's own request, with its cookie).
    sent = page.evaluate(
        """() => { const form = document.querySelector('form[action="/app/pay/till/confirm"]');
                   const sent = Object.fromEntries(new FormData(form));
                   form.requestSubmit(); form.requestSubmit(); return sent; }"""
    )
    expect(page.get_by_role("heading", name="Paid")).to_be_visible()
    inspect(page, "consumer-paid")
    resent = page.request.post(f"{served}/app/pay/till/confirm", form=sent, max_redirects=0)
    assert resent.status == 201 and "Paid" in resent.text()
    assert balance(ctx, amina.id) == 1_000_000 - 50_000
    assert balance(ctx, kiosk.user_id) > 0


def test_a_buyer_opens_a_dispute(phone: BrowserContext, served: str, runtime: Runtime) -> None:
    ctx = runtime.context
    amina = consumer(ctx, "Amina Wanjiku", funds="10000.00")
    kiosk = shop(ctx, "5651", name="Mama Njeri's Kiosk")
    order = escrow.create_order(
        ctx, seller_id=kiosk.user_id, buyer_id=amina.id, amount=kes("4500.00"),
        items=[OrderItem("Kitenge fabric, 6 yards", 2)],
        ship_by=ctx.clock.now() + timedelta(days=2), idempotency_key=key(),
    )  # fmt: skip
    escrow.fund(ctx, buyer_id=amina.id, order_id=order.id, idempotency_key=key())
    page = phone.new_page()
    sign_in(page, served, amina.phone)
    page.goto(f"{served}/app/orders/{order.id}")
    dispute = page.get_by_role("form", name="Open a dispute")
    dispute.get_by_label("What went wrong").select_option("not_as_described")
    dispute.get_by_label("Tell us more").fill("The fabric is 4 yards, not 6.")
    dispute.get_by_label("Your PIN").fill(PIN)
    inspect(page, "consumer-dispute")
    dispute.get_by_role("button", name="Open a dispute").click()
    expect(page.get_by_role("heading", name="Dispute opened")).to_be_visible()
    inspect(page, "consumer-dispute-opened")
    assert escrow.get_order(ctx, order.id).state is EscrowState.DISPUTED


#: A camera and a detector for a browser without either: the camera shows a canvas, and the
#: detector "sees" the code the test puts in `window.codeToSee`.
FAKE_CAMERA = """
window.BarcodeDetector = class {
    constructor(options) { this.options = options; }
    async detect() { return window.codeToSee ? [{rawValue: window.codeToSee}] : []; }
};
navigator.mediaDevices.getUserMedia = async () => {
    const canvas = document.createElement("canvas");
    canvas.getContext("2d").fillRect(0, 0, 10, 10);
    return canvas.captureStream();
};
"""


def test_the_camera_scans_a_code_where_the_browser_can(
    browser: Browser, served: str, runtime: Runtime
) -> None:
    ctx = runtime.context
    amina = consumer(ctx, "Amina Wanjiku", funds="10000.00")
    kiosk = shop(ctx, "5411", name="Mama Njeri's Kiosk")
    payload = qr.merchant_code(ctx, kiosk.user_id, amount=kes("90")).payload()
    # Not the `phone` fixture: this phone keeps the pages' Content-Security-Policy, so the
    # script runs only because the policy lets this one same-origin script run.
    phone = browser.new_context(viewport={"width": 360, "height": 740})
    refused: list[str] = []
    phone.on("console", lambda message: refused.append(message.text)
             if "Content Security Policy" in message.text else None)  # fmt: skip
    page = phone.new_page()
    sign_in(page, served, amina.phone)
    page.goto(f"{served}/app/pay")
    # This Chromium has no BarcodeDetector: the button stays hidden, the page works as before.
    expect(page.get_by_role("button", name="Scan with the camera")).to_be_hidden()

    page.add_init_script(FAKE_CAMERA)
    page.goto(f"{served}/app/pay")
    page.get_by_role("button", name="Scan with the camera").click()
    page.evaluate("payload => { window.codeToSee = payload; }", payload)
    expect(page.get_by_test_id("shop")).to_have_text("Mama Njeri's Kiosk")
    expect(page.get_by_test_id("amount")).to_have_text("KES 90.00")
    page.get_by_label("Your PIN").fill(PIN)
    page.get_by_role("button", name="Pay KES 90.00").click()
    expect(page.get_by_role("heading", name="Paid")).to_be_visible()
    assert balance(ctx, amina.id) == 1_000_000 - 9_000
    assert refused == []
    phone.close()
