"""The agent's web pages (/app/agent) over HTTP, on both databases: the float and commissions,
cash-in with the agent's PIN, cash-out with the customer's PIN typed on the agent's phone,
forms that move money once, refusals that move nothing, and 404 to anyone not an agent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from fakes import FakeClock
from merchants import balance, consumer, kes, key, phone, shop
from soko.bootstrap import Runtime
from soko.channels.api.app import create_app
from soko.context import Context
from soko.kernel import limits
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.people import service as users
from soko.people.domain import User, UserKind

AGENT_PIN, CUSTOMER_PIN = "8642", "2468"
FLOAT = "20000.00"


@dataclass
class Counter:
    ctx: Context
    clock: FakeClock
    app: FastAPI
    agent: User
    customer: User

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def agent_client(self) -> TestClient:
        return signed_in(self.client(), self.agent, AGENT_PIN)


@pytest.fixture
def counter(any_runtime: Runtime, clock: FakeClock) -> Iterator[Counter]:
    ctx = any_runtime.context
    agent = users.register(ctx, kind=UserKind.AGENT, phone=phone(), name="Juma Agent",
                           pin=AGENT_PIN)  # fmt: skip
    payments.top_up_float(ctx, agent_id=agent.id, amount=kes(FLOAT), idempotency_key=key())
    customer = consumer(ctx, "Amina Wanjiku", funds="5000.00")
    yield Counter(ctx, clock, create_app(any_runtime), agent, customer)
    assert reconcile(ctx).passed


def form_key(page: str, action: str) -> str:
    found = re.search(
        rf'action="{re.escape(action)}"[^>]*>.*?name="form_key" value="([^"]*)"', page, re.S
    )
    assert found is not None, page
    return found.group(1)


def signed_in(client: TestClient, user: User, pin: str) -> TestClient:
    page = client.get("/app/sign-in")
    response = client.post(
        "/app/sign-in",
        data={"phone": user.phone, "pin": pin, "form_key": form_key(page.text, "/app/sign-in")},
    )
    assert response.status_code == 303, response.text
    return client


def details(client: TestClient, form: str, customer_phone: str, amount: str) -> Response:
    """The first step of cash-in or cash-out, drawn then posted."""
    action = f"/app/agent/{form}"
    key_ = form_key(client.get(action).text, action)
    return client.post(
        action, data={"phone": customer_phone, "amount": amount, "currency": "KES",
                      "form_key": key_},
    )  # fmt: skip


def confirmation(page: str, form: str) -> dict[str, str]:
    """The hidden fields of the confirmation page's form."""
    action = f"/app/agent/{form}/confirm"
    assert f'action="{action}"' in page, page
    return dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page.split(action)[1]))


def alert(page: str) -> str:
    found = re.search(r'role="alert">([^<]*)<', page)
    assert found is not None, page
    return " ".join(found.group(1).split()).replace("&#39;", "'")


def money_moved(counter: Counter) -> tuple[int, int]:
    return balance(counter.ctx, counter.customer.id), balance(counter.ctx, counter.agent.id)


# --- who may see the pages ----------------------------------------------------------------------

PAGES = ["/app/agent", "/app/agent/cash-in", "/app/agent/cash-out"]
FORMS = ["/app/agent/cash-in", "/app/agent/cash-in/confirm", "/app/agent/cash-out",
         "/app/agent/cash-out/confirm"]  # fmt: skip


def test_every_agent_page_is_not_found_to_a_consumer_or_a_merchant(counter: Counter) -> None:
    kiosk = shop(counter.ctx)
    users.set_pin(counter.ctx, kiosk.user_id, "1357")
    people = [
        (counter.customer, CUSTOMER_PIN),
        (users.get_user(counter.ctx, kiosk.user_id), "1357"),
    ]
    before = money_moved(counter)
    for person, pin in people:
        client = signed_in(counter.client(), person, pin)
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 404, path
            assert "Not found" in response.text and "Cash-in" not in response.text
        for path in FORMS:
            sent = {"phone": counter.customer.phone, "amount": "100", "currency": "KES",
                    "pin": pin, "customer_pin": CUSTOMER_PIN, "form_key": "x.y"}  # fmt: skip
            assert client.post(path, data=sent).status_code == 404, path
    assert money_moved(counter) == before


