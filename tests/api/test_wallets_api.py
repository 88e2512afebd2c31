"""Wallets over the API: listing and opening them, balances, statements in pages and as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from world import PINS, Api, People

from soko.kernel import limits
from soko.people.domain import User


def pay_the_shop(api: Api, people: People, *amounts: str) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    for amount in amounts:
        response = api.client.post(
            "/v1/transfers",
            headers=api.moving(amina),
            json={"to_phone": people.shop.phone, "amount": {"amount": amount, "currency": "KES"}},
        )
        assert response.status_code == 201, response.text


def test_a_user_lists_its_wallets(api: Api, people: People) -> None:
    response = api.client.get(
        f"/v1/users/{people.amina.id}/wallets", headers=api.sign_in(people.amina, PINS["amina"])
    )
    assert response.status_code == 200
    page = response.json()
    assert page["next_cursor"] is None
    [wallet] = page["items"]
    assert wallet["id"].startswith("wal_")
    assert wallet["user_id"] == people.amina.id
    assert wallet["currency"] == "KES"
    assert wallet["balance"] == {"amount": "5000.00", "currency": "KES"}
    assert wallet["available"] == wallet["balance"]


def test_a_wallet_shows_its_balance_and_what_is_available(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    # Money to a number with no user is held: still in the balance, no longer available.
    response = api.client.post(
        "/v1/transfers",
        headers=api.moving(amina),
        json={"to_phone": "+254700111222", "amount": {"amount": "1000.00", "currency": "KES"}},
    )
    assert response.status_code == 201
    wallet = api.client.get(f"/v1/wallets/{api.wallet_id(people.amina)}", headers=amina).json()
    assert wallet["balance"]["amount"] == "5000.00"
    assert wallet["available"]["amount"] == "3987.00"


def test_opening_a_wallet_twice_returns_the_same_wallet(api: Api, people: People) -> None:
    path = f"/v1/users/{people.amina.id}/wallets"
    amina = api.sign_in(people.amina, PINS["amina"])
    first = api.client.post(path, headers=amina, json={"currency": "UGX"})
    again = api.client.post(path, headers=amina, json={"currency": "UGX"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["balance"] == {"amount": "0", "currency": "UGX"}
    listed = api.client.get(path, headers=amina).json()["items"]
    assert {w["currency"] for w in listed} == {"KES", "UGX"}


def test_a_wallet_opens_in_the_users_home_currency_by_default(api: Api, people: People) -> None:
    response = api.client.post(f"/v1/users/{people.shop.id}/wallets", headers=api.operator)
    assert response.status_code == 200, response.text
    assert response.json()["currency"] == "KES"


@pytest.mark.parametrize(
    ("currency", "code"),
    [("EUR", "currency_not_offered"), ("XYZ", "currency_unknown"), ("kes", "currency_unknown")],
)
def test_a_wallet_opens_only_in_currencies_held(
    api: Api, people: People, currency: str, code: str
) -> None:
    response = api.client.post(
        f"/v1/users/{people.amina.id}/wallets", headers=api.operator, json={"currency": currency}
    )
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_an_unknown_wallet_is_not_found(api: Api) -> None:
    for path in ("/v1/wallets/wal_nope", "/v1/wallets/wal_nope/statement"):
        response = api.client.get(path, headers=api.operator)
        assert response.status_code == 404
        assert response.json()["code"] == "wallet_not_found"


def test_a_statement_pages_newest_first_with_running_balances(api: Api, people: People) -> None:
    pay_the_shop(api, people, "100.00", "600.00", "1200.00")
    amina = api.sign_in(people.amina, PINS["amina"])
    path = f"/v1/wallets/{api.wallet_id(people.amina)}/statement"
    entries, cursor, pages = [], None, 0
    while True:
        params: dict[str, str | int] = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        response = api.client.get(path, headers=amina, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        entries += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 2  # four, then the last two
    # The cash-in, then three payments of an amount and a fee each.
    amounts = [(e["code"], e["amount"]["amount"]) for e in reversed(entries)]
    assert amounts == [
        ("cash_in", "5000.00"),
        ("p2p", "-100.00"),
        ("p2p", "-600.00"),
        ("fee", "-13.00"),
        ("p2p", "-1200.00"),
        ("fee", "-23.00"),
    ]
    balances = [e["balance_after"]["amount"] for e in reversed(entries)]
    assert balances == ["5000.00", "4900.00", "4300.00", "4287.00", "3087.00", "3064.00"]
    assert api.balance(people.amina) == "3064.00"
    assert all(e["pending"] is False for e in entries)


def test_the_first_page_has_the_default_size(api: Api, people: People) -> None:
    response = api.client.get(
        f"/v1/wallets/{api.wallet_id(people.amina)}/statement", headers=api.operator
    )
    assert response.status_code == 200
    assert len(response.json()["items"]) == 1
    assert response.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 0}, "page_size_invalid"),
        ({"limit": limits.PAGE_SIZE_MAX + 1}, "page_size_invalid"),
        ({"limit": -1}, "page_size_invalid"),
        ({"cursor": "tr_nope"}, "cursor_invalid"),
        ({"limit": "ten"}, "request_invalid"),
    ],
)
def test_page_bounds_and_cursors_are_checked(
    api: Api, people: People, params: dict[str, object], code: str
) -> None:
    response = api.client.get(
        f"/v1/wallets/{api.wallet_id(people.amina)}/statement",
        headers=api.operator,
        params=params,
    )
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_a_cursor_from_another_wallet_is_refused(api: Api, people: People) -> None:
    pay_the_shop(api, people, "100.00")
    shop_page = api.client.get(
        f"/v1/wallets/{api.wallet_id(people.shop)}/statement",
        headers=api.operator,
        params={"limit": 1},
    ).json()
    amina_page = api.client.get(
        f"/v1/wallets/{api.wallet_id(people.agent)}/statement",
        headers=api.operator,
        params={"limit": 1, "cursor": shop_page["items"][0]["transfer_id"]},
    )
    assert amina_page.status_code == 422
    assert amina_page.json()["code"] == "cursor_invalid"


def test_a_statement_downloads_as_csv(api: Api, people: People) -> None:
    pay_the_shop(api, people, "100.00")
    wallet_id = api.wallet_id(people.amina)
    response = api.client.get(
        f"/v1/wallets/{wallet_id}/statement.csv",
        headers=api.sign_in(people.amina, PINS["amina"]),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="{wallet_id}.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["code"], r["amount"], r["balance_after"]) for r in rows] == [
        ("p2p", "-100.00", "4900.00"),
        ("cash_in", "5000.00", "5000.00"),
    ]


def statement_of(api: Api, user: User, pin: str) -> list[dict[str, Any]]:
    path = f"/v1/wallets/{api.wallet_id(user)}/statement"
    response = api.client.get(path, headers=api.sign_in(user, pin))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_statement_lines_name_the_other_party_and_carry_the_message(
    any_api: Api, any_people: People
) -> None:
    api, people = any_api, any_people
    amina = api.sign_in(people.amina, PINS["amina"])
    for to_phone, message in ((people.shop.phone, "sukuma wiki"), ("+254700111222", None)):
        response = api.client.post(
            "/v1/transfers",
            headers=api.moving(amina),
            json={"to_phone": to_phone, "amount": {"amount": "100.00", "currency": "KES"},
                  "message": message},
        )  # fmt: skip
        assert response.status_code == 201, response.text
    lines = statement_of(api, people.amina, PINS["amina"])
    by_code = [(line["code"], line["counterparty"], line["message"]) for line in lines]
    assert by_code == [  # (KES 100 is sent without a fee)
        # Held for a number with no account yet: no name to show.
        ("p2p", {"name": None, "phone": "+2547•••••222"}, None),
        ("p2p", {"name": "Wanjiru's kiosk", "phone": "+2547•••••456"}, "sukuma wiki"),
        ("cash_in", {"name": "Mama Mboga agency", "phone": "+2547•••••456"}, None),
    ]
    [received] = statement_of(api, people.shop, PINS["shop"])
    assert received["counterparty"] == {"name": "Amina Njoroge", "phone": "+2547•••••678"}
    assert received["message"] == "sukuma wiki"
    assert people.amina.phone not in str(received)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_cannot_start_a_formula(api: Api, people: People, start: str) -> None:
    message = f'{start}HYPERLINK("https://evil.example","click")'
    response = api.client.post(
        "/v1/transfers",
        headers=api.moving(api.sign_in(people.amina, PINS["amina"])),
        json={"to_phone": people.shop.phone, "amount": {"amount": "100.00", "currency": "KES"},
              "message": message},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    response = api.client.get(
        f"/v1/wallets/{api.wallet_id(people.shop)}/statement.csv",
        headers=api.sign_in(people.shop, PINS["shop"]),
    )
    [row] = list(csv.DictReader(io.StringIO(response.text)))
    assert row["message"] == "'" + message
    assert row["counterparty"] == "Amina Njoroge"
    assert row["counterparty_phone"] == "'+2547•••••678"
    # Numbers stay numbers: the amounts are Soko's own, never a formula.
    assert (row["amount"], row["balance_after"]) == ("100.00", "100.00")
    for cell in row.values():
        assert not cell.startswith(("=", "+", "@", "\t", "\r")), row
