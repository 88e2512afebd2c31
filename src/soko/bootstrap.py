"""The composition root: the one place that wires settings, database, clock and ids together."""

from __future__ import annotations

import ipaddress
import os
import random
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import argon2
from sqlalchemy.engine import Engine

from soko.config import Settings
from soko.context import Context
from soko.credit import service as credit_service
from soko.credit.domain import CreditPolicy, RepaymentPolicy, Scorecard, default_scorecard
from soko.db import schema
from soko.db.engine import create_engine
from soko.db.unit_of_work import SqlUnitOfWorkFactory
from soko.deposits.ports import Mpesa
from soko.escrow import service as escrow_service
from soko.escrow.domain import EscrowPolicy, UndeliveredRule
from soko.fx.domain import FxPolicy, parse_corridors, parse_pivot
from soko.kernel import limits
from soko.kernel.ids import ENTROPY_BYTES, format_id
from soko.kernel.money import Currency
from soko.kernel.ports import Clock
from soko.notify.ports import SmsSender
from soko.notify.sms_gateway import HttpSmsSender, LogFileSmsSender
from soko.notify.webhook_gateway import HttpWebhookSender
from soko.payments.fees import (
    ANY_CATEGORY,
    BASIS_POINTS_WHOLE,
    DEFAULT_MERCHANT_RATES,
    DEFAULT_TARIFF,
    FeeKind,
    FeeTable,
    MerchantRate,
    fee_table,
)
from soko.payouts.ports import PayoutRail
from soko.payouts.rails.mpesa import MpesaPayoutRail
from soko.payouts.rails.sandbox import CrashingPayoutRail, SandboxPayoutRail
from soko.people.domain import HOME_CURRENCY, check_merchant_category, served_countries
from soko.people.kyc import TierLimits, tier_of
from soko.rails.mpesa.callbacks import SAFARICOM_CALLBACK_NETWORKS
from soko.rails.mpesa.daraja import DarajaClient, MpesaSettings, ShortcodeType

if not __debug__:  # pragma: no cover - the check itself is the point
    raise SystemExit("Soko keeps its assertions on: run it without python -O.")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    """Time-ordered ids from the given clock and the operating system's random source."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def new(self, prefix: str) -> str:
        timestamp_ms = int(self._clock.now().timestamp() * 1000)
        return format_id(prefix, timestamp_ms, os.urandom(ENTROPY_BYTES))

    def digits(self, count: int) -> str:
        return "".join(secrets.choice("0123456789") for _ in range(count))


class Argon2Pins:
    """PIN hashes with argon2id (RFC 9106); the cost comes from the settings."""

    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1
        )

    def hash(self, pin: str) -> str:
        return self._hasher.hash(pin)

    def verify(self, pin_hash: str, pin: str) -> bool:
        try:
            return self._hasher.verify(pin_hash, pin)
        except argon2.exceptions.VerificationError:
            return False


def kyc_limits(settings: Settings) -> dict[str, dict[int, TierLimits]]:
    """limits.KYC_LIMITS with the operator's overrides laid over it."""
    merged = {
        currency: {tier: TierLimits(*values) for tier, values in tiers.items()}
        for currency, tiers in limits.KYC_LIMITS.items()
    }
    for currency, tiers in settings.kyc_limits.items():
        Currency.of(currency)
        for tier, values in tiers.items():
            merged.setdefault(currency, {})[tier_of(tier)] = TierLimits(*values)
    return merged


def countries(settings: Settings, offered_currencies: Iterable[str]) -> frozenset[str]:
    """SOKO_COUNTRIES, checked at start-up; by default the countries of the offered currencies."""
    if settings.countries is None:
        return served_countries(offered_currencies)
    named = frozenset(settings.countries.split(","))
    unknown = sorted(country for country in named if country not in HOME_CURRENCY)
    if unknown or not named:
        raise ValueError(
            f"SOKO_COUNTRIES: unknown countries {unknown or ['(none)']}; "
            "name ISO 3166 codes separated by commas, such as KE,UG"
        )
    return named


def tariff(settings: Settings) -> dict[tuple[str, FeeKind], FeeTable]:
    """The default tariff with the operator's tables laid over it, checked at start-up."""
    merged = dict(DEFAULT_TARIFF)
    for currency, tables in settings.tariff.items():
        Currency.of(currency)
        for kind, bands in tables.items():
            tops = [top for top, _ in bands]
            if not bands or tops != sorted(set(tops)) or any(fee < 0 for _, fee in bands):
                raise ValueError(f"{currency} {kind}: bands must ascend, fees be non-negative")
            merged[(currency, FeeKind(kind))] = FeeTable(tuple((top, fee) for top, fee in bands))
    for currency in {currency for currency, _ in merged}:
        cash_out = fee_table(merged, currency, FeeKind.CASH_OUT)
        commission = fee_table(merged, currency, FeeKind.CASH_OUT_COMMISSION)
        # The agent's commission is paid out of the customer's fee: never more than it.
        for top, _ in cash_out.bands + commission.bands:
            if commission.fee_for(top) > cash_out.fee_for(top):
                raise ValueError(f"{currency}: cash-out commission above the fee at {top}")
    return merged


