"""The web app in a real browser: an escrow trade between two people on two phones.

The buyer signs in, pays into escrow and reads the delivery code off the page; the seller,
signed in on another phone (another browser context: its own cookies), enters it, and the
money is released.
"""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Browser, Page, expect

from merchants import balance, consumer, kes, key, shop
from soko.bootstrap import Runtime
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowState, OrderItem
from soko.people import service as users

PHONE = {"width": 360, "height": 740}  # a small phone


def sign_in(page: Page, served: str, phone: str, pin: str) -> None:
    page.goto(f"{served}/app")  # not signed in: sent to sign in
    expect(page).to_have_url(f"{served}/app/sign-in")
    page.get_by_label("Phone number").fill(phone)
    page.get_by_label("PIN").fill(pin)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{served}/app")


def test_a_buyer_pays_into_escrow_and_the_seller_releases_it_with_the_code(
    browser: Browser, served: str, runtime: Runtime
) -> None:
    ctx = runtime.context
    amina = consumer(ctx, funds="10000.00")
    kiosk = shop(ctx, "5651", name="Mama Njeri's Kiosk")
    users.set_pin(ctx, kiosk.user_id, "1357")
    order = escrow.create_order(
        ctx, seller_id=kiosk.user_id, buyer_id=amina.id, amount=kes("4500.00"),
        items=[OrderItem("Kitenge fabric, 6 yards", 2)],
        ship_by=ctx.clock.now() + timedelta(days=2), idempotency_key=key(),
    )  # fmt: skip

    buyer_phone = browser.new_context(viewport=PHONE)
    buyer = buyer_phone.new_page()
    sign_in(buyer, served, amina.phone, "2468")
    expect(buyer.get_by_test_id("balance-KES")).to_have_text("KES 10,000.00")
    buyer.get_by_role("link", name="Your escrow orders").click()
    buyer.get_by_test_id(f"order-{order.id}").click()
    expect(buyer.get_by_test_id("amount")).to_have_text("KES 4,500.00")
    paying = buyer.get_by_role("form", name="Pay into escrow")
    paying.get_by_label("Your PIN").fill("1111")
    paying.get_by_role("button", name="Pay KES 4,500.00 into escrow").click()
    expect(buyer.get_by_role("alert")).to_contain_text("Wrong PIN")
    assert escrow.get_order(ctx, order.id).state is EscrowState.CREATED
    paying = buyer.get_by_role("form", name="Pay into escrow")
    paying.get_by_label("Your PIN").fill("2468")
    paying.get_by_role("button", name="Pay KES 4,500.00 into escrow").click()
    expect(buyer.get_by_role("heading", name="Paid into escrow")).to_be_visible()
    code = buyer.get_by_test_id("delivery-code").inner_text()
    assert len(code) == 6 and code.isdigit()
    # The page is readable on the small screen: nothing wider than the phone.
    assert buyer.evaluate("document.documentElement.scrollWidth") <= 360

    seller_phone = browser.new_context(viewport=PHONE)
    seller = seller_phone.new_page()
    sign_in(seller, served, users.get_user(ctx, kiosk.user_id).phone, "1357")
    seller.goto(f"{served}/app/orders/{order.id}")
    expect(seller.get_by_test_id("state")).to_have_text("In escrow")
    entering = seller.get_by_role("form", name="Enter the buyer's delivery code")
    entering.get_by_label("Delivery code").fill("000000" if code != "000000" else "111111")
    entering.get_by_label("Your PIN").fill("1357")
    entering.get_by_role("button", name="Release the money").click()
    expect(seller.get_by_role("alert")).to_contain_text("4 tries left")
    entering = seller.get_by_role("form", name="Enter the buyer's delivery code")
    entering.get_by_label("Delivery code").fill(code)
    entering.get_by_label("Your PIN").fill("1357")
    entering.get_by_role("button", name="Release the money").click()
    expect(seller.get_by_role("heading", name="Released")).to_be_visible()
    expect(seller.get_by_test_id("amount")).to_have_text("KES 4,477.50")
    assert balance(ctx, kiosk.user_id) == 447_750

    # The buyer's phone sees it too; signing out ends the visit.
    buyer.goto(f"{served}/app/orders/{order.id}")
    expect(buyer.get_by_test_id("state")).to_have_text("Released")
    buyer.get_by_role("button", name="Sign out").click()
    expect(buyer).to_have_url(f"{served}/app/sign-in")
    buyer.goto(f"{served}/app")
    expect(buyer).to_have_url(f"{served}/app/sign-in")
    buyer_phone.close()
    seller_phone.close()
