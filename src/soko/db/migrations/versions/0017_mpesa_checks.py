"""M-Pesa: transaction status checks (C2B confirmed by a status query, reversals whose answer was
lost) and the audit record of receipts credited from the organisation statement.

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from soko.db.types import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mpesa_status_checks",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("transaction_id", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("query_id", sa.String(length=64), nullable=True),
        sa.Column("queries", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_check_at", UtcDateTime(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("shortcode", sa.String(length=12), nullable=False),
        sa.Column("bill_ref_number", sa.String(length=40), nullable=False),
        sa.Column("msisdn", sa.String(length=64), nullable=False),
        sa.Column("paid_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('c2b', 'reversal')", name=op.f("ck_mpesa_status_checks_kind_valid")
        ),
        sa.CheckConstraint(
            "state IN ('open', 'confirmed', 'refused')",
            name=op.f("ck_mpesa_status_checks_state_valid"),
        ),
        sa.CheckConstraint(
            "(state = 'open') = (next_check_at IS NOT NULL)",
            name=op.f("ck_mpesa_status_checks_open_iff_scheduled"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_mpesa_status_checks_amount_positive")),
        sa.CheckConstraint(
            "queries >= 0", name=op.f("ck_mpesa_status_checks_queries_non_negative")
        ),
        sa.PrimaryKeyConstraint("kind", "subject", name=op.f("pk_mpesa_status_checks")),
        sa.UniqueConstraint("query_id", name=op.f("uq_mpesa_status_checks_query_id")),
    )
    op.create_index(
        "ix_mpesa_status_checks_open_next_check_at",
        "mpesa_status_checks",
        ["next_check_at"],
        unique=False,
        sqlite_where=sa.text("next_check_at IS NOT NULL"),
        postgresql_where=sa.text("next_check_at IS NOT NULL"),
    )
    op.create_table(
        "mpesa_statement_credits",
        sa.Column("receipt", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("account_number", sa.String(length=40), nullable=False),
        sa.Column("statement_sha256", sa.String(length=64), nullable=False),
        sa.Column("credited_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("transfer_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_mpesa_statement_credits_amount_positive")),
        sa.CheckConstraint(
            "kind IN ('stk', 'c2b')", name=op.f("ck_mpesa_statement_credits_kind_valid")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfers.id"], name=op.f("fk_mpesa_statement_credits_transfer_id")
        ),
        sa.PrimaryKeyConstraint("receipt", name=op.f("pk_mpesa_statement_credits")),
    )


def downgrade() -> None:
    op.drop_table("mpesa_statement_credits")
    op.drop_index("ix_mpesa_status_checks_open_next_check_at", table_name="mpesa_status_checks")
    op.drop_table("mpesa_status_checks")
