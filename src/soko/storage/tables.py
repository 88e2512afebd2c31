"""The schema (SQLAlchemy Core). CHECK constraints and unique keys back up the domain's rules.

The database is the second line of defence: `domain/ledger.py` refuses a transfer that would
spend a wallet below zero, and if a bug ever let one through, the CHECK on `accounts` would still
refuse to commit it. Alembic migrations in `migrations/` create exactly this schema; a test
compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from soko.storage.types import UtcDateTime

# Stable constraint names, so migrations can refer to them on both databases.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

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

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # The caller's identity: the same key from two tenants is two keys.
    Column("scope", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    # SHA-256 of the request: the same key with another request is refused, never replayed.
    Column("fingerprint", String(64), nullable=False),
    # The use case's result as JSON, replayed to a retry.
    Column("result", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_idempotency_keys_created_at", "created_at"),
)

# --- people, wallets and access (migration 0002) ----------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("phone", String(20), nullable=False, unique=True),
    Column("name", String(80), nullable=False),
    Column("country", String(2), nullable=False),
    Column("kyc_tier", Integer, nullable=False),
    Column("national_id", String(32), nullable=True),
    # argon2id; NULL until the user sets a PIN.
    Column("pin_hash", String(200), nullable=True),
    Column("pin_failures", Integer, nullable=False, server_default=text("0")),
    Column("pin_locked", Integer, nullable=False, server_default=text("0")),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("kind IN ('consumer', 'merchant', 'agent')", name="kind_valid"),
    CheckConstraint("kyc_tier IN (0, 1, 2)", name="kyc_tier_valid"),
    CheckConstraint("kyc_tier = 0 OR national_id IS NOT NULL", name="kyc_tier_needs_national_id"),
    CheckConstraint("pin_failures >= 0", name="pin_failures_non_negative"),
    CheckConstraint("pin_locked IN (0, 1)", name="pin_locked_boolean"),
)

merchants = Table(
    "merchants",
    metadata,
    Column("user_id", String(40), ForeignKey("users.id"), primary_key=True),
    Column("trading_name", String(80), nullable=False),
    Column("category_code", String(4), nullable=False),
    Column("settlement_currency", String(3), nullable=False),
    # What a customer keys in at the counter: short, numeric, unique.
    Column("till_number", String(10), nullable=False, unique=True),
)

wallets = Table(
    "wallets",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    # One wallet per user and currency, even when two requests open it at once.
    UniqueConstraint("user_id", "currency", name="uq_wallets_user_id_currency"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("payer_wallet_id", String(40), ForeignKey("wallets.id"), nullable=True),
    Column("payee_wallet_id", String(40), ForeignKey("wallets.id"), nullable=True),
    # Money sent to a number with no wallet yet waits for it under a hold.
    Column("payee_phone", String(20), nullable=True),
    Column("amount", BigInteger, nullable=False),
    # What the payer paid on top of the amount, and what the agent earned.
    Column("fee", BigInteger, nullable=False),
    Column("commission", BigInteger, nullable=False, server_default=text("0")),
    Column("currency", String(3), nullable=False),
    Column("message", String(140), nullable=True),
    Column("hold_id", String(40), ForeignKey("transfers.id"), nullable=True, unique=True),
    Column("fee_hold_id", String(40), ForeignKey("transfers.id"), nullable=True, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("fee >= 0", name="fee_non_negative"),
    CheckConstraint("commission >= 0", name="commission_non_negative"),
    # Refunds so far, and the part of the merchant's fee they gave back (merchant payments).
    Column("refunded", BigInteger, nullable=False, server_default=text("0")),
    Column("fee_refunded", BigInteger, nullable=False, server_default=text("0")),
    CheckConstraint(
        "kind IN ('p2p', 'cash_in', 'cash_out', 'float_topup', 'merchant', 'escrow')",
        name="kind_valid",
    ),
    # Never more refunded than was paid, nor more fee given back than was charged.
    CheckConstraint("refunded >= 0 AND refunded <= amount", name="refunded_within_amount"),
    CheckConstraint("fee_refunded >= 0 AND fee_refunded <= fee", name="fee_refunded_within_fee"),
    CheckConstraint(
        "payee_wallet_id IS NOT NULL OR (payee_phone IS NOT NULL AND hold_id IS NOT NULL)",
        name="payee_known_or_held",
    ),
    # The daily and monthly KYC limits sum what a wallet paid out since a time.
    Index("ix_payments_payer_wallet_id_created_at", "payer_wallet_id", "created_at"),
    Index("ix_payments_payee_wallet_id_created_at", "payee_wallet_id", "created_at"),
    Index("ix_payments_payee_phone", "payee_phone"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    # SHA-256 of the secret: the secret is shown once and never stored.
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("merchant_id", String(40), ForeignKey("users.id"), nullable=True),
    Column("name", String(80), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    CheckConstraint("role IN ('operator', 'merchant')", name="role_valid"),
    CheckConstraint(
        "(role = 'merchant') = (merchant_id IS NOT NULL)", name="merchant_key_has_merchant"
    ),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_sessions_user_id", "user_id"),
)

# --- notifications: webhook endpoints, events, deliveries, SMS (migration 0003) ---------------

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    # The merchant whose events it receives.
    Column("owner_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("url", String(2048), nullable=False),
    # Kept as given, unlike API keys (hashed): HMAC signing needs the key itself for every
    # delivery, where an API key only has to be recognised.
    Column("secret", String(100), nullable=False),
    # Space-separated event types, sorted.
    Column("event_types", String(500), nullable=False),
    Column("enabled", Integer, nullable=False, server_default=text("1")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
    CheckConstraint("enabled IN (0, 1)", name="enabled_boolean"),
    CheckConstraint("(enabled = 1) = (disabled_at IS NULL)", name="disabled_at_iff_disabled"),
    # Every money movement asks which endpoints of its merchant want the event.
    Index("ix_webhook_endpoints_owner_id", "owner_id"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("owner_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("type", String(64), nullable=False),
    # The body exactly as every attempt sends it, so each signs the same bytes.
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# One row per event and endpoint: the outbox the worker sends from.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("event_id", String(40), ForeignKey("webhook_events.id"), nullable=False),
    Column("endpoint_id", String(40), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # When a pending delivery is next due; NULL once it succeeded or died.
    Column("next_attempt_at", UtcDateTime, nullable=True),
    # A worker's claim: the row is skipped by other workers until then. A crashed worker's
    # claim simply runs out.
    Column("leased_until", UtcDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("status IN ('pending', 'succeeded', 'dead')", name="status_valid"),
    CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    CheckConstraint("(status = 'pending') = (next_attempt_at IS NOT NULL)", name="due_iff_pending"),
    UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_id_endpoint_id"),
    # The worker's scan for due rows reads only pending ones.
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    # An endpoint's deliveries by status, newest first (the dead-letter view).
    Index("ix_webhook_deliveries_endpoint_id_status_id", "endpoint_id", "status", "id"),
)

sms_messages = Table(
    "sms_messages",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("phone", String(20), nullable=False),
    # One SMS: at most 160 characters (domain/sms.py checks the alphabet's real limit).
    Column("text", String(160), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("leased_until", UtcDateTime, nullable=True),
    Column("provider_message_id", String(100), nullable=True),
    Column("last_error", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("status IN ('pending', 'sent', 'dead')", name="status_valid"),
    CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    CheckConstraint("(status = 'pending') = (next_attempt_at IS NOT NULL)", name="due_iff_pending"),
    Index(
        "ix_sms_messages_due",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)

# --- merchant payments: refunds, payment requests (migration 0004) ------------------------------

refunds = Table(
    "refunds",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("payment_id", String(40), ForeignKey("payments.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    # The share of the payment's merchant fee this refund gave back to the merchant.
    Column("fee_returned", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(140), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("fee_returned >= 0", name="fee_returned_non_negative"),
    Index("ix_refunds_payment_id", "payment_id"),
)

payment_requests = Table(
    "payment_requests",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("merchant_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # The merchant's own reference (an invoice or order number), shown to the payer.
    Column("reference", String(25), nullable=False),
    Column("description", String(140), nullable=True),
    Column("status", String(16), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    # Paid once: the payment that paid it.
    Column("payment_id", String(40), ForeignKey("payments.id"), nullable=True, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("status IN ('open', 'paid', 'cancelled')", name="status_valid"),
    CheckConstraint("(status = 'paid') = (payment_id IS NOT NULL)", name="paid_iff_payment"),
    Index("ix_payment_requests_merchant_id_created_at", "merchant_id", "created_at"),
)

# --- payouts (migration 0005) --------------------------------------------------------------------

payouts = Table(
    "payouts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("merchant_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("wallet_id", String(40), ForeignKey("wallets.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    # Where the money goes: a bank account, or a mobile-money number.
    Column("destination_kind", String(16), nullable=False),
    Column("bank_code", String(11), nullable=True),
    Column("account_number", String(34), nullable=True),
    Column("account_name", String(80), nullable=True),
    Column("phone", String(20), nullable=True),
    Column("state", String(16), nullable=False),
    # The rail that took it (a payout is finished by the rail that took it) and its reference.
    Column("rail", String(16), nullable=False),
    Column("rail_reference", String(64), nullable=True),
    Column("hold_id", String(40), ForeignKey("transfers.id"), nullable=False, unique=True),
    Column("fee_hold_id", String(40), ForeignKey("transfers.id"), nullable=True, unique=True),
    Column("failure_reason", String(100), nullable=True),
    Column("polls", Integer, nullable=False, server_default=text("0")),
    Column("rail_errors", Integer, nullable=False, server_default=text("0")),
    # When a worker should look at it next (a claim pushes it past the lease); NULL once final.
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("fee >= 0", name="fee_non_negative"),
    CheckConstraint("state IN ('requested', 'submitted', 'paid', 'failed')", name="state_valid"),
    CheckConstraint(
        "(destination_kind = 'bank_account' AND bank_code IS NOT NULL"
        " AND account_number IS NOT NULL AND account_name IS NOT NULL AND phone IS NULL)"
        " OR (destination_kind = 'mobile_money' AND phone IS NOT NULL AND bank_code IS NULL"
        " AND account_number IS NULL AND account_name IS NULL)",
        name="destination_complete",
    ),
    CheckConstraint(
        "state = 'requested' OR rail_reference IS NOT NULL", name="reference_once_submitted"
    ),
    CheckConstraint("(state = 'failed') = (failure_reason IS NOT NULL)", name="failed_has_reason"),
    CheckConstraint(
        "(state IN ('requested', 'submitted')) = (next_attempt_at IS NOT NULL)",
        name="in_flight_iff_scheduled",
    ),
    CheckConstraint("polls >= 0 AND rail_errors >= 0", name="counts_non_negative"),
    # A merchant's payouts, newest first (ids are time-ordered).
    Index("ix_payouts_merchant_id_id", "merchant_id", "id"),
    # The worker's claim reads only in-flight payouts.
    Index(
        "ix_payouts_in_flight_next_attempt_at",
        "next_attempt_at",
        sqlite_where=text("next_attempt_at IS NOT NULL"),
        postgresql_where=text("next_attempt_at IS NOT NULL"),
    ),
)

# The sandbox payout rail's own books (gateways/payout_rails.py): a stand-in for a bank's
# system, written in its own short transactions, never in ours. Empty with a real rail.
sandbox_rail_payouts = Table(
    "sandbox_rail_payouts",
    metadata,
    Column("reference", String(40), primary_key=True),
    # One row per payout, however often it is submitted: the rail pays once.
    Column("payout_id", String(40), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("destination", String(120), nullable=False),
    # Decided at submission (by the destination), revealed once completes_at has passed.
    Column("outcome", String(8), nullable=False),
    Column("reason", String(100), nullable=True),
    Column("submissions", Integer, nullable=False),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("completes_at", UtcDateTime, nullable=False),
    CheckConstraint("outcome IN ('paid', 'failed')", name="outcome_valid"),
    CheckConstraint("submissions >= 1", name="submissions_positive"),
)

# --- escrow (migration 0006) ---------------------------------------------------------------------

escrow_orders = Table(
    "escrow_orders",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("seller_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("buyer_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("description", String(140), nullable=True),
    # [{"name": ..., "quantity": ...}] as JSON text: what the buyer agreed to pay for.
    Column("items", Text, nullable=False),
    Column("state", String(16), nullable=False),
    # Where a dispute was opened from, so a withdrawn dispute can go back there.
    Column("disputed_from", String(16), nullable=True),
    Column("disputed_at", UtcDateTime, nullable=True),
    Column("ship_by", UtcDateTime, nullable=False),
    Column("deliver_by", UtcDateTime, nullable=False),
    Column("inspection_ends_at", UtcDateTime, nullable=True),
    # The timer that runs now (domain/escrow.py next_timer), for the worker's due scan.
    Column("timer_action", String(32), nullable=True),
    Column("timer_due_at", UtcDateTime, nullable=True),
    # The buyer's money, held from funding until release or refund (never expires by itself).
    Column("hold_id", String(40), ForeignKey("transfers.id"), nullable=True, unique=True),
    # The one-time code the buyer gives at handover, kept so the buyer can see it again in the
    # web app and on USSD (ADR 0010), and wrong tries so far. Orders funded before 0008 hold
    # only an argon2 hash of theirs.
    Column("delivery_code", String(6), nullable=True),
    Column("delivery_code_hash", String(200), nullable=True),
    Column("code_failures", Integer, nullable=False, server_default=text("0")),
    # Where the money went when the order closed: the seller's part (before the fee), the fee
    # on it, and the buyer's part.
    Column("released", BigInteger, nullable=False, server_default=text("0")),
    Column("fee", BigInteger, nullable=False, server_default=text("0")),
    Column("refunded", BigInteger, nullable=False, server_default=text("0")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(
        "state IN ('created', 'funded', 'shipped', 'delivered', 'disputed', 'released',"
        " 'cancelled', 'refunded', 'resolved')",
        name="state_valid",
    ),
    # Only an order never paid for holds nothing.
    CheckConstraint(
        "(state IN ('created', 'cancelled')) = (hold_id IS NULL)", name="funded_iff_hold"
    ),
    CheckConstraint("(state = 'disputed') = (disputed_from IS NOT NULL)", name="disputed_from"),
    CheckConstraint(
        "released >= 0 AND refunded >= 0 AND fee >= 0 AND fee <= released", name="parts_valid"
    ),
    # A closed order that was paid for has given every unit to one side or the other.
    CheckConstraint(
        "CASE WHEN state IN ('released', 'refunded', 'resolved') THEN released + refunded = amount"
        " ELSE released = 0 AND refunded = 0 END",
        name="closed_orders_share_the_amount",
    ),
    CheckConstraint("code_failures >= 0", name="code_failures_non_negative"),
    Index("ix_escrow_orders_buyer_id_id", "buyer_id", "id"),
    Index("ix_escrow_orders_seller_id_id", "seller_id", "id"),
    Index(
        "ix_escrow_orders_timer_due_at",
        "timer_due_at",
        sqlite_where=text("timer_due_at IS NOT NULL"),
        postgresql_where=text("timer_due_at IS NOT NULL"),
    ),
)

escrow_disputes = Table(
    "escrow_disputes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("order_id", String(40), ForeignKey("escrow_orders.id"), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("message", String(1000), nullable=False),
    # References to evidence (photo ids, URLs) as a JSON list of strings.
    Column("evidence", Text, nullable=False),
    Column("seller_answer", String(1000), nullable=True),
    Column("answered_at", UtcDateTime, nullable=True),
    # withdrawn, release, refund or split; NULL while open.
    Column("outcome", String(16), nullable=True),
    Column("to_buyer", BigInteger, nullable=True),
    Column("to_seller", BigInteger, nullable=True),
    Column("note", String(1000), nullable=True),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    CheckConstraint(
        "outcome IS NULL OR outcome IN ('withdrawn', 'release', 'refund', 'split')",
        name="outcome_valid",
    ),
    CheckConstraint("(outcome IS NULL) = (closed_at IS NULL)", name="closed_iff_outcome"),
    CheckConstraint(
        "(to_buyer IS NULL OR to_buyer >= 0) AND (to_seller IS NULL OR to_seller >= 0)",
        name="parts_non_negative",
    ),
    Index("ix_escrow_disputes_order_id", "order_id"),
)

# --- shipments and carriers (migration 0007) ----------------------------------------------------

carriers = Table(
    "carriers",
    metadata,
    # A lowercase slug ("sendy"): it appears in the carrier's webhook URL.
    Column("code", String(32), primary_key=True),
    Column("name", String(80), nullable=False),
    # Kept as given (whsec_…): verifying a carrier's HMAC signature needs the key itself.
    Column("secret", String(100), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
    CheckConstraint("length(code) BETWEEN 2 AND 32", name="code_length"),
)

shipments = Table(
    "shipments",
    metadata,
    Column("id", String(40), primary_key=True),
    # One shipment per order: the order's state follows this one parcel.
    Column("order_id", String(40), ForeignKey("escrow_orders.id"), nullable=False, unique=True),
    Column("carrier_code", String(32), ForeignKey("carriers.code"), nullable=False),
    # Upper-cased (domain/shipments.py): carriers treat tracking numbers without regard to case.
    Column("tracking_number", String(40), nullable=False),
    # The furthest step any event reached (domain/shipments.py RANK).
    Column("step", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(
        "step IN ('registered', 'picked_up', 'in_transit', 'out_for_delivery', 'delivered',"
        " 'returned')",
        name="step_valid",
    ),
    # A carrier's webhook names the parcel by tracking number alone.
    UniqueConstraint("carrier_code", "tracking_number"),
)

carrier_events = Table(
    "carrier_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("shipment_id", String(40), ForeignKey("shipments.id"), nullable=False),
    Column("carrier_code", String(32), ForeignKey("carriers.code"), nullable=False),
    # The carrier's own id (its webhook-id), or the operator's: repeats are dropped by it.
    Column("carrier_event_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("source", String(8), nullable=False),
    # The escrow action this event took its order through, if it moved it.
    Column("order_action", String(16), nullable=True),
    CheckConstraint(
        "kind IN ('picked_up', 'in_transit', 'out_for_delivery', 'delivered', 'failed_delivery',"
        " 'returned')",
        name="kind_valid",
    ),
    CheckConstraint("source IN ('carrier', 'operator')", name="source_valid"),
    CheckConstraint(
        "order_action IS NULL OR order_action IN ('deliver', 'return')", name="order_action_valid"
    ),
    UniqueConstraint("carrier_code", "carrier_event_id"),
    # A shipment's history, in the order things happened.
    Index("ix_carrier_events_shipment_id_occurred_at", "shipment_id", "occurred_at"),
)
