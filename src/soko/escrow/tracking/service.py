"""Shipments and carriers: tracking numbers on escrow orders, and the events carriers report.

An operator registers each carrier and hands it a signing secret (shown once). The seller's
`escrow.ship` adds the order's shipment (`add_shipment_in`, in its transaction). The carrier then
reports tracking events to its signed webhook (`receive_carrier_event`), or an operator records
them (`record_event`). Each event is stored once per carrier event id, and the shipment keeps the
furthest step any event reached; the first time that is `delivered` or `returned`, the escrow
order is delivered (its inspection timer starts) or refunded, in the same transaction.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from soko.context import Context, UnitOfWork
from soko.escrow.errors import EscrowAlreadyShipped
from soko.escrow.tracking.domain import (
    Carrier,
    CarrierReport,
    EventSource,
    Shipment,
    ShipmentStep,
    TrackingEvent,
    TrackingEventKind,
    advance,
    check_carrier_code,
    check_event_id,
    check_kind,
    check_occurred_at,
    check_occurred_when,
    check_tracking_number,
    order_action,
    parse_occurred_at,
    verify_signature,
)
from soko.escrow.tracking.errors import (
    CarrierDisabled,
    CarrierEventIdReused,
    CarrierEventMalformed,
    CarrierExists,
    CarrierNotFound,
    ShipmentNotFound,
    TrackingNumberInvalid,
    TrackingNumberTaken,
    TrackingNumberUnknown,
)
from soko.kernel import limits
from soko.kernel.errors import CursorInvalid, PageSizeInvalid
from soko.kernel.transactions import in_transaction
from soko.notify.domain import format_secret
from soko.people.domain import check_name


@dataclass(frozen=True, slots=True)
class NewCarrier:
    carrier: Carrier
    #: The signing secret (whsec_…), shown to the operator once, to hand to the carrier.
    secret: str


@dataclass(frozen=True, slots=True)
class CarrierPage:
    carriers: list[Carrier]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """A tracking event as stored, and the shipment after it."""

    event: TrackingEvent
    shipment: Shipment
    #: True if this event id was recorded before: nothing changed, `event` is the first one.
    repeat: bool


@dataclass(frozen=True, slots=True)
class TrackedShipment:
    shipment: Shipment
    #: Its latest events (at most `limits.TRACKING_EVENTS_SHOWN_MAX`), oldest first.
    events: list[TrackingEvent]


# --- carriers -----------------------------------------------------------------------------------


def add_carrier(ctx: Context, *, code: str, name: str) -> NewCarrier:
    """Register a carrier (operator); its signing secret is returned this once."""
    code = check_carrier_code(code)
    name = check_name(name)
    secret = format_secret(secrets.token_bytes(limits.WEBHOOK_SECRET_BYTES))

    def work(uow: UnitOfWork) -> NewCarrier:
        if uow.shipments.get_carrier(code) is not None:
            raise CarrierExists(carrier_code=code)
        carrier = Carrier(code=code, name=name, created_at=ctx.clock.now(), disabled_at=None)
        uow.shipments.insert_carrier(carrier, secret)
        return NewCarrier(carrier, secret)

    return in_transaction(ctx, work)


def get_carrier(ctx: Context, code: str) -> Carrier:
    found = in_transaction(ctx, lambda uow: uow.shipments.get_carrier(code), read_only=True)
    if found is None:
        raise CarrierNotFound(carrier_code=code[:64])
    return found


def list_carriers(
    ctx: Context, *, limit: int = limits.PAGE_SIZE_DEFAULT, cursor: str | None = None
) -> CarrierPage:
    """Carriers by code, disabled ones included; `cursor` is the last code of the last page."""
    if not 1 <= limit <= limits.PAGE_SIZE_MAX:
        raise PageSizeInvalid(f"page size {limit}; allowed 1 to {limits.PAGE_SIZE_MAX}")
    if cursor is not None and not 0 < len(cursor) <= limits.CARRIER_CODE_LENGTH_MAX:
        raise CursorInvalid()
    found = in_transaction(
        ctx,
        lambda uow: uow.shipments.list_carriers(limit=limit, after_code=cursor),
        read_only=True,
    )
    return CarrierPage(found, found[-1].code if len(found) == limit else None)


def disable_carrier(ctx: Context, code: str) -> Carrier:
    """Refuse the carrier's events and new shipments from now on. Twice is the same as once;
    shipments it already carries keep their history."""

    def work(uow: UnitOfWork) -> Carrier:
        if uow.shipments.get_carrier(code) is None:
            raise CarrierNotFound(carrier_code=code[:64])
        uow.shipments.disable_carrier(code, ctx.clock.now())
        found = uow.shipments.get_carrier(code)
        assert found is not None and not found.enabled
        return found

    return in_transaction(ctx, work)


def _enabled_carrier(uow: UnitOfWork, code: str) -> Carrier:
    carrier = uow.shipments.get_carrier(code)
    if carrier is None:
        raise CarrierNotFound(carrier_code=code[:64])
    if not carrier.enabled:
        raise CarrierDisabled(carrier_code=code)
    return carrier


# --- shipments ----------------------------------------------------------------------------------


def add_shipment_in(
    uow: UnitOfWork, ctx: Context, *, order_id: str, carrier_code: str, tracking_number: str
) -> str:
    """Record the order's shipment in the caller's transaction; returns the shipment id.

    The caller (`escrow.ship`) has checked and locked the order. Refusals: an unknown carrier
    (`CarrierNotFound`), a disabled one (`CarrierDisabled`), a malformed tracking number, one the
    carrier already uses for another parcel (`TrackingNumberTaken`), an order that has its
    shipment already (`EscrowAlreadyShipped`).
    """
    number = check_tracking_number(tracking_number)
    _enabled_carrier(uow, carrier_code)
    if uow.shipments.shipment_for_order(order_id) is not None:
        raise EscrowAlreadyShipped("the order has its shipment already", order_id=order_id)
    if uow.shipments.find_shipment(carrier_code, number) is not None:
        raise TrackingNumberTaken(carrier_code=carrier_code, tracking_number=number)
    now = ctx.clock.now()
    shipment = Shipment(
        id=ctx.ids.new("shp"),
        order_id=order_id,
        carrier_code=carrier_code,
        tracking_number=number,
        step=ShipmentStep.REGISTERED,
        created_at=now,
        updated_at=now,
    )
    uow.shipments.insert_shipment(shipment)
    return shipment.id


def get_shipment(ctx: Context, shipment_id: str, *, seen_by: str | None = None) -> TrackedShipment:
    """The shipment and its latest events, oldest first. With `seen_by`, only for the order's
    buyer or seller: anyone else is told it does not exist, as for an unknown id."""

    def work(uow: UnitOfWork) -> TrackedShipment:
        shipment = uow.shipments.get_shipment(shipment_id)
        if shipment is None:
            raise ShipmentNotFound(shipment_id=shipment_id[:64])
        if seen_by is not None:
            order = uow.escrow.get_order(shipment.order_id)
            if order is None or seen_by not in (order.buyer_id, order.seller_id):
                raise ShipmentNotFound(shipment_id=shipment_id[:64])
        events = uow.shipments.list_events(shipment.id, limits.TRACKING_EVENTS_SHOWN_MAX)
        return TrackedShipment(shipment, events)

    return in_transaction(ctx, work, read_only=True)


def shipment_for_order(ctx: Context, order_id: str) -> Shipment | None:
    """The order's shipment, or None before it ships."""
    return in_transaction(
        ctx, lambda uow: uow.shipments.shipment_for_order(order_id), read_only=True
    )


