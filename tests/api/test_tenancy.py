"""Scoping: a merchant key sees only its merchant, a session only its user; the rest is hidden.

Hidden means the same 404 as for an id that does not exist, with nothing in the body that the
caller did not send itself.
"""

from __future__ import annotations

from typing import Any

import pytest
from world import PINS, Api, People

from soko.people.domain import User


def _reads(user: User, wallet_id: str, payment_id: str) -> list[tuple[str, str, Any]]:
    """Every way to read or change a user's things without moving money: (method, path, json)."""
    return [
        ("GET", f"/v1/users/{user.id}", None),
        ("GET", f"/v1/users/{user.id}/wallets", None),
        ("POST", f"/v1/users/{user.id}/wallets", {"currency": "UGX"}),
        ("GET", f"/v1/wallets/{wallet_id}", None),
        ("GET", f"/v1/wallets/{wallet_id}/statement", None),
        ("GET", f"/v1/wallets/{wallet_id}/statement.csv", None),
        ("GET", f"/v1/payments/{payment_id}", None),
    ]


def _unknown(path: str, user: User, wallet_id: str, payment_id: str) -> str:
    return (
        path.replace(user.id, "usr_00000000000000000000000000")
        .replace(wallet_id, "wal_00000000000000000000000000")
        .replace(payment_id, "pay_00000000000000000000000000")
    )


#: Problem members that echo the id the caller sent.
ECHOED = ("user_id", "wallet_id", "payment_id")


def _secrets_of(api: Api, user: User) -> list[str]:
    """What another tenant must never learn from a refusal."""
    wallets = api.client.get(f"/v1/users/{user.id}/wallets", headers=api.operator).json()
    return [user.phone, user.phone[1:], user.name] + [
        wallet["balance"]["amount"] for wallet in wallets["items"]
    ]


def _without_echoes(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in {"instance", *ECHOED}}


def assert_hidden(api: Api, auth: dict[str, str], victim: User, payment_id: str) -> None:
    wallet_id = api.wallet_id(victim)
    secrets = _secrets_of(api, victim)
    for method, path, body in _reads(victim, wallet_id, payment_id):
        foreign = api.client.request(method, path, headers=auth, json=body)
        missing = api.client.request(
            method, _unknown(path, victim, wallet_id, payment_id), headers=auth, json=body
        )
        assert foreign.status_code == missing.status_code == 404, (path, foreign.text)
        assert foreign.headers["content-type"] == "application/problem+json"
        # The same refusal as for an id never issued; only the caller's own input is echoed.
        assert _without_echoes(foreign.json()) == _without_echoes(missing.json())
        assert foreign.json()["instance"] == path
        for key in ECHOED:
            assert foreign.json().get(key) in (None, victim.id, wallet_id, payment_id)
        for secret in secrets:
            assert secret not in foreign.text, (path, secret)
    # Nothing was opened on the victim's behalf.
    after = api.client.get(f"/v1/users/{victim.id}/wallets", headers=api.operator).json()
    assert {w["currency"] for w in after["items"]} == {"KES"}


@pytest.fixture
def shop_payment(api: Api, people: People) -> str:
    """Amina pays the shop: a payment between the two, seen by neither outsider."""
    response = api.client.post(
        "/v1/transfers",
        headers=api.moving(api.sign_in(people.amina, PINS["amina"])),
        json={"to_phone": people.shop.phone, "amount": {"amount": "700.00", "currency": "KES"}},
    )
    assert response.status_code == 201
    payment_id: str = response.json()["id"]
    return payment_id


def test_a_merchant_key_cannot_see_another_merchant(
    api: Api, people: People, shop_payment: str
) -> None:
    other_key = api.merchant_key(people.other_shop)
    assert_hidden(api, other_key, people.shop, shop_payment)


def test_a_merchant_key_cannot_see_a_customer(api: Api, people: People, shop_payment: str) -> None:
    assert_hidden(api, api.merchant_key(people.other_shop), people.amina, shop_payment)


def test_a_user_cannot_see_another_user(api: Api, people: People, shop_payment: str) -> None:
    okello = api.sign_in(people.okello, PINS["okello"])
    assert_hidden(api, okello, people.amina, shop_payment)


def test_a_user_cannot_see_its_merchant(api: Api, people: People, shop_payment: str) -> None:
    # Amina paid the shop: she sees the payment, not the shop's wallets.
    amina = api.sign_in(people.amina, PINS["amina"])
    assert api.client.get(f"/v1/payments/{shop_payment}", headers=amina).status_code == 200
    wallet = api.client.get(f"/v1/wallets/{api.wallet_id(people.shop)}", headers=amina)
    assert wallet.status_code == 404


def test_the_owner_and_the_operator_see_what_others_cannot(
    api: Api, people: People, shop_payment: str
) -> None:
    own = api.merchant_key(people.shop)
    wallet_id = api.wallet_id(people.shop)
    for method, path, body in _reads(people.shop, wallet_id, shop_payment):
        for auth in (own, api.operator):
            response = api.client.request(method, path, headers=auth, json=body)
            assert response.status_code == 200, (path, response.text)


@pytest.mark.parametrize("credential", ["merchant key", "session"])
def test_no_one_moves_money_out_of_anothers_wallet(
    api: Api, people: People, credential: str
) -> None:
    auth = (
        api.merchant_key(people.other_shop)
        if credential == "merchant key"
        else api.sign_in(people.okello, PINS["okello"])
    )
    before = api.transfers()
    attempts = [
        ("/v1/transfers", {"sender_id": people.amina.id, "to_phone": people.okello.phone}),
        (
            "/v1/cash-outs",
            {"customer_id": people.amina.id, "agent_id": people.agent.id, "pin": PINS["amina"]},
        ),
        ("/v1/cash-ins", {"agent_id": people.agent.id, "customer_phone": people.okello.phone}),
    ]
    for path, body in attempts:
        response = api.client.post(
            path,
            headers=api.moving(auth),
            json=body | {"amount": {"amount": "10.00", "currency": "KES"}},
        )
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "user_not_found"
        assert people.amina.phone not in response.text
    assert api.transfers() == before
    assert api.balance(people.amina) == "5000.00"
