"""/v1/escrow-orders over HTTP: the whole trade, refusals as problems that change nothing, and
an order visible only to its buyer, its seller and the operator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from world import PINS, Api, People

from soko.escrow.tracking import service as shipments

KES_4500 = {"amount": "4500.00", "currency": "KES"}


def make_order(api: Api, people: People, shop_key: dict[str, str]) -> dict[str, Any]:
    response = api.client.post(
        "/v1/escrow-orders",
        json={
            "buyer_phone": people.amina.phone,
            "amount": KES_4500,
            "items": [{"name": "Kitenge fabric, 6 yards", "quantity": 2}],
            "ship_by": (api.clock.now() + timedelta(days=2)).isoformat(),
            "description": "Two pieces, delivered to Kisumu",
        },
        headers=api.moving(shop_key),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_whole_trade_over_the_api(any_api: Api, any_people: People) -> None:
    api, people = any_api, any_people
    shipments.add_carrier(api.ctx, code="sendy", name="Sendy")
    shop_key = api.merchant_key(people.shop)
    amina = api.sign_in(people.amina, PINS["amina"])
    order = make_order(api, people, shop_key)
    assert (order["state"], order["buyer_id"]) == ("created", people.amina.id)
    path = f"/v1/escrow-orders/{order['id']}"
    funded = api.client.post(f"{path}/fund", json={}, headers=api.moving(amina)).json()
    assert (funded["state"], funded["next_timer"]) == ("funded", "ship_by_passed")
    assert api.balance(people.amina) == "5000.00"  # held, not yet moved
    shipped = api.client.post(
        f"{path}/ship", json={"carrier_code": "sendy", "tracking_number": "SND-0001"},
        headers=api.moving(shop_key),
    ).json()  # fmt: skip
    assert shipped["state"] == "shipped"
    released = api.client.post(f"{path}/confirm", json={}, headers=api.moving(amina))
    assert released.status_code == 200, released.text
    body = released.json()
    # Clothing (category 5411 in the test world): 0.25 % of KES 4,500.00 is KES 11.25.
    assert (body["state"], body["fee"]["amount"]) == ("released", "11.25")
    assert api.balance(people.amina) == "500.00"
    assert api.balance(people.shop) == "4488.75"
    again = api.client.post(f"{path}/confirm", json={}, headers=api.moving(amina))
    assert (again.status_code, again.json()["code"]) == (409, "escrow_already_released")
    assert api.client.get(path, headers=shop_key).json()["state"] == "released"


def test_an_order_is_private_to_its_buyer_seller_and_operator(api: Api, people: People) -> None:
    shop_key = api.merchant_key(people.shop)
    order = make_order(api, people, shop_key)
    path = f"/v1/escrow-orders/{order['id']}"
    okello = api.sign_in(people.okello, PINS["okello"])
    other = api.merchant_key(people.other_shop)
    for headers in (okello, other):
        response = api.client.get(path, headers=headers)
        assert (response.status_code, response.json()["code"]) == (404, "escrow_not_found")
        funded = api.client.post(f"{path}/fund", json={}, headers=api.moving(headers))
        assert funded.status_code == 404
    assert api.client.get(path, headers=api.sign_in(people.amina, PINS["amina"])).status_code == 200
    assert api.client.get(path, headers=api.operator).status_code == 200
    mine = api.client.get("/v1/escrow-orders", headers=shop_key).json()["items"]
    assert [o["id"] for o in mine] == [order["id"]]
    assert api.client.get("/v1/escrow-orders", headers=other).json()["items"] == []


def test_disputes_are_resolved_by_an_operator_only(api: Api, people: People) -> None:
    shop_key = api.merchant_key(people.shop)
    amina = api.sign_in(people.amina, PINS["amina"])
    order = make_order(api, people, shop_key)
    path = f"/v1/escrow-orders/{order['id']}"
    api.client.post(f"{path}/fund", json={}, headers=api.moving(amina))
    disputed = api.client.post(
        f"{path}/disputes",
        json={"reason": "not_as_described", "message": "Wrong colour.", "evidence": ["img:7"]},
        headers=api.moving(amina),
    )
    assert disputed.json()["state"] == "disputed"
    answer = api.client.post(
        f"{path}/disputes/answer", json={"answer": "It is the colour ordered."}, headers=shop_key
    )
    assert answer.json()["seller_answer"] == "It is the colour ordered."
    split = {"outcome": "split", "to_buyer": {"amount": "1000.00", "currency": "KES"},
             "to_seller": {"amount": "3500.00", "currency": "KES"}}  # fmt: skip
    refused = api.client.post(f"{path}/disputes/resolve", json=split, headers=api.moving(shop_key))
    assert (refused.status_code, refused.json()["code"]) == (403, "caller_not_allowed")
    bad = split | {"to_buyer": {"amount": "999.99", "currency": "KES"}}
    mismatch = api.client.post(f"{path}/disputes/resolve", json=bad,
                               headers=api.moving(api.operator))  # fmt: skip
    assert (mismatch.status_code, mismatch.json()["code"]) == (422, "escrow_split_mismatch")
    resolved = api.client.post(f"{path}/disputes/resolve", json=split,
                               headers=api.moving(api.operator))  # fmt: skip
    assert resolved.json()["state"] == "resolved"
    assert api.balance(people.amina) == "1500.00"
    [record] = api.client.get(f"{path}/disputes", headers=amina).json()
    assert (record["outcome"], record["to_buyer"], record["to_seller"]) == ("split", 100_000,
                                                                           350_000)  # fmt: skip


def test_the_buyer_sees_the_delivery_code_and_the_seller_enters_it(
    api: Api, people: People
) -> None:
    shop_key = api.merchant_key(people.shop)
    amina = api.sign_in(people.amina, PINS["amina"])
    path = f"/v1/escrow-orders/{make_order(api, people, shop_key)['id']}"
    early = api.client.get(f"{path}/delivery-code", headers=amina)
    assert (early.status_code, early.json()["code"]) == (409, "escrow_not_funded")
    api.client.post(f"{path}/fund", json={}, headers=api.moving(amina))
    shown = api.client.get(f"{path}/delivery-code", headers=amina)
    assert shown.status_code == 200, shown.text
    code = shown.json()["code"]
    assert len(code) == 6 and shown.json()["tries_left"] == 5
    # Neither the seller nor the operator sees it.
    for headers, status, problem in (
        (shop_key, 404, "escrow_not_found"),
        (api.operator, 403, "delivery_code_buyer_only"),
    ):
        refused = api.client.get(f"{path}/delivery-code", headers=headers)
        assert (refused.status_code, refused.json()["code"]) == (status, problem)
    entered = api.client.post(
        f"{path}/delivery-code", json={"code": code}, headers=api.moving(shop_key)
    )
    assert (entered.status_code, entered.json()["state"]) == (200, "released")
