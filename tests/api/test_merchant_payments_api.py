"""/v1/merchant-payments, refunds and /v1/payment-requests over HTTP: status codes, problem
bodies, replay, and one merchant never touching another's payments or requests."""

from __future__ import annotations

from world import PINS, Api, People

from soko.people import service as users

PRICE = {"amount": "250.00", "currency": "KES"}


def till(people: People, api: Api) -> str:
    return users.get_merchant(api.ctx, people.shop.id).till_number


def pay_shop(api: Api, people: People, amount: str = "250.00") -> dict[str, object]:
    amina = api.sign_in(people.amina, PINS["amina"])
    response = api.client.post(
        "/v1/merchant-payments",
        json={"till_number": till(people, api), "amount": {"amount": amount, "currency": "KES"}},
        headers=api.moving(amina),
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_customer_pays_a_till_and_the_merchant_refunds_part(
    any_api: Api, any_people: People
) -> None:
    api, people = any_api, any_people
    payment = pay_shop(api, people)
    # Groceries (5411): 0.25 % of KES 250.00 is 62.5 cents, charged as 63.
    assert payment["kind"] == "merchant"
    assert payment["fee"] == {"amount": "0.63", "currency": "KES"}
    assert api.balance(people.amina) == "4750.00"
    assert api.balance(people.shop) == "249.37"
    shop_key = api.merchant_key(people.shop)
    response = api.client.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": {"amount": "100.00", "currency": "KES"}, "reason": "bruised mangoes"},
        headers=api.moving(shop_key),
    )
    assert response.status_code == 201, response.text
    refund = response.json()
    assert refund["amount"] == {"amount": "100.00", "currency": "KES"}
    assert refund["fee_returned"] == {"amount": "0.25", "currency": "KES"}
    assert api.balance(people.amina) == "4850.00"
    listed = api.client.get(f"/v1/payments/{payment['id']}/refunds", headers=shop_key).json()
    assert [r["id"] for r in listed] == [refund["id"]]
    seen = api.client.get(f"/v1/payments/{payment['id']}", headers=shop_key).json()
    assert seen["refunded"] == {"amount": "100.00", "currency": "KES"}


def test_refusals_are_problems_and_change_nothing(api: Api, people: People) -> None:
    payment = pay_shop(api, people)
    shop_key = api.merchant_key(people.shop)
    other_key = api.merchant_key(people.other_shop)
    amina = api.sign_in(people.amina, PINS["amina"])
    before = api.transfers()
    cases = [
        (amina, "/v1/merchant-payments", {"till_number": "000000", "amount": PRICE},
         404, "merchant_not_found"),
        (amina, "/v1/merchant-payments", {"amount": PRICE}, 422, "recipient_required"),
        (amina, "/v1/merchant-payments", {"till_number": "12345", "amount": PRICE},
         422, "request_invalid"),
        (shop_key, f"/v1/payments/{payment['id']}/refunds",
         {"amount": {"amount": "250.01", "currency": "KES"}}, 422, "exceeds_refundable_amount"),
        (other_key, f"/v1/payments/{payment['id']}/refunds", {"amount": PRICE},
         404, "payment_not_found"),
        (amina, f"/v1/payments/{payment['id']}/refunds", {"amount": PRICE},
         404, "payment_not_found"),
    ]  # fmt: skip
    for auth, path, body, status, code in cases:
        response = api.client.post(path, json=body, headers=api.moving(auth))
        assert (response.status_code, response.json()["code"]) == (status, code), (path, body)
        assert response.headers["content-type"] == "application/problem+json"
    assert api.transfers() == before


