"""Money as tables: parsing, printing, arithmetic, allocation and the pinned currency table."""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import iso4217
import pytest

from soko.kernel.errors import DomainError
from soko.kernel.money import (
    AMOUNT_MINOR_MAX,
    AMOUNT_TEXT_LENGTH_MAX,
    CURRENCIES,
    Currency,
    Money,
    allocate,
)

# --- currencies -------------------------------------------------------------------------------

# The iso4217 package lists the countries that use each currency but not their continent, so
# Africa's 54 sovereign states are named here, spelled as ISO 4217 spells them.
AFRICAN_COUNTRIES = frozenset(
    {
        "ALGERIA", "ANGOLA", "BENIN", "BOTSWANA", "BURKINA FASO", "BURUNDI", "CABO VERDE",
        "CAMEROON", "CENTRAL AFRICAN REPUBLIC (THE)", "CHAD", "COMOROS (THE)",
        "CONGO (THE DEMOCRATIC REPUBLIC OF THE)", "CONGO (THE)", "CÔTE D'IVOIRE", "DJIBOUTI",
        "EGYPT", "EQUATORIAL GUINEA", "ERITREA", "ESWATINI", "ETHIOPIA", "GABON", "GAMBIA (THE)",
        "GHANA", "GUINEA", "GUINEA-BISSAU", "KENYA", "LESOTHO", "LIBERIA", "LIBYA", "MADAGASCAR",
        "MALAWI", "MALI", "MAURITANIA", "MAURITIUS", "MOROCCO", "MOZAMBIQUE", "NAMIBIA",
        "NIGER (THE)", "NIGERIA", "RWANDA", "SAO TOME AND PRINCIPE", "SENEGAL", "SEYCHELLES",
        "SIERRA LEONE", "SOMALIA", "SOUTH AFRICA", "SOUTH SUDAN", "SUDAN (THE)",
        "TANZANIA, UNITED REPUBLIC OF", "TOGO", "TUNISIA", "UGANDA", "ZAMBIA", "ZIMBABWE",
    }
)  # fmt: skip


def test_african_country_names_are_spelled_as_iso_spells_them() -> None:
    assert len(AFRICAN_COUNTRIES) == 54
    listed = set().union(*(currency.country_names for currency in iso4217.Currency))
    assert AFRICAN_COUNTRIES - listed == set()


@pytest.mark.parametrize("code", sorted(CURRENCIES))
def test_currency_matches_iso4217(code: str) -> None:
    ours = CURRENCIES[code]
    theirs = iso4217.Currency(code)
    assert ours.code == code == theirs.code
    assert ours.numeric == f"{theirs.number:03d}"
    assert ours.exponent == theirs.exponent
    assert ours.name == theirs.currency_name


def test_every_currency_of_an_african_country_is_in_the_table() -> None:
    african = {
        currency.code for currency in iso4217.Currency if currency.country_names & AFRICAN_COUNTRIES
    }
    assert len(african) >= 40  # guards the oracle itself against an empty match
    assert african - CURRENCIES.keys() == set()


def test_currency_numerics_are_unique() -> None:
    numerics = [currency.numeric for currency in CURRENCIES.values()]
    assert len(numerics) == len(set(numerics))


@pytest.mark.parametrize(
    ("code", "numeric", "exponent"),
    [
        ("KES", "404", 2),
        ("UGX", "800", 0),
        ("KWD", "414", 3),
        ("DZD", "012", 2),
        ("XOF", "952", 0),
        ("ZWG", "924", 2),
        ("SLE", "925", 2),
    ],
)
def test_currency_of(code: str, numeric: str, exponent: int) -> None:
    currency = Currency.of(code)
    assert (currency.numeric, currency.exponent) == (numeric, exponent)
    assert str(currency) == code


@pytest.mark.parametrize(
    "code",
    ["kes", "Kes", "KES ", " KES", "", "XYZ", "ZWL", "SLL", "MRO", "STD", "KESS", 404, None],
)
def test_currency_of_unknown(code: object) -> None:
    with pytest.raises(DomainError) as caught:
        Currency.of(code)  # type: ignore[arg-type]
    assert caught.value.code == "currency_unknown"


