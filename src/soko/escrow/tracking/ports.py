"""What tracking's use cases need from storage."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from soko.escrow.tracking.domain import Carrier, Shipment, ShipmentStep, TrackingEvent


class ShipmentsRepository(Protocol):
    """Carriers, the shipments of escrow orders, and their tracking events."""

    def insert_carrier(self, carrier: Carrier, secret: str) -> None:
        """Raises `TransientConflict` if the code was taken meanwhile."""
        ...

    def get_carrier(self, code: str) -> Carrier | None: ...

    def carrier_secret(self, code: str) -> str | None: ...

    def list_carriers(self, *, limit: int, after_code: str | None) -> list[Carrier]:
        """By code, strictly after `after_code` if given."""
        ...

    def disable_carrier(self, code: str, now: datetime) -> None: ...

    def insert_shipment(self, shipment: Shipment) -> None:
        """Raises `TransientConflict` if the order or the tracking number was taken meanwhile."""
        ...

    def get_shipment(self, shipment_id: str, *, lock: bool = False) -> Shipment | None: ...

    def find_shipment(
        self, carrier_code: str, tracking_number: str, *, lock: bool = False
    ) -> Shipment | None: ...

    def shipment_for_order(self, order_id: str) -> Shipment | None: ...

    def set_step(self, shipment_id: str, step: ShipmentStep, now: datetime) -> None: ...

    def find_event(self, carrier_code: str, carrier_event_id: str) -> TrackingEvent | None: ...

    def insert_event(self, event: TrackingEvent) -> None:
        """Raises `TransientConflict` if the carrier's event id was stored meanwhile."""
        ...

    def list_events(self, shipment_id: str, limit: int) -> list[TrackingEvent]:
        """The shipment's latest `limit` events, oldest first (by when they happened)."""
        ...
