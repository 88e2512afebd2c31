"""FX never creates money: for any rate, spread, fee and amount, in any pair of currencies."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from fractions import Fraction

from hypothesis import assume, given
from hypothesis import strategies as st

from soko.fx.domain import (
    SPREAD_BPS_MAX,
    QuoteAmounts,
    Rate,
    Role,
    conversion_legs,
    derive_rate,
    price_quote,
)
from soko.fx.errors import FxAmountTooSmall
from soko.kernel.errors import AmountOverflows
from soko.kernel.money import CURRENCIES, Currency, Money

currencies = st.sampled_from(sorted(CURRENCIES.values(), key=lambda c: c.code))
pairs = st.tuples(currencies, currencies).filter(lambda pair: pair[0] != pair[1])
# Rates as published: up to 12 decimals and 12 whole digits, from 10**-6 to 10**7 here so that
# typical amounts convert to something; the exact extremes are in the unit tables.
mids = st.builds(
    Fraction, st.integers(1, 10**13), st.sampled_from([10**k for k in range(0, 13)])
).filter(lambda mid: Fraction(1, 10**6) <= mid <= 10**7)
spreads = st.one_of(st.just(0), st.integers(0, SPREAD_BPS_MAX))
fees = st.one_of(st.just(0), st.integers(0, 10**6))
amounts = st.one_of(st.integers(1, 10**6), st.integers(1, 10**15))
#: mid, spread_bps, fee_minor, (source, target)
Pricing = tuple[Fraction, int, int, tuple[Currency, Currency]]
pricings = st.tuples(mids, spreads, fees, pairs)


def priced(pricing: Pricing, amount: int, *, by_source: bool) -> QuoteAmounts:
    mid, bps, fee, (source, target) = pricing
    given_amount = (
        {"source_amount": Money(amount, source)}
        if by_source
        else {"target_amount": Money(amount, target)}
    )
    try:
        return price_quote(mid, bps, fee, source, target, **given_amount)
    except (FxAmountTooSmall, AmountOverflows):
        # Too little to give the payee a unit, or too much for 64 bits: refused, not converted.
        assume(False)
        raise


@given(pricing=pricings, amount=amounts, by_source=st.booleans())
def test_legs_conserve_money_per_currency(pricing: Pricing, amount: int, by_source: bool) -> None:
    pair = pricing[3]
    q = priced(pricing, amount, by_source=by_source)
    legs = conversion_legs(q)
    balance: Counter[tuple[Role, str]] = Counter()
    for leg in legs:
        # Every leg is within one currency and moves a positive amount.
        assert leg.amount.is_positive()
        balance[leg.debit, leg.amount.currency.code] -= leg.amount.amount_minor
        balance[leg.credit, leg.amount.currency.code] += leg.amount.amount_minor
    source, target = pair
    for code in (source.code, target.code):
        assert sum(v for (_, c), v in balance.items() if c == code) == 0
    # Who gains and loses what, in which currency.
    assert balance[Role.PAYER_WALLET, source.code] == -q.source_debit.amount_minor
    assert balance[Role.LIQUIDITY_SOURCE, source.code] == q.converted.amount_minor
    assert balance[Role.FEE_INCOME, source.code] == q.spread.amount_minor + q.fee.amount_minor
    assert balance[Role.LIQUIDITY_TARGET, target.code] == -q.target.amount_minor
    assert balance[Role.PAYEE_WALLET, target.code] == q.target.amount_minor
    assert {leg.amount.currency for leg in legs if leg.debit is Role.PAYER_WALLET} == {source}


@given(pricing=pricings, amount=amounts, by_source=st.booleans())
def test_the_payer_pays_exactly_converted_plus_spread_plus_fee(
    pricing: Pricing, amount: int, by_source: bool
) -> None:
    bps, fee = pricing[1:3]
    q = priced(pricing, amount, by_source=by_source)
    assert q.source_debit == q.converted + q.spread + q.fee
    assert q.fee.amount_minor == fee
    exchanged = q.source_debit.amount_minor - fee
    # The spread is the basis points of what was exchanged, rounded up by less than one unit.
    exact_spread = Fraction(exchanged * bps, 10_000)
    assert exact_spread <= q.spread.amount_minor < exact_spread + 1


@given(pricing=pricings, amount=amounts, by_source=st.booleans())
def test_the_payee_gets_the_floor_of_converted_times_mid(
    pricing: Pricing, amount: int, by_source: bool
) -> None:
    mid, bps, _, (source, target) = pricing
    q = priced(pricing, amount, by_source=by_source)
    exact = q.converted.amount_minor * mid * Fraction(10**target.exponent, 10**source.exponent)
    # Never more than the converted amount is worth at the mid rate, and less by under one unit.
    assert exact - 1 < q.target.amount_minor <= exact
    # So the customer's rate is never better than the mid less the spread.
    assert q.customer_rate <= mid * (1 - Fraction(bps, 10_000))


@given(pricing=pricings, wanted=amounts)
def test_a_target_quote_is_the_smallest_debit_that_pays_the_target(
    pricing: Pricing, wanted: int
) -> None:
    mid, bps, fee, (source, target) = pricing
    q = priced(pricing, wanted, by_source=False)
    assert q.target.amount_minor >= wanted
    # Priced forward, the same debit gives the same quote.
    again = price_quote(mid, bps, fee, source, target, source_amount=q.source_debit)
    assert again == q
    # One minor unit less pays the payee less than wanted (or nothing at all).
    smaller = q.source_debit.amount_minor - 1
    if smaller == 0:
        return
    try:
        less = price_quote(mid, bps, fee, source, target, source_amount=Money(smaller, source))
    except FxAmountTooSmall:
        return
    assert less.target.amount_minor < wanted


@given(pricing=pricings, low=amounts, high=amounts)
def test_paying_more_never_gives_the_payee_less(pricing: Pricing, low: int, high: int) -> None:
    low, high = sorted((low, high))
    mid, bps, fee, (source, target) = pricing
    try:
        small = price_quote(mid, bps, fee, source, target, source_amount=Money(low, source))
    except (FxAmountTooSmall, AmountOverflows):
        return
    try:
        big = price_quote(mid, bps, fee, source, target, source_amount=Money(high, source))
    except AmountOverflows:
        return
    assert small.target <= big.target


NOW = datetime(2026, 2, 6, 12, tzinfo=UTC)
rate_values = st.builds(Fraction, st.integers(1, 10**12), st.integers(1, 10**12))
codes = st.sampled_from(sorted(c for c in CURRENCIES if c not in {"USD", "EUR"}))


@given(eur_usd=rate_values, eur_a=rate_values, eur_b=rate_values, a=codes, b=codes)
def test_cross_rates_through_eur_and_the_pivot_are_exact(
    eur_usd: Fraction, eur_a: Fraction, eur_b: Fraction, a: str, b: str
) -> None:
    assume(a != b)
    rates = [
        Rate("EUR", "USD", eur_usd, "ecb", NOW),
        Rate("EUR", a, eur_a, "ecb", NOW),
        Rate("EUR", b, eur_b, "ecb", NOW),
    ]
    derived = derive_rate(rates, a, b, now=NOW, max_age_seconds=0)
    # a->USD->b, each leg through EUR: the pivot cancels exactly.
    assert derived.value == eur_b / eur_a
    back = derive_rate(rates, b, a, now=NOW, max_age_seconds=0)
    assert derived.value * back.value == 1