def test_currency_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        CURRENCIES["XXX"] = CURRENCIES["KES"]  # type: ignore[index]


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "minor"),
    [
        ("1500.50", "KES", 150050),
        ("1500.5", "KES", 150050),
        ("1500", "KES", 150000),
        ("0.01", "KES", 1),
        ("0", "KES", 0),
        ("0.00", "KES", 0),
        ("-0", "KES", 0),
        ("-3.20", "KES", -320),
        ("007.50", "KES", 750),
        ("1500", "UGX", 1500),
        ("-1", "UGX", -1),
        ("1.005", "KWD", 1005),
        ("0.001", "KWD", 1),
        ("12.3", "TND", 12300),
        ("92233720368547758.07", "KES", AMOUNT_MINOR_MAX),
        ("-92233720368547758.07", "KES", -AMOUNT_MINOR_MAX),
        ("9223372036854775807", "UGX", AMOUNT_MINOR_MAX),
        ("9223372036854775.807", "KWD", AMOUNT_MINOR_MAX),
        ("0" * (AMOUNT_TEXT_LENGTH_MAX - 3) + "1.5", "KES", 150),
    ],
)
def test_parse(text: str, code: str, minor: int) -> None:
    assert Money.parse(text, code) == Money.of(minor, code)
    assert Money.parse(text, Currency.of(code)) == Money.of(minor, code)


@pytest.mark.parametrize(
    ("text", "code", "error"),
    [
        # not a plain decimal
        ("", "KES", "amount_malformed"),
        (" 1", "KES", "amount_malformed"),
        ("1 ", "KES", "amount_malformed"),
        ("1\n", "KES", "amount_malformed"),
        ("\t1", "KES", "amount_malformed"),
        ("+1", "KES", "amount_malformed"),
        ("-", "KES", "amount_malformed"),
        ("--1", "KES", "amount_malformed"),
        ("- 1", "KES", "amount_malformed"),
        ("1e3", "KES", "amount_malformed"),
        ("1E3", "KES", "amount_malformed"),
        ("NaN", "KES", "amount_malformed"),
        ("nan", "KES", "amount_malformed"),
        ("Infinity", "KES", "amount_malformed"),
        ("-inf", "KES", "amount_malformed"),
        ("1,000", "KES", "amount_malformed"),
        ("1,5", "KES", "amount_malformed"),
        ("1_000", "KES", "amount_malformed"),
        ("1 000", "KES", "amount_malformed"),
        (".5", "KES", "amount_malformed"),
        ("5.", "KES", "amount_malformed"),
        ("1..0", "KES", "amount_malformed"),
        ("1.0.0", "KES", "amount_malformed"),
        ("0x10", "KES", "amount_malformed"),
        ("\u0661\u0662", "KES", "amount_malformed"),  # Arabic-Indic 12
        ("\uff11\uff12", "KES", "amount_malformed"),  # fullwidth 12
        ("\u0967\u0968", "KES", "amount_malformed"),  # Devanagari 12
        ("\u00b2", "KES", "amount_malformed"),  # superscript 2
        ("\u00bd", "KES", "amount_malformed"),  # vulgar fraction one half
        ("KES 1", "KES", "amount_malformed"),
        ("1" * (AMOUNT_TEXT_LENGTH_MAX + 1), "KES", "amount_malformed"),
        ("0" * (AMOUNT_TEXT_LENGTH_MAX + 1), "KES", "amount_malformed"),
        # more decimals than the currency has, even zeros: never a rounding
        ("1500.500", "KES", "amount_too_precise"),
        ("1500.505", "KES", "amount_too_precise"),
        ("0.001", "KES", "amount_too_precise"),
        ("1.5", "UGX", "amount_too_precise"),
        ("1.0", "UGX", "amount_too_precise"),
        ("1.0001", "KWD", "amount_too_precise"),
        # beyond a signed 64-bit count of minor units
        ("92233720368547758.08", "KES", "amount_overflows"),
        ("-92233720368547758.08", "KES", "amount_overflows"),
        ("9223372036854775808", "UGX", "amount_overflows"),
        ("-9223372036854775808", "UGX", "amount_overflows"),
        ("9" * AMOUNT_TEXT_LENGTH_MAX, "UGX", "amount_overflows"),
        # the currency is checked first
        ("1", "XYZ", "currency_unknown"),
        ("1", "kes", "currency_unknown"),
    ],
)
def test_parse_rejects(text: str, code: str, error: str) -> None:
    with pytest.raises(DomainError) as caught:
        Money.parse(text, code)
    assert caught.value.code == error


