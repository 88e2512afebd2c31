"""Demo data: people, merchants and agents with money in KES and UGX, made through the use cases.

Everything goes through the same services the API calls, so the demo ledger is one a real
operator could have: float bought by agents, cash paid in, money sent, shops paid at their tills,
an invoice waiting to be paid, and FX between Kampala and Nairobi: demo rates, both liquidity
accounts funded, and (with `soko serve --demo`) the KES<->UGX corridors open. A newcomer can sign
in as any demo person (phone and PIN are printed) and try every endpoint at once.

Credit needs a past: a shop with six months of sales, made through the same use cases on a
clock the demo moves a day at a time (the runtime's own unit of work, ids from that clock), so
the scorecard reads it as it would read a real shop's. The shop then has an offer; a shop that
opened today has none, and is told why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

from soko.bootstrap import RandomIds
from soko.context import Context
from soko.credit import service as credit
from soko.credit.domain import Reason, StoredOffer
from soko.escrow import service as escrow
from soko.escrow.domain import OrderItem
from soko.fx import service as fx
from soko.kernel import limits
from soko.kernel.money import Money
from soko.kernel.transactions import in_transaction
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.people import service as users
from soko.people.domain import User, UserKind
from soko.people.service import MerchantDetails

#: Every demo person's PIN. Demo data is for trying Soko out, never for production.
DEMO_PIN = "1234"
#: The corridors `soko serve --demo` opens when SOKO_FX_CORRIDORS is not set: Kampala and
#: Nairobi both ways, 1.5 %, for people whose national id is recorded (KYC tier 1).
DEMO_FX_CORRIDORS = (
    '{"UGX>KES": {"spread_bps": 150, "min": "1000", "max": "5000000", "kyc_tier": 1}, '
    '"KES>UGX": {"spread_bps": 150, "min": "10.00", "max": "150000.00", "kyc_tier": 1}}'
)
#: Demo rates (about those of early 2026), set again whenever the demo starts with stale ones.
DEMO_RATES = (("USD", "KES", "129.25"), ("USD", "UGX", "3652.40"))
DEMO_RATE_SOURCE = "demo"


@dataclass(frozen=True, slots=True)
class DemoPerson:
    name: str
    kind: str
    phone: str
    user_id: str
    till_number: str | None = None


@dataclass(frozen=True, slots=True)
class DemoSummary:
    people: list[DemoPerson]
    payments: int
    #: An open payment request of Wanjiru's Kiosk, to pay at its public page.
    payment_request_id: str
    #: A funded escrow order: Amina buying from Wanjiru's Kiosk.
    escrow_order_id: str
    #: The shop with six months of sales, its sales, and the offer it was made.
    borrower: DemoPerson
    history_sales: int
    offer: StoredOffer | None
    #: Why the shop that opened today (Wanjiru's Kiosk) has no offer yet.
    newcomer_reasons: list[Reason]


# (kind, phone, name, national id, merchant details)
_PEOPLE: tuple[tuple[UserKind, str, str, str | None, MerchantDetails | None], ...] = (
    (UserKind.AGENT, "+254733100200", "Otieno Agency (Kisumu)", "22334455", None),
    (UserKind.AGENT, "+256772100200", "Kato Mobile Money (Kampala)", "CM90012", None),
    (UserKind.CONSUMER, "+254712100200", "Amina Wanjiku", "31234567", None),
    (UserKind.CONSUMER, "+254722100200", "Baraka Otieno", None, None),
    (UserKind.CONSUMER, "+256782100200", "Okello Moses", "CM88001", None),
    (UserKind.MERCHANT, "+254700100200", "Wanjiru Njeri", "29876543",
     MerchantDetails("Wanjiru's Kiosk", "5411", city="Nairobi")),
    (UserKind.MERCHANT, "+256752100200", "Nakato Sarah", "CF77002",
     MerchantDetails("Nakato's Salon", "7230", city="Kampala")),
)  # fmt: skip
_MARKER_PHONE = _PEOPLE[0][1]


def load_demo(ctx: Context) -> tuple[DemoSummary | None, bool]:
    """Load the demo once. Returns (summary, False), or (None, True) if it was loaded already."""
    marker = in_transaction(
        ctx, lambda uow: uow.people.get_user_by_phone(_MARKER_PHONE), read_only=True
    )
    if marker is not None:
        demo_rates(ctx)
        return None, True
    made: dict[str, User] = {}
    people = []
    for kind, phone, name, national_id, merchant in _PEOPLE:
        user = users.register(ctx, kind=kind, phone=phone, name=name, pin=DEMO_PIN,
                              merchant=merchant)  # fmt: skip
        if national_id is not None:
            user = users.set_kyc_tier(ctx, user.id, 1, national_id=national_id)
        made[phone] = user
        till = users.get_merchant(ctx, user.id).till_number if merchant is not None else None
        people.append(DemoPerson(name, kind.value, phone, user.id, till))

    def key(step: str) -> str:
        return f"demo:{step}"

    otieno, kato = made["+254733100200"], made["+256772100200"]
    moves = [
        payments.top_up_float(ctx, agent_id=otieno.id, amount=Money.parse("200000.00", "KES"),
                              idempotency_key=key("float-ke")),
        payments.top_up_float(ctx, agent_id=kato.id, amount=Money.parse("5000000", "UGX"),
                              idempotency_key=key("float-ug")),
        payments.cash_in(ctx, agent_id=otieno.id, customer_phone="+254712100200",
                         amount=Money.parse("15000.00", "KES"), idempotency_key=key("in-amina")),
        payments.cash_in(ctx, agent_id=otieno.id, customer_phone="+254722100200",
                         amount=Money.parse("2000.00", "KES"), idempotency_key=key("in-baraka")),
        payments.cash_in(ctx, agent_id=kato.id, customer_phone="+256782100200",
                         amount=Money.parse("300000", "UGX"), idempotency_key=key("in-okello")),
        payments.pay_merchant(ctx, payer_id=made["+254712100200"].id,
                              merchant_id=made["+254700100200"].id,
                              amount=Money.parse("350.00", "KES"), message="sukuma and bread",
                              idempotency_key=key("amina-to-kiosk")),
        payments.pay_merchant(ctx, payer_id=made["+256782100200"].id,
                              merchant_id=made["+256752100200"].id,
                              amount=Money.parse("20000", "UGX"), message="braids",
                              idempotency_key=key("okello-to-salon")),
        payments.send_money(ctx, sender_id=made["+254712100200"].id, to_phone="+254722100200",
                            amount=Money.parse("500.00", "KES"), idempotency_key=key("amina-p2p")),
    ]  # fmt: skip
    invoice = payment_requests.create_request(
        ctx, merchant_id=made["+254700100200"].id, amount=Money.parse("1200.00", "KES"),
        reference="ORDER-0001", description="A week of vegetables, delivered",
        expires_in_seconds=limits.PAYMENT_REQUEST_SECONDS_MAX, idempotency_key=key("invoice"),
    )  # fmt: skip
    # A guaranteed trade: Amina pays Wanjiru's Kiosk into escrow; the money waits
    # there until the goods arrive (or the ship-by date passes).
    order = escrow.create_order(
        ctx, seller_id=made["+254700100200"].id, buyer_id=made["+254712100200"].id,
        amount=Money.parse("2400.00", "KES"), items=[OrderItem("Sack of maize flour, 24 kg", 1)],
        ship_by=ctx.clock.now() + timedelta(days=3), description="Delivered to Kisumu",
        idempotency_key=key("escrow-order"),
    )  # fmt: skip
    escrow.fund(ctx, buyer_id=order.buyer_id, order_id=order.id, idempotency_key=key("escrow-fund"))
    borrower, sales = _trading_history(ctx, key)
    people.append(borrower)
    credit.fund_capital(ctx, Money.parse(LENDER_CAPITAL, "KES"))
    offers = credit.credit_offers(ctx, borrower.user_id)
    newcomer = credit.credit_offers(ctx, made["+254700100200"].id)
    # FX: rates, and the operator's liquidity in both currencies, so that Okello in Kampala
    # can send to Baraka in Nairobi at once (and back).
    demo_rates(ctx)
    fx.fund_liquidity(ctx, amount=Money.parse("500000.00", "KES"), idempotency_key=key("fx-kes"))
    fx.fund_liquidity(ctx, amount=Money.parse("20000000", "UGX"), idempotency_key=key("fx-ugx"))
    summary = DemoSummary(
        people=people,
        payments=len(moves),
        payment_request_id=invoice.id,
        escrow_order_id=order.id,
        borrower=borrower,
        history_sales=sales,
        offer=offers.offers[0] if offers.offers else None,
        newcomer_reasons=newcomer.reasons,
    )
    return summary, False


#: The lender's capital in KES: what the demo's loans are made from.
LENDER_CAPITAL = "1000000.00"
#: How far back the trading shop's history starts, in days.
HISTORY_DAYS = 182
#: The shop's takings on each selling day of a week, in cents: a quiet Monday, a busy Saturday.
_DAILY_SALES = (38_000, 52_000, 47_000, 61_000, 74_000, 96_000)
_REGULARS = ("+254711300201", "+254711300202", "+254711300203", "+254711300204",
             "+254711300205", "+254711300206")  # fmt: skip


@dataclass
class _DemoClock:
    """The demo's own clock for the past: it moves only when the demo moves it."""

    current: datetime

    def now(self) -> datetime:
        return self.current


