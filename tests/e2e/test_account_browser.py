"""Accounts in a real browser on a 360 px phone: sign up with the code texted through the SMS
outbox, sign out, a forgotten PIN, change the PIN, switch to Kiswahili, come back to the page an
expired session left, and an error page; each screen through `inspect` (screenshot, width,
axe-core)."""

from __future__ import annotations

import re

from phone_checks import inspect
from playwright.sync_api import BrowserContext, Page, expect

from fakes import FakeClock
from merchants import phone as new_number
from soko.bootstrap import Runtime
from soko.context import Context
from soko.kernel import limits
from soko.people import service as users


def texts_to(ctx: Context, number: str) -> dict[str, str]:
    """The texts queued for the number in the outbox, by id."""
    with ctx.unit_of_work(read_only=True) as uow:
        return {sms.id: sms.text for sms in uow.notifications.list_sms_to(number, 10)}


def code_for(ctx: Context, number: str, before: dict[str, str]) -> str:
    """The code of the one text queued for the number since `before`."""
    [new] = [text for sms_id, text in texts_to(ctx, number).items() if sms_id not in before]
    found = re.search(r"\b(\d{6})\b", new)
    assert found is not None, new
    return found.group(1)


def choose_pin(page: Page, code: str, pin: str) -> None:
    page.get_by_label("Code from the SMS").fill(code)
    page.get_by_label("Choose a PIN (4 to 6 digits)").fill(pin)
    page.get_by_label("The same PIN again").fill(pin)


def test_sign_up_sign_out_forgotten_pin_change_pin_and_kiswahili(
    phone: BrowserContext, served: str, runtime: Runtime
) -> None:
    ctx = runtime.context
    clock = ctx.clock
    assert isinstance(clock, FakeClock)
    number = new_number()
    local = "0" + number.removeprefix("+254")
    page = phone.new_page()

    page.goto(f"{served}/")
    expect(page.get_by_role("heading", name="Soko")).to_be_visible()
    inspect(page, "account-home")
    page.get_by_role("link", name="Sign up with your phone number").click()
    expect(page).to_have_url(f"{served}/app/sign-up")
    page.get_by_label("Phone number").fill(local)
    page.get_by_label("Your name").fill("Baraka Otieno")
    inspect(page, "account-sign-up")
    before = texts_to(ctx, number)
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    inspect(page, "account-sign-up-code")
    code = code_for(ctx, number, before)
    choose_pin(page, "000000" if code != "000000" else "111111", "2580")
    page.get_by_role("button", name="Open my account").click()
    expect(page.get_by_role("alert")).to_contain_text("4 tries left")
    inspect(page, "account-sign-up-wrong-code")
    choose_pin(page, code, "2580")
    page.get_by_role("button", name="Open my account").click()
    expect(page).to_have_url(f"{served}/app")
    expect(page.get_by_role("heading", name="Hello, Baraka Otieno")).to_be_visible()
    inspect(page, "account-wallets")
    assert users.find_by_phone(ctx, number).kyc_tier == 0

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{served}/app/sign-in")
    inspect(page, "account-sign-in")

    page.get_by_role("link", name="Forgot your PIN?").click()
    expect(page).to_have_url(f"{served}/app/forgot-pin")
    page.get_by_label("Phone number").fill(local)
    inspect(page, "account-forgot-pin")
    before = texts_to(ctx, number)
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_label("National ID number")).to_be_visible()
    inspect(page, "account-forgot-pin-code")
    choose_pin(page, code_for(ctx, number, before), "1470")
    page.get_by_role("button", name="Set my new PIN").click()
    expect(page).to_have_url(f"{served}/app")

    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    inspect(page, "account-page")
    page.get_by_label("Your PIN now").fill("1470")
    page.get_by_label("New PIN (4 to 6 digits)").fill("3690")
    page.get_by_label("The same PIN again").fill("3690")
    page.get_by_role("button", name="Change PIN").click()
    expect(page.get_by_role("status")).to_contain_text("Your PIN is changed")
    inspect(page, "account-pin-changed")
    assert users.verify_pin(ctx, users.find_by_phone(ctx, number).id, "3690")

    page.get_by_label("Soko speaks").select_option("sw")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Badilisha PIN yako")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    inspect(page, "account-kiswahili")

    # Idle past the session's time on a page: signing in again comes back to it.
    page.goto(f"{served}/app/orders")
    clock.advance(limits.WEB_SESSION_IDLE_SECONDS + 1)
    page.reload()
    expect(page).to_have_url(re.compile(r"/app/sign-in\?next=%2Fapp%2Forders$"))
    # No one is signed in to ask: the sign-in page speaks the language chosen last.
    page.get_by_label("Nambari ya simu").fill(local)
    page.get_by_label("PIN", exact=True).fill("3690")
    inspect(page, "account-sign-in-kiswahili")
    page.get_by_role("button", name="Ingia").click()
    expect(page).to_have_url(f"{served}/app/orders")

    page.goto(f"{served}/app/no-such-page")
    expect(page.get_by_role("link", name="Nenda ukurasa wa mwanzo")).to_be_visible()
    inspect(page, "account-not-found")
