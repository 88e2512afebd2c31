"""Top up from M-Pesa on the web (/app/top-up) over HTTP, against the Daraja sandbox on SQLite
and PostgreSQL: the form, the STK prompt to the number typed, the status page through pending to
paid or failed, refusals on the form that move nothing, a double submit that prompts once, and
someone else's top-up reading as none."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from merchants import balance
from mpesa_world import MpesaWorld, wait_for
from soko.channels.api.app import create_app
from soko.people import service as users
from soko.people.domain import User
from soko.rails.mpesa.sandbox import CallbackMode, Kind, Script

PIN = "2468"  # merchants.consumer's PIN


def form_key(page: str, action: str) -> str:
    found = re.search(
        rf'action="{re.escape(action)}"[^>]*>.*?name="form_key" value="([^"]*)"', page, re.S
    )
    assert found is not None, page
    return found.group(1)


@pytest.fixture
def client(world: MpesaWorld) -> Iterator[TestClient]:
    with TestClient(create_app(world.runtime), follow_redirects=False) as made:
        yield made


def signed_in(client: TestClient, user: User) -> TestClient:
    page = client.get("/app/sign-in")
    key = form_key(page.text, "/app/sign-in")
    answer = client.post("/app/sign-in", data={"phone": user.phone, "pin": PIN, "form_key": key})
    assert answer.status_code == 303, answer.text
    return client


def top_up(client: TestClient, **fields: str) -> tuple[object, dict[str, str]]:
    page = client.get("/app/top-up")
    assert page.status_code == 200, page.text
    sent = {"form_key": form_key(page.text, "/app/top-up"), "pin": PIN} | fields
    return client.post("/app/top-up", data=sent), sent


def pushes(world: MpesaWorld) -> list[str]:
    return [t.party for t in world.sandbox.transactions() if t.kind is Kind.STK]


def test_a_top_up_prompts_the_number_typed_and_the_page_shows_it_paid(
    world: MpesaWorld, client: TestClient
) -> None:
    amina = world.person()
    signed_in(client, amina)
    home = client.get("/app")
    assert 'href="/app/top-up"' in home.text  # the nav's "Top up"
    form = client.get("/app/top-up")
    local = "0" + amina.phone.removeprefix("+254")
    assert f'value="{local}"' in form.text  # the M-Pesa number defaults to their own
    world.sandbox.script(Script(mode=CallbackMode.DELAYED, delay_seconds=1))
    answer, _ = top_up(client, amount="1,500", phone="0711 222 333")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    status_url = answer.headers["location"]  # type: ignore[attr-defined]
    assert status_url.startswith("/app/top-up/dep_")
    pending = client.get(status_url)
    assert 'data-state="pending"' in pending.text and "Check again" in pending.text
    assert "KES 1,500.00" in pending.text and "0711222333" in pending.text
    assert pushes(world) == ["254711222333"]
    wait_for(lambda: 'data-state="paid"' in client.get(status_url).text)
    paid = client.get(status_url)
    assert "The money is in your wallet." in paid.text and "Check again" not in paid.text
    assert balance(world.ctx, amina.id) == 150000
    assert world.reconciled() and world.statement_agrees()


def test_a_cancelled_prompt_shows_failed_and_why(world: MpesaWorld, client: TestClient) -> None:
    amina = world.person()
    signed_in(client, amina)
    world.sandbox.script(Script(result_code=1032))
    answer, _ = top_up(client, amount="200", phone="")
    status_url = answer.headers["location"]  # type: ignore[attr-defined]
    wait_for(lambda: 'data-state="failed"' in client.get(status_url).text)
    assert "The M-Pesa prompt was cancelled. Nothing was paid." in client.get(status_url).text
    assert balance(world.ctx, amina.id) == 0


def test_a_double_submit_prompts_once(world: MpesaWorld, client: TestClient) -> None:
    amina = world.person()
    signed_in(client, amina)
    first, sent = top_up(client, amount="300", phone="")
    again = client.post("/app/top-up", data=sent)
    assert first.headers["location"] == again.headers["location"]  # type: ignore[attr-defined]
    assert len(pushes(world)) == 1


@pytest.mark.parametrize(
    ("fields", "status", "said"),
    [
        ({"amount": "10.50"}, 422, "M-Pesa takes whole shillings"),
        ({"amount": "abc"}, 422, "Type the amount in figures"),
        ({"amount": "100", "phone": "0612"}, 422, "Enter a Kenyan M-Pesa number"),
        ({"amount": "100", "pin": "0000"}, 422, "PIN"),
        ({"amount": "100", "form_key": "forged"}, 403, "This form is out of date"),
    ],
)
def test_refusals_are_said_on_the_form_and_prompt_nothing(
    world: MpesaWorld, client: TestClient, fields: dict[str, str], status: int, said: str
) -> None:
    amina = world.person()
    signed_in(client, amina)
    answer, _ = top_up(client, **fields)
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    assert said in answer.text and 'role="alert"' in answer.text  # type: ignore[attr-defined]
    assert pushes(world) == []


def test_another_persons_top_up_reads_as_none(world: MpesaWorld, client: TestClient) -> None:
    amina, baraka = world.person("Amina"), world.person("Baraka")
    signed_in(client, amina)
    answer, _ = top_up(client, amount="100", phone="")
    status_url = answer.headers["location"]  # type: ignore[attr-defined]
    client.cookies.clear()
    signed_in(client, baraka)
    assert client.get(status_url).status_code == 404
    assert client.get("/app/top-up/dep_nothing").status_code == 404
    client.cookies.clear()
    assert client.get(status_url).status_code == 303  # signed out: to sign in


def test_in_kiswahili(world: MpesaWorld, client: TestClient) -> None:
    amina = world.person()
    users.set_language(world.ctx, amina.id, "sw")
    signed_in(client, amina)
    page = client.get("/app/top-up")
    assert "Weka pesa kwa M-Pesa" in page.text and "Nambari ya M-Pesa" in page.text
    assert ">Weka pesa</a>" in page.text