def list_events(ctx: Context, shipment_id: str) -> list[TrackingEvent]:
    """The shipment's latest events, oldest first by when they happened."""
    return get_shipment(ctx, shipment_id).events


# --- tracking events ----------------------------------------------------------------------------


def receive_carrier_event(
    ctx: Context, *, carrier_code: str, headers: Mapping[str, str], body: bytes
) -> RecordedEvent:
    """A carrier's signed webhook: verify it, read it, record it.

    Refused with nothing written: an unknown carrier, a bad signature or stale timestamp, a
    disabled carrier, a malformed body, an unknown kind or tracking number. The check of the
    signature runs in a read-only transaction, so an unsigned flood never takes the write lock.
    """

    def secret_of(uow: UnitOfWork) -> tuple[Carrier, str]:
        carrier = uow.shipments.get_carrier(carrier_code)
        if carrier is None:
            raise CarrierNotFound(carrier_code=carrier_code[:64])
        secret = uow.shipments.carrier_secret(carrier_code)
        assert secret is not None
        return carrier, secret

    carrier, secret = in_transaction(ctx, secret_of, read_only=True)
    if len(body) > limits.CARRIER_EVENT_BODY_BYTES_MAX:
        # Bounded before the HMAC, which would otherwise read all of it.
        raise CarrierEventMalformed(
            f"the body is larger than {limits.CARRIER_EVENT_BODY_BYTES_MAX} bytes"
        )
    signed = verify_signature(secret, headers, body, ctx.clock.now())
    # Only a caller that proved who it is learns that the carrier is disabled.
    if not carrier.enabled:
        raise CarrierDisabled(carrier_code=carrier_code)
    report = read_report(body)

    def work(uow: UnitOfWork) -> RecordedEvent:
        _enabled_carrier(uow, carrier_code)
        shipment = uow.shipments.find_shipment(carrier_code, report.tracking_number, lock=True)
        if shipment is None:
            raise TrackingNumberUnknown(
                carrier_code=carrier_code, tracking_number=report.tracking_number
            )
        return _record_in(
            uow,
            ctx,
            shipment,
            kind=report.kind,
            occurred_at=report.occurred_at,
            event_id=signed.msg_id,
            source=EventSource.CARRIER,
        )

    return in_transaction(ctx, work)


