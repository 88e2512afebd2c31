"""POST /v1/transfers and GET /v1/payments/{id}: sending money, replays, who may read a payment."""

from __future__ import annotations

from typing import Any

from world import PINS, Api, People

from soko.people import service as users


def send(api: Api, auth: dict[str, str], key: str | None = None, **body: object) -> Any:
    return api.client.post("/v1/transfers", headers=api.moving(auth, key), json=body)


def kes(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "KES"}


def test_a_user_sends_from_its_own_wallet_to_a_phone_number(
    any_api: Api, any_people: People
) -> None:
    amina = any_api.sign_in(any_people.amina, PINS["amina"])
    response = any_api.client.post(
        "/v1/transfers",
        headers=any_api.moving(amina),
        json={
            "to_phone": "0722 123 456",
            "default_region": "KE",
            "amount": kes("1000.00"),
            "message": "for the sukuma",
        },
    )
    assert response.status_code == 201, response.text
    payment = response.json()
    assert response.headers["location"] == f"/v1/payments/{payment['id']}"
    assert payment["kind"] == "p2p"
    assert payment["amount"] == kes("1000.00")
    assert payment["fee"] == kes("13.00")
    assert payment["payer_wallet_id"] == any_api.wallet_id(any_people.amina)
    assert payment["payee_wallet_id"] == any_api.wallet_id(any_people.shop)
    assert payment["payee_phone"] == "+254722123456"
    assert payment["message"] == "for the sukuma"
    assert any_api.balance(any_people.amina) == "3987.00"
    assert any_api.balance(any_people.shop) == "1000.00"


def test_a_retry_with_the_same_key_and_body_replays_the_first_payment(
    any_api: Api, any_people: People
) -> None:
    amina = any_api.sign_in(any_people.amina, PINS["amina"])
    body = {"to_wallet_id": None, "to_phone": any_people.shop.phone, "amount": kes("250.00")}
    first = any_api.client.post("/v1/transfers", headers=any_api.moving(amina, "k-1"), json=body)
    after_first = any_api.transfers()
    again = any_api.client.post("/v1/transfers", headers=any_api.moving(amina, "k-1"), json=body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert any_api.transfers() == after_first
    assert any_api.balance(any_people.amina) == "4743.00"  # paid once: 250 and a fee of 7


def test_money_to_an_unregistered_number_waits_for_it(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    response = send(api, amina, to_phone="+254700111222", amount=kes("500.00"))
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["payee_wallet_id"] is None
    assert payment["payee_phone"] == "+254700111222"
    assert api.balance(people.amina) == "5000.00"  # held, not yet gone

    registered = api.client.post(
        "/v1/users",
        headers=api.operator,
        json={"kind": "consumer", "phone": "+254700111222", "name": "Kevin", "pin": "8642"},
    )
    assert registered.status_code == 201
    newcomer = users.get_user(api.ctx, registered.json()["id"])
    assert api.balance(newcomer) == "500.00"
    assert api.balance(people.amina) == "4493.00"
    claimed = api.client.get(f"/v1/payments/{payment['id']}", headers=api.operator).json()
    assert claimed["payee_wallet_id"] == api.wallet_id(newcomer)


def test_sending_to_a_wallet_id(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    response = send(api, amina, to_wallet_id=api.wallet_id(people.agent), amount=kes("100.00"))
    assert response.status_code == 201
    assert response.json()["fee"] == kes("0.00")


def test_an_operator_sends_on_behalf_of_the_named_sender(api: Api, people: People) -> None:
    response = send(
        api,
        api.operator,
        sender_id=people.amina.id,
        to_phone=people.shop.phone,
        amount=kes("100.00"),
    )
    assert response.status_code == 201
    assert response.json()["payer_wallet_id"] == api.wallet_id(people.amina)


def test_an_operator_must_name_the_sender(api: Api, people: People) -> None:
    before = api.transfers()
    response = send(api, api.operator, to_phone=people.shop.phone, amount=kes("100.00"))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "acting_for_required"
    assert body["errors"][0]["field"] == "sender_id"
    assert api.transfers() == before


def test_a_merchant_key_sends_from_its_own_merchant(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    assert send(api, amina, to_phone=people.shop.phone, amount=kes("1000.00")).status_code == 201
    shop_key = api.merchant_key(people.shop)
    response = send(api, shop_key, to_phone=people.amina.phone, amount=kes("100.00"))
    assert response.status_code == 201
    assert response.json()["payer_wallet_id"] == api.wallet_id(people.shop)


def test_insufficient_funds_is_refused_and_moves_nothing(api: Api, people: People) -> None:
    okello = api.sign_in(people.okello, PINS["okello"])
    before = api.transfers()
    response = send(
        api, okello, to_phone=people.amina.phone, amount={"amount": "300000", "currency": "UGX"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "exceeds_credits"
    assert api.transfers() == before


def test_the_kyc_limit_says_what_is_still_allowed(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    response = send(api, amina, to_phone=people.shop.phone, amount=kes("10000.01"))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "exceeds_transaction_limit"
    assert body["allowed"] == 10_000_00
    assert body["currency"] == "KES"


def test_naming_both_or_no_recipient_is_invalid(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    before = api.transfers()
    both = send(api, amina, to_phone=people.shop.phone, to_wallet_id="wal_x", amount=kes("1.00"))
    neither = send(api, amina, amount=kes("1.00"))
    for response in (both, neither):
        assert response.status_code == 422
        assert response.json()["code"] == "recipient_required"
    assert api.transfers() == before


def test_a_payment_is_visible_to_both_sides_and_the_operator_only(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    payment = send(api, amina, to_phone=people.shop.phone, amount=kes("100.00")).json()
    path = f"/v1/payments/{payment['id']}"
    for auth in (amina, api.merchant_key(people.shop), api.operator):
        response = api.client.get(path, headers=auth)
        assert response.status_code == 200
        assert response.json() == payment
    okello = api.client.get(path, headers=api.sign_in(people.okello, PINS["okello"]))
    assert okello.status_code == 404
    assert okello.json()["code"] == "payment_not_found"


def test_an_unknown_payment_is_not_found(api: Api) -> None:
    response = api.client.get("/v1/payments/pay_nope", headers=api.operator)
    assert response.status_code == 404
    assert response.json()["code"] == "payment_not_found"


def test_a_transfer_needs_a_credential(api: Api, people: People) -> None:
    response = send(api, {}, to_phone=people.shop.phone, amount=kes("1.00"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_transfer_to_a_country_not_served_is_refused(any_api: Api, any_people: People) -> None:
    before = any_api.transfers()
    response = any_api.client.post(
        "/v1/transfers",
        json={"to_phone": "+14155550100", "amount": {"amount": "100.00", "currency": "KES"}},
        headers=any_api.moving(any_api.sign_in(any_people.amina, PINS["amina"])),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "country_not_served"
    assert any_api.transfers() == before