def test_without_a_session_the_pages_send_to_sign_in(counter: Counter) -> None:
    for path in PAGES:
        response = counter.client().get(path)
        assert (
            response.status_code == 303
            and response.headers["location"].partition("?")[0] == "/app/sign-in"
        )


# --- cash-in ------------------------------------------------------------------------------------


def test_cash_in_confirms_the_customer_then_moves_money_once(counter: Counter) -> None:
    client = counter.agent_client()
    home = client.get("/app/agent")
    assert home.status_code == 200
    assert 'data-testid="float-KES">KES 20,000.00<' in home.text
    assert "No cash-ins or cash-outs yet today." in home.text
    assert home.headers["cache-control"] == "no-store"

    local = "0" + counter.customer.phone[4:]  # as typed at a Kenyan counter: 07...
    step = details(client, "cash-in", local, "1,500")
    assert step.status_code == 200, step.text
    assert 'data-testid="customer">Amina Wanjiku<' in step.text
    assert 'data-testid="amount">KES 1,500.00<' in step.text
    sent = confirmation(step.text, "cash-in") | {"pin": AGENT_PIN}
    customer_before, float_before = money_moved(counter)

    done = client.post("/app/agent/cash-in/confirm", data=sent)
    again = client.post("/app/agent/cash-in/confirm", data=sent)  # a double tap
    assert done.status_code == again.status_code == 200, done.text
    assert "Done: cash-in" in done.text and "Done: cash-in" in again.text
    customer_after, float_after = money_moved(counter)
    assert customer_after == customer_before + 150_000
    today = payments.start_of_day(counter.ctx)
    [made] = payments.agent_activity(counter.ctx, counter.agent.id, today, 10)
    assert made.payment.kind == "cash_in" and made.customer_name == "Amina Wanjiku"
    commission = made.payment.commission
    assert float_after == float_before - 150_000 + commission
    assert f"Your commission: {_kes(commission)}" in done.text

    home = client.get("/app/agent").text
    assert f'data-testid="float-KES">{_kes(float_after)}<' in home
    assert f'data-testid="commission-today-KES">{_kes(commission)}<' in home
    assert f'data-testid="commission-month-KES">{_kes(commission)}<' in home
    row = home.split(f'data-testid="activity-{made.payment.id}"')[1].split("</li>")[0]
    assert "Cash-in" in row and "Amina Wanjiku" in row and "KES 1,500.00" in row


def test_a_number_not_on_soko_is_said_so_and_nothing_moves(counter: Counter) -> None:
    client = counter.agent_client()
    before = money_moved(counter)
    stranger = phone()
    response = details(client, "cash-in", stranger, "100")
    assert response.status_code == 422
    assert alert(response.text) == (
        f"{stranger} is not on Soko. Check the number, or ask the customer to sign up first."
    )
    assert 'action="/app/agent/cash-in"' in response.text  # the same form, filled in
    assert f'value="{stranger}"' in response.text
    response = details(client, "cash-out", "07 not a number", "100")
    assert alert(response.text) == "That phone number does not look right."
    assert money_moved(counter) == before


@pytest.mark.parametrize(
    ("amount", "said"),
    [
        ("15OO", "Type the amount in figures, like 1500 or 1500.50."),
        ("1500.505", "Type the amount in figures, like 1500 or 1500.50."),
        ("-5", "Type the amount in figures, like 1500 or 1500.50."),
        ("25000", "Your float is too low for this cash-in."),
    ],
)
def test_a_bad_amount_or_too_little_float_is_refused_on_the_form(
    counter: Counter, amount: str, said: str
) -> None:
    client = counter.agent_client()
    before = money_moved(counter)
    response = details(client, "cash-in", counter.customer.phone, amount)
    assert response.status_code == 422
    assert alert(response.text) == said
    assert money_moved(counter) == before


