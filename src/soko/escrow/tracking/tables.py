"""Tracking's tables (migration 0007): carriers, shipments, events."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
)

from soko.db.metadata import metadata
from soko.db.types import UtcDateTime

# --- shipments and carriers (migration 0007) ----------------------------------------------------

carriers = Table(
    "carriers",
    metadata,
    # A lowercase slug ("sendy"): it appears in the carrier's webhook URL.
    Column("code", String(32), primary_key=True),
    Column("name", String(80), nullable=False),
    # Kept as given (whsec_…): verifying a carrier's HMAC signature needs the key itself.
    Column("secret", String(100), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
    CheckConstraint("length(code) BETWEEN 2 AND 32", name="code_length"),
)

shipments = Table(
    "shipments",
    metadata,
    Column("id", String(40), primary_key=True),
    # One shipment per order: the order's state follows this one parcel.
    Column("order_id", String(40), ForeignKey("escrow_orders.id"), nullable=False, unique=True),
    Column("carrier_code", String(32), ForeignKey("carriers.code"), nullable=False),
    # Upper-cased (tracking/domain.py): carriers treat tracking numbers without regard to case.
    Column("tracking_number", String(40), nullable=False),
    # The furthest step any event reached (escrow/tracking/domain.py RANK).
    Column("step", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(
        "step IN ('registered', 'picked_up', 'in_transit', 'out_for_delivery', 'delivered',"
        " 'returned')",
        name="step_valid",
    ),
    # A carrier's webhook names the parcel by tracking number alone.
    UniqueConstraint("carrier_code", "tracking_number"),
)

carrier_events = Table(
    "carrier_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("shipment_id", String(40), ForeignKey("shipments.id"), nullable=False),
    Column("carrier_code", String(32), ForeignKey("carriers.code"), nullable=False),
    # The carrier's own id (its webhook-id), or the operator's: repeats are dropped by it.
    Column("carrier_event_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("source", String(8), nullable=False),
    # The escrow action this event took its order through, if it moved it.
    Column("order_action", String(16), nullable=True),
    CheckConstraint(
        "kind IN ('picked_up', 'in_transit', 'out_for_delivery', 'delivered', 'failed_delivery',"
        " 'returned')",
        name="kind_valid",
    ),
    CheckConstraint("source IN ('carrier', 'operator')", name="source_valid"),
    CheckConstraint(
        "order_action IS NULL OR order_action IN ('deliver', 'return')", name="order_action_valid"
    ),
    UniqueConstraint("carrier_code", "carrier_event_id"),
    # A shipment's history, in the order things happened.
    Index("ix_carrier_events_shipment_id_occurred_at", "shipment_id", "occurred_at"),
)
