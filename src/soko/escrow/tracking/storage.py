"""Carriers, shipments and tracking events in SQL.

A lost race on a unique key (two shipments for one order, one tracking number twice, one carrier
event stored by two requests at once) raises `TransientConflict`: the use case runs again and
sees the winner's row, so a repeated carrier event comes back as a repeat rather than an error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from soko.escrow.domain import EscrowAction
from soko.escrow.tracking.domain import (
    Carrier,
    EventSource,
    Shipment,
    ShipmentStep,
    TrackingEvent,
    TrackingEventKind,
)
from soko.escrow.tracking.tables import carrier_events, carriers, shipments
from soko.kernel.ports import TransientConflict

_CARRIER_COLUMNS = (
    carriers.c.code,
    carriers.c.name,
    carriers.c.created_at,
    carriers.c.disabled_at,
)


class SqlShipmentsRepository:
    def __init__(self, connection: Connection, *, row_locks: bool) -> None:
        self._conn = connection
        self._row_locks = row_locks

    # --- carriers -----------------------------------------------------------------------------

    def insert_carrier(self, carrier: Carrier, secret: str) -> None:
        try:
            self._conn.execute(
                carriers.insert(),
                {
                    "code": carrier.code,
                    "name": carrier.name,
                    "secret": secret,
                    "created_at": carrier.created_at,
                    "disabled_at": carrier.disabled_at,
                },
            )
        except sa.exc.IntegrityError as error:
            raise TransientConflict(f"carrier {carrier.code!r} added concurrently") from error

    def get_carrier(self, code: str) -> Carrier | None:
        row = self._conn.execute(
            sa.select(*_CARRIER_COLUMNS).where(carriers.c.code == code)
        ).first()
        return None if row is None else _carrier(row)

    def carrier_secret(self, code: str) -> str | None:
        query = sa.select(carriers.c.secret).where(carriers.c.code == code)
        secret: str | None = self._conn.execute(query).scalar_one_or_none()
        return secret

    def list_carriers(self, *, limit: int, after_code: str | None) -> list[Carrier]:
        query = sa.select(*_CARRIER_COLUMNS).order_by(carriers.c.code).limit(limit)
        if after_code is not None:
            query = query.where(carriers.c.code > after_code)
        return [_carrier(row) for row in self._conn.execute(query)]

    def disable_carrier(self, code: str, now: datetime) -> None:
        self._conn.execute(
            carriers.update()
            .where(carriers.c.code == code, carriers.c.disabled_at.is_(None))
            .values(disabled_at=now)
        )

    # --- shipments ----------------------------------------------------------------------------

    def insert_shipment(self, shipment: Shipment) -> None:
        try:
            self._conn.execute(
                shipments.insert(),
                {
                    "id": shipment.id,
                    "order_id": shipment.order_id,
                    "carrier_code": shipment.carrier_code,
                    "tracking_number": shipment.tracking_number,
                    "step": shipment.step.value,
                    "created_at": shipment.created_at,
                    "updated_at": shipment.updated_at,
                },
            )
        except sa.exc.IntegrityError as error:
            raise TransientConflict(
                f"a shipment for order {shipment.order_id} or tracking number "
                f"{shipment.tracking_number} was added concurrently"
            ) from error

    def get_shipment(self, shipment_id: str, *, lock: bool = False) -> Shipment | None:
        return self._one_shipment(shipments.c.id == shipment_id, lock=lock)

    def find_shipment(
        self, carrier_code: str, tracking_number: str, *, lock: bool = False
    ) -> Shipment | None:
        return self._one_shipment(
            sa.and_(
                shipments.c.carrier_code == carrier_code,
                shipments.c.tracking_number == tracking_number,
            ),
            lock=lock,
        )

    def shipment_for_order(self, order_id: str) -> Shipment | None:
        return self._one_shipment(shipments.c.order_id == order_id, lock=False)

    def _one_shipment(self, where: sa.ColumnElement[bool], *, lock: bool) -> Shipment | None:
        query = sa.select(shipments).where(where)
        if lock and self._row_locks:
            # Events of one shipment are recorded one after the other: each sees the step the
            # previous one left, so the first to reach `delivered` is the one that moves the order.
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _shipment(row)

    def set_step(self, shipment_id: str, step: ShipmentStep, now: datetime) -> None:
        self._conn.execute(
            shipments.update()
            .where(shipments.c.id == shipment_id)
            .values(step=step.value, updated_at=now)
        )

    # --- events -------------------------------------------------------------------------------

    def find_event(self, carrier_code: str, carrier_event_id: str) -> TrackingEvent | None:
        query = sa.select(carrier_events).where(
            carrier_events.c.carrier_code == carrier_code,
            carrier_events.c.carrier_event_id == carrier_event_id,
        )
        row = self._conn.execute(query).first()
        return None if row is None else _event(row)

    def insert_event(self, event: TrackingEvent) -> None:
        try:
            self._conn.execute(carrier_events.insert(), _event_values(event))
        except sa.exc.IntegrityError as error:
            raise TransientConflict(
                f"carrier event {event.carrier_event_id!r} stored concurrently"
            ) from error

    def list_events(self, shipment_id: str, limit: int) -> list[TrackingEvent]:
        query = (
            sa.select(carrier_events)
            .where(carrier_events.c.shipment_id == shipment_id)
            .order_by(carrier_events.c.occurred_at.desc(), carrier_events.c.id.desc())
            .limit(limit)
        )
        return [_event(row) for row in self._conn.execute(query)][::-1]


def _carrier(row: Row[Any, Any, Any, Any]) -> Carrier:
    return Carrier(
        code=row.code, name=row.name, created_at=row.created_at, disabled_at=row.disabled_at
    )


def _shipment(row: Row[Any]) -> Shipment:
    return Shipment(
        id=row.id,
        order_id=row.order_id,
        carrier_code=row.carrier_code,
        tracking_number=row.tracking_number,
        step=ShipmentStep(row.step),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _event(row: Row[Any]) -> TrackingEvent:
    return TrackingEvent(
        id=row.id,
        shipment_id=row.shipment_id,
        carrier_code=row.carrier_code,
        carrier_event_id=row.carrier_event_id,
        kind=TrackingEventKind(row.kind),
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        source=EventSource(row.source),
        order_action=None if row.order_action is None else EscrowAction(row.order_action),
    )


def _event_values(event: TrackingEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "shipment_id": event.shipment_id,
        "carrier_code": event.carrier_code,
        "carrier_event_id": event.carrier_event_id,
        "kind": event.kind.value,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at,
        "source": event.source.value,
        "order_action": None if event.order_action is None else event.order_action.value,
    }
