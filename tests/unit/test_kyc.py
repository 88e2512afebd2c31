"""KYC tiers and limits as tables: every tier of every currency, at its exact boundaries."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from soko.kernel import limits
from soko.kernel.errors import DomainError, Rejected
from soko.kernel.money import Currency
from soko.people.errors import (
    ExceedsBalanceLimit,
    ExceedsDailyLimit,
    ExceedsMonthlyLimit,
    ExceedsTransactionLimit,
    KycTierInvalid,
    NationalIdRequired,
)
from soko.people.kyc import (
    KycTier,
    TierLimits,
    check_incoming,
    check_outgoing,
    check_tier_requirements,
    tier_of,
)

# --- tiers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tier"),
    [
        pytest.param(0, KycTier.PHONE_ONLY, id="0-phone-only"),
        pytest.param(1, KycTier.ID_RECORDED, id="1-id-recorded"),
        pytest.param(2, KycTier.DOCUMENTS_VERIFIED, id="2-documents-verified"),
    ],
)
def test_tier_of(value: int, tier: KycTier) -> None:
    assert tier_of(value) is tier


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(-1, id="minus-1"),
        pytest.param(3, id="3"),
        pytest.param("1", id="str"),
        pytest.param(None, id="None"),
    ],
)
def test_tier_of_rejects(value: Any) -> None:
    with pytest.raises(KycTierInvalid) as exc:
        tier_of(value)
    assert exc.value.code == "kyc_tier_invalid"


@pytest.mark.parametrize(
    ("tier", "national_id"),
    [
        pytest.param(KycTier.PHONE_ONLY, None, id="tier0-no-id"),
        pytest.param(KycTier.PHONE_ONLY, "12345678", id="tier0-with-id"),
        pytest.param(KycTier.ID_RECORDED, "12345678", id="tier1-with-id"),
        pytest.param(KycTier.DOCUMENTS_VERIFIED, "A1234567", id="tier2-with-id"),
    ],
)
def test_check_tier_requirements_accepts(tier: KycTier, national_id: str | None) -> None:
    check_tier_requirements(tier, national_id)


@pytest.mark.parametrize(
    ("tier", "national_id"),
    [
        pytest.param(KycTier.ID_RECORDED, None, id="tier1-None"),
        pytest.param(KycTier.ID_RECORDED, "", id="tier1-empty"),
        pytest.param(KycTier.DOCUMENTS_VERIFIED, None, id="tier2-None"),
        pytest.param(KycTier.DOCUMENTS_VERIFIED, "", id="tier2-empty"),
        pytest.param(
            KycTier.ID_RECORDED,
            "   ",
            id="tier1-blank",
        ),
    ],
)
def test_check_tier_requirements_needs_national_id(tier: KycTier, national_id: str | None) -> None:
    with pytest.raises(NationalIdRequired) as exc:
        check_tier_requirements(tier, national_id)
    assert exc.value.code == "national_id_required"


# --- the limits table itself ------------------------------------------------------------------

TIERS = [
    pytest.param(currency, tier, TierLimits(*row), id=f"{currency}-tier{tier}")
    for currency, tiers in sorted(limits.KYC_LIMITS.items())
    for tier, row in sorted(tiers.items())
]


@pytest.mark.parametrize("currency", sorted(limits.KYC_LIMITS))
def test_every_currency_has_every_tier_and_is_known(currency: str) -> None:
    assert Currency.of(currency).code == currency
    assert sorted(limits.KYC_LIMITS[currency]) == [tier.value for tier in KycTier]


@pytest.mark.parametrize(("currency", "tier", "tier_limits"), TIERS)
def test_limits_are_ordered_within_a_tier(
    currency: str, tier: int, tier_limits: TierLimits
) -> None:
    """The boundary tests below rely on it: a payment of the per-transaction maximum fits a day,
    and a day's maximum fits a month."""
    assert 0 < tier_limits.per_transaction <= tier_limits.daily_outgoing
    assert tier_limits.daily_outgoing <= tier_limits.monthly_outgoing
    assert tier_limits.balance > 0


