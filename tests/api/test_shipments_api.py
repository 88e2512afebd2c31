"""The shipments API: carriers (operator only, secret once), the carriers' signed webhook
(no API key: the signature is the credential), operators' events, and who may see a shipment."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook
from world import Api, People

from soko.escrow import service as escrow
from soko.escrow.domain import EscrowOrder, EscrowState, OrderItem
from soko.escrow.tracking import service as shipments
from soko.kernel.money import Money
from soko.people.domain import User

ORIGIN = "https://soko.dev/problems/"


def add_carrier(api: Api, code: str = "sendy") -> str:
    response = api.client.post(
        "/v1/carriers", json={"code": code, "name": "Sendy Logistics"}, headers=api.operator
    )
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    return secret


def shipped(api: Api, people: People, tracking_number: str = "SND-1") -> EscrowOrder:
    """Amina buys from Wanjiru's kiosk, pays into escrow, and the kiosk ships with Sendy."""
    made = escrow.create_order(
        api.ctx, seller_id=people.shop.id, buyer_id=people.amina.id,
        amount=Money.parse("500.00", "KES"), items=[OrderItem("Kikoi", 1)],
        ship_by=api.clock.now() + timedelta(days=2), idempotency_key=api.new_key(),
    )  # fmt: skip
    escrow.fund(api.ctx, buyer_id=people.amina.id, order_id=made.id, idempotency_key=api.new_key())
    return escrow.ship(
        api.ctx, seller_id=people.shop.id, order_id=made.id, carrier_code="sendy",
        tracking_number=tracking_number, idempotency_key=api.new_key(),
    )  # fmt: skip


def shipment_id(api: Api, order: EscrowOrder) -> str:
    found = shipments.shipment_for_order(api.ctx, order.id)
    assert found is not None
    return found.id


def carrier_post(
    api: Api,
    secret: str,
    kind: str = "delivered",
    *,
    tracking_number: str = "SND-1",
    msg_id: str = "msg_1",
    signed_at: datetime | None = None,
    carrier: str = "sendy",
    headers: dict[str, str] | None = None,
) -> Any:
    body = json.dumps(
        {
            "tracking_number": tracking_number,
            "kind": kind,
            "occurred_at": (api.clock.now() - timedelta(minutes=5)).isoformat(),
        }
    )
    at = signed_at or api.clock.now()
    signature = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }
    return api.client.post(
        f"/v1/carriers/{carrier}/events",
        content=body.encode(),
        headers=signature if headers is None else headers,
    )


def state(api: Api, order: EscrowOrder) -> EscrowState:
    return escrow.get_order(api.ctx, order.id).state


# --- carriers -----------------------------------------------------------------------------------


