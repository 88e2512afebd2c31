"""One-time codes sent by SMS for the web app's sign-up and forgotten PIN.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from soko.db.types import UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_codes",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.Text(), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("tries_left", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UtcDateTime(), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "purpose IN ('sign_up', 'reset_pin')", name=op.f("ck_web_codes_purpose_valid")
        ),
        sa.CheckConstraint(
            "tries_left >= 0 AND sends >= 0", name=op.f("ck_web_codes_counts_valid")
        ),
        sa.PrimaryKeyConstraint("phone", "purpose", name=op.f("pk_web_codes")),
    )
    op.create_index(
        "ix_web_codes_window_started_at", "web_codes", ["window_started_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_web_codes_window_started_at", table_name="web_codes")
    op.drop_table("web_codes")