@pytest.mark.parametrize(
    "value",
    [1500, 1500.5, 0.1, Decimal("1500.50"), None, True, False, b"1500", ["1500"], {"a": "1"}],
)
def test_parse_refuses_anything_but_a_string(value: object) -> None:
    with pytest.raises(DomainError) as caught:
        Money.parse(value, "KES")
    assert caught.value.code == "amount_not_a_string"


def test_a_huge_string_is_refused_before_conversion() -> None:
    with pytest.raises(DomainError) as caught:
        Money.parse("1" * 100_000, "KES")
    assert caught.value.code == "amount_malformed"


def test_too_precise_says_how_many_decimals_the_currency_allows() -> None:
    with pytest.raises(DomainError) as caught:
        Money.parse("1500.500", "KES")
    assert caught.value.context == {"currency": "KES", "exponent": 2}


# --- printing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "code", "text"),
    [
        (150050, "KES", "1500.50"),
        (150000, "KES", "1500.00"),
        (1, "KES", "0.01"),
        (0, "KES", "0.00"),
        (-320, "KES", "-3.20"),
        (-5, "KES", "-0.05"),
        (1500, "UGX", "1500"),
        (0, "UGX", "0"),
        (-1, "UGX", "-1"),
        (1005, "KWD", "1.005"),
        (1, "KWD", "0.001"),
        (0, "KWD", "0.000"),
        (AMOUNT_MINOR_MAX, "KES", "92233720368547758.07"),
        (-AMOUNT_MINOR_MAX, "KES", "-92233720368547758.07"),
        (AMOUNT_MINOR_MAX, "JPY", "9223372036854775807"),
    ],
)
def test_to_decimal_string_round_trips(minor: int, code: str, text: str) -> None:
    money = Money.of(minor, code)
    assert money.to_decimal_string() == text
    assert Money.parse(text, code) == money
    assert str(money) == f"{code} {text}"


def test_repr_names_the_minor_units() -> None:
    assert repr(Money.of(150050, "KES")) == "Money.of(150050, 'KES')"


# --- construction and arithmetic --------------------------------------------------------------

KES = Currency.of("KES")
UGX = Currency.of("UGX")


def kes(minor: int) -> Money:
    return Money(minor, KES)


@pytest.mark.parametrize("minor", [AMOUNT_MINOR_MAX, -AMOUNT_MINOR_MAX, 0])
def test_bounds_are_inclusive(minor: int) -> None:
    assert kes(minor).amount_minor == minor


@pytest.mark.parametrize(
    "minor",
    [AMOUNT_MINOR_MAX + 1, -(AMOUNT_MINOR_MAX + 1), 10**5000],
    ids=["2**63", "-2**63", "10**5000"],
)
def test_beyond_the_bounds_overflows(minor: int) -> None:
    with pytest.raises(DomainError) as caught:
        kes(minor)
    assert caught.value.code == "amount_overflows"


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(True, KES), (1.0, KES), ("1", KES), (Decimal(1), KES), (None, KES), (1, "KES"), (1, None)],
)
def test_construction_with_wrong_types_is_a_programmer_error(
    amount: object, currency: object
) -> None:
    with pytest.raises(TypeError):
        Money(amount, currency)  # type: ignore[arg-type]


def test_zero() -> None:
    assert Money.zero(KES) == Money.zero("KES") == kes(0)
    assert kes(0).is_zero()
    assert not kes(0).is_positive()


@pytest.mark.parametrize(("minor", "positive"), [(1, True), (0, False), (-1, False)])
def test_is_positive(minor: int, positive: bool) -> None:
    assert kes(minor).is_positive() is positive


@pytest.mark.parametrize(
    ("left", "right", "total", "difference"),
    [
        (150050, 50, 150100, 150000),
        (1, -1, 0, 2),
        (0, 0, 0, 0),
        (AMOUNT_MINOR_MAX, -AMOUNT_MINOR_MAX, 0, None),
        (AMOUNT_MINOR_MAX - 1, 1, AMOUNT_MINOR_MAX, AMOUNT_MINOR_MAX - 2),
    ],
)
def test_add_and_subtract(left: int, right: int, total: int, difference: int | None) -> None:
    assert kes(left) + kes(right) == kes(total)
    if difference is not None:
        assert kes(left) - kes(right) == kes(difference)


