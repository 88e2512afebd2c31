"""Refusals a person can read: amounts in major units with their currency, a minus sign told to
go, a local number told to name its country, and a key told what it reaches (leaking nothing)."""

from __future__ import annotations

from typing import Any

from world import PINS, Api, People

from soko.kernel.money import Money


def send(api: Api, auth: dict[str, str], to_phone: str, amount: str) -> dict[str, Any]:
    response = api.client.post(
        "/v1/transfers",
        json={"to_phone": to_phone, "amount": {"amount": amount, "currency": "KES"}},
        headers=api.moving(auth),
    )
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    return body


def test_money_is_shown_grouped_with_its_currency() -> None:
    assert Money.parse("10000.00", "KES").to_display_string() == "KES 10,000.00"
    assert Money.parse("5000000", "UGX").to_display_string() == "UGX 5,000,000"
    assert Money.parse("-1234.5", "KES").to_display_string() == "KES -1,234.50"
    assert Money.parse("0.05", "KES").to_display_string() == "KES 0.05"


def test_a_limit_is_told_in_major_units_with_its_currency(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    refused = send(api, amina, people.shop.phone, "10000.01")
    assert refused["code"] == "exceeds_transaction_limit"
    assert refused["detail"] == "at most KES 10,000.00 per transaction"
    # The machine-readable facts stay in minor units.
    assert (refused["allowed"], refused["currency"]) == (1_000_000, "KES")


def test_more_than_the_balance_is_told_in_major_units(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    refused = send(api, amina, people.shop.phone, "6000.00")
    assert refused["code"] == "exceeds_credits"
    assert "KES 6,000.00 requested" in refused["detail"], refused
    assert "KES 5,000.00 available" in refused["detail"], refused


def test_a_negative_amount_is_told_to_be_positive(api: Api, people: People) -> None:
    refused = send(api, api.sign_in(people.amina, PINS["amina"]), people.shop.phone, "-5.00")
    assert refused["code"] == "amount_must_be_positive"
    assert "positive" in refused["detail"]


def test_a_local_number_without_its_country_is_told_so_in_sokos_words(
    api: Api, people: People
) -> None:
    refused = send(api, api.sign_in(people.amina, PINS["amina"]), "0722 123 456", "5.00")
    assert refused["code"] == "phone_number_invalid"
    assert "local number without its country" in refused["detail"]
    assert "default_region" in refused["detail"]
    assert "Missing or invalid default region" not in refused["detail"]


def test_a_merchant_key_is_told_what_it_reaches_and_learns_nothing(
    api: Api, people: People
) -> None:
    shop = api.merchant_key(people.shop)
    theirs = api.client.get(f"/v1/users/{people.amina.id}", headers=shop)
    unknown_id = "usr_01KDWCJ2M0000000000000000"
    unknown = api.client.get(f"/v1/users/{unknown_id}", headers=shop)
    assert theirs.status_code == unknown.status_code == 404
    told = theirs.json()
    assert told["code"] == "user_not_found"
    assert "merchant key" in told["detail"] and people.shop.id in told["detail"]
    assert "No such user" not in told["detail"]

    # The tenancy rule stays: a real consumer and an unknown id get the same answer.
    def without_ids(body: dict[str, Any], user_id: str) -> str:
        return str(body).replace(user_id, "ID")

    assert without_ids(told, people.amina.id) == without_ids(unknown.json(), unknown_id)
    wallets = api.client.get(f"/v1/users/{people.amina.id}/wallets", headers=shop)
    assert wallets.status_code == 404 and "merchant key" in wallets.json()["detail"]
