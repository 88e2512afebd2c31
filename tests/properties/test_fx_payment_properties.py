"""Cross-currency payments of a fixed price on a real database (SQLite and PostgreSQL), for any
rates, spread and price, both ways between KES and UGX: no money is created or lost (per
currency, the sum of every account's balance is unchanged), the merchant receives exactly the
amount its payment request asked, the payer pays exactly the quote, and the operator's target
liquidity never pays more than the converted amount is worth at the mid rate.

UGX->KES is the case where one source minor unit (a shilling, 3.5 KES cents) is worth more
than one target minor unit, so the least quote for a price may pay a few cents over it: those
stay in the liquidity, never with the merchant. And an escrow order funded from UGX settles in
KES at the rate locked at funding, whatever the rate does before it closes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from fractions import Fraction
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soko.bootstrap import Runtime
from soko.context import Context, UnitOfWork
from soko.escrow import service as escrow
from soko.escrow.domain import OrderItem
from soko.fx import service as fx
from soko.fx.domain import FxPolicy, parse_corridors, unwound_share
from soko.fx.errors import FxAmountOutsideCorridor, FxAmountTooSmall
from soko.kernel.money import Money
from soko.kernel.transactions import in_transaction
from soko.ledger.reconcile import reconcile
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.payments.fees import merchant_rate
from soko.people import service as users
from soko.people.domain import User, UserKind
from soko.people.kyc import TierLimits
from soko.people.service import MerchantDetails

BIG = 10**15


def rates(low: int, high: int) -> st.SearchStrategy[Fraction]:
    """Rates as published, with up to four decimals, from `low` to `high` whole units."""
    return st.builds(
        lambda units, part: Fraction(units) + Fraction(part, 10_000),
        st.integers(low, high),
        st.integers(0, 9_999),
    )


@dataclass
class World:
    ctx: Context
    payers: dict[str, User]
    merchants: dict[str, User]
    keys: Iterator[int]


def corridors(spread_bps: int) -> str:
    spec = f'"spread_bps": {spread_bps}, "max": "900000000", "kyc_tier": 0'
    return f'{{"UGX>KES": {{{spec}}}, "KES>UGX": {{{spec}}}}}'


@pytest.fixture
def world(any_runtime: Runtime) -> World:
    base = any_runtime.context
    # No KYC limit gets in the way of many payments in one day: the invariants are the point.
    limits = {cur: {tier: TierLimits(BIG, BIG, BIG, BIG) for tier in range(3)}
              for cur in ("KES", "UGX")}  # fmt: skip
    ctx = replace(base, kyc_limits=limits, fx=FxPolicy(corridors=parse_corridors(corridors(150))))
    agent = users.register(ctx, kind=UserKind.AGENT, phone="+254733000001", name="Agent")
    payers = {
        "UGX": users.register(ctx, kind=UserKind.CONSUMER, phone="+256772000001", name="Okello"),
        "KES": users.register(ctx, kind=UserKind.CONSUMER, phone="+254712000001", name="Amina"),
    }
    merchants = {
        "KES": users.register(ctx, kind=UserKind.MERCHANT, phone="+254722000001", name="Wanjiru",
                              merchant=MerchantDetails(trading_name="Kiosk", category_code="5411")),
        "UGX": users.register(ctx, kind=UserKind.MERCHANT, phone="+256782000001", name="Nakato",
                              merchant=MerchantDetails(trading_name="Duka", category_code="5411")),
    }  # fmt: skip
    for currency, amount in (("UGX", "900000000"), ("KES", "9000000.00")):
        money = Money.parse(amount, currency)
        payments.top_up_float(ctx, agent_id=agent.id, amount=money + money,
                              idempotency_key=f"float-{currency}")  # fmt: skip
        payments.cash_in(ctx, agent_id=agent.id, customer_phone=payers[currency].phone,
                         amount=money, idempotency_key=f"in-{currency}")  # fmt: skip
        fx.fund_liquidity(ctx, amount=money, idempotency_key=f"liq-{currency}")
    return World(ctx, payers, merchants, count())


def money_per_currency(ctx: Context, people: list[User]) -> Counter[str]:
    """Per currency, the credits less debits (posted and pending) of every system account and
    of `people`'s wallets: what a payment between them moves must leave it unchanged."""
    totals: Counter[str] = Counter()

    def read(uow: UnitOfWork) -> None:
        for total in uow.ledger.system_totals():
            totals[total.currency] += total.credits_posted - total.debits_posted
            totals[total.currency] += total.credits_pending - total.debits_pending
        for user in people:
            for wallet in uow.people.list_wallets(user.id):
                account = uow.ledger.get_account(wallet.account_id)
                assert account is not None
                totals[wallet.currency] += account.credits_posted - account.debits_posted
                totals[wallet.currency] += account.credits_pending - account.debits_pending

    in_transaction(ctx, read, read_only=True)
    return totals