@pytest.mark.parametrize("currency", sorted(limits.KYC_LIMITS))
def test_a_higher_tier_never_lowers_a_limit(currency: str) -> None:
    rows = [limits.KYC_LIMITS[currency][tier] for tier in sorted(limits.KYC_LIMITS[currency])]
    for lower, higher in itertools.pairwise(rows):
        assert all(low <= high for low, high in zip(lower, higher, strict=True)), (lower, higher)


# --- outgoing: per transaction ----------------------------------------------------------------


def _outgoing(
    tier_limits: TierLimits, currency: str, amount: int, *, today: int = 0, month: int = 0
) -> None:
    check_outgoing(
        tier_limits,
        amount=amount,
        spent_today=today,
        spent_this_month=month,
        currency=currency,
    )


@contextmanager
def _refused(error: type[DomainError], code: str, allowed: int, currency: str) -> Iterator[None]:
    """Expects exactly `error`, with this code, saying `allowed` may still go, in `currency`."""
    with pytest.raises(error) as exc:
        yield
    assert type(exc.value) is error
    assert exc.value.code == code
    assert exc.value.context == {"allowed": allowed, "currency": currency}


@pytest.mark.parametrize(("currency", "tier", "tier_limits"), TIERS)
def test_outgoing_per_transaction_boundary(
    currency: str, tier: int, tier_limits: TierLimits
) -> None:
    top = tier_limits.per_transaction
    _outgoing(tier_limits, currency, top)
    with _refused(ExceedsTransactionLimit, "exceeds_transaction_limit", top, currency):
        _outgoing(tier_limits, currency, top + 1)


