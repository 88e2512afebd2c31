"""FX's tables (migration 0010): rates with their history, and quotes until accepted."""

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
    Text,
    UniqueConstraint,
)

from soko.db.metadata import metadata
from soko.db.types import UtcDateTime

fx_rates = Table(
    "fx_rates",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("base", String(3), nullable=False),
    Column("quote", String(3), nullable=False),
    # Exact: "517/4" (numerator/denominator in lowest terms), never a float or a rounded decimal.
    Column("rate", String(80), nullable=False),
    Column("source", String(64), nullable=False),
    Column("as_of", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("base <> quote", name="pair_of_two"),
    # One value per pair, source and time: importing a file again changes nothing, and a
    # correction of a published rate replaces its value.
    UniqueConstraint("base", "quote", "source", "as_of"),
)

fx_quotes = Table(
    "fx_quotes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("owner_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("source_currency", String(3), nullable=False),
    Column("target_currency", String(3), nullable=False),
    # QuoteAmounts, in minor units of the source currency but `target_amount`.
    Column("source_debit", BigInteger, nullable=False),
    Column("converted", BigInteger, nullable=False),
    Column("spread", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("target_amount", BigInteger, nullable=False),
    Column("spread_bps", Integer, nullable=False),
    # Exact rates as "n/d": the mid rate and what the customer got.
    Column("mid", String(200), nullable=False),
    Column("customer_rate", String(200), nullable=False),
    # The rate that priced it, as the quote recorded it: its source(s), its as_of (its oldest
    # ingredient's) and, as JSON, the published rates it was derived from.
    Column("rate_source", String(200), nullable=False),
    Column("rate_as_of", UtcDateTime, nullable=False),
    Column("derived_from", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    # Accepted once: the payment that accepted it.
    Column("payment_id", String(40), ForeignKey("payments.id"), nullable=True, unique=True),
    CheckConstraint("source_currency <> target_currency", name="two_currencies"),
    CheckConstraint(
        "source_debit = converted + spread + fee AND converted > 0 AND spread >= 0 AND fee >= 0"
        " AND target_amount > 0",
        name="amounts_add_up",
    ),
    CheckConstraint("spread_bps >= 0 AND spread_bps <= 2000", name="spread_bps_range"),
    CheckConstraint("expires_at > created_at", name="expires_after_created"),
    CheckConstraint("(used_at IS NULL) = (payment_id IS NULL)", name="used_iff_payment"),
    # Positions sum the quotes accepted in a period.
    Index("ix_fx_quotes_used_at", "used_at"),
    Index("ix_fx_quotes_owner_id", "owner_id"),
)
