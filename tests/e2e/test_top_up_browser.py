"""Top up from M-Pesa in a real browser at 360 px, against the local Daraja sandbox: the nav's
"Top up", a refusal on the form, the STK prompt sent, and the status page going from pending to
paid when the person checks again (no JavaScript, no timed refresh)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from phone_checks import inspect
from playwright.sync_api import BrowserContext, expect

from fakes import FakeClock
from merchants import balance
from mpesa_world import MpesaWorld, serve_world, wait_for
from soko.rails.mpesa.sandbox import CallbackMode, DarajaSandbox, Kind, Script


@pytest.fixture
def world(database_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[MpesaWorld]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with (
        DarajaSandbox(private_key=key) as sandbox,
        serve_world(database_url, sandbox, clock, tmp_path) as running,
    ):
        yield running


def test_a_top_up_on_a_small_phone(phone: BrowserContext, world: MpesaWorld) -> None:
    amina = world.person()
    page = phone.new_page()
    page.goto(f"{world.url}/app/sign-in")
    page.get_by_label("Phone number").fill(amina.phone)
    page.get_by_label("PIN").fill("2468")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{world.url}/app")

    page.get_by_role("navigation").get_by_role("link", name="Top up").click()
    expect(page.get_by_role("heading", name="Top up from M-Pesa")).to_be_visible()
    inspect(page, "top-up-form")
    page.get_by_label("Amount (KES)").fill("10.50")
    page.get_by_label("Your Soko PIN").fill("2468")
    page.get_by_role("button", name="Send the M-Pesa prompt").click()
    expect(page.get_by_role("alert")).to_contain_text("whole shillings")
    inspect(page, "top-up-refused")
    assert not [t for t in world.sandbox.transactions() if t.kind is Kind.STK]

    world.sandbox.script(Script(mode=CallbackMode.DELAYED, delay_seconds=2))
    page.get_by_label("Amount (KES)").fill("1500")
    page.get_by_label("Your Soko PIN").fill("2468")
    page.get_by_role("button", name="Send the M-Pesa prompt").click()
    expect(page.get_by_test_id("state")).to_have_attribute("data-state", "pending")
    expect(page.get_by_test_id("amount")).to_have_text("KES 1,500.00")
    inspect(page, "top-up-pending")
    # M-Pesa's callback comes after two seconds; the person checks again until it has.
    wait_for(lambda: balance(world.ctx, amina.id) == 150000)
    page.get_by_role("link", name="Check again").click()
    expect(page.get_by_test_id("state")).to_have_attribute("data-state", "paid")
    expect(page.get_by_test_id("outcome")).to_have_text("The money is in your wallet.")
    inspect(page, "top-up-paid")
    assert balance(world.ctx, amina.id) == 150000
    assert world.reconciled()
