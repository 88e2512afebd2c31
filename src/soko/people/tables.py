"""People's tables (migrations 0002, 0011, 0012, 0014): users, merchants, wallets, keys,
sessions, the PIN tries counted by client address and for numbers without an account, USSD
sessions, and the one-time codes sent by SMS."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from soko.db.metadata import metadata
from soko.db.types import UtcDateTime

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
    # The PIN's state (domain.PinState, ADR 0019): wrong tries, tries being checked, a lock that
    # times out, and how many locks in a row (each lasts longer).
    Column("pin_failures", Integer, nullable=False, server_default=text("0")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("pin_checking", Integer, nullable=False, server_default=text("0")),
    Column("pin_checking_until", UtcDateTime, nullable=True),
    Column("pin_locked_until", UtcDateTime, nullable=True),
    Column("pin_lock_count", Integer, nullable=False, server_default=text("0")),
    # The language the person chose (migration 0012); NULL: the default of their country.
    Column("language", String(2), nullable=True),
    CheckConstraint("kind IN ('consumer', 'merchant', 'agent')", name="kind_valid"),
    CheckConstraint("kyc_tier IN (0, 1, 2)", name="kyc_tier_valid"),
    CheckConstraint("kyc_tier = 0 OR national_id IS NOT NULL", name="kyc_tier_needs_national_id"),
    CheckConstraint("pin_failures >= 0", name="pin_failures_non_negative"),
    CheckConstraint("pin_checking >= 0", name="pin_checking_non_negative"),
    CheckConstraint("pin_lock_count >= 0", name="pin_lock_count_non_negative"),
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
    # The open loan a payment's sweep repays (migration 0009; soko.credit keeps it).
    Column("open_loan_id", String(40), nullable=True),
    # Where the shop trades, printed in its QR code (migration 0016).
    Column("city", String(80), nullable=False),
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

# --- PIN tries on the public forms (migration 0011, ADR 0019) ---------------------------------

#: Wrong PINs from one client address (or IPv6 /64) in a fixed window.
address_pin_tries = Table(
    "address_pin_tries",
    metadata,
    Column("subject", String(64), primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("tries", Integer, nullable=False),
    CheckConstraint("tries >= 0", name="tries_non_negative"),
    Index("ix_address_pin_tries_started_at", "started_at"),
)

#: The PIN state of a number without an account (or without a PIN), counted exactly as a
#: person's: signing in answers alike whether the number has an account or not.
unknown_number_pins = Table(
    "unknown_number_pins",
    metadata,
    Column("phone", String(20), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("checking", Integer, nullable=False),
    Column("checking_until", UtcDateTime, nullable=True),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("lock_count", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("failures >= 0 AND checking >= 0 AND lock_count >= 0", name="counts_valid"),
    Index("ix_unknown_number_pins_updated_at", "updated_at"),
)


# --- USSD sessions (migration 0012) ------------------------------------------------------------

ussd_sessions = Table(
    "ussd_sessions",
    metadata,
    # The aggregator's session id.
    Column("id", String(128), primary_key=True),
    Column("phone", String(20), nullable=False),
    # The session this one resumed (whose idempotency keys it goes on with), and the inputs it
    # took over: a dropped dial is continued without re-typing and never pays twice.
    Column("origin_id", String(128), nullable=False),
    Column("resumed_path", Text, nullable=False, server_default=text("''")),
    # Whether the first screen offered to resume (its first input is then the answer).
    Column("offered", Integer, nullable=False, server_default=text("0")),
    # The inputs so far up to the first secret one (a PIN is never stored).
    Column("path", Text, nullable=False, server_default=text("''")),
    # The END screen and how many inputs led to it: a resent final request gets it again.
    Column("result", Text, nullable=True),
    Column("result_inputs", Integer, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("offered IN (0, 1)", name="offered_boolean"),
    Index("ix_ussd_sessions_phone_updated_at", "phone", "updated_at"),
)

# --- one-time codes sent by SMS (migration 0014) ------------------------------------------------

#: The code waiting for a number, per purpose (sign-up, forgotten PIN): argon2-hashed, and NULL
#: once used; with the codes sent to that number in the current window.
web_codes = Table(
    "web_codes",
    metadata,
    Column("phone", String(20), primary_key=True),
    Column("purpose", String(16), primary_key=True),
    Column("code_hash", Text, nullable=True),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("tries_left", Integer, nullable=False),
    Column("window_started_at", UtcDateTime, nullable=False),
    Column("sends", Integer, nullable=False),
    CheckConstraint("purpose IN ('sign_up', 'reset_pin')", name="purpose_valid"),
    CheckConstraint("tries_left >= 0 AND sends >= 0", name="counts_valid"),
    Index("ix_web_codes_window_started_at", "window_started_at"),
)