def merchant_rates(settings: Settings) -> dict[tuple[str, str], MerchantRate]:
    """The default merchant discount rates with the operator's laid over them."""
    merged = dict(DEFAULT_MERCHANT_RATES)
    for currency, rates in settings.mdr.items():
        Currency.of(currency)
        for category, (basis_points, fixed, minimum, maximum) in rates.items():
            if category != ANY_CATEGORY:
                check_merchant_category(category)
            if not 0 <= basis_points <= BASIS_POINTS_WHOLE or min(fixed, minimum) < 0:
                raise ValueError(f"{currency} {category}: basis points 0-10000, no negative fees")
            if minimum > maximum:
                raise ValueError(f"{currency} {category}: the minimum fee is above the maximum")
            merged[(currency, category)] = MerchantRate(basis_points, fixed, minimum, maximum)
    return merged


def mpesa_settings(settings: Settings) -> MpesaSettings | None:
    """Daraja's settings from SOKO_MPESA_*: None when none of the required ones is set (M-Pesa
    is off); a ValueError naming the missing ones when only some are."""
    required = {
        "SOKO_MPESA_BASE_URL": settings.mpesa_base_url,
        "SOKO_MPESA_CONSUMER_KEY": settings.mpesa_consumer_key,
        "SOKO_MPESA_CONSUMER_SECRET": settings.mpesa_consumer_secret,
        "SOKO_MPESA_SHORTCODE": settings.mpesa_shortcode,
        "SOKO_MPESA_PASSKEY": settings.mpesa_passkey,
        "SOKO_MPESA_CALLBACK_BASE_URL": settings.mpesa_callback_base_url,
        "SOKO_MPESA_CALLBACK_TOKEN": settings.mpesa_callback_token,
    }
    missing = [name for name, value in required.items() if not value]
    if len(missing) == len(required):
        return None
    if missing:
        raise ValueError(f"M-Pesa is half set up: set {', '.join(missing)} too")
    assert settings.mpesa_base_url and settings.mpesa_consumer_key and settings.mpesa_shortcode
    assert settings.mpesa_consumer_secret and settings.mpesa_passkey
    assert settings.mpesa_callback_base_url and settings.mpesa_callback_token
    networks = tuple(
        ipaddress.ip_network(text.strip())
        for text in settings.mpesa_callback_networks.split(",")
        if text.strip()
    )
    path = settings.mpesa_certificate_path
    password = settings.mpesa_initiator_password
    return MpesaSettings(
        base_url=settings.mpesa_base_url,
        consumer_key=settings.mpesa_consumer_key,
        consumer_secret=settings.mpesa_consumer_secret.get_secret_value(),
        shortcode=settings.mpesa_shortcode,
        passkey=settings.mpesa_passkey.get_secret_value(),
        callback_base_url=settings.mpesa_callback_base_url,
        callback_token=settings.mpesa_callback_token.get_secret_value(),
        shortcode_type=ShortcodeType(settings.mpesa_shortcode_type),
        till_number=settings.mpesa_till_number,
        initiator_name=settings.mpesa_initiator_name,
        initiator_password="" if password is None else password.get_secret_value(),
        certificate_pem="" if path is None else Path(path).read_text(encoding="ascii"),
        allowed_callback_networks=networks or SAFARICOM_CALLBACK_NETWORKS,
    )


def payout_rail(
    settings: Settings, engine: Engine, clock: Clock, daraja: DarajaClient | None = None
) -> PayoutRail:
    """The rail SOKO_PAYOUT_RAIL names; a real one gets its branch (and credentials) here."""
    rail: PayoutRail
    match settings.payout_rail:
        case "sandbox":
            rail = SandboxPayoutRail(
                engine, clock, RandomIds(clock), seconds=settings.sandbox_payout_seconds
            )
        case "mpesa":
            if daraja is None or settings.mpesa_shortcode is None:
                raise ValueError("SOKO_PAYOUT_RAIL=mpesa needs the SOKO_MPESA_* settings")
            rail = MpesaPayoutRail(
                engine,
                clock,
                daraja,
                shortcode=settings.mpesa_shortcode,
                status_after_seconds=settings.mpesa_status_after_seconds,
            )
    if settings.fault.startswith("payout_"):
        # Tests only: the crash tests kill the worker at a chosen point of a payout.
        rail = CrashingPayoutRail(rail, settings.fault)
    return rail


def credit_policy(settings: Settings) -> CreditPolicy:
    """The scorecard (SOKO_CREDIT_SCORECARD: JSON, or a file of it) and repayment rules."""
    text = settings.credit_scorecard
    if text is None:
        scorecard = default_scorecard()
    else:
        if not text.lstrip().startswith("{"):
            text = Path(text).read_text(encoding="utf-8")
        scorecard = Scorecard.from_json(text)
    return CreditPolicy(
        scorecard=scorecard,
        repayment=RepaymentPolicy(
            minimum_share=Fraction(settings.credit_minimum_share),
            period_days=settings.credit_period_days,
            late_fee_flat_minor=settings.credit_late_fee_minor,
            late_fee_bps=settings.credit_late_fee_bps,
            write_off_after_days=settings.credit_write_off_days,
        ),
    )