def test_a_wrong_agent_pin_is_counted_and_moves_nothing(counter: Counter) -> None:
    client = counter.agent_client()
    before = money_moved(counter)
    step = details(client, "cash-in", counter.customer.phone, "100")
    sent = confirmation(step.text, "cash-in") | {"pin": "1111"}
    response = client.post("/app/agent/cash-in/confirm", data=sent)
    assert response.status_code == 422
    assert alert(response.text) == "Wrong PIN. Tries left before it locks: 4."
    assert 'value="1111"' not in response.text
    assert money_moved(counter) == before
    # The same confirmation with the right PIN goes through: a refusal spends no key.
    done = client.post("/app/agent/cash-in/confirm", data=sent | {"pin": AGENT_PIN})
    assert done.status_code == 200 and "Done: cash-in" in done.text


def test_out_of_date_or_edited_forms_move_nothing(counter: Counter) -> None:
    client = counter.agent_client()
    before = money_moved(counter)
    forged = client.post("/app/agent/cash-in", data={"phone": counter.customer.phone,
                         "amount": "100", "currency": "KES", "form_key": "web_1.abc"})  # fmt: skip
    assert forged.status_code == 403
    assert alert(forged.text) == "This form is out of date. Please try again."

    step = details(client, "cash-in", counter.customer.phone, "100")
    sent = confirmation(step.text, "cash-in") | {"pin": AGENT_PIN}
    edited = client.post("/app/agent/cash-in/confirm", data=sent | {"amount": "10000.00"})
    assert edited.status_code == 403
    assert alert(edited.text) == "This form is out of date. Please try again."

    # Signed out and in again: the confirmation drawn for the old session is out of date.
    other = counter.agent_client()
    old = other.post("/app/agent/cash-in/confirm", data=sent)
    assert old.status_code == 403
    assert alert(old.text) == "This form is out of date. Please try again."
    assert money_moved(counter) == before


# --- cash-out -----------------------------------------------------------------------------------


def test_cash_out_takes_the_customers_pin_and_moves_money_once(counter: Counter) -> None:
    client = counter.agent_client()
    amount = kes("1000.00")
    fee = payments.cash_out_fee(counter.ctx, amount).amount_minor
    step = details(client, "cash-out", counter.customer.phone, "1000")
    assert step.status_code == 200, step.text
    assert 'data-testid="customer">Amina Wanjiku<' in step.text
    assert f'data-testid="fee">{_kes(fee)}<' in step.text
    assert f'data-testid="total">{_kes(100_000 + fee)}<' in step.text
    assert '<label for="customer-pin">Customer: type your PIN</label>' in step.text
    assert 'type="password"' in step.text and 'autocomplete="off"' in step.text
    sent = confirmation(step.text, "cash-out")
    customer_before, float_before = money_moved(counter)

    wrong = client.post("/app/agent/cash-out/confirm", data=sent | {"customer_pin": "1111"})
    assert wrong.status_code == 422
    assert alert(wrong.text) == "That is not the customer's PIN. Tries left before it locks: 4."
    assert "1111" not in wrong.text  # the PIN never comes back in a page
    assert users.get_user(counter.ctx, counter.customer.id).pin.tries_left == 4  # counted
    assert money_moved(counter) == (customer_before, float_before)

    right = sent | {"customer_pin": CUSTOMER_PIN}
    done = client.post("/app/agent/cash-out/confirm", data=right)
    again = client.post("/app/agent/cash-out/confirm", data=right)
    assert done.status_code == again.status_code == 200, done.text
    assert "Give Amina Wanjiku KES 1,000.00 in cash." in done.text
    assert CUSTOMER_PIN not in done.text
    customer_after, float_after = money_moved(counter)
    assert customer_after == customer_before - 100_000 - fee  # once
    today = payments.start_of_day(counter.ctx)
    [made] = payments.agent_activity(counter.ctx, counter.agent.id, today, 10)
    assert float_after == float_before + 100_000 + made.payment.commission
    assert users.get_user(counter.ctx, counter.customer.id).pin.tries_left == 5  # series over
    home = client.get("/app/agent").text
    assert f'data-testid="commission-today-KES">{_kes(made.payment.commission)}<' in home
    assert "Cash-out" in home.split(f'data-testid="activity-{made.payment.id}"')[1]


