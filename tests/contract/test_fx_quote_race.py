"""FX races on SQLite, PostgreSQL and PostgreSQL in SERIALIZABLE: a quote converts money once,
and the liquidity of the target currency never pays out more than it holds.

Contenders start together on a barrier; none sleeps. The oracles are the quote (used by exactly
one payment) and the liquidity account (never below zero, exactly as many payouts as it covers).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from soko.bootstrap import Runtime
from soko.context import Context
from soko.fx import service as fx
from soko.fx.domain import FxPolicy, parse_corridors
from soko.kernel.errors import DomainError
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode
from soko.ledger.reconcile import reconcile
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.people import service as users
from soko.people.domain import User, UserKind
from soko.people.service import MerchantDetails

RACE_TIMEOUT = 60
CORRIDORS = '{"UGX>KES": {"spread_bps": 150, "max": "5000000", "kyc_tier": 0}}'


@pytest.fixture
def any_runtime(race_runtime: Runtime) -> Runtime:
    return race_runtime


@pytest.fixture
def ctx(any_runtime: Runtime) -> Context:
    ctx = replace(any_runtime.context, fx=FxPolicy(corridors=parse_corridors(CORRIDORS)))
    fx.set_rate(ctx, base="USD", quote="KES", rate="129.25")
    fx.set_rate(ctx, base="USD", quote="UGX", rate="3652.40")
    return ctx


def race(contenders: int, run: Callable[[int], Any]) -> list[Any]:
    with ThreadPoolExecutor(contenders) as pool:
        futures = [pool.submit(run, i) for i in range(contenders)]
        return [future.result(timeout=RACE_TIMEOUT) for future in futures]


def payer(ctx: Context, n: int, agent: User) -> User:
    user = users.register(ctx, kind=UserKind.CONSUMER, phone=f"+2567821{n:05d}", name=f"P{n}")
    payments.cash_in(ctx, agent_id=agent.id, customer_phone=user.phone,
                     amount=Money.parse("200000", "UGX"), idempotency_key=f"in-{n}")  # fmt: skip
    return user


def agent(ctx: Context) -> User:
    made = users.register(ctx, kind=UserKind.AGENT, phone="+256772100200", name="Kato")
    payments.top_up_float(ctx, agent_id=made.id, amount=Money.parse("50000000", "UGX"),
                          idempotency_key="float")  # fmt: skip
    return made


def outcome(accept: Callable[[], object]) -> str:
    try:
        accept()
    except DomainError as refused:
        return refused.code
    return "ok"


@pytest.mark.parametrize("contenders", [2, 8])
def test_a_quote_accepted_at_once_by_many_converts_once(ctx: Context, contenders: int) -> None:
    kato = agent(ctx)
    amina = payer(ctx, 1, kato)
    baraka = users.register(ctx, kind=UserKind.CONSUMER, phone="+254722100200", name="Baraka")
    fx.fund_liquidity(ctx, amount=Money.parse("100000.00", "KES"), idempotency_key="kes")
    quote = fx.create_quote(ctx, owner_id=amina.id, source="UGX", target="KES",
                            source_amount=Money.parse("100000", "UGX"))  # fmt: skip
    start = threading.Barrier(contenders)

    def run(i: int) -> str:
        start.wait()
        if i % 2:
            return outcome(lambda: fx.convert(ctx, owner_id=amina.id, quote_id=quote.id,
                                              idempotency_key=f"c-{i}"))  # fmt: skip
        return outcome(lambda: fx.send_converted(ctx, sender_id=amina.id, quote_id=quote.id,
                                                 idempotency_key=f"s-{i}",
                                                 to_phone=baraka.phone))  # fmt: skip

    outcomes = Counter(race(contenders, run))
    assert outcomes == Counter({"ok": 1, "fx_quote_used": contenders - 1})
    used = fx.get_quote(ctx, quote.id)
    assert used.payment_id is not None
    kes_paid = ledger.system_total(ctx, AccountCode.FX_LIQUIDITY, "KES").balance
    assert kes_paid == 100_000_00 - quote.amounts.target.amount_minor
    assert reconcile(ctx).passed


def test_liquidity_pays_exactly_what_it_holds_under_concurrent_conversions(ctx: Context) -> None:
    contenders = 8
    kato = agent(ctx)
    people = [payer(ctx, n, kato) for n in range(contenders)]
    quotes = [
        fx.create_quote(
            ctx,
            owner_id=person.id,
            source="UGX",
            target="KES",
            source_amount=Money.parse("100000", "UGX"),
        )
        for person in people
    ]
    each = quotes[0].amounts.target
    assert all(q.amounts.target == each for q in quotes)
    # Enough for three payouts and most of a fourth.
    fx.fund_liquidity(ctx, amount=Money.of(each.amount_minor * 4 - 1, "KES"), idempotency_key="k")
    start = threading.Barrier(contenders)

    def run(i: int) -> str:
        start.wait()
        return outcome(lambda: fx.convert(ctx, owner_id=people[i].id, quote_id=quotes[i].id,
                                          idempotency_key=f"c-{i}"))  # fmt: skip

    outcomes = Counter(race(contenders, run))
    assert outcomes == Counter({"ok": 3, "fx_liquidity_insufficient": contenders - 3})
    left = ledger.system_total(ctx, AccountCode.FX_LIQUIDITY, "KES").balance
    assert left == each.amount_minor - 1
    assert reconcile(ctx).passed


@pytest.mark.parametrize("contenders", [2, 6])
def test_a_request_paid_at_once_across_currencies_is_paid_once(
    ctx: Context, contenders: int
) -> None:
    """Several payers (each with their own quote for the price) and a till payment with one of
    those quotes race for one payment request: it is paid once, each quote used at most once."""
    kato = agent(ctx)
    people = [payer(ctx, n, kato) for n in range(contenders)]
    kiosk = MerchantDetails(trading_name="Kiosk", category_code="5411")
    shop = users.register(
        ctx, kind=UserKind.MERCHANT, phone="+254722100201", name="Wanjiru", merchant=kiosk
    )
    fx.fund_liquidity(ctx, amount=Money.parse("100000.00", "KES"), idempotency_key="kes")
    price = Money.parse("2000.00", "KES")
    asked = payment_requests.create_request(ctx, merchant_id=shop.id, amount=price,
                                            reference="INV-1", idempotency_key="r")  # fmt: skip
    quotes = [fx.create_quote(ctx, owner_id=person.id, source="UGX", target="KES",
                              target_amount=price) for person in people]  # fmt: skip
    start = threading.Barrier(contenders)

    def run(i: int) -> str:
        start.wait()
        return outcome(lambda: fx.pay_request_converted(
            ctx, payer_id=people[i].id, request_id=asked.id, quote_id=quotes[i].id,
            idempotency_key=f"p-{i}"))  # fmt: skip

    outcomes = Counter(race(contenders, run))
    assert outcomes == Counter({"ok": 1, "payment_request_already_paid": contenders - 1})
    paid = payment_requests.get_request(ctx, asked.id)
    used = [q for q in quotes if fx.get_quote(ctx, q.id).payment_id is not None]
    assert [fx.get_quote(ctx, q.id).payment_id for q in used] == [paid.payment_id]
    kes_paid = 100_000_00 - ledger.system_total(ctx, AccountCode.FX_LIQUIDITY, "KES").balance
    assert kes_paid == price.amount_minor
    assert reconcile(ctx).passed
