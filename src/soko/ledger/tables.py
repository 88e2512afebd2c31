"""The ledger's tables: accounts, transfers, pending transfers."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    text,
)

from soko.db.metadata import metadata
from soko.db.types import UtcDateTime

_COUNTERS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("code", String(32), nullable=False),
    Column("flags", Integer, nullable=False),
    # System accounts have a unique name from the chart, e.g. "fees:KES".
    Column("name", String(64), nullable=True, unique=True),
    *(
        Column(counter, BigInteger, nullable=False, server_default=text("0"))
        for counter in _COUNTERS
    ),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("flags IN (0, 1, 2)", name="flags_valid"),
    *(CheckConstraint(f"{counter} >= 0", name=f"{counter}_non_negative") for counter in _COUNTERS),
    CheckConstraint(
        "(flags & 1) = 0 OR debits_pending + debits_posted <= credits_posted",
        name="debits_must_not_exceed_credits",
    ),
    CheckConstraint(
        "(flags & 2) = 0 OR credits_pending + credits_posted <= debits_posted",
        name="credits_must_not_exceed_debits",
    ),
)

# `seq` orders transfers as they were written. Transfers touching one account are written while
# that account is locked, so per account `seq` is the true order (ids are only ordered to the ms).
_Seq = BigInteger().with_variant(Integer(), "sqlite")

transfers = Table(
    "transfers",
    metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("debit_account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("credit_account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("code", String(32), nullable=False),
    Column("flags", Integer, nullable=False),
    Column("pending_id", String(40), ForeignKey("transfers.id"), nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("reference", String(64), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="accounts_different"),
    CheckConstraint("flags IN (0, 1, 2, 4, 8)", name="flags_valid"),
    CheckConstraint(
        "(flags IN (2, 4, 8) AND pending_id IS NOT NULL) "
        "OR (flags IN (0, 1) AND pending_id IS NULL)",
        name="pending_id_iff_resolution",
    ),
    CheckConstraint("expires_at IS NULL OR flags = 1", name="timeout_only_pending"),
    # Statements read an account's transfers newest first.
    Index("ix_transfers_debit_account_id_seq", "debit_account_id", "seq"),
    Index("ix_transfers_credit_account_id_seq", "credit_account_id", "seq"),
    # A post, void or expiry names the hold it resolves; unique makes "exactly once" a database
    # fact even if two resolutions race. Partial: most transfers resolve nothing, and an index
    # entry they do not need is a page write every insert pays for.
    Index(
        "uq_transfers_pending_id",
        "pending_id",
        unique=True,
        sqlite_where=text("pending_id IS NOT NULL"),
        postgresql_where=text("pending_id IS NOT NULL"),
    ),
)

# Where each pending transfer stands. Transfers never change; this row does, once.
pending_transfers = Table(
    "pending_transfers",
    metadata,
    Column("transfer_id", String(40), ForeignKey("transfers.id"), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    CheckConstraint(
        "state IN ('pending', 'posted', 'voided', 'expired')",
        name="state_valid",
    ),
    # The expiry job finds open holds past their time without scanning resolved ones.
    Index(
        "ix_pending_transfers_open_expires_at",
        "expires_at",
        sqlite_where=text("state = 'pending' AND expires_at IS NOT NULL"),
        postgresql_where=text("state = 'pending' AND expires_at IS NOT NULL"),
    ),
)