def fx_policy(settings: Settings) -> FxPolicy:
    """The SOKO_FX_* settings, parsed strictly: a bad corridor or pivot stops start-up
    (FxCorridorsInvalid names the corridor and the field)."""
    return FxPolicy(
        pivot=parse_pivot(settings.fx_pivot),
        corridors=parse_corridors(settings.fx_corridors),
        rate_max_age_seconds=settings.fx_rate_max_age_seconds,
        quote_seconds=settings.fx_quote_seconds,
        rates_url=settings.fx_rates_url,
        rates_source=settings.fx_rates_source,
    )


def jittered_backoff(attempt: int) -> None:
    """Sleep a random time up to a cap that doubles per attempt: colliding retries spread out."""
    cap_seconds = min(0.001 * 2**attempt, 0.1)
    time.sleep(random.uniform(0, cap_seconds))  # noqa: S311 - jitter, not security


def sms_sender(settings: Settings) -> SmsSender:
    """An HTTP SMS gateway when its URL is set; otherwise the log file."""
    if settings.sms_gateway_url:
        token = settings.sms_gateway_token
        return HttpSmsSender(
            settings.sms_gateway_url,
            None if token is None else token.get_secret_value(),
            timeout_seconds=limits.SMS_TIMEOUT_SECONDS,
        )
    return LogFileSmsSender(settings.sms_log_path)


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    engine: Engine
    context: Context

    def close(self) -> None:
        close_idle = getattr(self.context.unit_of_work, "close", None)
        if close_idle is not None:
            close_idle()
        self.engine.dispose()
        # The HTTP gateways keep connections open for reuse.
        mpesa = self.context.mpesa
        daraja = None if mpesa is None else mpesa.daraja
        for gateway in (self.context.webhook_sender, self.context.sms_sender, daraja):
            close = getattr(gateway, "close", None)
            if close is not None:
                close()


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    upgrade_schema: bool = False,
) -> Runtime:
    """Everything a channel needs, from settings (read from SOKO_* variables by default)."""
    settings = settings or Settings()
    # Before anything is opened: a bad FX setting stops start-up with nothing to close.
    fx = fx_policy(settings)
    daraja_settings = mpesa_settings(settings)
    clock = clock or SystemClock()
    engine = create_engine(
        settings.database_url,
        isolation=settings.isolation,
        pool_size=settings.pool_size,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
    if upgrade_schema:
        schema.upgrade(engine)
    kyc = kyc_limits(settings)
    daraja = None if daraja_settings is None else DarajaClient(daraja_settings)
    rail = payout_rail(settings, engine, clock, daraja)
    mpesa = None
    if daraja_settings is not None and daraja is not None:
        mpesa = Mpesa(
            daraja=daraja,
            shortcode=daraja_settings.shortcode,
            callback_token=daraja_settings.callback_token,
            callback_networks=daraja_settings.allowed_callback_networks,
            query_after_seconds=settings.mpesa_query_after_seconds,
            status_after_seconds=settings.mpesa_status_after_seconds,
            checks_by_status=bool(
                daraja_settings.initiator_name and daraja_settings.certificate_pem
            ),
            b2c=rail if isinstance(rail, MpesaPayoutRail) else None,
        )
    context = Context(
        unit_of_work=SqlUnitOfWorkFactory(
            engine, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms
        ),
        clock=clock,
        ids=RandomIds(clock),
        backoff=jittered_backoff,
        pins=Argon2Pins(
            time_cost=settings.pin_hash_time_cost, memory_kib=settings.pin_hash_memory_kib
        ),
        tariff=tariff(settings),
        merchant_rates=merchant_rates(settings),
        kyc_limits=kyc,
        countries=countries(settings, kyc),
        timezone=ZoneInfo(settings.timezone),
        unclaimed_transfer_seconds=settings.unclaimed_transfer_seconds,
        qr_guid=settings.qr_guid,
        qr_merchant_city=settings.qr_merchant_city,
        escrow=EscrowPolicy(
            inspection_seconds=settings.escrow_inspection_seconds,
            delivery_seconds=settings.escrow_delivery_seconds,
            undelivered=UndeliveredRule(settings.escrow_undelivered),
        ),
        webhook_sender=HttpWebhookSender(
            allow_private_networks=settings.webhook_allow_private_networks
        ),
        sms_sender=sms_sender(settings),
        payout_rail=rail,
        payout_lease_seconds=settings.payout_lease_seconds,
        outbox_lease_seconds=settings.outbox_lease_seconds,
        apply_carrier_step=escrow_service.apply_carrier_step_in,
        credit=credit_policy(settings),
        repay_from_sale=credit_service.repay_from_sale,
        fx=fx,
        mpesa=mpesa,
    )
    return Runtime(settings=settings, engine=engine, context=context)