def test_an_operator_registers_a_carrier_and_sees_its_secret_once(api: Api) -> None:
    response = api.client.post(
        "/v1/carriers", json={"code": "sendy", "name": "Sendy"}, headers=api.operator
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert (created["code"], created["enabled"], created["disabled_at"]) == ("sendy", True, None)
    listed = api.client.get("/v1/carriers", headers=api.operator).json()
    assert [c["code"] for c in listed["items"]] == ["sendy"]
    assert "secret" not in listed["items"][0]
    again = api.client.post(
        "/v1/carriers", json={"code": "sendy", "name": "Sendy"}, headers=api.operator
    )
    assert (again.status_code, again.json()["code"]) == (409, "carrier_exists")
    bad = api.client.post("/v1/carriers", json={"code": "Sendy", "name": "x"}, headers=api.operator)
    assert (bad.status_code, bad.json()["code"]) == (422, "carrier_code_invalid")


def test_only_an_operator_manages_carriers(api: Api, people: People) -> None:
    merchant = api.merchant_key(people.shop)
    session = api.sign_in(people.amina, "1234")
    for auth in (merchant, session):
        for method, path in (("post", "/v1/carriers"), ("get", "/v1/carriers")):
            response = api.client.request(
                method, path, json={"code": "sendy", "name": "Sendy"}, headers=auth
            )
            assert (response.status_code, response.json()["code"]) == (403, "caller_not_allowed")
    anonymous = api.client.post("/v1/carriers", json={"code": "sendy", "name": "Sendy"})
    assert anonymous.status_code == 401
    assert api.client.get("/v1/carriers", headers=api.operator).json()["items"] == []


# --- the carrier's webhook ----------------------------------------------------------------------


def test_a_signed_carrier_event_is_accepted(any_api: Api, any_people: People) -> None:
    api = any_api
    secret = add_carrier(api)
    order = shipped(api, any_people)
    # No Authorization header: the signature is the credential.
    response = carrier_post(api, secret, "delivered")
    assert response.status_code == 200, response.text
    recorded = response.json()
    assert recorded["repeat"] is False
    assert recorded["event"]["kind"] == "delivered"
    assert recorded["event"]["event_id"] == "msg_1"
    assert recorded["event"]["source"] == "carrier"
    assert recorded["event"]["order_action"] == "deliver"
    assert recorded["shipment"]["step"] == "delivered"
    assert recorded["shipment"]["order_id"] == order.id
    assert state(api, order) is EscrowState.DELIVERED
    again = carrier_post(api, secret, "delivered")
    assert again.status_code == 200
    assert again.json()["repeat"] is True
    assert again.json()["event"] == recorded["event"]


def test_refused_carrier_events_change_nothing(api: Api, people: People) -> None:
    secret = add_carrier(api)
    other = add_carrier(api, "aramex")
    order = shipped(api, people)
    now = api.clock.now()
    refusals: list[tuple[int, str, dict[str, Any]]] = [
        (401, "carrier_signature_invalid", {"secret": other}),
        (401, "carrier_signature_invalid", {"headers": {"content-type": "application/json"}}),
        # An API key is no substitute for the signature.
        (401, "carrier_signature_invalid", {"headers": api.operator}),
        (401, "carrier_timestamp_invalid", {"signed_at": now - timedelta(minutes=10)}),
        (404, "carrier_not_found", {"carrier": "nobody"}),
        (404, "tracking_number_unknown", {"tracking_number": "SND-2"}),
        (422, "tracking_event_kind_unknown", {"kind": "lost"}),
    ]
    for status, code, changed in refusals:
        response = carrier_post(api, changed.pop("secret", secret), **changed)
        assert response.status_code == status, (code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert (problem["code"], problem["type"]) == (code, ORIGIN + code)
    tracked = api.client.get(f"/v1/shipments/{shipment_id(api, order)}", headers=api.operator)
    assert tracked.json()["events"] == []
    assert tracked.json()["step"] == "registered"
    assert state(api, order) is EscrowState.SHIPPED


def test_a_body_that_is_not_json_is_the_carriers_own_refusal(api: Api, people: People) -> None:
    secret = add_carrier(api)
    shipped(api, people)
    body = b"tracking=SND-1&kind=delivered"
    at = api.clock.now()
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign("msg_1", at, body.decode()),
    }
    response = api.client.post("/v1/carriers/sendy/events", content=body, headers=headers)
    assert (response.status_code, response.json()["code"]) == (422, "carrier_event_malformed")


# --- operators' events and reading a shipment ---------------------------------------------------


def test_an_operator_records_an_event(api: Api, people: People) -> None:
    add_carrier(api)
    order = shipped(api, people)
    path = f"/v1/shipments/{shipment_id(api, order)}/events"
    body = {"event_id": "ops-1", "kind": "returned", "occurred_at": "2026-01-01T11:30:00+03:00"}
    response = api.client.post(path, json=body, headers=api.operator)
    assert response.status_code == 200, response.text
    recorded = response.json()
    assert (recorded["event"]["source"], recorded["event"]["order_action"]) == (
        "operator", "return")  # fmt: skip
    assert recorded["event"]["occurred_at"].startswith("2026-01-01T08:30:00")
    assert state(api, order) is EscrowState.REFUNDED
    assert api.client.post(path, json=body, headers=api.operator).json()["repeat"] is True
    merchant = api.client.post(path, json=body, headers=api.merchant_key(people.shop))
    assert (merchant.status_code, merchant.json()["code"]) == (403, "caller_not_allowed")
    naive = {**body, "event_id": "ops-2", "occurred_at": "2026-01-01T08:30:00"}
    refused = api.client.post(path, json=naive, headers=api.operator)
    assert (refused.status_code, refused.json()["code"]) == (422, "tracking_event_time_invalid")
    missing = api.client.post(path, json={"kind": "delivered"}, headers=api.operator)
    assert (missing.status_code, missing.json()["code"]) == (422, "request_invalid")


def _get(api: Api, path: str, auth: dict[str, str]) -> tuple[int, Any]:
    response = api.client.get(path, headers=auth)
    return response.status_code, response.json()


def test_the_buyer_the_seller_and_the_operator_see_the_shipment(api: Api, people: People) -> None:
    secret = add_carrier(api)
    order = shipped(api, people)
    carrier_post(api, secret, "in_transit")
    path = f"/v1/shipments/{shipment_id(api, order)}"
    buyer: User = people.amina
    for auth in (api.operator, api.sign_in(buyer, "1234"), api.merchant_key(people.shop)):
        status, body = _get(api, path, auth)
        assert status == 200, body
        assert (body["order_id"], body["tracking_number"], body["step"]) == (
            order.id, "SND-1", "in_transit")  # fmt: skip
        assert [e["kind"] for e in body["events"]] == ["in_transit"]
    unknown = _get(api, "/v1/shipments/shp_01JHNOTHING000000000000000", api.operator)
    for auth in (api.merchant_key(people.other_shop), api.sign_in(people.okello, "4321")):
        status, body = _get(api, path, auth)
        # Exactly what an unknown id answers: another's shipment is not there for them.
        assert status == 404
        assert (body["code"], body["title"]) == (unknown[1]["code"], unknown[1]["title"])
    assert api.client.get(path).status_code == 401


@pytest.mark.parametrize("path", ["/v1/shipments/shp_x", "/v1/shipments/shp_x/events"])
def test_unknown_shipments_are_404(api: Api, path: str) -> None:
    body = {"event_id": "ops-1", "kind": "delivered", "occurred_at": "2026-01-01T08:30:00Z"}
    response = (
        api.client.post(path, json=body, headers=api.operator)
        if path.endswith("events")
        else api.client.get(path, headers=api.operator)
    )
    assert (response.status_code, response.json()["code"]) == (404, "shipment_not_found")


def test_the_document_shows_the_webhook_signed_not_keyed(api: Api) -> None:
    operation = api.client.get("/openapi.json").json()["paths"][
        "/v1/carriers/{carrier_code}/events"
    ]
    webhook = operation["post"]
    assert "security" not in webhook
    headers = {p["name"]: p for p in webhook["parameters"] if p["in"] == "header"}
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert all(header["required"] for header in headers.values())
    body = webhook["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"tracking_number", "kind", "occurred_at"}


def test_an_order_shows_its_shipment(any_api: Api, any_people: People) -> None:
    api, people = any_api, any_people
    add_carrier(api)
    made = escrow.create_order(
        api.ctx, seller_id=people.shop.id, buyer_id=people.amina.id,
        amount=Money.parse("500.00", "KES"), items=[OrderItem("Kikoi", 1)],
        ship_by=api.clock.now() + timedelta(days=2), idempotency_key=api.new_key(),
    )  # fmt: skip
    escrow.fund(api.ctx, buyer_id=people.amina.id, order_id=made.id, idempotency_key=api.new_key())
    path = f"/v1/escrow-orders/{made.id}"
    shop = api.merchant_key(people.shop)
    assert api.client.get(path, headers=shop).json()["shipment_id"] is None
    key = api.new_key()
    ship = {"carrier_code": "sendy", "tracking_number": "SND-9"}
    response = api.client.post(f"{path}/ship", json=ship, headers={**shop, "Idempotency-Key": key})
    assert response.status_code == 200, response.text
    shipment = shipments.shipment_for_order(api.ctx, made.id)
    assert shipment is not None
    assert response.json()["shipment_id"] == shipment.id
    # ... when replayed, read again, and listed.
    again = api.client.post(f"{path}/ship", json=ship, headers={**shop, "Idempotency-Key": key})
    assert again.json()["shipment_id"] == shipment.id
    assert api.client.get(path, headers=shop).json()["shipment_id"] == shipment.id
    listed = api.client.get("/v1/escrow-orders", headers=shop).json()["items"]
    assert [order["shipment_id"] for order in listed] == [shipment.id]
