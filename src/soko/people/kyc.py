"""KYC tiers and the limits each imposes on a wallet, per currency."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from soko.kernel.money import Currency, Money
from soko.people.errors import (
    ExceedsBalanceLimit,
    ExceedsDailyLimit,
    ExceedsMonthlyLimit,
    ExceedsTransactionLimit,
    KycTierInvalid,
    NationalIdRequired,
)


class KycTier(IntEnum):
    PHONE_ONLY = 0
    ID_RECORDED = 1
    DOCUMENTS_VERIFIED = 2


def tier_of(value: int) -> KycTier:
    if not isinstance(value, int) or isinstance(value, bool):
        raise KycTierInvalid(f"tier {value!r}")
    try:
        return KycTier(value)
    except ValueError as error:
        raise KycTierInvalid(f"tier {value!r}") from error


def check_tier_requirements(tier: KycTier, national_id: str | None) -> None:
    if tier >= KycTier.ID_RECORDED and not (national_id or "").strip():
        raise NationalIdRequired()


@dataclass(frozen=True, slots=True)
class TierLimits:
    """Maxima in minor units of one currency for one tier."""

    per_transaction: int
    daily_outgoing: int
    monthly_outgoing: int
    balance: int


def check_outgoing(
    limits: TierLimits, *, amount: int, spent_today: int, spent_this_month: int, currency: str
) -> None:
    """The sender's rules, in order: per transaction, then today, then this month.

    The error names the first rule broken, and `allowed` is what may still go out under all
    three (minor units), so the amount a channel offers instead is one that will pass.
    """

    def shown(minor: int) -> str:
        return Money(minor, Currency.of(currency)).to_display_string()

    left_today = max(limits.daily_outgoing - spent_today, 0)
    left_this_month = max(limits.monthly_outgoing - spent_this_month, 0)
    allowed = min(limits.per_transaction, left_today, left_this_month)
    if amount > limits.per_transaction:
        raise ExceedsTransactionLimit(
            f"at most {shown(limits.per_transaction)} per transaction",
            allowed=allowed,
            currency=currency,
        )
    if amount > left_today:
        raise ExceedsDailyLimit(
            f"{shown(left_today)} left today", allowed=allowed, currency=currency
        )
    if amount > left_this_month:
        raise ExceedsMonthlyLimit(
            f"{shown(left_this_month)} left this month", allowed=allowed, currency=currency
        )


def check_incoming(limits: TierLimits, *, amount: int, balance: int, currency: str) -> None:
    """The receiver's rule: its balance may not pass the tier's maximum."""
    room = max(limits.balance - balance, 0)
    if amount > room:
        more = Money(room, Currency.of(currency)).to_display_string()
        raise ExceedsBalanceLimit(
            f"the wallet can take {more} more", allowed=room, currency=currency
        )
