"""Bad input gets a problem+json with its own code, and the ledger does not change.

Each row is one mistake a client can make in a money-moving request; after each, the count of
transfers in the ledger is what it was before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from world import PINS, Api, People, bearer

from soko.bootstrap import Runtime
from soko.channels.api.app import create_app
from soko.kernel import limits

SHOP_PHONE = "+254722123456"


def amount(value: object, currency: object = "KES") -> dict[str, object]:
    return {"amount": value, "currency": currency}


@dataclass(frozen=True)
class Case:
    id: str
    status: int
    code: str
    #: The transfer body's fields over a valid one; None removes a field.
    body: dict[str, Any] = field(default_factory=dict)
    #: Raw bytes instead of a JSON body.
    content: bytes | Iterator[bytes] | None = None
    #: Headers over the session token and a fresh Idempotency-Key; None removes one.
    headers: dict[str, str | bytes | None] = field(default_factory=dict)


def _chunks() -> Iterator[bytes]:
    # A generator body goes out chunked, without a Content-Length to refuse it by.
    for _ in range(limits.REQUEST_BODY_BYTES_MAX // 1024 + 1):
        yield b" " * 1024


JSON = {"Content-Type": "application/json"}
CASES = [
    Case("phone malformed", 422, "phone_number_invalid", {"to_phone": "07x2 123"}),
    Case("phone local without region", 422, "phone_number_invalid", {"to_phone": "0722123456"}),
    Case("phone too short", 422, "phone_number_invalid", {"to_phone": "+2547"}),
    Case("currency unknown", 422, "currency_unknown", {"amount": amount("10.00", "XYZ")}),
    Case("currency lower case", 422, "currency_unknown", {"amount": amount("10.00", "kes")}),
    Case("currency a number", 422, "currency_unknown", {"amount": amount("10.00", 404)}),
    Case("amount a JSON float", 422, "amount_not_a_string", {"amount": amount(1500.5)}),
    Case("amount a JSON integer", 422, "amount_not_a_string", {"amount": amount(1500)}),
    Case("amount null", 422, "amount_not_a_string", {"amount": amount(None)}),
    Case("amount 3 decimals KES", 422, "amount_too_precise", {"amount": amount("10.005")}),
    Case("amount 1 decimal UGX", 422, "amount_too_precise", {"amount": amount("10.5", "UGX")}),
    Case("amount 5 decimals", 422, "amount_too_precise", {"amount": amount("1.00001")}),
    Case("amount separators", 422, "amount_malformed", {"amount": amount("1,000.00")}),
    Case("amount negative", 422, "amount_must_be_positive", {"amount": amount("-5.00")}),
    Case("amount exponent", 422, "amount_malformed", {"amount": amount("1e3")}),
    Case("amount 20 digits", 422, "amount_malformed", {"amount": amount("1" * 20)}),
    Case("amount over 64 bits", 422, "amount_overflows", {"amount": amount("9" * 19)}),
    Case("amount zero", 422, "amount_must_be_positive", {"amount": amount("0.00")}),
    Case("amount missing", 422, "request_invalid", {"amount": None}),
    Case("amount not an object", 422, "request_invalid", {"amount": "10.00"}),
    Case("unknown field", 422, "request_invalid", {"to_phon": SHOP_PHONE}),
    Case("message too long", 422, "message_too_long", {"message": "x" * 141}),
    Case("no recipient", 422, "recipient_required", {"to_phone": None}),
    Case("key missing", 400, "idempotency_key_invalid", headers={"Idempotency-Key": None}),
    Case("key empty", 400, "idempotency_key_invalid", headers={"Idempotency-Key": ""}),
    Case("key too long", 400, "idempotency_key_invalid", headers={"Idempotency-Key": "k" * 256}),
    Case(
        "key not ASCII",
        400,
        "idempotency_key_invalid",
        headers={"Idempotency-Key": "clé".encode("latin-1")},
    ),
    Case("body not JSON", 400, "request_malformed", content=b'{"to_phone":', headers=JSON),
    Case("body not UTF-8", 400, "request_malformed", content=b'{"m": "\xff"}', headers=JSON),
    Case("body not typed JSON", 400, "request_malformed", content=b"{}"),
    Case("body a list", 422, "request_invalid", content=b"[]", headers=JSON),
    Case("body too large", 413, "request_too_large", content=b" " * 70_000, headers=JSON),
    Case("body too large, chunked", 413, "request_too_large", content=_chunks(), headers=JSON),
    Case("no credential", 401, "api_key_invalid", headers={"Authorization": None}),
    Case("forged token", 401, "session_invalid", headers={"Authorization": "Bearer soko_st_x"}),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_with_its_own_code(api: Api, people: People, case: Case) -> None:
    body: dict[str, Any] = {"to_phone": SHOP_PHONE, "amount": amount("10.00")} | case.body
    body = {key: value for key, value in body.items() if value is not None}
    headers: dict[str, str | bytes | None] = {
        **api.moving(api.sign_in(people.amina, PINS["amina"]))
    }
    headers |= case.headers
    sent = {key: value for key, value in headers.items() if value is not None}
    before = api.transfers()
    if case.content is None:
        response = api.client.post("/v1/transfers", headers=sent, json=body)
    else:
        response = api.client.post("/v1/transfers", headers=sent, content=case.content)
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == case.code
    assert problem["status"] == case.status
    assert problem["type"] == f"https://soko.dev/problems/{case.code}"
    assert problem["title"] and problem["detail"]
    assert api.transfers() == before


def test_a_validation_problem_lists_each_field(api: Api, people: People) -> None:
    response = api.client.post(
        "/v1/transfers",
        headers=api.moving(api.operator),
        json={"sender_id": people.amina.id, "to_phone": 254722123456, "amount": {}, "x": 1},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "request_invalid"
    fields = {(e["location"], e["field"], e["type"]) for e in problem["errors"]}
    assert fields == {
        ("body", "to_phone", "string_type"),
        ("body", "amount.amount", "missing"),
        ("body", "amount.currency", "missing"),
        ("body", "x", "extra_forbidden"),
    }


@pytest.mark.parametrize(
    ("value", "kind"), [(1500.5, "number"), (True, "boolean"), (None, "null"), (["1"], "array")]
)
def test_an_amount_that_is_not_a_string_says_what_it_was(
    api: Api, people: People, value: object, kind: str
) -> None:
    response = api.client.post(
        "/v1/transfers",
        headers=api.moving(api.sign_in(people.amina, PINS["amina"])),
        json={"to_phone": SHOP_PHONE, "amount": amount(value)},
    )
    problem = response.json()
    assert problem["code"] == "amount_not_a_string"
    assert problem["detail"].endswith(f"not a JSON {kind}")
    assert problem["errors"] == [
        {
            "location": "body",
            "field": "amount.amount",
            "message": problem["detail"],
            "type": "amount_not_a_string",
        }
    ]


def test_an_amount_problem_says_what_the_currency_allows(api: Api, people: People) -> None:
    response = api.client.post(
        "/v1/transfers",
        headers=api.moving(api.sign_in(people.amina, PINS["amina"])),
        json={"to_phone": SHOP_PHONE, "amount": amount("10.005")},
    )
    problem = response.json()
    assert problem["code"] == "amount_too_precise"
    assert problem["currency"] == "KES"
    assert problem["exponent"] == 2


def test_a_key_reused_with_another_body_is_refused(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    headers = api.moving(amina, "the-same-key")
    first = api.client.post(
        "/v1/transfers", headers=headers, json={"to_phone": SHOP_PHONE, "amount": amount("10.00")}
    )
    assert first.status_code == 201
    before = api.transfers()
    other = api.client.post(
        "/v1/transfers", headers=headers, json={"to_phone": SHOP_PHONE, "amount": amount("20.00")}
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert api.transfers() == before
    assert api.balance(people.amina) == "4990.00"


def _cash_out(api: Api, people: People, auth: dict[str, str], pin: str) -> Any:
    body = {"agent_id": people.agent.id, "amount": amount("100.00"), "pin": pin}
    return api.client.post("/v1/cash-outs", headers=api.moving(auth), json=body)


def test_a_wrong_pin_counts_down_then_locks(api: Api, people: People) -> None:
    # Signed in once: a right PIN, at sign-in too, starts the count again.
    amina = api.sign_in(people.amina, PINS["amina"])
    before = api.transfers()
    for tries_left in (4, 3, 2, 1):
        response = _cash_out(api, people, amina, "0000")
        assert response.status_code == 403
        problem = response.json()
        assert problem["code"] == "pin_incorrect"
        assert problem["tries_left"] == tries_left
        assert "0000" not in response.text
    locked = _cash_out(api, people, amina, "0000")
    assert locked.status_code == 403
    assert locked.json()["code"] == "pin_locked"
    # The lock ended the session: the session token that tried the PINs no longer works.
    assert _cash_out(api, people, amina, PINS["amina"]).json()["code"] == "session_invalid"
    assert api.transfers() == before
    signing_in = api.client.post(
        "/v1/sessions", json={"phone": people.amina.phone, "pin": PINS["amina"]}
    )
    assert signing_in.status_code == 403
    assert signing_in.json()["code"] == "pin_locked"
    assert signing_in.headers["retry-after"] == str(15 * 60)


def test_a_request_without_a_key_costs_no_pin_try(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    response = api.client.post(
        "/v1/cash-outs",
        headers=amina,
        json={"agent_id": people.agent.id, "amount": amount("100.00"), "pin": "0000"},
    )
    assert response.json()["code"] == "idempotency_key_invalid"
    assert _cash_out(api, people, amina, "0000").json()["tries_left"] == 4


@pytest.mark.parametrize(
    ("pin", "status", "code"),
    [
        ("0000", 401, "credentials_invalid"),
        ("12", 422, "pin_malformed"),
        (1234, 422, "request_invalid"),
    ],
)
def test_signing_in_with_a_bad_pin(
    api: Api, people: People, pin: object, status: int, code: str
) -> None:
    response = api.client.post("/v1/sessions", json={"phone": people.amina.phone, "pin": pin})
    assert response.status_code == status
    assert response.json()["code"] == code
    assert str(pin) not in response.text


def test_an_expired_token_is_refused(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    api.clock.advance(limits.SESSION_SECONDS_MAX + 1)
    before = api.transfers()
    response = api.client.post(
        "/v1/transfers",
        headers=api.moving(amina),
        json={"to_phone": SHOP_PHONE, "amount": amount("10.00")},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "session_invalid"
    assert api.transfers() == before


def test_a_revoked_key_moves_nothing(api: Api, people: People) -> None:
    created = api.client.post(
        "/v1/keys", headers=api.operator, json={"role": "operator", "name": "leaked"}
    ).json()
    api.client.delete(f"/v1/keys/{created['id']}", headers=api.operator)
    before = api.transfers()
    response = api.client.post(
        "/v1/float-top-ups",
        headers=api.moving(bearer(created["secret"])),
        json={"agent_id": people.agent.id, "amount": amount("10.00")},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_invalid"
    assert api.transfers() == before


def test_unknown_routes_and_methods_are_problems_too(api: Api) -> None:
    missing = api.client.get("/v1/nothing-here", headers=api.operator)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "not_found"
    wrong = api.client.put("/v1/transfers", headers=api.operator)
    assert wrong.status_code == 405
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "POST"
    # GET and POST on one path are two routes; Allow names both.
    both = api.client.delete("/v1/users/usr_x/wallets", headers=api.operator)
    assert both.status_code == 405
    assert both.headers["allow"] == "GET, POST"


def test_an_unexpected_failure_is_a_problem_that_tells_nothing(runtime: Runtime) -> None:
    app = create_app(runtime)

    @app.get("/test/crash", include_in_schema=False)
    def crash() -> None:
        raise RuntimeError("acc_0123 belongs to +254712345678")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/test/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "internal_error"
    assert "acc_0123" not in response.text and "254712345678" not in response.text