def test_a_retried_till_payment_replays(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    body = {"till_number": till(people, api), "amount": PRICE}
    headers = api.moving(amina, "same-key")
    first = api.client.post("/v1/merchant-payments", json=body, headers=headers)
    again = api.client.post("/v1/merchant-payments", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    other = api.client.post(
        "/v1/merchant-payments", json=body | {"message": "changed"}, headers=headers
    )
    assert other.json()["code"] == "idempotency_key_reused"
    assert api.balance(people.amina) == "4750.00"


def test_a_payment_request_is_made_paid_once_and_listed(any_api: Api, any_people: People) -> None:
    api, people = any_api, any_people
    shop_key = api.merchant_key(people.shop)
    response = api.client.post(
        "/v1/payment-requests",
        json={"amount": PRICE, "reference": "INV-0042", "description": "Maize flour"},
        headers=api.moving(shop_key),
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["status"] == "open"
    assert made["pay_url"] == f"http://127.0.0.1:8000/pay/{made['id']}"
    assert response.headers["location"] == f"/v1/payment-requests/{made['id']}"
    amina = api.sign_in(people.amina, PINS["amina"])
    paid = api.client.post(
        f"/v1/payment-requests/{made['id']}/pay", json={"amount": PRICE}, headers=api.moving(amina)
    )
    assert paid.status_code == 201, paid.text
    again = api.client.post(
        f"/v1/payment-requests/{made['id']}/pay", json={}, headers=api.moving(amina)
    )
    assert (again.status_code, again.json()["code"]) == (409, "payment_request_already_paid")
    seen = api.client.get(f"/v1/payment-requests/{made['id']}", headers=shop_key).json()
    assert (seen["status"], seen["payment_id"]) == ("paid", paid.json()["id"])
    listed = api.client.get("/v1/payment-requests", headers=shop_key).json()
    assert [r["id"] for r in listed["items"]] == [made["id"]]
    assert api.balance(people.amina) == "4750.00"


def test_requests_are_private_to_their_merchant(api: Api, people: People) -> None:
    shop_key = api.merchant_key(people.shop)
    other_key = api.merchant_key(people.other_shop)
    made = api.client.post(
        "/v1/payment-requests",
        json={"amount": PRICE, "reference": "INV-1"},
        headers=api.moving(shop_key),
    ).json()
    for method, path in (("GET", ""), ("POST", "/cancel")):
        response = api.client.request(
            method, f"/v1/payment-requests/{made['id']}{path}", headers=other_key
        )
        assert (response.status_code, response.json()["code"]) == (404, "payment_request_not_found")
    assert api.client.get("/v1/payment-requests", headers=other_key).json()["items"] == []
    cancelled = api.client.post(f"/v1/payment-requests/{made['id']}/cancel", headers=shop_key)
    assert cancelled.json()["status"] == "cancelled"
    operator_list = api.client.get(
        "/v1/payment-requests", params={"merchant_id": people.shop.id}, headers=api.operator
    ).json()
    assert [r["id"] for r in operator_list["items"]] == [made["id"]]


def test_an_expired_request_reads_as_expired_and_refuses_payment(api: Api, people: People) -> None:
    shop_key = api.merchant_key(people.shop)
    made = api.client.post(
        "/v1/payment-requests",
        json={"amount": PRICE, "reference": "INV-2", "expires_in_seconds": 60},
        headers=api.moving(shop_key),
    ).json()
    api.clock.advance(60)
    assert (
        api.client.get(f"/v1/payment-requests/{made['id']}", headers=shop_key).json()["status"]
        == "expired"
    )
    amina = api.sign_in(people.amina, PINS["amina"])
    response = api.client.post(
        f"/v1/payment-requests/{made['id']}/pay", json={}, headers=api.moving(amina)
    )
    assert (response.status_code, response.json()["code"]) == (409, "payment_request_expired")


def test_a_request_is_paid_by_scanning_its_qr_code(api: Api, people: People) -> None:
    shop_key = api.merchant_key(people.shop)
    made = api.client.post(
        "/v1/payment-requests",
        json={"amount": PRICE, "reference": "INV-9"},
        headers=api.moving(shop_key),
    ).json()
    code = api.client.get(f"/v1/payment-requests/{made['id']}/qr", headers=shop_key).json()
    assert code["static"] is False
    svg = api.client.get(
        f"/v1/payment-requests/{made['id']}/qr", params={"format": "svg"}, headers=shop_key
    )
    assert svg.headers["content-type"] == "image/svg+xml"
    amina = api.sign_in(people.amina, PINS["amina"])
    paid = api.client.post(
        "/v1/qr-payments", json={"payload": code["payload"]}, headers=api.moving(amina)
    )
    assert paid.status_code == 201, paid.text
    seen = api.client.get(f"/v1/payment-requests/{made['id']}", headers=shop_key).json()
    assert (seen["status"], seen["payment_id"]) == ("paid", paid.json()["id"])
    tampered = code["payload"].replace("250.00", "150.00")
    refused = api.client.post(
        "/v1/qr-payments", json={"payload": tampered}, headers=api.moving(amina)
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "qr_checksum_invalid")
    assert api.balance(people.amina) == "4750.00"
