"""Settings, read once from SOKO_* environment variables (pydantic-settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from soko import limits


class Settings(BaseSettings):
    """What an operator configures. Every field is a `SOKO_<NAME>` environment variable."""

    model_config = SettingsConfigDict(env_prefix="SOKO_", env_file=".env", extra="ignore")

    #: SQLite file in the working directory by default; `postgresql://user@host/db` for PostgreSQL.
    database_url: str = "sqlite:///soko.db"
    #: PostgreSQL isolation: row locks in id order under READ COMMITTED (default), or SERIALIZABLE
    #: with bounded retries on SQLSTATE 40001 (the mode CockroachDB and YugabyteDB run in).
    isolation: Literal["read_committed", "serializable"] = "read_committed"
    #: PostgreSQL connections kept per process (SQLite's small pool is fixed in storage/engine.py).
    pool_size: int = Field(default=10, ge=1, le=200)
    #: Milliseconds SQLite waits for the write lock before giving up.
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0, le=600_000)

    #: The operator's time zone (IANA name): the KYC daily and monthly limits reset at its midnight.
    timezone: str = "UTC"
    #: Overrides of limits.KYC_LIMITS, as JSON: {"KES": {"0": [per_tx, daily, monthly, balance]}}
    #: in minor units. Currencies and tiers not given keep the defaults.
    kyc_limits: dict[str, dict[int, tuple[int, int, int, int]]] = Field(default_factory=dict)
    #: The operator's tariff, replacing domain/fees.py's defaults per currency and kind, as JSON:
    #: {"KES": {"p2p": [[10000, 0], [50000, 700]]}}: bands of [highest amount, fee] in minor
    #: units, ascending. Kinds: p2p, cash_out, cash_out_commission, cash_in_commission.
    tariff: dict[str, dict[str, list[tuple[int, int]]]] = Field(default_factory=dict)
    #: How long money sent to an unregistered number waits for it before going back.
    unclaimed_transfer_seconds: int = Field(
        default=limits.UNCLAIMED_TRANSFER_SECONDS, ge=60, le=limits.PENDING_TIMEOUT_SECONDS_MAX
    )
    #: argon2id cost for PIN hashes (the defaults take about 50 ms here; tests use the minimum).
    pin_hash_time_cost: int = Field(default=2, ge=1, le=10)
    pin_hash_memory_kib: int = Field(default=19_456, ge=8, le=1_048_576)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: Public name shown in the API documents.
    operator_name: str = "Soko"