def balance(ctx: Context, user: User, currency: str) -> int:
    def read(uow: UnitOfWork) -> int:
        wallet = uow.people.find_wallet(user.id, currency)
        if wallet is None:
            return 0
        account = uow.ledger.get_account(wallet.account_id)
        assert account is not None
        return account.balance

    return in_transaction(ctx, read, read_only=True)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    usd_kes=rates(10, 999),
    usd_ugx=rates(1_000, 9_999),
    spread_bps=st.integers(0, 500),
    price_minor=st.one_of(st.integers(1, 1_000), st.integers(1, 5_000_000)),
    to_kes=st.booleans(),
)
def test_a_request_paid_across_currencies_moves_exactly_its_price(  # noqa: PLR0917 - drawn
    world: World,
    usd_kes: Fraction,
    usd_ugx: Fraction,
    spread_bps: int,
    price_minor: int,
    to_kes: bool,
) -> None:
    ctx = replace(world.ctx, fx=FxPolicy(corridors=parse_corridors(corridors(spread_bps))))
    source, target = ("UGX", "KES") if to_kes else ("KES", "UGX")
    for quote_currency, rate in (("KES", usd_kes), ("UGX", usd_ugx)):
        text = f"{rate.numerator / rate.denominator:.4f}"
        assert Fraction(text) == rate  # four decimals at most: exact
        fx.set_rate(ctx, base="USD", quote=quote_currency, rate=text)
    payer, merchant = world.payers[source], world.merchants[target]
    price = Money.of(price_minor, target)
    n = next(world.keys)
    asked = payment_requests.create_request(
        ctx, merchant_id=merchant.id, amount=price, reference=f"P-{n}", idempotency_key=f"r-{n}"
    )
    try:
        quote = fx.create_quote(ctx, owner_id=payer.id, source=source, target=target,
                                target_amount=price)  # fmt: skip
    except (FxAmountTooSmall, FxAmountOutsideCorridor):
        return  # a price no quote can pay is refused before anything moves
    if quote.amounts.source_debit.amount_minor > balance(ctx, payer, source):
        return  # more than the payer holds: refused by the ledger, as any payment
    before = money_per_currency(ctx, [payer, merchant])
    payer_before = balance(ctx, payer, source)
    merchant_before = balance(ctx, merchant, target)

    payment = fx.pay_request_converted(ctx, payer_id=payer.id, request_id=asked.id,
                                       quote_id=quote.id, idempotency_key=f"p-{n}")  # fmt: skip

    # Nothing created or lost, in either currency.
    assert money_per_currency(ctx, [payer, merchant]) == before
    # The merchant received exactly the price (and paid its discount rate on it, as always).
    fee = merchant_rate(ctx.merchant_rates, target, "5411").fee_for(price_minor)
    assert payment.target_amount == price_minor
    assert balance(ctx, merchant, target) - merchant_before == price_minor - fee
    # The payer paid exactly what the quote showed.
    assert payer_before - balance(ctx, payer, source) == quote.amounts.source_debit.amount_minor
    # What was paid out is worth at most what was converted, at the mid rate.
    assert price_minor <= quote.amounts.target.amount_minor
    mid_minor = quote.amounts.mid * Fraction(100 if target == "KES" else 1,
                                             100 if source == "KES" else 1)  # fmt: skip
    assert price_minor <= quote.amounts.converted.amount_minor * mid_minor
    assert payment_requests.get_request(ctx, asked.id).payment_id == payment.id
    assert reconcile(ctx).passed


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    usd_kes=rates(10, 999),
    usd_ugx=rates(1_000, 9_999),
    price_minor=st.integers(100, 5_000_000),
    to_seller_share=st.fractions(0, 1, max_denominator=7),
)
def test_an_escrow_order_funded_across_currencies_settles_at_the_locked_rate(
    world: World, usd_kes: Fraction, usd_ugx: Fraction, price_minor: int,
    to_seller_share: Fraction,
) -> None:  # fmt: skip
    """UGX funds a KES order; then any split between seller and buyer (all to one side
    included) at any later rate: no money created or lost, the seller gets exactly its part,
    the buyer exactly its share of what it paid, rounded down by under a shilling per part."""
    ctx = world.ctx
    for quote_currency, rate in (("KES", usd_kes), ("UGX", usd_ugx)):
        fx.set_rate(ctx, base="USD", quote=quote_currency,
                    rate=f"{rate.numerator / rate.denominator:.4f}")  # fmt: skip
    buyer, seller = world.payers["UGX"], world.merchants["KES"]
    price = Money.of(price_minor, "KES")
    n = next(world.keys)
    order = escrow.create_order(
        ctx, seller_id=seller.id, buyer_id=buyer.id, amount=price,
        items=[OrderItem("Fabric", 1)], ship_by=ctx.clock.now() + timedelta(days=2),
        idempotency_key=f"o-{n}",
    )  # fmt: skip
    try:
        quote = fx.create_quote(ctx, owner_id=buyer.id, source="UGX", target="KES",
                                target_amount=price)  # fmt: skip
    except (FxAmountTooSmall, FxAmountOutsideCorridor):
        return
    if quote.amounts.source_debit.amount_minor > balance(ctx, buyer, "UGX"):
        return
    people = [buyer, seller]
    before = money_per_currency(ctx, people)
    buyer_before, seller_before = balance(ctx, buyer, "UGX"), balance(ctx, seller, "KES")
    escrow.fund(ctx, buyer_id=buyer.id, order_id=order.id, idempotency_key=f"f-{n}",
                quote_id=quote.id)  # fmt: skip
    assert money_per_currency(ctx, people) == before
    assert buyer_before - balance(ctx, buyer, "UGX") == quote.amounts.source_debit.amount_minor
    # The rate moves before the order closes; nothing about the order does.
    fx.set_rate(ctx, base="USD", quote="UGX", rate="9999.9999")
    to_seller = price_minor * to_seller_share.numerator // to_seller_share.denominator
    escrow.dispute(ctx, buyer_id=buyer.id, order_id=order.id, reason="not_as_described",
                   message="No.", idempotency_key=f"d-{n}")  # fmt: skip
    if to_seller in (0, price_minor):
        closed = escrow.resolve(ctx, order_id=order.id, idempotency_key=f"s-{n}",
                                outcome="refund" if to_seller == 0 else "release")  # fmt: skip
    else:
        closed = escrow.resolve(
            ctx, order_id=order.id, outcome="split", idempotency_key=f"s-{n}",
            to_buyer=Money.of(price_minor - to_seller, "KES"),
            to_seller=Money.of(to_seller, "KES"),
        )  # fmt: skip
    assert money_per_currency(ctx, people) == before
    assert balance(ctx, seller, "KES") - seller_before == to_seller - closed.fee
    refunded = Fraction(price_minor - to_seller, price_minor)
    back = unwound_share(quote.amounts, refunded).total.amount_minor
    paid = quote.amounts.source_debit.amount_minor
    assert balance(ctx, buyer, "UGX") - (buyer_before - paid) == back
    # Its share of what it paid, less under one shilling for each of the two parts.
    assert 0 <= paid * refunded - back < 2
    assert reconcile(ctx).passed
