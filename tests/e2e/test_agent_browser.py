"""The agent's counter in a real browser on a 360 px phone: a cash-in approved with the agent's
PIN (and sent twice, moving money once), a cash-out approved with the customer's PIN typed on
the agent's phone (a wrong one first), the float and commissions after both, and a consumer
who finds no agent pages. Every main screen is inspected (screenshot, width, axe-core)."""

from __future__ import annotations

from phone_checks import inspect
from playwright.sync_api import BrowserContext, Page, expect

from fakes import FakeClock
from merchants import balance, consumer, kes, key
from merchants import phone as new_number
from soko.bootstrap import Runtime
from soko.payments import service as payments
from soko.people import service as users
from soko.people.domain import UserKind

AGENT_PIN, CUSTOMER_PIN = "8642", "2468"


def sign_in(page: Page, served: str, number: str, pin: str) -> None:
    page.goto(f"{served}/app/sign-in")
    page.get_by_label("Phone number").fill(number)
    page.get_by_label("PIN").fill(pin)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{served}/app")


def _kes(minor: int) -> str:
    return f"KES {minor // 100:,}.{minor % 100:02d}"


def test_an_agent_cashes_in_and_out_at_the_counter(
    phone: BrowserContext, served: str, runtime: Runtime, clock: FakeClock
) -> None:
    ctx = runtime.context
    agent = users.register(ctx, kind=UserKind.AGENT, phone=new_number(), name="Juma Agent",
                           pin=AGENT_PIN)  # fmt: skip
    payments.top_up_float(ctx, agent_id=agent.id, amount=kes("20000.00"), idempotency_key=key())
    amina = consumer(ctx, "Amina Wanjiku", funds="5000.00")

    page = phone.new_page()
    sign_in(page, served, agent.phone, AGENT_PIN)
    page.get_by_role("link", name="Agent").click()
    expect(page.get_by_test_id("float-KES")).to_have_text("KES 20,000.00")
    inspect(page, "agent-home")

    # Cash-in: a number not on Soko first, then Amina's.
    page.get_by_role("link", name="Cash-in for a customer").click()
    inspect(page, "agent-cash-in")
    page.get_by_label("Customer's phone number").fill("+254799999999")
    page.get_by_label("Amount (KES)").fill("1500")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_contain_text("is not on Soko")
    inspect(page, "agent-cash-in-refused")
    page.get_by_label("Customer's phone number").fill(amina.phone)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("customer")).to_have_text("Amina Wanjiku")
    expect(page.get_by_test_id("amount")).to_have_text("KES 1,500.00")
    inspect(page, "agent-cash-in-confirm")
    page.get_by_label("Your PIN").fill(AGENT_PIN)
    # The same confirmation sent twice (a lost reply, a double tap), then tapped: money once.
    form = page.get_by_role("form", name="Approve")
    sent = {
        name: form.locator(f'input[name="{name}"]').input_value()
        for name in ("form_key", "phone", "amount", "currency", "pin")
    }
    customer_before, float_before = balance(ctx, amina.id), balance(ctx, agent.id)
    for _ in range(2):
        echoed = page.request.post(f"{served}/app/agent/cash-in/confirm", form=sent)
        assert echoed.status == 200, echoed.text()
    page.get_by_role("button", name="Cash in KES 1,500.00").click()
    expect(page.get_by_role("heading", name="Done: cash-in")).to_be_visible()
    inspect(page, "agent-cash-in-done")
    assert balance(ctx, amina.id) == customer_before + 150_000
    today = payments.start_of_day(ctx)
    [cash_in] = payments.agent_activity(ctx, agent.id, today, 10)
    assert balance(ctx, agent.id) == float_before - 150_000 + cash_in.payment.commission

    # Cash-out, a minute later: the customer types the PIN on the agent's phone; a wrong one
    # first.
    clock.advance(60)
    page.goto(f"{served}/app/agent/cash-out")
    inspect(page, "agent-cash-out")
    page.get_by_label("Customer's phone number").fill(amina.phone)
    page.get_by_label("Amount (KES)").fill("1000")
    page.get_by_role("button", name="Next").click()
    fee = payments.cash_out_fee(ctx, kes("1000.00")).amount_minor
    expect(page.get_by_test_id("customer")).to_have_text("Amina Wanjiku")
    expect(page.get_by_test_id("fee")).to_have_text(_kes(fee))
    inspect(page, "agent-cash-out-confirm")
    pin = page.get_by_label("Customer: type your PIN")
    expect(pin).to_have_attribute("type", "password")
    pin.fill("1111")
    page.get_by_role("button", name="Cash out KES 1,000.00").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That is not the customer's PIN. Tries left before it locks: 4."
    )
    expect(page.get_by_label("Customer: type your PIN")).to_have_value("")  # not kept
    assert "1111" not in page.content()
    inspect(page, "agent-cash-out-refused")
    page.get_by_label("Customer: type your PIN").fill(CUSTOMER_PIN)
    page.get_by_role("button", name="Cash out KES 1,000.00").click()
    expect(page.get_by_role("heading", name="Done: cash-out")).to_be_visible()
    expect(page.get_by_text("Give Amina Wanjiku KES 1,000.00 in cash.")).to_be_visible()
    inspect(page, "agent-cash-out-done")
    assert balance(ctx, amina.id) == customer_before + 150_000 - 100_000 - fee

    # The counter: float and commissions after both, the two moves newest first.
    page.get_by_role("link", name="Back to the counter").click()
    done = payments.agent_activity(ctx, agent.id, today, 10)
    assert [d.payment.kind for d in done] == ["cash_out", "cash_in"]
    commission = sum(d.payment.commission for d in done)
    expect(page.get_by_test_id("float-KES")).to_have_text(_kes(balance(ctx, agent.id)))
    expect(page.get_by_test_id("commission-today-KES")).to_have_text(_kes(commission))
    expect(page.get_by_test_id("commission-month-KES")).to_have_text(_kes(commission))
    rows = page.get_by_test_id("activity").locator("li")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Cash-out")
    expect(rows.nth(1)).to_contain_text("Cash-in")
    inspect(page, "agent-home-after")


def test_a_consumer_finds_no_agent_pages(
    phone: BrowserContext, served: str, runtime: Runtime
) -> None:
    amina = consumer(runtime.context, "Amina Wanjiku", funds="100.00")
    page = phone.new_page()
    sign_in(page, served, amina.phone, CUSTOMER_PIN)
    expect(page.get_by_role("link", name="Agent")).to_have_count(0)
    for path in ("/app/agent", "/app/agent/cash-in", "/app/agent/cash-out"):
        response = page.goto(f"{served}{path}")
        assert response is not None and response.status == 404, path
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    inspect(page, "agent-not-found")
