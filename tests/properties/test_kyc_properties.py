"""KYC limits' laws, for any limits, amount and spending so far."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soko.kernel import limits
from soko.kernel.errors import Rejected
from soko.people.errors import (
    ExceedsBalanceLimit,
    ExceedsDailyLimit,
    ExceedsMonthlyLimit,
    ExceedsTransactionLimit,
)
from soko.people.kyc import TierLimits, check_incoming, check_outgoing

MAX = limits.AMOUNT_MINOR_MAX
# Small numbers are drawn often on purpose: they are where limits and remainders collide.
minor = st.one_of(st.integers(0, 20), st.integers(0, 10**6), st.integers(0, MAX))
amounts = st.one_of(st.integers(1, 20), st.integers(1, 10**6), st.integers(1, MAX))
tier_limits = st.builds(
    TierLimits,
    per_transaction=minor,
    daily_outgoing=minor,
    monthly_outgoing=minor,
    balance=minor,
)
currencies = st.sampled_from(sorted(limits.KYC_LIMITS))


def _spent_against(limit: int) -> st.SearchStrategy[int]:
    """Anything, or just under, at or just over `limit` (spending can pass a lowered limit)."""
    near = st.integers(-3, 3).map(lambda offset: max(limit + offset, 0))
    return st.one_of(minor, near)


def _amount_near(remainders: list[int]) -> st.SearchStrategy[int]:
    """Anything, or one of the remainders give or take a unit: where `>` and `>=` differ."""
    near = st.sampled_from(remainders).flatmap(lambda rest: st.integers(max(rest - 1, 1), rest + 1))
    return st.one_of(amounts, near)


@dataclass(frozen=True)
class Outgoing:
    tier_limits: TierLimits
    amount: int
    spent_today: int
    spent_this_month: int


@st.composite
def outgoings(draw: st.DrawFn) -> Outgoing:
    drawn = draw(tier_limits)
    spent_today = draw(_spent_against(drawn.daily_outgoing))
    spent_this_month = draw(_spent_against(drawn.monthly_outgoing))
    remainders = [
        drawn.per_transaction,
        max(drawn.daily_outgoing - spent_today, 0),
        max(drawn.monthly_outgoing - spent_this_month, 0),
    ]
    return Outgoing(drawn, draw(_amount_near(remainders)), spent_today, spent_this_month)


@given(outgoings(), currencies)
def test_check_outgoing_raises_iff_amount_exceeds_the_tightest_limit(
    case: Outgoing, currency: str
) -> None:
    tier_limits = case.tier_limits
    left_today = max(tier_limits.daily_outgoing - case.spent_today, 0)
    left_this_month = max(tier_limits.monthly_outgoing - case.spent_this_month, 0)
    # In the order the rules are checked: the first broken one is the one reported.
    rules = [
        (ExceedsTransactionLimit, tier_limits.per_transaction),
        (ExceedsDailyLimit, left_today),
        (ExceedsMonthlyLimit, left_this_month),
    ]
    broken = [(error, allowed) for error, allowed in rules if case.amount > allowed]
    assert bool(broken) == (case.amount > min(allowed for _, allowed in rules))

    def call() -> None:
        check_outgoing(
            tier_limits,
            amount=case.amount,
            spent_today=case.spent_today,
            spent_this_month=case.spent_this_month,
            currency=currency,
        )

    if not broken:
        call()
        return
    error = broken[0][0]
    # The first broken rule is named; `allowed` is what passes all three.
    allowed = min(allowed for _, allowed in rules)
    with pytest.raises(Rejected) as exc:
        call()
    assert type(exc.value) is error
    assert exc.value.context == {"allowed": allowed, "currency": currency}
    assert 0 <= exc.value.context["allowed"] < case.amount


@given(tier_limits, minor, currencies, st.data())
def test_check_incoming_raises_iff_amount_exceeds_the_room_left(
    tier_limits: TierLimits, balance: int, currency: str, data: st.DataObject
) -> None:
    room = max(tier_limits.balance - balance, 0)
    amount = data.draw(_amount_near([room]), label="amount")
    if amount <= room:
        check_incoming(tier_limits, amount=amount, balance=balance, currency=currency)
        return
    with pytest.raises(ExceedsBalanceLimit) as exc:
        check_incoming(tier_limits, amount=amount, balance=balance, currency=currency)
    assert exc.value.context == {"allowed": room, "currency": currency}
    assert 0 <= exc.value.context["allowed"] < amount
