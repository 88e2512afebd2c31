"""Shipments and carrier tracking through the use cases, on both databases: carriers and their
secrets, events signed with the `standardwebhooks` package, every refusal leaving nothing
written, repeats and late events, and what delivered and returned do to the escrow order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook

from fakes import FakeClock
from merchants import available, consumer, kes, key, shop
from soko.context import Context
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowAction, EscrowOrder, EscrowState, OrderItem
from soko.escrow.tracking import service as shipments
from soko.escrow.tracking.domain import EventSource, ShipmentStep, TrackingEventKind
from soko.escrow.tracking.errors import (
    CarrierCodeInvalid,
    CarrierDisabled,
    CarrierEventIdInvalid,
    CarrierEventIdReused,
    CarrierEventMalformed,
    CarrierExists,
    CarrierNotFound,
    CarrierSignatureInvalid,
    CarrierTimestampInvalid,
    ShipmentNotFound,
    TrackingEventKindUnknown,
    TrackingEventTimeInvalid,
    TrackingNumberInvalid,
    TrackingNumberTaken,
    TrackingNumberUnknown,
)
from soko.escrow.tracking.service import RecordedEvent
from soko.kernel.errors import DomainError
from soko.ledger.reconcile import reconcile
from soko.notify.domain import sign
from soko.people.domain import Merchant, User
from soko.people.errors import NameInvalid

DAY = timedelta(days=1)
ITEMS = [OrderItem("Sufuria, 28 cm", 1)]


@dataclass
class Tracking:
    ctx: Context
    clock: FakeClock
    buyer: User
    seller: Merchant
    #: The carrier "sendy" and its signing secret.
    secret: str

    def shipped(self, tracking_number: str | None = None) -> EscrowOrder:
        made = escrow.create_order(
            self.ctx, seller_id=self.seller.user_id, buyer_id=self.buyer.id,
            amount=kes("3000.00"), items=ITEMS, ship_by=self.clock.now() + 2 * DAY,
            idempotency_key=key(),
        )  # fmt: skip
        escrow.fund(self.ctx, buyer_id=self.buyer.id, order_id=made.id, idempotency_key=key())
        return escrow.ship(
            self.ctx, seller_id=self.seller.user_id, order_id=made.id, carrier_code="sendy",
            tracking_number=tracking_number or f"SND-{key()}", idempotency_key=key(),
        )  # fmt: skip

    def tracking_number(self, order: EscrowOrder) -> str:
        found = shipments.shipment_for_order(self.ctx, order.id)
        assert found is not None
        return found.tracking_number

    def post(
        self,
        order: EscrowOrder,
        kind: str,
        *,
        msg_id: str | None = None,
        occurred_at: datetime | None = None,
        secret: str | None = None,
        signed_at: datetime | None = None,
        body: bytes | None = None,
        carrier: str = "sendy",
    ) -> RecordedEvent:
        """What a carrier sends: a JSON body signed with the `standardwebhooks` package."""
        when = occurred_at or self.clock.now() - timedelta(minutes=1)
        body = (
            body
            or json.dumps(
                {
                    "tracking_number": self.tracking_number(order),
                    "kind": kind,
                    "occurred_at": when.isoformat(),
                }
            ).encode()
        )
        return shipments.receive_carrier_event(
            self.ctx,
            carrier_code=carrier,
            headers=signed(secret or self.secret, msg_id or key(), signed_at or self.clock.now(),
                           body),
            body=body,
        )  # fmt: skip

    def events(self, order: EscrowOrder) -> list[tuple[str, str]]:
        found = shipments.shipment_for_order(self.ctx, order.id)
        assert found is not None
        return [
            (e.kind.value, e.carrier_event_id) for e in shipments.list_events(self.ctx, found.id)
        ]

    def state(self, order: EscrowOrder) -> EscrowState:
        return escrow.get_order(self.ctx, order.id).state


def signed(secret: str, msg_id: str, at: datetime, body: bytes) -> dict[str, str]:
    try:
        signature = Webhook(secret).sign(msg_id, at, body.decode())
    except UnicodeDecodeError:
        # The package signs text; a body that is not UTF-8 is signed with Soko's own signer.
        signature = sign(secret, msg_id, int(at.timestamp()), body)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


@pytest.fixture
def tracking(any_ctx: Context, clock: FakeClock) -> Tracking:
    new = shipments.add_carrier(any_ctx, code="sendy", name="Sendy Logistics")
    return Tracking(
        any_ctx, clock, consumer(any_ctx, funds="10000.00"), shop(any_ctx, "5651"), new.secret
    )


# --- carriers -----------------------------------------------------------------------------------


def test_a_carrier_gets_a_secret_once(any_ctx: Context) -> None:
    new = shipments.add_carrier(any_ctx, code="g4s", name="  G4S Courier ")
    assert new.secret.startswith("whsec_")
    assert (new.carrier.code, new.carrier.name, new.carrier.enabled) == ("g4s", "G4S Courier", True)
    assert shipments.get_carrier(any_ctx, "g4s") == new.carrier
    with pytest.raises(CarrierExists):
        shipments.add_carrier(any_ctx, code="g4s", name="Another")
    with pytest.raises(CarrierCodeInvalid):
        shipments.add_carrier(any_ctx, code="G4S", name="Upper")
    with pytest.raises(NameInvalid):
        shipments.add_carrier(any_ctx, code="blank", name=" ")
    another = shipments.add_carrier(any_ctx, code="aramex", name="Aramex")
    assert another.secret != new.secret


def test_carriers_are_listed_by_code_a_page_at_a_time(any_ctx: Context) -> None:
    for code in ("sendy", "aramex", "g4s"):
        shipments.add_carrier(any_ctx, code=code, name=code.title())
    first = shipments.list_carriers(any_ctx, limit=2)
    assert [c.code for c in first.carriers] == ["aramex", "g4s"]
    rest = shipments.list_carriers(any_ctx, limit=2, cursor=first.next_cursor)
    assert ([c.code for c in rest.carriers], rest.next_cursor) == (["sendy"], None)


def test_a_disabled_carrier_takes_no_shipments_and_no_events(tracking: Tracking) -> None:
    order = tracking.shipped()
    disabled = shipments.disable_carrier(tracking.ctx, "sendy")
    assert not disabled.enabled and disabled.disabled_at == tracking.clock.now()
    assert shipments.disable_carrier(tracking.ctx, "sendy") == disabled  # twice is once
    with pytest.raises(CarrierDisabled):
        tracking.post(order, "delivered")
    with pytest.raises(CarrierDisabled):
        tracking.shipped()
    assert tracking.events(order) == []
    with pytest.raises(CarrierNotFound):
        shipments.disable_carrier(tracking.ctx, "nobody")


# --- shipments ----------------------------------------------------------------------------------


def test_shipping_adds_the_shipment(tracking: Tracking) -> None:
    order = tracking.shipped("snd-0042")
    assert order.state is EscrowState.SHIPPED
    found = shipments.shipment_for_order(tracking.ctx, order.id)
    assert found is not None
    assert (found.carrier_code, found.tracking_number, found.step) == (
        "sendy", "SND-0042", ShipmentStep.REGISTERED)  # fmt: skip
    assert found.id.startswith("shp_")
    assert shipments.get_shipment(tracking.ctx, found.id).shipment == found


def test_a_tracking_number_is_one_parcel_of_its_carrier(tracking: Tracking) -> None:
    tracking.shipped("SND-7")
    with pytest.raises(TrackingNumberTaken):
        tracking.shipped("snd-7")  # the same number in another case
    with pytest.raises(TrackingNumberInvalid):
        tracking.shipped("SND 8")


def test_shipping_with_an_unknown_carrier_is_refused(tracking: Tracking) -> None:
    made = escrow.create_order(
        tracking.ctx, seller_id=tracking.seller.user_id, buyer_id=tracking.buyer.id,
        amount=kes("10.00"), items=ITEMS, ship_by=tracking.clock.now() + DAY,
        idempotency_key=key(),
    )  # fmt: skip
    escrow.fund(tracking.ctx, buyer_id=tracking.buyer.id, order_id=made.id, idempotency_key=key())
    with pytest.raises(CarrierNotFound):
        escrow.ship(
            tracking.ctx, seller_id=tracking.seller.user_id, order_id=made.id,
            carrier_code="nobody", tracking_number="X1", idempotency_key=key(),
        )  # fmt: skip
    assert tracking.state(made) is EscrowState.FUNDED
    assert shipments.shipment_for_order(tracking.ctx, made.id) is None


def test_unknown_shipments(any_ctx: Context) -> None:
    with pytest.raises(ShipmentNotFound):
        shipments.get_shipment(any_ctx, "shp_nothing")
    assert shipments.shipment_for_order(any_ctx, "esc_nothing") is None


# --- the carrier's webhook ----------------------------------------------------------------------


def test_a_signed_delivered_event_delivers_the_order(tracking: Tracking) -> None:
    order = tracking.shipped()
    recorded = tracking.post(order, "delivered", msg_id="msg_1")
    assert not recorded.repeat
    event = recorded.event
    assert (event.kind, event.source, event.carrier_event_id) == (
        TrackingEventKind.DELIVERED, EventSource.CARRIER, "msg_1")  # fmt: skip
    assert event.order_action is EscrowAction.DELIVER
    assert event.received_at == tracking.clock.now()
    assert recorded.shipment.step is ShipmentStep.DELIVERED
    delivered = escrow.get_order(tracking.ctx, order.id)
    assert delivered.state is EscrowState.DELIVERED
    # Delivery confirmation starts the inspection timer.
    assert delivered.timer_action is EscrowAction.INSPECTION_ENDED
    assert delivered.deadlines.inspection_ends is not None
    assert reconcile(tracking.ctx).passed


def test_a_repeated_event_changes_nothing(tracking: Tracking) -> None:
    order = tracking.shipped()
    when = tracking.clock.now() - timedelta(minutes=3)
    first = tracking.post(order, "delivered", msg_id="msg_1", occurred_at=when)
    tracking.clock.advance(60)
    again = tracking.post(order, "delivered", msg_id="msg_1", occurred_at=when)
    assert again.repeat and again.event == first.event
    assert tracking.events(order) == [("delivered", "msg_1")]
    assert tracking.state(order) is EscrowState.DELIVERED


def test_an_event_id_used_for_another_event_is_refused(tracking: Tracking) -> None:
    order = tracking.shipped()
    tracking.post(order, "in_transit", msg_id="msg_1")
    with pytest.raises(CarrierEventIdReused):
        tracking.post(order, "delivered", msg_id="msg_1")
    assert tracking.events(order) == [("in_transit", "msg_1")]
    assert tracking.state(order) is EscrowState.SHIPPED


def test_events_out_of_order_leave_the_furthest_step(tracking: Tracking) -> None:
    order = tracking.shipped()
    now = tracking.clock.now()
    tracking.post(order, "delivered", occurred_at=now - timedelta(hours=1))
    late = tracking.post(order, "in_transit", occurred_at=now - timedelta(hours=20))
    assert late.shipment.step is ShipmentStep.DELIVERED and late.event.order_action is None
    tracking.post(order, "picked_up", occurred_at=now - timedelta(hours=30))
    tracking.post(order, "failed_delivery", occurred_at=now - timedelta(hours=5))
    # Listed in the order things happened, not the order they arrived.
    assert [kind for kind, _ in tracking.events(order)] == [
        "picked_up", "in_transit", "failed_delivery", "delivered"]  # fmt: skip
    assert tracking.state(order) is EscrowState.DELIVERED


def test_a_return_refunds_the_buyer(tracking: Tracking) -> None:
    order = tracking.shipped()
    assert available(tracking.ctx, tracking.buyer.id) == 1_000_000 - 300_000
    tracking.post(order, "in_transit")
    recorded = tracking.post(order, "returned")
    assert recorded.event.order_action is EscrowAction.RETURN
    assert recorded.shipment.step is ShipmentStep.RETURNED
    refunded = escrow.get_order(tracking.ctx, order.id)
    assert (refunded.state, refunded.refunded) == (EscrowState.REFUNDED, 300_000)
    assert available(tracking.ctx, tracking.buyer.id) == 1_000_000
    # A delivered event after the return moves nothing: returned is final.
    late = tracking.post(order, "delivered")
    assert late.shipment.step is ShipmentStep.RETURNED and late.event.order_action is None
    assert reconcile(tracking.ctx).passed


def test_a_return_after_delivery_refunds_too(tracking: Tracking) -> None:
    order = tracking.shipped()
    tracking.post(order, "delivered")
    tracking.post(order, "returned")
    assert tracking.state(order) is EscrowState.REFUNDED
    assert available(tracking.ctx, tracking.buyer.id) == 1_000_000


def test_delivery_after_release_is_recorded_without_moving_the_order(tracking: Tracking) -> None:
    order = tracking.shipped()
    escrow.confirm_receipt(
        tracking.ctx, buyer_id=tracking.buyer.id, order_id=order.id, idempotency_key=key()
    )
    recorded = tracking.post(order, "delivered")
    assert recorded.shipment.step is ShipmentStep.DELIVERED
    assert recorded.event.order_action is None
    assert tracking.state(order) is EscrowState.RELEASED


def _refused(tracking: Tracking, order: EscrowOrder, error: type[DomainError],
             **post: Any) -> None:  # fmt: skip
    with pytest.raises(error):
        tracking.post(order, post.pop("kind", "delivered"), **post)
    assert tracking.events(order) == []
    assert tracking.state(order) is EscrowState.SHIPPED


def _body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_refused_carrier_events_change_nothing(tracking: Tracking) -> None:
    order = tracking.shipped()
    number = tracking.tracking_number(order)
    now = tracking.clock.now()
    other = shipments.add_carrier(tracking.ctx, code="aramex", name="Aramex")
    good = {"tracking_number": number, "kind": "delivered", "occurred_at": now.isoformat()}
    refusals: list[tuple[type[DomainError], dict[str, Any]]] = [
        (CarrierSignatureInvalid, {"secret": other.secret}),
        (CarrierTimestampInvalid, {"signed_at": now - timedelta(minutes=6)}),
        (CarrierTimestampInvalid, {"signed_at": now + timedelta(minutes=6)}),
        (CarrierNotFound, {"carrier": "nobody"}),
        (TrackingNumberUnknown, {"body": _body(**{**good, "tracking_number": "NOPE-1"})}),
        (TrackingNumberUnknown, {"body": _body(**{**good, "tracking_number": "NO PE"})}),
        # The same number, but of another carrier: it signs for its own parcels only.
        (TrackingNumberUnknown, {"carrier": "aramex", "secret": other.secret}),
        (TrackingEventKindUnknown, {"body": _body(**{**good, "kind": "lost"})}),
        (CarrierEventMalformed, {"body": b"not json"}),
        (CarrierEventMalformed, {"body": b"\xff\xfe"}),
        (CarrierEventMalformed, {"body": b"[1, 2]"}),
        (CarrierEventMalformed, {"body": _body(tracking_number=number, kind="delivered")}),
        (CarrierEventMalformed, {"body": _body(**{**good, "kind": 3})}),
        (CarrierEventMalformed, {"body": b"[" * 3000}),
        (CarrierEventMalformed, {"body": b" " * 5000}),
        (TrackingEventTimeInvalid, {"body": _body(**{**good, "occurred_at": "2026-01-01"})}),
        (TrackingEventTimeInvalid, {"occurred_at": now + timedelta(hours=1)}),
    ]
    for error, post in refusals:
        _refused(tracking, order, error, **post)


def test_a_tampered_body_is_refused(tracking: Tracking) -> None:
    order = tracking.shipped()
    body = _body(
        tracking_number=tracking.tracking_number(order),
        kind="in_transit",
        occurred_at=tracking.clock.now().isoformat(),
    )
    headers = signed(tracking.secret, "msg_1", tracking.clock.now(), body)
    with pytest.raises(CarrierSignatureInvalid):
        shipments.receive_carrier_event(
            tracking.ctx,
            carrier_code="sendy",
            headers=headers,
            body=body.replace(b"in_transit", b"delivered"),
        )
    assert tracking.events(order) == []


# --- operators' events --------------------------------------------------------------------------


def test_an_operator_records_events(tracking: Tracking) -> None:
    order = tracking.shipped()
    found = shipments.shipment_for_order(tracking.ctx, order.id)
    assert found is not None
    when = tracking.clock.now() - timedelta(hours=1)
    recorded = shipments.record_event(
        tracking.ctx, shipment_id=found.id, kind="delivered", occurred_at=when, event_id="ops-1"
    )
    assert recorded.event.source is EventSource.OPERATOR
    assert recorded.event.order_action is EscrowAction.DELIVER
    assert tracking.state(order) is EscrowState.DELIVERED
    again = shipments.record_event(
        tracking.ctx, shipment_id=found.id, kind="delivered", occurred_at=when, event_id="ops-1"
    )
    assert again.repeat and again.event == recorded.event
    assert tracking.events(order) == [("delivered", "ops-1")]


def test_operators_events_are_checked(tracking: Tracking) -> None:
    order = tracking.shipped()
    found = shipments.shipment_for_order(tracking.ctx, order.id)
    assert found is not None
    now = tracking.clock.now()
    refusals: list[tuple[type[DomainError], dict[str, Any]]] = [
        (ShipmentNotFound, {"shipment_id": "shp_nothing"}),
        (TrackingEventKindUnknown, {"kind": "lost"}),
        (TrackingEventTimeInvalid, {"occurred_at": now.replace(tzinfo=None)}),
        (TrackingEventTimeInvalid, {"occurred_at": now + timedelta(days=1)}),
        (CarrierEventIdInvalid, {"event_id": ""}),
    ]
    for error, changed in refusals:
        given = {
            "shipment_id": found.id,
            "kind": "delivered",
            "occurred_at": now,
            "event_id": "ops-1",
        }
        with pytest.raises(error):
            shipments.record_event(tracking.ctx, **(given | changed))
    assert tracking.events(order) == []
    assert tracking.state(order) is EscrowState.SHIPPED