def _trading_history(ctx: Context, key: Callable[[str], str]) -> tuple[DemoPerson, int]:
    """Achieng's Grocery: opened HISTORY_DAYS ago, sold six days a week to six regulars since,
    a little more each month. Returns the shop and how many sales it made."""
    start = ctx.clock.now().astimezone(UTC).date() - timedelta(days=HISTORY_DAYS)
    clock = _DemoClock(datetime.combine(start, time(7, 0), tzinfo=UTC))
    past = replace(ctx, clock=clock, ids=RandomIds(clock))
    shop = users.register(past, kind=UserKind.MERCHANT, phone="+254711300200",
                          name="Achieng Odhiambo", pin=DEMO_PIN,
                          merchant=MerchantDetails("Achieng's Grocery", "5411"))  # fmt: skip
    shop = users.set_kyc_tier(past, shop.id, 1, national_id="27654321")
    agent = users.register(past, kind=UserKind.AGENT, phone="+254733300200",
                           name="Adhiambo Agency (Kisumu)", pin=DEMO_PIN)  # fmt: skip
    payments.top_up_float(past, agent_id=agent.id, amount=Money.parse("200000.00", "KES"),
                          idempotency_key=key("float-grocery"))  # fmt: skip
    regulars = []
    for number, phone in enumerate(_REGULARS):
        regular = users.register(past, kind=UserKind.CONSUMER, phone=phone,
                                 name=f"Grocery regular {number + 1}")  # fmt: skip
        payments.cash_in(past, agent_id=agent.id, customer_phone=phone,
                         amount=Money.parse("20000.00", "KES"),
                         idempotency_key=key(f"in-regular-{number}"))  # fmt: skip
        regulars.append(regular)
    sales = 0
    for day in range(1, HISTORY_DAYS):
        on = start + timedelta(days=day)
        weekday = on.weekday()
        if weekday == 6:  # closed on Sundays
            continue
        # A little more each month: takings grow by a tenth over the half year.
        cents = _DAILY_SALES[weekday] * (10 * HISTORY_DAYS + day) // (10 * HISTORY_DAYS)
        clock.current = datetime.combine(on, time(9 + sales % 8, 15), tzinfo=UTC)
        payments.pay_merchant(past, payer_id=regulars[(sales + day // 7) % len(regulars)].id,
                              merchant_id=shop.id, amount=Money.of(cents, "KES"),
                              idempotency_key=key(f"sale-{day}"))  # fmt: skip
        sales += 1
    till = users.get_merchant(ctx, shop.id).till_number
    return DemoPerson("Achieng Odhiambo", shop.kind.value, shop.phone, shop.id, till), sales


def demo_rates(ctx: Context) -> None:
    """Set the demo rates unless fresh ones are held: a demo started again days later still
    prices quotes, and one started again at once adds nothing."""
    fresh = {
        rate.pair
        for rate in fx.list_rates(ctx)
        if rate.source == DEMO_RATE_SOURCE and not fx.is_stale(ctx, rate)
    }
    for base, quote, rate in DEMO_RATES:
        if (base, quote) not in fresh:
            fx.set_rate(ctx, base=base, quote=quote, rate=rate, source=DEMO_RATE_SOURCE)
