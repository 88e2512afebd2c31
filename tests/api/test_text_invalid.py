"""Text that is not text (a lone surrogate, a NUL) is refused at the edge as `text_invalid`, in
every string field, path parameter, query parameter and header, on both databases, and nothing
changes. What real names hold (a zero-width joiner inside Arabic or Indic script, emoji with
skin tones) is text, and is accepted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from world import PINS, Api, People, bearer

from soko.db.metadata import metadata
from soko.payments import service as payments

BAD = {"surrogate": "\ud800", "nul": "\x00"}
KES = {"amount": "10.00", "currency": "KES"}


def dump(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: a refusal must leave them all as they were."""

    engine = api.client.app.state.runtime.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(row) for row in connection.execute(sa.select(table))), key=repr
            )
            for table in metadata.sorted_tables
        }


def string_leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from string_leaves(item, (*path, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_leaves(item, (*path, index))


def spoiled(body: Any, path: tuple[Any, ...], bad: str) -> Any:
    """The body with `bad` inside the string at `path`."""
    if not path:
        assert isinstance(body, str)
        return body[:1] + bad + body[1:]
    head, *rest = path
    if isinstance(body, dict):
        return {**body, head: spoiled(body[head], tuple(rest), bad)}
    copied = list(body)
    copied[head] = spoiled(body[head], tuple(rest), bad)
    return copied


def operations(api: Api, people: People) -> dict[str, tuple[str, dict[str, Any], dict[str, str]]]:
    """The eleven operations that answered 500 to a lone surrogate, with bodies they accept."""
    amina = api.sign_in(people.amina, PINS["amina"])
    shop = api.merchant_key(people.shop)
    paid = payments.pay_merchant(
        api.ctx, payer_id=people.amina.id, till_number=_till(api, people),
        amount=_money("50.00"), idempotency_key="paid",
    )  # fmt: skip
    ship_by = (api.clock.now() + timedelta(days=2)).isoformat()
    return {
        "transfer": ("/v1/transfers", {"to_phone": people.okello.phone, "amount": KES,
                                       "message": "for the sukuma"}, amina),
        "merchant payment": ("/v1/merchant-payments", {"till_number": _till(api, people),
                                                       "amount": KES}, amina),
        "refund": (f"/v1/payments/{paid.id}/refunds", {"amount": KES, "reason": "bruised"},
                   shop),
        "payment request": ("/v1/payment-requests", {"amount": KES, "reference": "INV-1",
                                                     "description": "Maize flour"}, shop),
        "escrow order": ("/v1/escrow-orders", {
            "buyer_phone": people.amina.phone, "amount": KES, "ship_by": ship_by,
            "items": [{"name": "Kitenge fabric", "quantity": 1}], "description": "Kisumu"}, shop),
        "cash-in": ("/v1/cash-ins", {"agent_id": people.agent.id,
                                     "customer_phone": people.amina.phone, "amount": KES},
                    api.operator),
        "cash-out": ("/v1/cash-outs", {"agent_id": people.agent.id, "customer_id": people.amina.id,
                                       "amount": KES, "pin": PINS["amina"]}, api.operator),
        "float top-up": ("/v1/float-top-ups", {"agent_id": people.agent.id, "amount": KES},
                         api.operator),
        "kyc": (f"/v1/users/{people.amina.id}/kyc", {"tier": 1, "national_id": "12345678"},
                api.operator),
        "register": ("/v1/users", {"kind": "consumer", "phone": "+254700111222",
                                   "name": "Kevin Otieno", "pin": "8642"}, api.operator),
        "sign-in": ("/v1/sessions", {"phone": people.amina.phone, "pin": PINS["amina"]}, {}),
    }  # fmt: skip


def _till(api: Api, people: People) -> str:
    return str(api.client.get(f"/v1/users/{people.shop.id}", headers=api.operator).json()
               ["merchant"]["till_number"])  # fmt: skip


def _money(text: str) -> Any:
    from soko.kernel.money import Money

    return Money.parse(text, "KES")


@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
def test_every_string_field_of_every_operation_refuses_text_that_is_not_text(
    any_api: Api, any_people: People, bad: str
) -> None:
    api = any_api
    for name, (path, body, auth) in operations(api, any_people).items():
        method = "PUT" if path.endswith("/kyc") else "POST"
        before = dump(api)
        for leaf in string_leaves(body):
            # Escaped as JSON allows ("\\ud800"): a lone surrogate has no UTF-8 bytes.
            response = api.client.request(
                method, path, content=json.dumps(spoiled(body, leaf, bad)),
                headers=api.moving(auth) | {"Content-Type": "application/json"},
            )  # fmt: skip
            assert response.status_code == 422, (name, leaf, response.text)
            problem = response.json()
            assert problem["code"] == "text_invalid", (name, leaf, problem)
            assert problem["errors"][0]["field"] == ".".join(map(str, leaf)), problem
            assert dump(api) == before, (name, leaf)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/users/usr_%00x",
        "/v1/payments/pay_%00/refunds",
        "/v1/payment-requests?cursor=a%00b",
        "/v1/escrow-orders?user_id=%00",
        "/v1/webhook-endpoints?owner_id=usr_%00",
        "/v1/merchants/usr_x/qr?reference=INV%00",
        "/pay/req_%00",
        "/app/orders/esc_%00",
        "/v1/users%00",
    ],
)
def test_a_nul_in_a_path_or_query_is_refused(any_api: Api, any_people: People, path: str) -> None:
    before = dump(any_api)
    response = any_api.client.get(path, headers=any_api.operator)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "text_invalid"
    assert dump(any_api) == before


