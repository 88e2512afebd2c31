"""Each person's language, and USSD sessions (resuming a dropped dial, a resent final request).

Revision ID: 0012
Revises: 0011
Create Date: 2027-01-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from soko.db.types import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", recreate="auto") as batch:
        batch.add_column(sa.Column("language", sa.String(length=2), nullable=True))
    op.create_table(
        "ussd_sessions",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("origin_id", sa.String(length=128), nullable=False),
        sa.Column("resumed_path", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("offered", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("path", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("result_inputs", sa.Integer(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("offered IN (0, 1)", name=op.f("ck_ussd_sessions_offered_boolean")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ussd_sessions")),
    )
    op.create_index("ix_ussd_sessions_phone_updated_at", "ussd_sessions", ["phone", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_ussd_sessions_phone_updated_at", table_name="ussd_sessions")
    op.drop_table("ussd_sessions")
    with op.batch_alter_table("users", recreate="auto") as batch:
        batch.drop_column("language")
