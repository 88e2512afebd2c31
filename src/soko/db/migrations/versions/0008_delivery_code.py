"""Escrow orders keep their delivery code, so the buyer can see it again (ADR 0010).

Orders funded before this keep only the argon2 hash of theirs: their codes still work, and were
sent by SMS, but cannot be shown again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escrow_orders", recreate="auto") as batch:
        batch.add_column(sa.Column("delivery_code", sa.String(length=6), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("escrow_orders", recreate="auto") as batch:
        batch.drop_column("delivery_code")
