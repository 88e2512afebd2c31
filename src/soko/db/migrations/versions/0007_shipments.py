"""Carriers, shipments and tracking events.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from soko.db.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carriers",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("disabled_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint("length(code) BETWEEN 2 AND 32", name=op.f("ck_carriers_code_length")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_carriers")),
    )
    op.create_table(
        "shipments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("carrier_code", sa.String(length=32), nullable=False),
        sa.Column("tracking_number", sa.String(length=40), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "step IN ('registered', 'picked_up', 'in_transit', 'out_for_delivery', 'delivered',"
            " 'returned')",
            name=op.f("ck_shipments_step_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["carrier_code"], ["carriers.code"], name=op.f("fk_shipments_carrier_code")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["escrow_orders.id"], name=op.f("fk_shipments_order_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint(
            "carrier_code",
            "tracking_number",
            name=op.f("uq_shipments_carrier_code_tracking_number"),
        ),
        sa.UniqueConstraint("order_id", name=op.f("uq_shipments_order_id")),
    )
    op.create_table(
        "carrier_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("shipment_id", sa.String(length=40), nullable=False),
        sa.Column("carrier_code", sa.String(length=32), nullable=False),
        sa.Column("carrier_event_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("order_action", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "kind IN ('picked_up', 'in_transit', 'out_for_delivery', 'delivered',"
            " 'failed_delivery', 'returned')",
            name=op.f("ck_carrier_events_kind_valid"),
        ),
        sa.CheckConstraint(
            "source IN ('carrier', 'operator')", name=op.f("ck_carrier_events_source_valid")
        ),
        sa.CheckConstraint(
            "order_action IS NULL OR order_action IN ('deliver', 'return')",
            name=op.f("ck_carrier_events_order_action_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["carrier_code"], ["carriers.code"], name=op.f("fk_carrier_events_carrier_code")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_carrier_events_shipment_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_events")),
        sa.UniqueConstraint(
            "carrier_code",
            "carrier_event_id",
            name=op.f("uq_carrier_events_carrier_code_carrier_event_id"),
        ),
    )
    op.create_index(
        "ix_carrier_events_shipment_id_occurred_at",
        "carrier_events",
        ["shipment_id", "occurred_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_carrier_events_shipment_id_occurred_at", table_name="carrier_events")
    op.drop_table("carrier_events")
    op.drop_table("shipments")
    op.drop_table("carriers")
