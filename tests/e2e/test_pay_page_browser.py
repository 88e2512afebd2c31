"""The pay page in a real browser: a customer opens the link, types phone and PIN, and pays."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from merchants import balance, consumer, kes, key, shop
from soko.bootstrap import Runtime
from soko.payments import requests as payment_requests


def test_a_customer_pays_a_request_from_its_link(
    browser: Browser, served: str, runtime: Runtime
) -> None:
    ctx = runtime.context
    amina = consumer(ctx, funds="100.00")
    kiosk = shop(ctx, name="Mama Njeri's Kiosk")
    made = payment_requests.create_request(
        ctx, merchant_id=kiosk.user_id, amount=kes("25.00"), reference="INV-77",
        idempotency_key=key(),
    )  # fmt: skip
    page = browser.new_page(viewport={"width": 360, "height": 740})  # a small phone
    page.goto(f"{served}/pay/{made.id}")
    expect(page.get_by_test_id("amount")).to_have_text("KES 25.00")
    expect(page.locator(".qr svg")).to_be_visible()
    page.get_by_label("Phone number").fill(amina.phone)
    page.get_by_label("PIN").fill("1111")
    page.get_by_role("button", name="Pay KES 25.00").click()
    wrong = "The phone number or PIN is wrong. 4 tries left."  # as for a number with no account
    expect(page.get_by_role("alert")).to_have_text(wrong)
    assert balance(ctx, amina.id) == 10_000
    page.get_by_label("PIN").fill("2468")
    page.get_by_role("button", name="Pay KES 25.00").click()
    expect(page.get_by_role("heading")).to_have_text("Paid")
    assert balance(ctx, amina.id) == 7_500
    page.goto(f"{served}/pay/{made.id}")  # the link opened again: nothing left to pay
    expect(page.get_by_test_id("status")).to_contain_text("has been paid")
    page.close()
