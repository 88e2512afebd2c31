"""Credit's tables (migration 0009): decisions and their audit record, offers, loans, repayments."""

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
    text,
)

from soko.db.metadata import metadata
from soko.db.types import UtcDateTime

#: Every decision, offer or not, with what it saw: the features, the scorecard version, the
#: points and the reasons, as JSON. Enough to explain it to the merchant or replay it.
credit_decisions = Table(
    "credit_decisions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("merchant_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("scorecard_version", String(64), nullable=False),
    Column("score", Integer, nullable=False),
    Column("grade", String(8), nullable=False),
    Column("offered", Integer, nullable=False),
    Column("record", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("offered IN (0, 1)", name="offered_boolean"),
    Index("ix_credit_decisions_merchant_id_created_at", "merchant_id", "created_at"),
)

credit_offers = Table(
    "credit_offers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("decision_id", String(40), ForeignKey("credit_decisions.id"), nullable=False),
    Column("merchant_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("limit_amount", BigInteger, nullable=False),
    Column("fee_bps", Integer, nullable=False),
    Column("withhold_bps", Integer, nullable=False),
    Column("term_days", Integer, nullable=False),
    Column("grade", String(8), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    # open -> used (a loan took it) or superseded (a newer decision replaced it); once only.
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("limit_amount > 0", name="limit_positive"),
    CheckConstraint("status IN ('open', 'used', 'superseded')", name="status_valid"),
    Index("ix_credit_offers_merchant_id_created_at", "merchant_id", "created_at"),
)

loans = Table(
    "loans",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("merchant_id", String(40), ForeignKey("users.id"), nullable=False),
    # One loan per offer, whatever races: the database refuses a second.
    Column("offer_id", String(40), ForeignKey("credit_offers.id"), nullable=False, unique=True),
    Column("currency", String(3), nullable=False),
    Column("principal", BigInteger, nullable=False),
    # The flat fee agreed at acceptance, and late fees charged since (both earned on repayment).
    Column("fee", BigInteger, nullable=False),
    Column("late_fees", BigInteger, nullable=False, server_default=text("0")),
    Column("fee_bps", Integer, nullable=False),
    Column("withhold_bps", Integer, nullable=False),
    Column("term_days", Integer, nullable=False),
    # revenue: a share of each sale and a minimum per period; instalments: a fixed schedule.
    Column("repayment", String(12), nullable=False),
    Column("method", String(12), nullable=True),
    Column("frequency", String(8), nullable=True),
    Column("instalments", Integer, nullable=True),
    Column("repaid_principal", BigInteger, nullable=False, server_default=text("0")),
    Column("repaid_fee", BigInteger, nullable=False, server_default=text("0")),
    # How many minimums were missed (each charged one late fee), and the worst lateness seen.
    Column("missed_periods", Integer, nullable=False, server_default=text("0")),
    Column("max_days_past_due", Integer, nullable=False, server_default=text("0")),
    Column("status", String(12), nullable=False),
    Column("scorecard_version", String(64), nullable=False),
    Column("grade", String(8), nullable=False),
    Column("disbursed_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    CheckConstraint("principal > 0", name="principal_positive"),
    CheckConstraint("fee >= 0 AND late_fees >= 0", name="fees_non_negative"),
    CheckConstraint(
        "repaid_principal >= 0 AND repaid_principal <= principal", name="principal_within"
    ),
    CheckConstraint("repaid_fee >= 0 AND repaid_fee <= fee + late_fees", name="fee_within"),
    CheckConstraint("repayment IN ('revenue', 'instalments')", name="repayment_valid"),
    CheckConstraint("status IN ('active', 'repaid', 'written_off')", name="status_valid"),
    Index("ix_loans_merchant_id_disbursed_at", "merchant_id", "disbursed_at"),
    Index("ix_loans_status", "status"),
)

loan_repayments = Table(
    "loan_repayments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=False),
    # sweep (a share of a sale), manual (the merchant), minimum (collected by the worker).
    Column("kind", String(12), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("principal_part", BigInteger, nullable=False),
    Column("fee_part", BigInteger, nullable=False),
    # The sale a sweep came from.
    Column("payment_id", String(40), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0 AND amount = principal_part + fee_part", name="parts_sum"),
    CheckConstraint("kind IN ('sweep', 'manual', 'minimum')", name="kind_valid"),
    Index("ix_loan_repayments_loan_id_created_at", "loan_id", "created_at"),
)