def read_report(body: bytes) -> CarrierReport:
    """A carrier webhook's JSON body: {"tracking_number", "kind", "occurred_at"}. Other members
    are ignored: carriers add their own (a location, a signer's name)."""
    try:
        parsed: Any = json.loads(body)
    except (ValueError, RecursionError):
        # ValueError covers bodies that are not UTF-8 as well as bad JSON.
        raise CarrierEventMalformed("the body is not JSON in UTF-8") from None
    if not isinstance(parsed, dict):
        raise CarrierEventMalformed("the body must be a JSON object")
    missing = [
        name
        for name in ("tracking_number", "kind", "occurred_at")
        if not isinstance(parsed.get(name), str)
    ]
    if missing:
        raise CarrierEventMalformed(
            f"missing or not a string: {', '.join(missing)}", field=missing[0]
        )
    kind = check_kind(parsed["kind"])
    occurred_at = parse_occurred_at(parsed["occurred_at"])
    try:
        number = check_tracking_number(parsed["tracking_number"])
    except TrackingNumberInvalid:
        # Not a number Soko could have issued a shipment for: as unknown as any other.
        raise TrackingNumberUnknown(
            "no shipment has this tracking number", tracking_number=parsed["tracking_number"][:64]
        ) from None
    return CarrierReport(tracking_number=number, kind=kind, occurred_at=occurred_at)


def record_event(
    ctx: Context, *, shipment_id: str, kind: str, occurred_at: datetime, event_id: str
) -> RecordedEvent:
    """An operator records a tracking event (a carrier without a webhook, or a missed event).

    The operator's event id plays the carrier's: the same id again changes nothing.
    """
    checked_kind = check_kind(kind)
    when = check_occurred_at(occurred_at)
    checked_id = check_event_id(event_id)

    def work(uow: UnitOfWork) -> RecordedEvent:
        shipment = uow.shipments.get_shipment(shipment_id, lock=True)
        if shipment is None:
            raise ShipmentNotFound(shipment_id=shipment_id[:64])
        return _record_in(
            uow,
            ctx,
            shipment,
            kind=checked_kind,
            occurred_at=when,
            event_id=checked_id,
            source=EventSource.OPERATOR,
        )

    return in_transaction(ctx, work)


def _record_in(
    uow: UnitOfWork,
    ctx: Context,
    shipment: Shipment,
    *,
    kind: TrackingEventKind,
    occurred_at: datetime,
    event_id: str,
    source: EventSource,
) -> RecordedEvent:
    """Store one event of a locked shipment, advance its step, and move its order if the step
    newly reached delivered or returned."""
    first = uow.shipments.find_event(shipment.carrier_code, event_id)
    if first is not None:
        # The time is left out of the comparison: an operator repeating a command without
        # `--at` sends another "now" for the same event.
        if (first.shipment_id, first.kind) != (shipment.id, kind):
            raise CarrierEventIdReused(
                f"event id {event_id!r} was recorded for another event", event_id=event_id
            )
        return RecordedEvent(first, shipment, repeat=True)
    now = ctx.clock.now()
    check_occurred_when(occurred_at, now)
    step = advance(shipment.step, kind)
    action = order_action(shipment.step, step)
    # The event is kept even when the order cannot take the step (already released by the
    # delivery code, disputed, refunded): the parcel's history is the carrier's, not ours.
    # Tracking reports the step; escrow applies it (ctx.apply_carrier_step, wired in bootstrap).
    moved = action is not None and ctx.apply_carrier_step(uow, ctx, shipment.order_id, action)
    event = TrackingEvent(
        id=ctx.ids.new("tev"),
        shipment_id=shipment.id,
        carrier_code=shipment.carrier_code,
        carrier_event_id=event_id,
        kind=kind,
        occurred_at=occurred_at,
        received_at=now,
        source=source,
        order_action=action if moved else None,
    )
    uow.shipments.insert_event(event)
    if step != shipment.step:
        uow.shipments.set_step(shipment.id, step, now)
        shipment = replace(shipment, step=step, updated_at=now)
    return RecordedEvent(event, shipment, repeat=False)
