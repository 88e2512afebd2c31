"""Money's laws, for any currency and any amount in range."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soko.kernel.errors import DomainError
from soko.kernel.money import AMOUNT_MINOR_MAX, CURRENCIES, Currency, Money, allocate

currencies = st.sampled_from(sorted(CURRENCIES.values(), key=lambda c: c.code))
amounts_minor = st.integers(-AMOUNT_MINOR_MAX, AMOUNT_MINOR_MAX)
money = st.builds(Money, amounts_minor, currencies)
# Zeros are drawn often on purpose: they are where allocation could leak a unit.
weights = st.lists(
    st.one_of(st.just(0), st.integers(0, 10), st.integers(0, 10**12)),
    min_size=1,
    max_size=30,
).filter(any)


@given(total=amounts_minor, weights=weights)
def test_allocate_parts_sum_to_the_total(total: int, weights: list[int]) -> None:
    assert sum(allocate(total, weights)) == total


@given(total=amounts_minor, weights=weights)
def test_allocate_parts_are_within_one_unit_of_the_exact_share(
    total: int, weights: list[int]
) -> None:
    weight_sum = sum(weights)
    for part, weight in zip(allocate(total, weights), weights, strict=True):
        # |part - total * weight / weight_sum| < 1, scaled by weight_sum to stay in integers.
        assert abs(part * weight_sum - total * weight) < weight_sum


@given(total=amounts_minor, weights=weights)
def test_allocate_gives_zero_weights_nothing(total: int, weights: list[int]) -> None:
    for part, weight in zip(allocate(total, weights), weights, strict=True):
        if weight == 0:
            assert part == 0


@given(total=amounts_minor, weights=weights)
def test_allocate_is_symmetric_in_sign(total: int, weights: list[int]) -> None:
    assert allocate(-total, weights) == [-part for part in allocate(total, weights)]


@given(amount=money)
def test_parse_inverts_to_decimal_string(amount: Money) -> None:
    assert Money.parse(amount.to_decimal_string(), amount.currency) == amount
    assert Money.parse(amount.to_decimal_string(), amount.currency.code) == amount


@given(amount=money)
def test_to_decimal_string_has_exactly_the_currency_exponent_decimals(amount: Money) -> None:
    whole, _, fraction = amount.to_decimal_string().lstrip("-").partition(".")
    assert len(fraction) == amount.currency.exponent
    assert whole.isascii()
    assert whole.isdigit()
    assert whole == "0" or not whole.startswith("0")


@given(currency=currencies, whole=st.integers(0, 10**6), extra=st.integers(1, 5))
def test_parse_never_rounds_extra_decimals(currency: Currency, whole: int, extra: int) -> None:
    text = f"{whole}." + "0" * (currency.exponent + extra)
    with pytest.raises(DomainError) as caught:
        Money.parse(text, currency)
    assert caught.value.code == "amount_too_precise"


@given(a=amounts_minor, b=amounts_minor, currency=currencies)
def test_subtraction_undoes_addition_when_in_range(a: int, b: int, currency: Currency) -> None:
    if abs(a + b) <= AMOUNT_MINOR_MAX:
        assert Money(a, currency) + Money(b, currency) - Money(b, currency) == Money(a, currency)
