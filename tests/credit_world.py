"""Merchants with a trading history for the credit tests: sales made through the use cases while
the fake clock moves day by day, as a shop's sales would arrive."""

from __future__ import annotations

from dataclasses import dataclass

from fakes import FakeClock
from merchants import consumer, kes, key, shop
from soko.context import Context
from soko.credit import service as credit
from soko.credit.domain import StoredOffer
from soko.people.domain import Merchant, User

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class Trader:
    merchant: Merchant
    payers: list[User]


def trading_shop(
    ctx: Context,
    clock: FakeClock,
    *,
    days: int = 91,
    sale: str = "500.00",
    payers: int = 5,
    tenure_days: int = 0,
) -> Trader:
    """A shop that sold `sale` on five days of each week for `days` days, to a few regular
    payers; with `tenure_days`, its first sale was that long before the window."""
    merchant = shop(ctx)
    regulars = [consumer(ctx, f"Payer {n}", funds="400000.00") for n in range(payers)]
    if tenure_days:
        pay(ctx, regulars[0], merchant, sale)
        clock.advance(tenure_days * DAY_SECONDS)
    for day in range(days):
        if day % 7 < 5:
            pay(ctx, regulars[day % payers], merchant, sale)
        clock.advance(DAY_SECONDS)
    return Trader(merchant, regulars)


def pay(ctx: Context, payer: User, merchant: Merchant, amount: str) -> None:
    from soko.payments import service as payments

    payments.pay_merchant(
        ctx,
        payer_id=payer.id,
        merchant_id=merchant.user_id,
        amount=kes(amount),
        idempotency_key=key(),
    )


def funded_lender(ctx: Context, amount: str = "1000000.00") -> None:
    credit.fund_capital(ctx, kes(amount))


def an_offer(ctx: Context, merchant: Merchant) -> StoredOffer:
    found = credit.credit_offers(ctx, merchant.user_id)
    assert found.offers, [r.text for r in found.reasons]
    return found.offers[0]
