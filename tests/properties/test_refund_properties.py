"""Refund arithmetic's laws: never more back than paid, the fee back in proportion, books balanced.

First the pure rule (`fee_to_return`) over any amounts and any sequence of partial refunds, then
the same sequences through the services on a real database, where reconcile must pass after each.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merchants import balance, consumer, fees, key, shop
from soko.context import Context
from soko.kernel import limits
from soko.kernel.errors import AmountMustBePositive
from soko.kernel.money import Money
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.payments.domain import fee_to_return
from soko.payments.errors import ExceedsRefundableAmount

MAX = limits.AMOUNT_MINOR_MAX


@st.composite
def payments_and_refunds(draw: st.DrawFn, max_amount: int = MAX) -> tuple[int, int, list[int]]:
    """A payment, its fee, and refund attempts (some too big on purpose)."""
    amount = draw(st.one_of(st.integers(1, 100), st.integers(1, max_amount)))
    fee = draw(st.integers(0, amount))
    attempts = draw(st.lists(st.one_of(st.integers(1, 3), st.integers(1, amount + 1)), max_size=12))
    return amount, fee, attempts


@given(payments_and_refunds())
def test_refunds_never_exceed_the_payment_and_return_the_fee_in_proportion(
    case: tuple[int, int, list[int]],
) -> None:
    amount, fee, attempts = case
    refunded = returned = 0
    for attempt in [*attempts, amount]:  # and finally whatever is left, if anything
        if attempt > amount - refunded or attempt <= 0:
            with pytest.raises((ExceedsRefundableAmount, AmountMustBePositive)):
                fee_to_return(amount=amount, fee=fee, refunded_before=refunded,
                              fee_returned_before=returned, refund=attempt)  # fmt: skip
            continue
        share = fee_to_return(amount=amount, fee=fee, refunded_before=refunded,
                              fee_returned_before=returned, refund=attempt)  # fmt: skip
        refunded += attempt
        returned += share
        assert 0 <= share <= fee
        # In proportion: what came back is the refunded fraction of the fee, rounded down.
        assert returned == fee * refunded // amount
        assert returned * amount <= fee * refunded < (returned + 1) * amount
        assert refunded <= amount
    if refunded == amount:
        assert returned == fee  # a full refund, however it was split, gives the whole fee back


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=payments_and_refunds(max_amount=500_000), category=st.sampled_from(["5411", "5999"]))
def test_refunds_through_the_ledger_keep_every_book_balanced(
    ctx: Context, case: tuple[int, int, list[int]], category: str
) -> None:
    amount, _, attempts = case
    payer = consumer(ctx, funds="5000.00")
    merchant = shop(ctx, category)
    fees_before = fees(ctx)
    paid = payments.pay_merchant(
        ctx, payer_id=payer.id, merchant_id=merchant.user_id, amount=Money.of(amount, "KES"),
        idempotency_key=key(),
    )  # fmt: skip
    for attempt in attempts:
        try:
            payments.refund(
                ctx, merchant_id=merchant.user_id, payment_id=paid.id,
                amount=Money.of(attempt, "KES"), idempotency_key=key(),
            )  # fmt: skip
        except ExceedsRefundableAmount:
            assert attempt > payments.get_payment(ctx, paid.id).refundable
    after = payments.get_payment(ctx, paid.id)
    made = payments.list_refunds(ctx, paid.id)
    assert after.refunded == sum(r.amount for r in made) <= amount
    assert (
        after.fee_refunded
        == sum(r.fee_returned for r in made)
        == paid.fee * after.refunded // amount
    )
    assert balance(ctx, payer.id) == 500_000 - amount + after.refunded
    assert balance(ctx, merchant.user_id) == amount - paid.fee - after.refunded + after.fee_refunded
    assert fees(ctx) - fees_before == paid.fee - after.fee_refunded
    assert reconcile(ctx).passed