def test_a_customer_short_of_money_is_told_after_the_pin(counter: Counter) -> None:
    """The first step does not say whether the customer could pay: the agent learns nothing
    of a customer's balance without the customer's PIN."""
    client = counter.agent_client()
    before = money_moved(counter)
    step = details(client, "cash-out", counter.customer.phone, "4999")
    assert step.status_code == 200
    sent = confirmation(step.text, "cash-out") | {"customer_pin": CUSTOMER_PIN}
    response = client.post("/app/agent/cash-out/confirm", data=sent)
    assert response.status_code == 422
    assert alert(response.text) == (
        "The customer's wallet does not hold enough for this amount and the fee."
    )
    assert money_moved(counter) == before


def test_an_agent_guessing_pins_locks_for_a_while_only_and_is_itself_limited(
    counter: Counter,
) -> None:
    """Five wrong PINs lock the customer's PIN as anywhere, for 15 minutes; and the agent may
    type only so many wrong PINs in a window, whoever the customers."""
    client = counter.agent_client()
    before = money_moved(counter)
    step = details(client, "cash-out", counter.customer.phone, "100")
    sent = confirmation(step.text, "cash-out") | {"customer_pin": "0000"}
    for _ in range(limits.PIN_ATTEMPTS_MAX - 1):
        client.post("/app/agent/cash-out/confirm", data=sent)
    locked = client.post("/app/agent/cash-out/confirm", data=sent)
    assert locked.status_code == 422
    assert alert(locked.text).startswith(
        "The customer's PIN is locked after too many wrong tries. It opens again at"
    )
    assert money_moved(counter) == before

    # Other customers: the agent's window fills, whatever the numbers.
    tried = limits.PIN_ATTEMPTS_MAX
    while tried < limits.PIN_TRIES_PER_ADDRESS_MAX:
        other = consumer(counter.ctx, "Baraka")
        sent_other = confirmation(details(client, "cash-out", other.phone, "100").text,
                                  "cash-out") | {"customer_pin": "0000"}  # fmt: skip
        for _ in range(min(limits.PIN_ATTEMPTS_MAX - 1, limits.PIN_TRIES_PER_ADDRESS_MAX - tried)):
            client.post("/app/agent/cash-out/confirm", data=sent_other)
            tried += 1
    refused = client.post("/app/agent/cash-out/confirm", data=sent_other)
    assert refused.status_code == 429
    assert alert(refused.text).startswith("Too many wrong PINs were typed on this phone.")

    # The lock times out by itself, and the agent's window too.
    counter.clock.advance(limits.PIN_LOCK_SECONDS[0])
    client = counter.agent_client()
    step = details(client, "cash-out", counter.customer.phone, "100")
    sent = confirmation(step.text, "cash-out") | {"customer_pin": CUSTOMER_PIN}
    done = client.post("/app/agent/cash-out/confirm", data=sent)
    assert done.status_code == 200, done.text


def test_the_pages_speak_kiswahili(counter: Counter) -> None:
    users.set_language(counter.ctx, counter.agent.id, "sw")
    client = counter.agent_client()
    assert "Kaunta ya wakala" in client.get("/app/agent").text
    step = details(client, "cash-out", counter.customer.phone, "100")
    assert "Mteja: andika PIN yako" in step.text
    response = details(client, "cash-in", counter.customer.phone, "abc")
    assert alert(response.text) == "Andika kiasi kwa tarakimu, kama 1500 au 1500.50."


def _kes(minor: int) -> str:
    return f"KES {minor // 100:,}.{minor % 100:02d}"
