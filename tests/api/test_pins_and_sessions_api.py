"""PINs and sessions over HTTP, on both databases: signing in tells no one which numbers are
registered, wrong PINs are limited per client address and per number and say how many tries are
left, a lock times out, and a session ends with sign-out or when its person's PIN changes or
locks."""

from __future__ import annotations

from fastapi.testclient import TestClient
from world import PINS, Api, People

from soko.kernel import limits

WRONG = "0000"


def _sign_in(client: TestClient, phone: str, pin: str) -> tuple[int, dict[str, object]]:
    response = client.post("/v1/sessions", json={"phone": phone, "pin": pin})
    return response.status_code, response.json()


def test_an_unknown_number_and_a_wrong_pin_are_answered_alike(
    any_api: Api, any_people: People
) -> None:
    known = any_api.client.post("/v1/sessions", json={"phone": any_people.amina.phone,
                                                      "pin": WRONG})  # fmt: skip
    unknown = any_api.client.post("/v1/sessions", json={"phone": "+254798765432", "pin": WRONG})
    assert known.status_code == unknown.status_code == 401
    known_body, unknown_body = known.json(), unknown.json()
    assert known_body["code"] == unknown_body["code"] == "credentials_invalid"
    assert known_body == unknown_body
    assert known_body["tries_left"] == limits.PIN_ATTEMPTS_MAX - 1
    assert dict(known.headers).keys() == dict(unknown.headers).keys()


def test_a_wrong_pin_says_how_many_tries_are_left_and_a_lock_when_it_ends(
    any_api: Api, any_people: People
) -> None:
    for left in range(limits.PIN_ATTEMPTS_MAX - 1, 0, -1):
        status, body = _sign_in(any_api.client, any_people.amina.phone, WRONG)
        assert (status, body["code"], body["tries_left"]) == (401, "credentials_invalid", left)
    status, body = _sign_in(any_api.client, any_people.amina.phone, WRONG)
    assert (status, body["code"], body["tries_left"]) == (403, "pin_locked", 0)
    assert body["retry_after"] == 15 * 60
    any_api.clock.advance(15 * 60)
    status, _ = _sign_in(any_api.client, any_people.amina.phone, PINS["amina"])
    assert status == 201


def test_wrong_pins_from_one_address_are_limited(any_api: Api, any_people: People) -> None:
    phones = [any_people.amina.phone, any_people.okello.phone, any_people.shop.phone,
              any_people.agent.phone, "+254798765432"]  # fmt: skip
    for n in range(limits.PIN_TRIES_PER_ADDRESS_MAX):
        status, body = _sign_in(any_api.client, phones[n % len(phones)], WRONG)
        assert status in (401, 403), body
    response = any_api.client.post("/v1/sessions", json={"phone": any_people.amina.phone,
                                                         "pin": PINS["amina"]})  # fmt: skip
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "pin_tries_exceeded"
    assert 0 < int(response.headers["retry-after"]) <= limits.PIN_TRIES_WINDOW_SECONDS
    elsewhere = TestClient(any_api.client.app, client=("198.51.100.20", 40000))
    status, _ = _sign_in(elsewhere, any_people.okello.phone, PINS["okello"])
    assert status == 201


def test_sign_out_ends_the_session(any_api: Api, any_people: People) -> None:
    amina = any_api.sign_in(any_people.amina, PINS["amina"])
    me = f"/v1/users/{any_people.amina.id}"
    assert any_api.client.get(me, headers=amina).status_code == 200
    ended = any_api.client.delete("/v1/sessions/current", headers=amina)
    assert ended.status_code == 204, ended.text
    refused = any_api.client.get(me, headers=amina)
    assert (refused.status_code, refused.json()["code"]) == (401, "session_invalid")
    again = any_api.client.delete("/v1/sessions/current", headers=amina)
    assert again.status_code == 401


def test_a_pin_reset_or_a_lock_ends_the_sessions(any_api: Api, any_people: People) -> None:
    me = f"/v1/users/{any_people.amina.id}"
    amina = any_api.sign_in(any_people.amina, PINS["amina"])
    reset = any_api.client.post(f"{me}/pin", headers=any_api.operator, json={"pin": "8642"})
    assert reset.status_code == 200, reset.text
    assert any_api.client.get(me, headers=amina).status_code == 401
    amina = any_api.sign_in(any_people.amina, "8642")
    for _ in range(limits.PIN_ATTEMPTS_MAX):
        _sign_in(any_api.client, any_people.amina.phone, WRONG)
    assert any_api.client.get(me, headers=amina).status_code == 401
    shown = any_api.client.get(me, headers=any_api.operator).json()
    assert shown["pin_locked"] is True
    assert shown["pin_locked_until"] is not None


def test_a_cash_out_with_a_wrong_pin_says_the_tries_left(any_api: Api, any_people: People) -> None:
    amina = any_api.sign_in(any_people.amina, PINS["amina"])
    response = any_api.client.post(
        "/v1/cash-outs",
        json={"agent_id": any_people.agent.id, "amount": {"amount": "10.00", "currency": "KES"},
              "pin": WRONG},
        headers=any_api.moving(amina),
    )  # fmt: skip
    assert response.status_code == 403
    assert (response.json()["code"], response.json()["tries_left"]) == ("pin_incorrect", 4)
