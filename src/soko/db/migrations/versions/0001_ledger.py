"""The ledger: accounts, transfers, pending transfer states and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from soko.db.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_COUNTERS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=True),
        *(
            sa.Column(counter, sa.BigInteger(), nullable=False, server_default=sa.text("0"))
            for counter in _COUNTERS
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("flags IN (0, 1, 2)", name=op.f("ck_accounts_flags_valid")),
        *(
            sa.CheckConstraint(f"{counter} >= 0", name=op.f(f"ck_accounts_{counter}_non_negative"))
            for counter in _COUNTERS
        ),
        sa.CheckConstraint(
            "(flags & 1) = 0 OR debits_pending + debits_posted <= credits_posted",
            name=op.f("ck_accounts_debits_must_not_exceed_credits"),
        ),
        sa.CheckConstraint(
            "(flags & 2) = 0 OR credits_pending + credits_posted <= debits_posted",
            name=op.f("ck_accounts_credits_must_not_exceed_debits"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_accounts_name")),
    )
    op.create_table(
        "transfers",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("debit_account_id", sa.String(40), nullable=False),
        sa.Column("credit_account_id", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("pending_id", sa.String(40), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("reference", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_transfers_amount_positive")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name=op.f("ck_transfers_accounts_different")
        ),
        sa.CheckConstraint("flags IN (0, 1, 2, 4, 8)", name=op.f("ck_transfers_flags_valid")),
        sa.CheckConstraint(
            "(flags IN (2, 4, 8) AND pending_id IS NOT NULL) "
            "OR (flags IN (0, 1) AND pending_id IS NULL)",
            name=op.f("ck_transfers_pending_id_iff_resolution"),
        ),
        sa.CheckConstraint(
            "expires_at IS NULL OR flags = 1", name=op.f("ck_transfers_timeout_only_pending")
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"], ["accounts.id"], name=op.f("fk_transfers_debit_account_id")
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"], ["accounts.id"], name=op.f("fk_transfers_credit_account_id")
        ),
        sa.ForeignKeyConstraint(
            ["pending_id"], ["transfers.id"], name=op.f("fk_transfers_pending_id")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_transfers")),
        sa.UniqueConstraint("id", name=op.f("uq_transfers_id")),
    )
    op.create_index(
        op.f("ix_transfers_debit_account_id_seq"), "transfers", ["debit_account_id", "seq"]
    )
    op.create_index(
        op.f("ix_transfers_credit_account_id_seq"), "transfers", ["credit_account_id", "seq"]
    )
    resolutions = sa.text("pending_id IS NOT NULL")
    op.create_index(
        op.f("uq_transfers_pending_id"),
        "transfers",
        ["pending_id"],
        unique=True,
        sqlite_where=resolutions,
        postgresql_where=resolutions,
    )
    op.create_table(
        "pending_transfers",
        sa.Column("transfer_id", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'posted', 'voided', 'expired')",
            name=op.f("ck_pending_transfers_state_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfers.id"], name=op.f("fk_pending_transfers_transfer_id")
        ),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_pending_transfers")),
    )
    open_holds = sa.text("state = 'pending' AND expires_at IS NOT NULL")
    op.create_index(
        op.f("ix_pending_transfers_open_expires_at"),
        "pending_transfers",
        ["expires_at"],
        sqlite_where=open_holds,
        postgresql_where=open_holds,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("pending_transfers")
    op.drop_table("transfers")
    op.drop_table("accounts")
