"""FX rules as tables: rate text, exact cross rates, staleness, corridors, quotes and legs."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

import soko.fx.domain
from soko.fx import errors
from soko.fx.domain import (
    Corridor,
    Leg,
    LegKind,
    Rate,
    Role,
    check_corridor,
    check_quote_matches,
    check_quote_pays,
    check_quote_usable,
    conversion_legs,
    converted_text,
    derive_rate,
    find_corridor,
    parse_corridors,
    parse_pivot,
    parse_rate,
    paying,
    price_quote,
    price_with_fees,
    rate_decimal,
    sent_abroad_text,
    unwound_share,
)
from soko.kernel.errors import AmountMustBePositive, CurrencyMismatch, DomainError
from soko.kernel.i18n import wording_for
from soko.kernel.money import Currency, Money
from soko.people.kyc import KycTier

NOW = datetime(2026, 2, 6, 12, 0, tzinfo=UTC)
HOUR = 3600
UGX, KES, TZS, KWD, USD, EUR = (Currency.of(c) for c in ("UGX", "KES", "TZS", "KWD", "USD", "EUR"))


def rate(base: str, quote: str, text: str, *, hours_old: int = 0, source: str = "test") -> Rate:
    return Rate(base, quote, parse_rate(text), source, NOW - timedelta(hours=hours_old))


# --- parse_rate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("129.25", Fraction(517, 4)),
        ("1", Fraction(1)),
        ("0.0078", Fraction(78, 10_000)),
        ("3652.40", Fraction(365_240, 100)),
        ("0.000000000001", Fraction(1, 10**12)),  # twelve decimals: the most
        ("999999999999", Fraction(999_999_999_999)),  # twelve whole digits: the most
        ("0001.5", Fraction(3, 2)),  # leading zeros are not whole digits
        ("1.0556", Fraction(10_556, 10_000)),
    ],
)
def test_parse_rate_is_exact(text: str, expected: Fraction) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (129.25, "float"),
        (129, "int"),
        (None, "NoneType"),
        ("", "not a plain decimal"),
        ("-1.5", "negative"),
        ("+1.5", "not a plain decimal"),
        ("1e3", "exponent"),
        ("1.5E-2", "exponent"),
        ("0", "zero"),
        ("0.000", "zero"),
        ("0.0000000000001", "13 decimals"),
        ("1000000000000", "12 whole digits"),
        ("1,000.5", "not a plain decimal"),
        (" 1.5", "not a plain decimal"),
        ("1.", "not a plain decimal"),
        (".5", "not a plain decimal"),
        ("NaN", "not a plain decimal"),
        ("Infinity", "not a plain decimal"),
        ("١٢", "not a plain decimal"),  # Arabic-Indic digits
        ("1" * 41, "at most 40 characters"),
    ],
)
def test_parse_rate_refuses(value: object, why: str) -> None:
    with pytest.raises(errors.FxRateInvalid, match=why) as raised:
        parse_rate(value)
    assert raised.value.code == "fx_rate_invalid"


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        (("USD", "USD", Fraction(1), "x", NOW), "itself"),
        (("USD", "XXX", Fraction(1), "x", NOW), "does not know"),
        (("usd", "KES", Fraction(1), "x", NOW), "does not know"),
        (("USD", "KES", Fraction(0), "x", NOW), "positive"),
        (("USD", "KES", Fraction(-1), "x", NOW), "positive"),
        (("USD", "KES", 1, "x", NOW), "positive Fraction"),
        (("USD", "KES", Fraction(1), "", NOW), "source"),
        (("USD", "KES", Fraction(1), "Has Spaces", NOW), "source"),
        (("USD", "KES", Fraction(1), "x", datetime(2026, 2, 6)), "offset"),
    ],
)
def test_rate_refuses(fields: tuple[str, str, Fraction, str, datetime], why: str) -> None:
    with pytest.raises(errors.FxRateInvalid, match=why):
        Rate(*fields)


def test_pivot_is_a_known_currency() -> None:
    assert parse_pivot("USD") == "USD"
    with pytest.raises(DomainError):
        parse_pivot("usd")


# --- derive_rate --------------------------------------------------------------------------------

OPERATOR = [rate("USD", "KES", "129.25"), rate("USD", "UGX", "3652.40")]
ECB = [
    rate("EUR", "USD", "1.1794", source="ecb"),
    rate("EUR", "ZAR", "19.0170", source="ecb"),
    rate("EUR", "GBP", "0.86790", source="ecb"),
]


@pytest.mark.parametrize(
    ("rates", "base", "quote", "expected"),
    [
        # Direct, and its inverse exactly (not 1/129.25 rounded). Fraction("...") is exact.
        (OPERATOR, "USD", "KES", Fraction("129.25")),
        (OPERATOR, "KES", "USD", 1 / Fraction("129.25")),
        # Through the pivot: UGX->USD->KES = 129.25 / 3652.40.
        (OPERATOR, "UGX", "KES", Fraction("129.25") / Fraction("3652.40")),
        (OPERATOR, "KES", "UGX", Fraction("3652.40") / Fraction("129.25")),
        # ECB: USD->ZAR = (EUR->ZAR) / (EUR->USD), through the bridge.
        (ECB, "USD", "ZAR", Fraction("19.0170") / Fraction("1.1794")),
        (ECB, "ZAR", "USD", Fraction("1.1794") / Fraction("19.0170")),
        # ZAR->GBP: both legs to the pivot go through EUR; the pivot cancels exactly.
        (ECB, "ZAR", "GBP", Fraction("0.86790") / Fraction("19.0170")),
        # Mixed sources: ZAR->USD from the ECB, USD->KES from the operator.
        (
            ECB + OPERATOR,
            "ZAR",
            "KES",
            Fraction("1.1794") / Fraction("19.0170") * Fraction("129.25"),
        ),
        (ECB + OPERATOR, "EUR", "KES", Fraction("1.1794") * Fraction("129.25")),
    ],
)
def test_derive_rate_is_exact(rates: list[Rate], base: str, quote: str, expected: Fraction) -> None:
    derived = derive_rate(rates, base, quote, now=NOW, max_age_seconds=HOUR)
    assert (derived.base, derived.quote, derived.value) == (base, quote, expected)


def test_a_direct_rate_beats_the_cross_rate() -> None:
    rates = [*OPERATOR, rate("UGX", "KES", "0.0354", source="desk")]
    derived = derive_rate(rates, "UGX", "KES", now=NOW, max_age_seconds=HOUR)
    assert derived.value == Fraction(354, 10000)
    assert derived.source == "desk"


def test_a_cross_rate_records_its_ingredients_and_is_as_old_as_the_oldest() -> None:
    rates = [rate("USD", "KES", "129.25", hours_old=2), rate("USD", "UGX", "3652.40")]
    derived = derive_rate(rates, "UGX", "KES", now=NOW, max_age_seconds=3 * HOUR)
    assert derived.as_of == NOW - timedelta(hours=2)
    assert {r.pair for r in derived.derived_from} == {("USD", "KES"), ("USD", "UGX")}


def test_the_newest_rate_of_a_pair_wins_whatever_the_order() -> None:
    old, new = rate("USD", "KES", "120", hours_old=1), rate("USD", "KES", "129.25")
    for rates in ([old, new], [new, old]):
        derived = derive_rate(rates, "USD", "KES", now=NOW, max_age_seconds=HOUR)
        assert derived.value == Fraction(517, 4)


def test_the_pivot_is_a_setting() -> None:
    rates = [rate("KES", "UGX", "28.26"), rate("KES", "TZS", "20.02")]
    with pytest.raises(errors.FxPairUnknown):
        derive_rate(rates, "UGX", "TZS", now=NOW, max_age_seconds=HOUR)
    derived = derive_rate(rates, "UGX", "TZS", now=NOW, max_age_seconds=HOUR, pivot="KES")
    assert derived.value == Fraction("20.02") / Fraction("28.26")


@pytest.mark.parametrize(
    ("hours_old", "max_age_hours", "error"),
    [
        (0, 0, None),
        (4, 4, None),  # exactly the maximum age is still fresh
        (5, 4, errors.FxRateStale),
        (97, 96, errors.FxRateStale),
    ],
)
def test_staleness(hours_old: int, max_age_hours: int, error: type[DomainError] | None) -> None:
    rates = [rate("USD", "KES", "129.25", hours_old=hours_old), rate("USD", "UGX", "3652.40")]
    if error is None:
        derive_rate(rates, "UGX", "KES", now=NOW, max_age_seconds=max_age_hours * HOUR)
        return
    with pytest.raises(error) as raised:
        derive_rate(rates, "UGX", "KES", now=NOW, max_age_seconds=max_age_hours * HOUR)
    assert raised.value.context["stale_pair"] == "USD>KES"


def test_a_stale_rate_is_never_used_even_with_a_fresh_inverse_path_missing() -> None:
    stale_direct = rate("UGX", "KES", "0.0354", hours_old=10)
    with pytest.raises(errors.FxRateStale):
        derive_rate([stale_direct], "UGX", "KES", now=NOW, max_age_seconds=HOUR)
    # A fresh cross rate is used rather than the stale direct one.
    derived = derive_rate([stale_direct, *OPERATOR], "UGX", "KES", now=NOW, max_age_seconds=HOUR)
    assert derived.value == Fraction("129.25") / Fraction("3652.40")


def test_a_rate_dated_in_the_future_is_never_used() -> None:
    ahead = Rate("USD", "KES", Fraction(129), "x", NOW + timedelta(minutes=10))
    with pytest.raises(errors.FxPairUnknown):
        derive_rate([ahead], "USD", "KES", now=NOW, max_age_seconds=HOUR)
    skewed = Rate("USD", "KES", Fraction(129), "x", NOW + timedelta(minutes=4))
    assert derive_rate([skewed], "USD", "KES", now=NOW, max_age_seconds=HOUR).value == 129


@pytest.mark.parametrize(
    ("rates", "base", "quote"),
    [
        ([], "USD", "KES"),
        (OPERATOR, "KES", "TZS"),
        (OPERATOR, "USD", "USD"),
        (ECB, "KES", "ZAR"),
    ],
)
def test_an_unpriced_pair_is_unknown(rates: list[Rate], base: str, quote: str) -> None:
    with pytest.raises(errors.FxPairUnknown):
        derive_rate(rates, base, quote, now=NOW, max_age_seconds=HOUR)


# --- corridors ----------------------------------------------------------------------------------


def test_parse_corridors() -> None:
    corridors = parse_corridors(
        """{"UGX>KES": {"spread_bps": 150, "min": "1000", "max": "5000000", "kyc_tier": 1},
            "KES>UGX": {"spread_bps": 0, "max": "150000.50", "kyc_tier": 0, "enabled": false}}"""
    )
    assert corridors[("UGX", "KES")] == Corridor(
        UGX, KES, True, 150, 1_000, 5_000_000, KycTier.ID_RECORDED
    )
    assert corridors[("KES", "UGX")] == Corridor(
        KES, UGX, False, 0, 1, 15_000_050, KycTier.PHONE_ONLY
    )
    assert parse_corridors("{}") == {}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "not JSON"),
        ("[]", "JSON object"),
        ('{"UGX>KES": 1}', "JSON object"),
        ('{"UGX-KES": {}}', "SOURCE>TARGET"),
        ('{"ugx>kes": {}}', "SOURCE>TARGET"),
        ('{"UGX>XXX": {}}', "does not know"),
        ('{"UGX>UGX": {}}', "itself"),
        ('{"UGX>KES": {"max": "1", "kyc_tier": 1}}', "spread_bps"),
        ('{"UGX>KES": {"spread_bps": 1, "kyc_tier": 1}}', "'max' is required"),
        ('{"UGX>KES": {"spread_bps": 1, "max": "1"}}', "'kyc_tier' is required"),
        ('{"UGX>KES": {"spread_bps": 1.5, "max": "1", "kyc_tier": 1}}', "fraction"),
        ('{"UGX>KES": {"spread_bps": 1e2, "max": "1", "kyc_tier": 1}}', "fraction"),
        ('{"UGX>KES": {"spread_bps": true, "max": "1", "kyc_tier": 1}}', "spread_bps"),
        ('{"UGX>KES": {"spread_bps": -1, "max": "1", "kyc_tier": 1}}', "spread_bps"),
        ('{"UGX>KES": {"spread_bps": 2001, "max": "1", "kyc_tier": 1}}', "spread_bps"),
        ('{"UGX>KES": {"spread_bps": NaN, "max": "1", "kyc_tier": 1}}', "NaN"),
        ('{"UGX>KES": {"spread_bps": 1, "max": 5000, "kyc_tier": 1}}', "max"),
        ('{"UGX>KES": {"spread_bps": 1, "max": "50.5", "kyc_tier": 1}}', "decimal places"),
        ('{"KES>UGX": {"spread_bps": 1, "max": "50.555", "kyc_tier": 1}}', "decimal places"),
        ('{"UGX>KES": {"spread_bps": 1, "max": "0", "kyc_tier": 1}}', "above zero"),
        ('{"UGX>KES": {"spread_bps": 1, "max": "-5", "kyc_tier": 1}}', "above zero"),
        ('{"UGX>KES": {"spread_bps": 1, "min": "9", "max": "5", "kyc_tier": 1}}', "min is above"),
        ('{"UGX>KES": {"spread_bps": 1, "max": "5", "kyc_tier": 3}}', "kyc_tier"),
        ('{"UGX>KES": {"spread_bps": 1, "max": "5", "kyc_tier": "1"}}', "kyc_tier"),
        ('{"UGX>KES": {"spread_bps": 1, "max": "5", "kyc_tier": true}}', "kyc_tier"),
        ('{"UGX>KES": {"spread_bps": 1, "max": "5", "kyc_tier": 1, "enabled": 1}}', "enabled"),
        ('{"UGX>KES": {"spread_bps": 1, "max": "5", "kyc_tier": 1, "fee": 1}}', "unknown field"),
        ('{"UGX>KES": {"spread_bps": 1, "spread_bps": 2, "max": "5", "kyc_tier": 1}}', "twice"),
        ('{"UGX>KES": {}, "UGX>KES": {}}', "twice"),
    ],
)
def test_parse_corridors_refuses(text: str, why: str) -> None:
    with pytest.raises(errors.FxCorridorsInvalid, match=why):
        parse_corridors(text)


CORRIDORS = parse_corridors(
    """{"UGX>KES": {"spread_bps": 150, "min": "1000", "max": "5000000", "kyc_tier": 1},
        "KES>UGX": {"spread_bps": 150, "max": "150000.00", "kyc_tier": 1, "enabled": false}}"""
)


@pytest.mark.parametrize(
    ("source", "target", "amount", "tier", "error"),
    [
        (UGX, KES, 1_000, 1, None),
        (UGX, KES, 5_000_000, 2, None),
        (UGX, KES, 999, 1, errors.FxAmountOutsideCorridor),
        (UGX, KES, 5_000_001, 1, errors.FxAmountOutsideCorridor),
        (UGX, KES, 50_000, 0, errors.FxTierTooLow),
        (KES, UGX, 50_000, 1, errors.FxCorridorDisabled),  # listed but disabled
        (UGX, TZS, 50_000, 2, errors.FxCorridorDisabled),  # not listed: not offered
    ],
)
def test_corridor_rules(
    source: Currency, target: Currency, amount: int, tier: int, error: type[DomainError] | None
) -> None:
    def check() -> None:
        check_corridor(find_corridor(CORRIDORS, source, target), Money(amount, source), tier)

    if error is None:
        check()
    else:
        with pytest.raises(error):
            check()


def test_a_corridor_checks_the_source_currency() -> None:
    with pytest.raises(CurrencyMismatch):
        check_corridor(CORRIDORS[("UGX", "KES")], Money.of(5_000, "KES"), 2)


# --- price_quote --------------------------------------------------------------------------------

UGX_KES = Fraction("129.25") / Fraction("3652.40")  # KES per UGX
#: mid, spread_bps, fee_minor, source, target
Pricing = tuple[Fraction, int, int, Currency, Currency]


@pytest.mark.parametrize(
    ("pricing", "debit", "expected"),
    [
        # UGX 100,000, fee 500, 1.5 %: 99,500 exchanged, spread ceil(1492.5) = 1,493,
        # converted 98,007; 98,007 * 129.25 / 3652.40 * 100 = 346,824.13... cents -> 346,824.
        ((UGX_KES, 150, 500, UGX, KES), 100_000, (98_007, 1_493, 346_824)),
        # No spread, no fee: everything is converted.
        ((UGX_KES, 0, 0, UGX, KES), 100_000, (100_000, 0, 353_876)),
        # KES 1,000.00 -> UGX at 28.26: 100,000 cents, 150 bp: spread 1,500, converted 98,500
        # cents = KES 985.00 -> 27,836.1 UGX -> 27,836 (0 decimals, floored).
        ((Fraction(2826, 100), 150, 0, KES, UGX), 100_000, (98_500, 1_500, 27_836)),
        # KES -> KWD (3 decimals) at 0.00237: KES 500.00 -> 1.185 KWD = 1,185 fils.
        ((Fraction(237, 100_000), 0, 0, KES, KWD), 50_000, (50_000, 0, 1_185)),
        # KWD 1.000 -> KES at 425.1234: 100 bp of 1,000 fils = 10; 990 fils -> 42,087.21 cents.
        ((Fraction(4_251_234, 10_000), 100, 0, KWD, KES), 1_000, (990, 10, 42_087)),
        # A spread of 1.5 % of 1 unit still costs a whole unit (ceiling): 99 of 101 converted.
        ((UGX_KES, 150, 0, UGX, KES), 101, (99, 2, 350)),
    ],
)
def test_price_a_source_amount(
    pricing: Pricing, debit: int, expected: tuple[int, int, int]
) -> None:
    mid, bps, fee, source, target = pricing
    converted, spread, paid = expected
    q = price_quote(mid, bps, fee, source, target, source_amount=Money(debit, source))
    assert q.source_debit == Money(debit, source)
    assert (q.converted, q.spread, q.fee) == (
        Money(converted, source),
        Money(spread, source),
        Money(fee, source),
    )
    assert q.target == Money(paid, target)
    assert q.mid == mid
    assert q.customer_rate <= mid * (1 - Fraction(bps, 10_000))


@pytest.mark.parametrize(
    ("pricing", "wanted", "expected"),
    [
        # KES 2,000.00 to the payee: 56,517 UGX converted is the least (56,516 gives 1999.97);
        # 56,517 / 0.985 = 57,377.6 -> 57,378 exchanged, plus the 500 fee.
        ((UGX_KES, 150, 500, UGX, KES), 200_000, (57_878, 200_000)),
        ((UGX_KES, 0, 0, UGX, KES), 346_824, (98_007, 346_824)),
        # The exact value lands on a whole unit: the payee gets exactly what was asked.
        ((Fraction(2826, 100), 0, 0, KES, UGX), 2_826, (10_000, 2_826)),
        # USD cents to UGX: one cent is 36.524 UGX, so the payee gets at least what was asked.
        ((Fraction(365_240, 100), 0, 0, USD, UGX), 100_000, (2_738, 100_002)),
        ((Fraction(237, 100_000), 200, 0, KES, KWD), 1_000, (43_057, 1_000)),
    ],
)
def test_price_a_target_amount(pricing: Pricing, wanted: int, expected: tuple[int, int]) -> None:
    mid, bps, fee, source, target = pricing
    debit, paid = expected
    q = price_quote(mid, bps, fee, source, target, target_amount=Money(wanted, target))
    assert q.source_debit == Money(debit, source)
    assert q.target == Money(paid, target)
    # Minimal: one unit less pays the payee less than was asked.
    less = price_quote(mid, bps, fee, source, target, source_amount=Money(debit - 1, source))
    assert less.target.amount_minor < wanted


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"source_amount": Money.of(0, "UGX")}, AmountMustBePositive),
        ({"source_amount": Money.of(-5, "UGX")}, AmountMustBePositive),
        ({"source_amount": Money.of(100, "KES")}, CurrencyMismatch),
        ({"target_amount": Money.of(100, "UGX")}, CurrencyMismatch),
        ({"source_amount": Money.of(500, "UGX")}, errors.FxAmountTooSmall),  # all fee
        ({"source_amount": Money.of(501, "UGX")}, errors.FxAmountTooSmall),  # all spread
        ({"source_amount": Money.of(100, "UGX")}, errors.FxAmountTooSmall),  # below the fee
    ],
)
def test_price_quote_refuses(kwargs: dict[str, Money], error: type[DomainError]) -> None:
    with pytest.raises(error):
        price_quote(UGX_KES, 150, 500, UGX, KES, **kwargs)


def test_price_quote_takes_exactly_one_amount() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        price_quote(UGX_KES, 0, 0, UGX, KES)
    with pytest.raises(ValueError, match="exactly one"):
        price_quote(
            UGX_KES,
            0,
            0,
            UGX,
            KES,
            source_amount=Money.of(1, "UGX"),
            target_amount=Money.of(1, "KES"),
        )


def test_price_quote_refuses_a_float_mid() -> None:
    with pytest.raises(errors.FxRateInvalid):
        price_quote(0.035, 0, 0, UGX, KES, source_amount=Money.of(1000, "UGX"))  # type: ignore[arg-type]


# --- legs and quote checks ----------------------------------------------------------------------


def test_conversion_legs_of_the_worked_example() -> None:
    q = price_quote(UGX_KES, 150, 500, UGX, KES, source_amount=Money.of(100_000, "UGX"))
    assert conversion_legs(q) == [
        Leg(Role.PAYER_WALLET, Role.LIQUIDITY_SOURCE, Money.of(98_007, "UGX"), LegKind.CONVERSION),
        Leg(Role.PAYER_WALLET, Role.FEE_INCOME, Money.of(1_493, "UGX"), LegKind.SPREAD),
        Leg(Role.PAYER_WALLET, Role.FEE_INCOME, Money.of(500, "UGX"), LegKind.FEE),
        Leg(Role.LIQUIDITY_TARGET, Role.PAYEE_WALLET, Money.of(346_824, "KES"), LegKind.DELIVERY),
    ]


def test_zero_legs_are_left_out() -> None:
    q = price_quote(UGX_KES, 0, 0, UGX, KES, source_amount=Money.of(100_000, "UGX"))
    assert [leg.kind for leg in conversion_legs(q)] == [LegKind.CONVERSION, LegKind.DELIVERY]


@pytest.mark.parametrize(
    ("used", "expires_in", "error"),
    [
        (False, 1, None),
        (False, 0, errors.FxQuoteExpired),  # expires_at is the first instant it may not
        (False, -60, errors.FxQuoteExpired),
        (True, 60, errors.FxQuoteUsed),
        (True, -60, errors.FxQuoteUsed),
    ],
)
def test_check_quote_usable(used: bool, expires_in: int, error: type[DomainError] | None) -> None:
    expires_at = NOW + timedelta(seconds=expires_in)
    if error is None:
        check_quote_usable(expires_at=expires_at, used=used, now=NOW)
    else:
        with pytest.raises(error):
            check_quote_usable(expires_at=expires_at, used=used, now=NOW)


def test_check_quote_matches() -> None:
    q = price_quote(UGX_KES, 150, 500, UGX, KES, source_amount=Money.of(100_000, "UGX"))
    check_quote_matches(q, source=UGX, target=KES, source_amount=Money.of(100_000, "UGX"))
    check_quote_matches(q, source=UGX, target=KES, target_amount=Money.of(346_824, "KES"))
    for kwargs in (
        {"source": KES, "target": UGX},
        {"source": UGX, "target": TZS},
        {"source": UGX, "target": KES, "source_amount": Money.of(100_001, "UGX")},
        {"source": UGX, "target": KES, "target_amount": Money.of(346_825, "KES")},
    ):
        with pytest.raises(errors.FxQuoteMismatch):
            check_quote_matches(q, **kwargs)


# --- the module stays pure ----------------------------------------------------------------------

#: What soko/fx/domain.py may import: tests/architecture's domain list, plus json (pure parsing).
PURE_IMPORTS = {
    "__future__", "collections", "dataclasses", "datetime", "enum", "fractions", "json", "re",
    "types", "typing", "soko",
}  # fmt: skip


def test_fx_domain_is_pure_and_has_no_true_division_or_floats() -> None:
    tree = ast.parse(Path(soko.fx.domain.__file__).read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            found += [f"imports {n}" for n in names if str(n).split(".")[0] not in PURE_IMPORTS]
            # Which Soko modules it may use is the architecture tests' rule (pure ones only).
        elif isinstance(node, ast.Constant) and isinstance(node.value, float):
            found.append(f"float {node.value!r} line {node.lineno}")
        elif isinstance(node, ast.Name) and node.id in {"float", "open", "print"}:
            found.append(f"{node.id} line {node.lineno}")
        elif isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.Div):
            found.append(f"true division line {node.lineno}")
        elif isinstance(node, ast.Attribute) and node.attr in {"now", "utcnow", "today", "environ"}:
            found.append(f".{node.attr} line {node.lineno}")
    assert not found, found


# --- prices with a tariff's fee, rates shown, texts ---------------------------------------------


def _banded(debit: int) -> int:
    """A banded FX fee: 0 up to 10,000, 300 up to 60,000, 800 above."""
    return 0 if debit <= 10_000 else 300 if debit <= 60_000 else 800


@pytest.mark.parametrize("wanted", [1, 34_000, 34_650, 35_000, 200_000, 212_000, 1_000_000])
def test_a_target_amount_with_a_banded_fee_is_the_least_debit_that_pays_it(wanted: int) -> None:
    ugx, kes = Currency.of("UGX"), Currency.of("KES")
    mid = Fraction(2585, 73048)
    q = price_with_fees(mid, 150, _banded, ugx, kes, target_amount=Money(wanted, kes))
    debit = q.source_debit.amount_minor
    assert q.target.amount_minor >= wanted
    assert q.fee.amount_minor == _banded(debit)
    # One unit less pays less than wanted, whatever fee band it falls in.
    try:
        less = price_with_fees(mid, 150, _banded, ugx, kes, source_amount=Money(debit - 1, ugx))
    except errors.FxAmountTooSmall:
        return
    assert less.target.amount_minor < wanted


def test_a_source_amount_pays_the_fee_of_its_band() -> None:
    ugx, kes = Currency.of("UGX"), Currency.of("KES")
    q = price_with_fees(Fraction(2585, 73048), 150, _banded, ugx, kes,
                        source_amount=Money(100_000, ugx))  # fmt: skip
    assert q.fee == Money(800, ugx)


@pytest.mark.parametrize(
    ("value", "decimals", "shown"),
    [
        (Fraction(517, 4), 10, "129.25"),
        (Fraction(2585, 73048), 10, "0.0353876903"),
        (Fraction(1, 3), 4, "0.3333"),
        (Fraction(2, 3), 4, "0.6667"),
        (Fraction(1, 8), 2, "0.12"),  # half to even
        (Fraction(3, 8), 2, "0.38"),
        (Fraction(5), 3, "5"),
    ],
)
def test_a_rate_is_shown_rounded_half_even(value: Fraction, decimals: int, shown: str) -> None:
    assert rate_decimal(value, decimals) == shown


def test_the_fx_texts_fit_one_sms_with_long_names() -> None:
    debit, target = Money(7_000_000, Currency.of("UGX")), Money(24_399_999, Currency.of("KES"))
    balance = Money(13_000_000, Currency.of("UGX"))
    english, swahili = wording_for("en", "UG"), wording_for("sw", "UG")
    payment_id = "pay_01JH0000000000000000000000"
    sent = sent_abroad_text(english, payment_id, debit, target, "N" * 80, balance=balance)
    assert "You paid UGX 7,000,000; " in sent and "gets KES 243,999.99" in sent
    converted = converted_text(english, payment_id, debit, target, balance)
    assert "You converted UGX 7,000,000 to KES 243,999.99." in converted
    sent = sent_abroad_text(swahili, payment_id, debit, target, "N" * 80, balance=balance)
    assert "Umelipa UGX 7,000,000; " in sent and sent.endswith("Salio UGX 13,000,000.")
    converted = converted_text(swahili, payment_id, debit, target, balance)
    assert "Umebadilisha UGX 7,000,000 kuwa KES 243,999.99." in converted


# --- a fixed price paid through a quote, and a conversion given back -----------------------------

_UGX_KES_MID = Fraction("129.25") / Fraction("3652.40")


@pytest.mark.parametrize(
    ("quoted_target", "price", "pays"),
    [
        (200000, 200000, True),  # the quote for the price itself
        # A shilling is worth 3.5 cents: the least quote for KES 2000.01 pays 2000.04; the
        # merchant gets 2000.01 and the 3 cents stay in the liquidity.
        (200001, 200001, True),
        (200001, 200004, True),
        (200000, 200001, False),  # short of the price
        (200004, 200000, False),  # a whole shilling more than the price needs
        (100000, 200000, False),
    ],
)
def test_check_quote_pays(quoted_target: int, price: int, pays: bool) -> None:
    ugx, kes = Currency.of("UGX"), Currency.of("KES")
    amounts = price_quote(_UGX_KES_MID, 150, 0, ugx, kes, target_amount=Money(quoted_target, kes))
    if pays:
        paid = paying(amounts, Money(price, kes))
        assert paid.target == Money(price, kes)
        assert paid.source_debit == amounts.source_debit
    else:
        with pytest.raises(errors.FxQuoteMismatch):
            check_quote_pays(amounts, Money(price, kes))


def test_a_price_in_another_currency_is_a_mismatch() -> None:
    ugx, kes = Currency.of("UGX"), Currency.of("KES")
    amounts = price_quote(_UGX_KES_MID, 150, 0, ugx, kes, target_amount=Money(200000, kes))
    with pytest.raises(errors.FxQuoteMismatch):
        check_quote_pays(amounts, Money(57378, ugx))


@pytest.mark.parametrize(
    ("share", "converted", "charges"),
    [
        (Fraction(1), 56517, 1361),  # all of it: exactly what was paid
        (Fraction(0), 0, 0),
        (Fraction(1, 4), 14129, 340),  # rounded down: the platform keeps under a unit of each
        (Fraction(3, 4), 42387, 1020),
    ],
)
def test_unwound_share(share: Fraction, converted: int, charges: int) -> None:
    ugx, kes = Currency.of("UGX"), Currency.of("KES")
    amounts = price_quote(_UGX_KES_MID, 150, 500, ugx, kes, target_amount=Money(200000, kes))
    assert (amounts.converted.amount_minor, (amounts.spread + amounts.fee).amount_minor) == (
        56517,
        1361,
    )
    back = unwound_share(amounts, share)
    assert (back.converted.amount_minor, back.charges.amount_minor) == (converted, charges)
    assert back.total.amount_minor <= amounts.source_debit.amount_minor