@pytest.mark.parametrize(
    ("left", "right", "operation"),
    [
        (AMOUNT_MINOR_MAX, 1, operator.add),
        (-AMOUNT_MINOR_MAX, -1, operator.add),
        (AMOUNT_MINOR_MAX, -1, operator.sub),
        (-AMOUNT_MINOR_MAX, 1, operator.sub),
        (AMOUNT_MINOR_MAX, -AMOUNT_MINOR_MAX, operator.sub),
    ],
)
def test_arithmetic_that_overflows(
    left: int, right: int, operation: Callable[[Money, Money], Money]
) -> None:
    with pytest.raises(DomainError) as caught:
        operation(kes(left), kes(right))
    assert caught.value.code == "amount_overflows"


def test_negation_is_always_safe() -> None:
    assert -kes(AMOUNT_MINOR_MAX) == kes(-AMOUNT_MINOR_MAX)
    assert -kes(-320) == kes(320)
    assert -kes(0) == kes(0)


@pytest.mark.parametrize(
    "operation",
    [operator.add, operator.sub, operator.lt, operator.le, operator.gt, operator.ge],
)
def test_mixing_currencies_is_a_mismatch(operation: Callable[[Money, Money], object]) -> None:
    with pytest.raises(DomainError) as caught:
        operation(kes(100), Money(100, UGX))
    assert caught.value.code == "currency_mismatch"


def test_equality_across_currencies_is_false_not_an_error() -> None:
    assert kes(100) != Money(100, UGX)
    assert len({kes(100), Money(100, UGX), kes(100)}) == 2


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [(1, 2, (True, True, False, False)), (2, 2, (False, True, False, True))],
)
def test_ordering(left: int, right: int, expected: tuple[bool, bool, bool, bool]) -> None:
    a, b = kes(left), kes(right)
    assert (a < b, a <= b, a > b, a >= b) == expected


@pytest.mark.parametrize("other", [1, 0, Decimal(1), "1"])
def test_arithmetic_with_a_bare_number_is_a_type_error(other: Any) -> None:
    with pytest.raises(TypeError):
        operator.add(kes(1), other)
    with pytest.raises(TypeError):
        operator.lt(kes(1), other)


# --- allocation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (-100, [1, 1, 1], [-34, -33, -33]),
        (5, [0, 1], [0, 5]),
        (5, [1, 0], [5, 0]),
        (10, [0, 0, 5, 0], [0, 0, 10, 0]),
        (0, [1, 2], [0, 0]),
        (100, [1], [100]),
        (10, [3, 7], [3, 7]),
        (1, [1, 1], [1, 0]),
        (2, [1, 1, 1], [1, 1, 0]),
        (3, [1, 1, 1, 1], [1, 1, 1, 0]),
        (7, [1, 2], [2, 5]),  # 2.33 and 4.67: the larger remainder wins, not the earlier index
        (5, [1, 3], [1, 4]),
        (-7, [1, 2], [-2, -5]),
        (1000, [3, 0, 1], [750, 0, 250]),
        (AMOUNT_MINOR_MAX, [1, 1], [2**62, 2**62 - 1]),
    ],
)
def test_allocate(total: int, weights: list[int], parts: list[int]) -> None:
    assert allocate(total, weights) == parts
    assert sum(parts) == total


def test_money_allocate() -> None:
    assert kes(100).allocate([1, 1, 1]) == [kes(34), kes(33), kes(33)]
    assert Money.of(-5, "UGX").allocate((0, 1)) == [Money.of(0, "UGX"), Money.of(-5, "UGX")]


@pytest.mark.parametrize(
    "weights",
    [[], [-1, 2], [0], [0, 0], [1, -1], [1.5], [True, 1], [1, False], ["1"], [None], [Decimal(1)]],
)
def test_allocate_rejects_weights(weights: list[object]) -> None:
    with pytest.raises(DomainError) as caught:
        allocate(100, weights)  # type: ignore[arg-type]
    assert caught.value.code == "weights_invalid"


@pytest.mark.parametrize("total", [1.0, True, "100", Decimal(100)])
def test_allocate_total_must_be_an_int(total: object) -> None:
    with pytest.raises(TypeError):
        allocate(total, [1, 1])  # type: ignore[arg-type]