def _rests(tier_limits: TierLimits) -> list[int]:
    """What may be left of a day or month: one unit, about half a payment, and one unit short of
    a full payment (so that one more unit is still within the per-transaction maximum)."""
    top = tier_limits.per_transaction
    return sorted({1, top // 2, top - 1})


@pytest.mark.parametrize(("currency", "tier", "tier_limits"), TIERS)
def test_outgoing_daily_boundary(currency: str, tier: int, tier_limits: TierLimits) -> None:
    for rest in _rests(tier_limits):
        today = tier_limits.daily_outgoing - rest
        _outgoing(tier_limits, currency, rest, today=today)
        with _refused(ExceedsDailyLimit, "exceeds_daily_limit", rest, currency):
            _outgoing(tier_limits, currency, rest + 1, today=today)


@pytest.mark.parametrize(("currency", "tier", "tier_limits"), TIERS)
def test_outgoing_daily_limit_spent(currency: str, tier: int, tier_limits: TierLimits) -> None:
    with _refused(ExceedsDailyLimit, "exceeds_daily_limit", 0, currency):
        _outgoing(tier_limits, currency, 1, today=tier_limits.daily_outgoing)


@pytest.mark.parametrize(("currency", "tier", "tier_limits"), TIERS)
def test_outgoing_monthly_boundary(currency: str, tier: int, tier_limits: TierLimits) -> None:
    for rest in _rests(tier_limits):
        month = tier_limits.monthly_outgoing - rest
        _outgoing(tier_limits, currency, rest, month=month)
        with _refused(ExceedsMonthlyLimit, "exceeds_monthly_limit", rest, currency):
            _outgoing(tier_limits, currency, rest + 1, month=month)


@pytest.mark.parametrize(("currency", "tier", "tier_limits"), TIERS)
def test_outgoing_monthly_limit_spent(currency: str, tier: int, tier_limits: TierLimits) -> None:
    with _refused(ExceedsMonthlyLimit, "exceeds_monthly_limit", 0, currency):
        _outgoing(tier_limits, currency, 1, month=tier_limits.monthly_outgoing)


@pytest.mark.parametrize(("currency", "tier", "tier_limits"), TIERS)
def test_outgoing_all_three_at_once_exactly(
    currency: str, tier: int, tier_limits: TierLimits
) -> None:
    """A payment that uses up the transaction, the day and the month at the same time."""
    top = tier_limits.per_transaction
    today = tier_limits.daily_outgoing - top
    month = tier_limits.monthly_outgoing - top
    _outgoing(tier_limits, currency, top, today=today, month=month)


# --- outgoing: which rule speaks first --------------------------------------------------------


@pytest.mark.parametrize(("currency", "tier", "tier_limits"), TIERS)
def test_per_transaction_is_reported_before_daily_and_monthly(
    currency: str, tier: int, tier_limits: TierLimits
) -> None:
    top = tier_limits.per_transaction
    # Named: the first rule broken. Allowed: what passes all three, here nothing (day and month
    # are used up).
    with _refused(ExceedsTransactionLimit, "exceeds_transaction_limit", 0, currency):
        _outgoing(
            tier_limits,
            currency,
            top + 1,
            today=tier_limits.daily_outgoing,
            month=tier_limits.monthly_outgoing,
        )


@pytest.mark.parametrize(("currency", "tier", "tier_limits"), TIERS)
def test_daily_is_reported_before_monthly(
    currency: str, tier: int, tier_limits: TierLimits
) -> None:
    rest_today = tier_limits.per_transaction // 2
    # The month is used up, so nothing is allowed, though the day's rule is the one named.
    with _refused(ExceedsDailyLimit, "exceeds_daily_limit", 0, currency):
        _outgoing(
            tier_limits,
            currency,
            rest_today + 1,
            today=tier_limits.daily_outgoing - rest_today,
            month=tier_limits.monthly_outgoing,
        )


@pytest.mark.parametrize(("currency", "tier", "tier_limits"), TIERS)
def test_allowed_is_never_negative(currency: str, tier: int, tier_limits: TierLimits) -> None:
    """Spending can pass a limit (an operator lowered it, or a tier was taken away)."""
    with _refused(ExceedsDailyLimit, "exceeds_daily_limit", 0, currency):
        _outgoing(tier_limits, currency, 1, today=tier_limits.daily_outgoing + 1)
    with _refused(ExceedsMonthlyLimit, "exceeds_monthly_limit", 0, currency):
        _outgoing(tier_limits, currency, 1, month=tier_limits.monthly_outgoing * 2)
    with _refused(ExceedsBalanceLimit, "exceeds_balance_limit", 0, currency):
        check_incoming(tier_limits, amount=1, balance=tier_limits.balance + 1, currency=currency)


@pytest.mark.parametrize(
    ("tier_limits", "amount", "today", "month"),
    [
        pytest.param(
            TierLimits(per_transaction=100, daily_outgoing=150, monthly_outgoing=1000, balance=1),
            101,
            100,
            0,
            id="per-transaction-offers-more-than-today-allows",
        ),
        pytest.param(
            TierLimits(per_transaction=100, daily_outgoing=150, monthly_outgoing=1000, balance=1),
            60,
            100,
            970,
            id="daily-offers-more-than-the-month-allows",
        ),
        pytest.param(
            TierLimits(per_transaction=100, daily_outgoing=150, monthly_outgoing=1000, balance=1),
            101,
            0,
            0,
            id="per-transaction-offer-fits",
        ),
    ],
)
def test_the_allowed_amount_offered_is_accepted(
    tier_limits: TierLimits, amount: int, today: int, month: int
) -> None:
    with pytest.raises(Rejected) as exc:
        _outgoing(tier_limits, "KES", amount, today=today, month=month)
    _outgoing(tier_limits, "KES", exc.value.context["allowed"], today=today, month=month)


# --- incoming ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("currency", "tier", "tier_limits"), TIERS)
def test_incoming_balance_boundary(currency: str, tier: int, tier_limits: TierLimits) -> None:
    top = tier_limits.balance
    check_incoming(tier_limits, amount=top, balance=0, currency=currency)
    with _refused(ExceedsBalanceLimit, "exceeds_balance_limit", top, currency):
        check_incoming(tier_limits, amount=top + 1, balance=0, currency=currency)
    for rest in sorted({1, top // 2, top - 1}):
        balance = top - rest
        check_incoming(tier_limits, amount=rest, balance=balance, currency=currency)
        with _refused(ExceedsBalanceLimit, "exceeds_balance_limit", rest, currency):
            check_incoming(tier_limits, amount=rest + 1, balance=balance, currency=currency)
    with _refused(ExceedsBalanceLimit, "exceeds_balance_limit", 0, currency):
        check_incoming(tier_limits, amount=1, balance=top, currency=currency)
