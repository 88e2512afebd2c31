"""Settings, read once from SOKO_* environment variables (pydantic-settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from soko.fx import domain as fx_domain
from soko.kernel import limits


class Settings(BaseSettings):
    """What an operator configures. Every field is a `SOKO_<NAME>` environment variable."""

    model_config = SettingsConfigDict(env_prefix="SOKO_", env_file=".env", extra="ignore")

    #: SQLite file in the working directory by default; `postgresql://user@host/db` for PostgreSQL.
    database_url: str = "sqlite:///soko.db"
    #: PostgreSQL isolation: row locks in one global order under READ COMMITTED (default), or
    #: SERIALIZABLE with bounded retries on SQLSTATE 40001 (the mode CockroachDB and YugabyteDB
    #: run in).
    isolation: Literal["read_committed", "serializable"] = "read_committed"
    #: PostgreSQL connections kept per process (SQLite's small pool is fixed in db/engine.py).
    pool_size: int = Field(default=10, ge=1, le=200)
    #: Milliseconds SQLite waits for the write lock before giving up.
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0, le=600_000)

    #: The countries the operator serves, as ISO 3166 codes separated by commas ("KE,UG"): only
    #: their numbers register and are sent money. Unset: every country whose home currency
    #: (people/domain.py) the operator offers (the currencies of its KYC limits), but for USD
    #: and EUR, held across Africa as second currencies.
    countries: str | None = None
    #: The operator's time zone (IANA name): the KYC daily and monthly limits reset at its midnight.
    timezone: str = "UTC"
    #: Overrides of limits.KYC_LIMITS, as JSON: {"KES": {"0": [per_tx, daily, monthly, balance]}}
    #: in minor units. Currencies and tiers not given keep the defaults.
    kyc_limits: dict[str, dict[int, tuple[int, int, int, int]]] = Field(default_factory=dict)
    #: The operator's tariff, replacing payments/fees.py's defaults per currency and kind, as JSON:
    #: {"KES": {"p2p": [[10000, 0], [50000, 700]]}}: bands of [highest amount, fee] in minor
    #: units, ascending. Kinds: p2p, cash_out, cash_out_commission, cash_in_commission,
    #: payout, fx (a conversion's fee on top of the spread, by the source debit).
    tariff: dict[str, dict[str, list[tuple[int, int]]]] = Field(default_factory=dict)
    #: Merchant discount rates replacing payments/fees.py's defaults, as JSON:
    #: {"KES": {"*": [basis_points, fixed, minimum, maximum], "5411": [25, 0, 0, 10000]}} in minor
    #: units; "*" is every category without a rate of its own.
    mdr: dict[str, dict[str, tuple[int, int, int, int]]] = Field(default_factory=dict)
    #: How long money sent to an unregistered number waits for it before going back.
    unclaimed_transfer_seconds: int = Field(
        default=limits.UNCLAIMED_TRANSFER_SECONDS, ge=60, le=limits.PENDING_TIMEOUT_SECONDS_MAX
    )
    #: The rail that pays merchants out: "sandbox" (payouts/rails/sandbox.py) or "mpesa" (B2C
    #: through Daraja, payouts/rails/mpesa.py; needs the SOKO_MPESA_* settings and the
    #: initiator's). A real bank adapter is one more value here and one more branch in
    #: bootstrap.payout_rail(), with its own credentials as further settings.
    payout_rail: Literal["sandbox", "mpesa"] = "sandbox"
    #: The sandbox rail completes a payout this many seconds after it was submitted (0 in tests).
    sandbox_payout_seconds: int = Field(
        default=limits.SANDBOX_PAYOUT_SECONDS, ge=0, le=limits.SANDBOX_PAYOUT_SECONDS_MAX
    )
    #: How long a worker's claim on a payout hides it from other workers; a killed worker's
    #: payouts are taken over after this. Longer than the rail's slowest answer.
    payout_lease_seconds: int = Field(
        default=limits.PAYOUT_LEASE_SECONDS, ge=1, le=limits.PAYOUT_LEASE_SECONDS_MAX
    )
    #: Tests only: kill the worker process (exit 137) at this point of a payout, to prove that a
    #: crash there loses and doubles nothing. Empty in production.
    fault: Literal[
        "", "payout_after_submit", "payout_after_outcome", "escrow_after_first_timer"
    ] = ""
    #: argon2id cost for PIN hashes (the defaults take about 50 ms here; tests use the minimum).
    pin_hash_time_cost: int = Field(default=2, ge=1, le=10)
    pin_hash_memory_kib: int = Field(default=19_456, ge=8, le=1_048_576)

    #: The globally unique identifier (EMVCo tag 26, sub-tag 00) that marks a QR code's merchant
    #: account as this operator's: a reverse domain name the operator controls, 1 to 32 printable
    #: ASCII characters. Changing it orphans every printed code.
    qr_guid: str = Field(default="dev.soko", min_length=1, max_length=32, pattern=r"^[!-~]+$")
    #: The city printed in merchants' QR codes (tag 60, at most 15 characters once transliterated):
    #: merchants have no address yet, so every code names the operator's city.
    qr_merchant_city: str = Field(default="Nairobi", min_length=1, max_length=80)

    #: SMS: the file the default sender appends each text to, one line each; or an HTTP SMS
    #: gateway (POST {"to", "text"} as JSON with `Authorization: Bearer <token>`) when its URL
    #: is set.
    sms_log_path: str = "soko-sms.log"
    sms_gateway_url: str | None = Field(default=None, pattern=r"^https?://")
    sms_gateway_token: SecretStr | None = None
    #: Let webhook URLs reach loopback, private and link-local addresses (tests, closed
    #: networks). Off by default: a merchant's URL must not probe the operator's own network.
    webhook_allow_private_networks: bool = False
    #: USSD: the shared token the operator's USSD aggregator sends with every request to POST
    #: /ussd, as `Authorization: Bearer <token>` or `?token=<token>` in the callback URL (most
    #: aggregators can only be given a URL). Unset, the USSD channel is off and /ussd is 404.
    ussd_token: SecretStr | None = Field(default=None, min_length=limits.USSD_TOKEN_LENGTH_MIN)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: Where customers reach this server (pay links in payment requests); by default
    #: http://HOST:PORT. Set it to the public https address behind a proxy.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    #: Escrow timers: how long a buyer has after delivery to dispute before the money is
    #: released, how long after the ship-by date the carrier has to deliver, and what happens
    #: to an order not delivered by then (refund it, or open a dispute for an operator).
    escrow_inspection_seconds: int = Field(
        default=limits.ESCROW_INSPECTION_SECONDS, ge=60, le=limits.PENDING_TIMEOUT_SECONDS_MAX
    )
    escrow_delivery_seconds: int = Field(
        default=limits.ESCROW_DELIVERY_SECONDS, ge=60, le=limits.PENDING_TIMEOUT_SECONDS_MAX
    )
    escrow_undelivered: Literal["refund", "dispute"] = "refund"
    #: Merchant credit (docs/credit.md): the scorecard as JSON, or the path of a JSON file;
    #: unset, the default scorecard. A scorecard that does not parse stops start-up.
    credit_scorecard: str | None = None
    #: The share of the total repayable that must be repaid by the end of each period, as a
    #: fraction ("1/6"), and the period in days: Square asks 1/18 every 60 days.
    credit_minimum_share: str = "1/6"
    credit_period_days: int = Field(default=30, ge=1, le=366)
    #: A missed minimum costs this flat amount (minor units) plus these basis points of it.
    credit_late_fee_minor: int = Field(default=0, ge=0)
    credit_late_fee_bps: int = Field(default=0, ge=0, le=10_000)
    #: A loan this many days past due is written off.
    credit_write_off_days: int = Field(default=90, ge=1, le=3660)
    #: How long a worker's claim on webhook deliveries and texts hides them from other workers
    #: (a killed worker's claims are taken over after this). Unset, each outbox uses a lease
    #: four times as long as a whole batch of sends at their timeout (kernel/limits.py); a
    #: shorter one risks a slow batch being sent twice (receivers deduplicate by webhook-id).
    outbox_lease_seconds: int | None = Field(default=None, ge=1, le=limits.PAYOUT_LEASE_SECONDS_MAX)
    #: FX: the one currency cross rates go through when no direct rate is known (docs/fx.md).
    fx_pivot: str = Field(default=fx_domain.PIVOT_DEFAULT, pattern=r"^[A-Z]{3}$")
    #: FX corridors, as JSON: {"UGX>KES": {"spread_bps": 150, "max": "5000000", "kyc_tier": 1}}
    #: (docs/fx.md: spread_bps, max and kyc_tier required; min and enabled optional). Each
    #: direction is its own corridor; none by default, so no conversion is offered.
    fx_corridors: str = "{}"
    #: A rate older than this never prices a quote (4 days by default, for the ECB's long
    #: weekends; an operator with an hourly feed should set it far lower).
    fx_rate_max_age_seconds: int = Field(
        default=fx_domain.RATE_MAX_AGE_SECONDS_DEFAULT, ge=60, le=limits.FX_RATE_MAX_AGE_SECONDS_MAX
    )
    #: Where `soko fx rates fetch` and the worker's fetch_fx_rates job read a rate file, such as
    #: the ECB's daily reference rates, https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml
    #: (docs/fx.md, "Rates from a URL"). Unset (the default), nothing is fetched.
    fx_rates_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    #: The source the fetched rates are stored under (`ecb` for the ECB's file).
    fx_rates_source: str = Field(default="ecb", pattern=r"^[a-z0-9_.-]{1,40}$")
    #: How long an FX quote may be accepted after it was made.
    fx_quote_seconds: int = Field(
        default=limits.FX_QUOTE_SECONDS_DEFAULT,
        ge=limits.FX_QUOTE_SECONDS_MIN,
        le=limits.FX_QUOTE_SECONDS_MAX,
    )
    #: M-Pesa (Safaricom Daraja, docs/mpesa.md). All of base URL, consumer key and secret, short
    #: code, passkey, callback base URL and callback token set: M-Pesa is on; none: it is off
    #: (its endpoints answer mpesa_not_configured); some: start-up stops and names the rest.
    mpesa_base_url: str | None = Field(default=None, pattern=r"^https?://")
    mpesa_consumer_key: str | None = None
    mpesa_consumer_secret: SecretStr | None = None
    #: The paybill (or a Buy Goods head office) number money comes in at and leaves from.
    mpesa_shortcode: str | None = Field(default=None, pattern=r"^[0-9]{5,8}$")
    mpesa_shortcode_type: Literal["paybill", "till"] = "paybill"
    mpesa_till_number: str | None = Field(default=None, pattern=r"^[0-9]{5,8}$")
    #: The Lipa na M-Pesa Online passkey (the STK password is made from it).
    mpesa_passkey: SecretStr | None = None
    #: The B2C and reversal initiator, its password, and the path of Safaricom's certificate
    #: (PEM) the password is encrypted with. Needed for payouts and reversals only.
    mpesa_initiator_name: str = ""
    mpesa_initiator_password: SecretStr | None = None
    mpesa_certificate_path: str | None = None
    #: Where Daraja reaches this server (https in production): callbacks go to
    #: <callback_base_url>/<callback_token>/stk, /c2b/confirmation, /b2c/result ...
    mpesa_callback_base_url: str | None = Field(default=None, pattern=r"^https?://")
    #: A long random secret in every callback URL (Daraja signs nothing): at least 16 letters
    #: and digits.
    mpesa_callback_token: SecretStr | None = Field(default=None, min_length=16)
    #: Comma-separated networks callbacks are believed from; empty: Safaricom's published ones.
    #: Behind a proxy the address seen is the proxy's: keep the check at the proxy then.
    mpesa_callback_networks: str = ""
    #: A deposit with no callback is asked about (STK query) this long after the push.
    mpesa_query_after_seconds: int = Field(default=120, ge=1, le=86_400)
    #: A B2C payout with no Result is asked about (transaction status) this long after.
    mpesa_status_after_seconds: int = Field(default=600, ge=0, le=86_400)

    #: Public name shown in the API documents.
    operator_name: str = "Soko"

    @property
    def base_url(self) -> str:
        """The public address without a trailing slash."""
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        return (self.public_url or f"http://{host}:{self.port}").rstrip("/")