def test_a_nul_in_a_header_is_refused(any_api: Api, any_people: People) -> None:
    amina = any_api.sign_in(any_people.amina, PINS["amina"])
    before = dump(any_api)
    response = any_api.client.post(
        "/v1/transfers",
        json={"to_phone": any_people.okello.phone, "amount": KES},
        headers={**amina, "Idempotency-Key": "key\x00one"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "text_invalid"
    assert dump(any_api) == before


REAL_NAMES = [
    # Malayalam and Hindi with a zero-width joiner after the virama (chillu, half forms).
    "\u0d05\u0d28\u0d4d\u200d\u0d35\u0d30\u0d4d",
    "\u0915\u094d\u200d\u0937\u093f\u0924\u093f\u091c",
    # Persian with a zero-width non-joiner, Arabic with a joiner.
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
    "\u0639\u0628\u062f\u200d\u0627\u0644\u0644\u0647",
    # Emoji with skin tones, and a joined sequence.
    "Amina \U0001f44b\U0001f3fd",
    "Wanjiru \U0001f469\U0001f3ff\u200d\U0001f33e",
]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_real_names_are_text(any_api: Api, name: str) -> None:
    response = any_api.client.post(
        "/v1/users",
        headers=any_api.operator,
        json={"kind": "consumer", "phone": "+254700111333", "name": name},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == name
    seen = any_api.client.get(f"/v1/users/{response.json()['id']}", headers=any_api.operator)
    assert seen.json()["name"] == name


# --- the web's and USSD's forms -----------------------------------------------------------------


def test_a_nul_in_a_web_form_is_refused_on_the_form(any_api: Api, any_people: People) -> None:
    client = any_api.client
    page = client.get("/app/sign-in")
    before = dump(any_api)
    client.cookies.set("soko_sign_in", "x", path="/app")
    response = client.post(
        "/app/sign-in",
        data={"phone": any_people.amina.phone + "\x00", "pin": PINS["amina"], "form_key": "x"},
    )
    assert page.status_code == 200
    assert response.status_code == 422, response.text
    assert "text/html" in response.headers["content-type"]
    assert "cannot be read" in response.text
    assert dump(any_api) == before


def test_a_nul_in_a_ussd_request_ends_the_session(any_api: Api, any_people: People) -> None:
    del any_people
    api = any_api
    token = "a-test-token-long-enough"
    from dataclasses import replace

    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from soko.channels.api.app import create_app

    runtime = api.client.app.state.runtime  # type: ignore[attr-defined]
    settings = runtime.settings.model_copy(update={"ussd_token": SecretStr(token)})
    before = dump(api)
    with TestClient(create_app(replace(runtime, settings=settings))) as client:
        response = client.post(
            "/ussd",
            headers=bearer(token),
            data={"sessionId": "ATUid_1", "serviceCode": "*483#",
                  "phoneNumber": "+254712345678", "text": "1*12\x0034"},
        )  # fmt: skip
    assert response.status_code == 200
    assert response.text.startswith("END ") and "could not read" in response.text
    assert dump(api) == before
