"""Escrow orders and their disputes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from soko.db.types import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


_KINDS_BEFORE = "kind IN ('p2p', 'cash_in', 'cash_out', 'float_topup', 'merchant')"
_KINDS_AFTER = "kind IN ('p2p', 'cash_in', 'cash_out', 'float_topup', 'merchant', 'escrow')"


def upgrade() -> None:
    # Paying into escrow is a payment (it counts towards the buyer's KYC limits).
    with op.batch_alter_table("payments", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_payments_kind_valid"), type_="check")
        batch.create_check_constraint("kind_valid", _KINDS_AFTER)
    op.create_table(
        "escrow_orders",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("seller_id", sa.String(length=40), nullable=False),
        sa.Column("buyer_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=140), nullable=True),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("disputed_from", sa.String(length=16), nullable=True),
        sa.Column("disputed_at", UtcDateTime(), nullable=True),
        sa.Column("ship_by", UtcDateTime(), nullable=False),
        sa.Column("deliver_by", UtcDateTime(), nullable=False),
        sa.Column("inspection_ends_at", UtcDateTime(), nullable=True),
        sa.Column("timer_action", sa.String(length=32), nullable=True),
        sa.Column("timer_due_at", UtcDateTime(), nullable=True),
        sa.Column("hold_id", sa.String(length=40), nullable=True),
        sa.Column("delivery_code_hash", sa.String(length=200), nullable=True),
        sa.Column("code_failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("released", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("fee", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("refunded", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint(
            "state IN ('created', 'funded', 'shipped', 'delivered', 'disputed', 'released',"
            " 'cancelled', 'refunded', 'resolved')",
            name="state_valid",
        ),
        sa.CheckConstraint(
            "(state IN ('created', 'cancelled')) = (hold_id IS NULL)", name="funded_iff_hold"
        ),
        sa.CheckConstraint(
            "(state = 'disputed') = (disputed_from IS NOT NULL)", name="disputed_from"
        ),
        sa.CheckConstraint(
            "released >= 0 AND refunded >= 0 AND fee >= 0 AND fee <= released", name="parts_valid"
        ),
        sa.CheckConstraint(
            "CASE WHEN state IN ('released', 'refunded', 'resolved')"
            " THEN released + refunded = amount"
            " ELSE released = 0 AND refunded = 0 END",
            name="closed_orders_share_the_amount",
        ),
        sa.CheckConstraint("code_failures >= 0", name="code_failures_non_negative"),
        sa.ForeignKeyConstraint(["buyer_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["hold_id"], ["transfers.id"]),
        sa.ForeignKeyConstraint(["seller_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hold_id"),
    )
    op.create_index("ix_escrow_orders_buyer_id_id", "escrow_orders", ["buyer_id", "id"])
    op.create_index("ix_escrow_orders_seller_id_id", "escrow_orders", ["seller_id", "id"])
    op.create_index(
        "ix_escrow_orders_timer_due_at",
        "escrow_orders",
        ["timer_due_at"],
        sqlite_where=sa.text("timer_due_at IS NOT NULL"),
        postgresql_where=sa.text("timer_due_at IS NOT NULL"),
    )
    op.create_table(
        "escrow_disputes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("seller_answer", sa.String(length=1000), nullable=True),
        sa.Column("answered_at", UtcDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("to_buyer", sa.BigInteger(), nullable=True),
        sa.Column("to_seller", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('withdrawn', 'release', 'refund', 'split')",
            name="outcome_valid",
        ),
        sa.CheckConstraint("(outcome IS NULL) = (closed_at IS NULL)", name="closed_iff_outcome"),
        sa.CheckConstraint(
            "(to_buyer IS NULL OR to_buyer >= 0) AND (to_seller IS NULL OR to_seller >= 0)",
            name="parts_non_negative",
        ),
        sa.ForeignKeyConstraint(["order_id"], ["escrow_orders.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_escrow_disputes_order_id", "escrow_disputes", ["order_id"])


def downgrade() -> None:
    op.drop_table("escrow_disputes")
    op.drop_table("escrow_orders")
    with op.batch_alter_table("payments", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_payments_kind_valid"), type_="check")
        batch.create_check_constraint("kind_valid", _KINDS_BEFORE)
