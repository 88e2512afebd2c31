"""The public pay page of a payment request, over HTTP: shown, paid with phone and PIN, refused
with a short sentence, paid once however often the form is sent."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fakes import FakeClock
from merchants import balance, consumer, kes, key, shop
from soko.bootstrap import Runtime
from soko.channels.api.app import create_app
from soko.channels.web.messages import message_for
from soko.kernel import limits
from soko.kernel.errors import all_error_classes
from soko.payments import requests as payment_requests
from soko.payments.domain import PaymentRequest
from soko.people import service as users
from soko.people.domain import Merchant, User, UserKind


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


@pytest.fixture
def amina(runtime: Runtime) -> User:
    return consumer(runtime.context, funds="100.00")


@pytest.fixture
def kiosk(runtime: Runtime) -> Merchant:
    return shop(runtime.context, name="Mama Njeri's Kiosk")


@pytest.fixture
def invoice(runtime: Runtime, kiosk: Merchant) -> PaymentRequest:
    return payment_requests.create_request(
        runtime.context, merchant_id=kiosk.user_id, amount=kes("25.00"), reference="INV-77",
        description="Sukuma wiki & <b>eggs</b>", expires_in_seconds=3600, idempotency_key=key(),
    )  # fmt: skip


def form_key(page: str) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def test_the_page_shows_what_is_asked_its_qr_code_and_a_form(
    client: TestClient, invoice: PaymentRequest
) -> None:
    response = client.get(f"/pay/{invoice.id}")
    assert response.status_code == 200
    page = response.text
    assert "Mama Njeri&#39;s Kiosk" in page and "KES 25.00" in page and "INV-77" in page
    # The merchant's description is text, never markup.
    assert "&lt;b&gt;eggs&lt;/b&gt;" in page and "<b>eggs</b>" not in page
    assert "<svg" in page and 'name="pin"' in page
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert form_key(page) != form_key(client.get(f"/pay/{invoice.id}").text)


def test_paying_with_phone_and_pin_pays_once_however_often_the_form_is_sent(
    client: TestClient, runtime: Runtime, invoice: PaymentRequest, amina: User, kiosk: Merchant
) -> None:
    sent = {"phone": amina.phone, "pin": "2468", "idempotency_key": form_key(
        client.get(f"/pay/{invoice.id}").text)}  # fmt: skip
    first = client.post(f"/pay/{invoice.id}", data=sent)
    assert first.status_code == 201, first.text
    assert "Paid" in first.text and "KES 25.00" in first.text
    again = client.post(f"/pay/{invoice.id}", data=sent)
    assert again.status_code == 201  # the same form again: the same receipt, no second payment
    assert balance(runtime.context, amina.id) == 7_500
    made = payment_requests.get_request(runtime.context, invoice.id)
    assert made.payment_id is not None and made.payment_id in first.text
    after = client.get(f"/pay/{invoice.id}").text
    assert "has been paid" in after and 'name="pin"' not in after


@pytest.mark.parametrize(
    ("phone", "pin", "says"),
    [
        (None, "1111", "The phone number or PIN is wrong. 4 tries left."),
        # An unknown number reads as a wrong PIN: the page tells no one who has an account.
        ("+254700000001", "2468", "The phone number or PIN is wrong. 4 tries left."),
        ("not a phone", "2468", "does not look right"),
        (None, "12", "A PIN is 4 to 6 digits"),
    ],
)
def test_refusals_are_a_sentence_on_the_form_and_move_nothing(
    client: TestClient,
    *,
    runtime: Runtime,
    invoice: PaymentRequest,
    amina: User,
    phone: str | None,
    pin: str,
    says: str,
) -> None:
    response = client.post(
        f"/pay/{invoice.id}",
        data={"phone": phone or amina.phone, "pin": pin, "idempotency_key": "k1"},
    )
    assert response.status_code in (401, 422)
    assert says in response.text and 'role="alert"' in response.text
    assert balance(runtime.context, amina.id) == 10_000


def test_wrong_pins_on_the_pay_page_are_limited_per_address(
    client: TestClient, runtime: Runtime, invoice: PaymentRequest, amina: User
) -> None:
    for n in range(limits.PIN_TRIES_PER_ADDRESS_MAX):
        client.post(f"/pay/{invoice.id}", data={
            "phone": f"+2547980000{n:02d}", "pin": "1111", "idempotency_key": f"k{n}"})  # fmt: skip
    response = client.post(
        f"/pay/{invoice.id}", data={"phone": amina.phone, "pin": "2468", "idempotency_key": "k"}
    )
    assert response.status_code == 429
    assert "Too many wrong PINs" in response.text
    assert balance(runtime.context, amina.id) == 10_000


def test_an_expired_or_unknown_request_cannot_be_paid(
    client: TestClient, clock: FakeClock, invoice: PaymentRequest, amina: User
) -> None:
    assert client.get("/pay/prq_01JH0000000000000000000000").status_code == 404
    clock.advance(3600)
    page = client.get(f"/pay/{invoice.id}").text
    assert "expired" in page and 'name="pin"' not in page
    response = client.post(
        f"/pay/{invoice.id}",
        data={"phone": amina.phone, "pin": "2468", "idempotency_key": "k2"},
    )
    assert response.status_code == 409 and "has expired" in response.text


def test_every_error_has_a_short_sentence_for_the_web() -> None:
    for error in all_error_classes():
        text = message_for(error())
        assert 0 < len(text) <= 120 and text.endswith("."), (error, text)


def test_a_payer_with_no_wallet_in_the_currency_is_told_so(
    client: TestClient, runtime: Runtime, invoice: PaymentRequest
) -> None:
    okello = users.register(runtime.context, kind=UserKind.CONSUMER, phone="+256772000123",
                            name="Okello", pin="2468")  # fmt: skip
    response = client.post(
        f"/pay/{invoice.id}",
        data={"phone": okello.phone, "pin": "2468", "idempotency_key": form_key(
            client.get(f"/pay/{invoice.id}").text)},
    )  # fmt: skip
    assert response.status_code == 422
    assert "You have no KES wallet." in response.text and "Not enough money" not in response.text
    assert payment_requests.get_request(runtime.context, invoice.id).payment_id is None


def test_the_not_found_page_is_readable_on_a_phone(client: TestClient) -> None:
    response = client.get("/pay/prq_01JH0000000000000000000000")
    assert response.status_code == 404
    page = response.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<html lang="en">' in page and "There is no such payment request." in page


def test_the_page_speaks_the_language_its_link_asks_for_and_keeps_it(
    client: TestClient, invoice: PaymentRequest, amina: User
) -> None:
    asked = client.get(f"/pay/{invoice.id}?lang=sw")
    page = asked.text
    assert asked.status_code == 200 and '<html lang="sw">' in page
    assert "Lipa kabla ya" in page and "Nambari ya simu" in page and "Pay before" not in page
    # The month in Kiswahili, the amount as Kiswahili readers group it.
    assert re.search(r"Lipa kabla ya \d\d (Jan|Feb|Mac|Apr|Mei|Jun|Jul|Ago|Sep|Okt|Nov|Des) ", page)
    assert "KES 25.00" in page
    # The switch keeps the rest of the address and marks the page's own language.
    assert f'href="/pay/{invoice.id}?lang=en" lang="en"' in page
    assert 'hreflang="sw" aria-current="true"' in page
    # Kept in the language cookie, and in the form's address: the next page (the refusal, the
    # receipt) speaks it too, even where cookies are refused.
    assert asked.cookies.get("soko_language") == "sw"
    assert f'action="/pay/{invoice.id}?lang=sw"' in page
    refused = client.post(
        f"/pay/{invoice.id}", data={"phone": amina.phone, "pin": "0000",
                                    "idempotency_key": form_key(page)},
    )  # fmt: skip
    assert refused.status_code in (401, 403) and '<html lang="sw">' in refused.text
    assert "PIN" in refused.text and "Wrong PIN" not in refused.text


def test_the_browsers_language_serves_when_the_link_asks_for_none(
    client: TestClient, invoice: PaymentRequest
) -> None:
    page = client.get(f"/pay/{invoice.id}", headers={"Accept-Language": "sw-KE,sw;q=0.9"}).text
    assert '<html lang="sw">' in page and "Lipa kabla ya" in page
    english = client.get(f"/pay/{invoice.id}?lang=en", headers={"Accept-Language": "sw"}).text
    assert '<html lang="en">' in english and "Pay before" in english
    odd = client.get(f"/pay/{invoice.id}?lang=xx", headers={"Accept-Language": "en"})
    assert odd.status_code == 200 and '<html lang="en">' in odd.text


def test_the_not_found_page_speaks_the_asked_language(client: TestClient) -> None:
    response = client.get("/pay/prq_01JH0000000000000000000000?lang=sw")
    assert response.status_code == 404
    assert '<html lang="sw">' in response.text
    assert "Hakuna ombi la malipo kama hili." in response.text
