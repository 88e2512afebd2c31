"""The merchant's pages of the web app (/app/shop): sales, refunds, the QR sticker, payment
requests, escrow orders to ship, payouts and credit.

Every page is the signed-in merchant's own: anyone else (a consumer, an agent) is told "not
found", and every record is read through the merchant's own id, so another shop's payment,
request, order or loan reads as none. Forms follow visit.py: a key drawn for this session and
this form, the PIN again for every form that moves money, and that key as the idempotency key,
so a double tap refunds, pays out or borrows once. A refusal is a sentence on the same form and
moves nothing.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from soko.channels.api.deps import ContextDep
from soko.channels.web import forms, session
from soko.channels.web.money_forms import Refusal, checked_amount, run, with_pin
from soko.channels.web.visit import (
    STALE_FORM,
    AmountField,
    KeyField,
    PhoneField,
    PinField,
    Visit,
    visit_or_redirect,
)
from soko.credit import service as credit
from soko.credit.domain import LoanStatus, bps_percent, flat_fee
from soko.escrow import service as escrow
from soko.escrow.domain import TRANSITIONS, EscrowAction, EscrowOrder, EscrowState
from soko.escrow.tracking import service as tracking
from soko.kernel import limits
from soko.kernel.errors import DomainError
from soko.kernel.i18n import N_
from soko.kernel.money import Currency, Money
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.payments.domain import Payment, PaymentKind, PaymentRequest
from soko.payments.fees import FeeKind, fee_table
from soko.payments.qr import service as qr
from soko.payments.qr.domain import CITY_LENGTH_MAX, fit_words
from soko.payments.qr.images import qr_svg
from soko.payouts import service as payouts
from soko.payouts.domain import MobileMoney
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import Merchant

router = APIRouter(
    prefix=session.PATH, include_in_schema=False, dependencies=[Depends(forms.text_only)]
)

#: Payments received shown per page; pages go back at most this far (older ones: the API).
PAYMENTS_PER_PAGE: Final = 20
PAGES_MAX: Final = 25
NOT_YOURS: Final = N_("There is no such page.")
NO_PAYMENT: Final = N_("There is no such payment.")
NO_ORDER: Final = N_("There is no such order.")
#: How long a payment request stays payable, as the form offers it.
EXPIRIES: Final = (
    (3600, N_("1 hour")),
    (24 * 3600, N_("1 day")),
    (7 * 24 * 3600, N_("1 week")),
    (30 * 24 * 3600, N_("30 days")),
)
#: Order and request states in words (the raw word is kept for tests as data-state).
STATE_WORDS: Final = {
    "created": N_("Waiting for the buyer to pay"),
    "funded": N_("Paid into escrow: ship it"),
    "shipped": N_("Shipped"),
    "delivered": N_("Delivered"),
    "disputed": N_("Disputed"),
    "released": N_("Paid to you"),
    "cancelled": N_("Cancelled"),
    "refunded": N_("Refunded to the buyer"),
    "resolved": N_("Settled by Soko"),
    "open": N_("Open"),
    "paid": N_("Paid"),
    "expired": N_("Expired"),
    "requested": N_("Requested"),
    "submitted": N_("Sent to the network"),
    "failed": N_("Failed: the money is back in your wallet"),
    "active": N_("Open"),
    "repaid": N_("Repaid"),
    "written_off": N_("Written off"),
}

PaymentId = Annotated[str, Path(max_length=64)]
OrderId = Annotated[str, Path(max_length=64)]
TextField = Annotated[str, Form(max_length=200)]


@dataclass(frozen=True, slots=True)
class Shop:
    """A merchant's visit: the person and its shop."""

    visit: Visit
    merchant: Merchant

    @property
    def currency(self) -> Currency:
        return Currency.of(self.merchant.settlement_currency)

    def page(self, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        return self.visit.page(
            name,
            {"shop_name": self.merchant.trading_name, "states": STATE_WORDS} | context,
            status,
        )


def _shop(request: Request, ctx: ContextDep) -> Shop | Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    if not visit.is_merchant:
        return visit.not_found(NOT_YOURS)
    return Shop(visit, users.get_merchant(ctx, visit.user.id))


# --- sales and refunds ------------------------------------------------------------------------


@router.get("/shop", response_class=HTMLResponse)
def shop_home(
    request: Request, ctx: ContextDep, page: Annotated[str, Query(max_length=12)] = "0"
) -> Response:
    shop = _shop(request, ctx)
    if isinstance(shop, Response):
        return shop
    # Read here, not by FastAPI: a page number that is not one shows the first page, not JSON.
    number = int(page) if page.isascii() and page.isdigit() else 0
    return _sales_page(shop, min(number, PAGES_MAX))


@router.post("/shop/payments/{payment_id}/refund", response_class=HTMLResponse)
def refund(
    request: Request,
    payment_id: PaymentId,
    *,
    ctx: ContextDep,
    amount: AmountField = "",
    pin: PinField = "",
    form_key: KeyField = "",
) -> Response:
    shop = _shop(request, ctx)
    if isinstance(shop, Response):
        return shop
    visit = shop.visit
    found = _received(shop, payment_id)
    if found is None:
        return visit.not_found(NO_PAYMENT)
    errors = {"form": payment_id}
    money = checked_amount(visit, f"refund:{payment_id}", form_key, amount,
                           Currency.of(found.currency))  # fmt: skip
    if isinstance(money, Refusal):
        return _sales_page(shop, 0, errors | {"error": money.sentence}, money.status)
    made = with_pin(visit, pin, form_key, lambda key: payments.refund(
        ctx, merchant_id=visit.user.id, payment_id=found.id, amount=money, idempotency_key=key,
    ))  # fmt: skip
    if isinstance(made, Refusal):
        return _sales_page(shop, 0, errors | {"error": made.sentence}, made.status)
    done = visit._("Refunded {amount} to the customer.").format(
        amount=visit.money(made.amount, made.currency)
    )
    return _sales_page(shop, 0, {"done": done})


def _received(shop: Shop, payment_id: str) -> Payment | None:
    """The payment if this shop received it; any other reads as none."""
    try:
        payment = payments.get_payment(shop.visit.ctx, payment_id)
    except DomainError:
        return None
    own = {view.wallet.id for view in wallets.list_wallets(shop.visit.ctx, shop.merchant.user_id)}
    if payment.payee_wallet_id not in own or payment.kind is not PaymentKind.MERCHANT:
        return None
    return payment


def _sales_page(
    shop: Shop, page: int, notes: dict[str, str] | None = None, status: int = 200
) -> HTMLResponse:
    visit, ctx = shop.visit, shop.visit.ctx
    now = ctx.clock.now().astimezone(ctx.timezone)
    today = payments.start_of_day(ctx)
    month = today.replace(day=1)
    days = _daily_sales(shop, month, today)
    shown = payments.payments_received(ctx, visit.user.id, (page + 1) * PAYMENTS_PER_PAGE + 1)
    more = len(shown) > (page + 1) * PAYMENTS_PER_PAGE
    rows = []
    for received in shown[page * PAYMENTS_PER_PAGE : (page + 1) * PAYMENTS_PER_PAGE]:
        paid = received.payment
        refunds = payments.list_refunds(ctx, paid.id) if paid.refunded else []
        rows.append(
            {
                "id": paid.id,
                "payer": received.payer_name or visit._("A customer"),
                "amount": visit.money(paid.amount, paid.currency),
                "when": visit.when(paid.created_at),
                "message": paid.message,
                "refundable": visit.money(paid.refundable, paid.currency)
                if paid.refundable
                else None,
                "refundable_figure": Money(
                    paid.refundable, Currency.of(paid.currency)
                ).to_decimal_string(),
                "refunds": [
                    (visit.money(r.amount, r.currency), visit.when(r.created_at)) for r in refunds
                ],
                "key": visit.key(f"refund:{paid.id}") if paid.refundable else None,
            }
        )
    notes = _on_shown_form(notes, {row["id"] for row in rows})
    today_sales = payments.sales_since(ctx, visit.user.id, today)
    month_sales = payments.sales_since(ctx, visit.user.id, month)
    balance = _balance(shop)
    return shop.page(
        "merchant_shop.html",
        {
            "today": visit.money(today_sales.total),
            "today_count": today_sales.count,
            "month": visit.money(month_sales.total),
            "month_count": month_sales.count,
            "month_name": visit.month(now.date()),
            "balance": visit.money(balance) if balance is not None else None,
            "chart": _chart(visit, days),
            "days": [
                (visit.when(day)[:6], count, visit.money(total))
                for day, count, total in days
                if count
            ],
            "payments": rows,
            "page": page,
            "more": more and page < PAGES_MAX,
        }
        | (notes or {}),
        status,
    )


def _on_shown_form(notes: dict[str, str] | None, shown: set[Any]) -> dict[str, str]:
    """The notes, with a refusal whose form is not on this page (an older page's payment or
    order) shown at the top of the list instead of nowhere."""
    notes = dict(notes or {})
    if notes.get("form") not in shown:
        notes.pop("form", None)
    return notes


def _daily_sales(shop: Shop, month: datetime, today: datetime) -> list[tuple[datetime, int, Money]]:
    """Each day of the month so far: (its midnight, how many sales, how much), read as the
    difference of the running totals `sales_since` gives (index-bound, one query a day)."""
    ctx = shop.visit.ctx
    starts = []
    day = month
    while day <= today:
        starts.append(day)
        # Midnight of the next local day, robust to a daylight-saving change.
        day = (day + timedelta(days=1, hours=2)).replace(hour=0, minute=0, second=0)
    totals = [payments.sales_since(ctx, shop.merchant.user_id, start) for start in starts]
    found = []
    for index, start in enumerate(starts):
        after = totals[index + 1] if index + 1 < len(totals) else None
        count = totals[index].count - (after.count if after else 0)
        amount = totals[index].total.amount_minor - (after.total.amount_minor if after else 0)
        found.append((start, count, Money(amount, shop.currency)))
    return found


def _chart(visit: Visit, days: list[tuple[datetime, int, Money]]) -> dict[str, Any]:
    """A bar per day of the month so far, as numbers an inline SVG draws (no script)."""
    width, height, top = 300, 120, 12
    slots = calendar.monthrange(days[0][0].year, days[0][0].month)[1] if days else 31
    step = width / slots
    peak = max((total.amount_minor for _, _, total in days), default=0)
    bars = []
    for day, _, total in days:
        tall = 0.0 if not peak else (height - top) * total.amount_minor / peak
        bars.append(
            {
                "x": round((day.day - 1) * step + step * 0.15, 2),
                "y": round(height - tall, 2),
                "width": round(step * 0.7, 2),
                "height": round(tall, 2),
                "label": f"{day.day}: {visit.money(total)}",
            }
        )
    best = max(days, key=lambda entry: entry[2].amount_minor) if peak else None
    summary = (
        visit._("Best day: {day}, {amount}.").format(
            day=visit.when(best[0])[:6], amount=visit.money(best[2])
        )
        if best
        else visit._("No sales yet this month.")
    )
    return {"width": width, "height": height, "bars": bars, "summary": summary, "slots": slots,
            "peak": visit.money(Money(peak, days[0][2].currency)) if days else ""}  # fmt: skip


def _balance(shop: Shop) -> Money | None:
    for view in wallets.list_wallets(shop.visit.ctx, shop.merchant.user_id):
        if view.wallet.currency == shop.merchant.settlement_currency:
            return view.available
    return None


# --- the QR sticker ---------------------------------------------------------------------------


@router.get("/shop/qr", response_class=HTMLResponse)
def shop_qr(request: Request, ctx: ContextDep) -> Response:
    shop = _shop(request, ctx)
    if isinstance(shop, Response):
        return shop
    code = qr.merchant_code(ctx, shop.merchant.user_id)
    return shop.page(
        "merchant_qr.html",
        {
            "qr_svg": _inline(qr_svg(code.payload())),
            "till": shop.merchant.till_number,
            "city": fit_words(shop.merchant.city, CITY_LENGTH_MAX) or code.merchant_city,
        },
    )


def _inline(svg: str) -> str:
    """An SVG document as an element of the page: without its XML declaration."""
    return svg[svg.index("<svg") :]


# --- payment requests -------------------------------------------------------------------------


@router.get("/shop/requests", response_class=HTMLResponse)
def requests_page(
    request: Request, ctx: ContextDep, cursor: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    shop = _shop(request, ctx)
    if isinstance(shop, Response):
        return shop
    return _requests_page(shop, cursor=cursor)


@router.post("/shop/requests", response_class=HTMLResponse)
def create_request(
    request: Request,
    *,
    ctx: ContextDep,
    amount: AmountField = "",
    reference: Annotated[str, Form(max_length=64)] = "",
    description: TextField = "",
    expires_in: Annotated[str, Form(max_length=12)] = "",
    form_key: KeyField = "",
) -> Response:
    shop = _shop(request, ctx)
    if isinstance(shop, Response):
        return shop
    visit = shop.visit
    typed = {"amount": amount, "reference": reference, "description": description}
    money = checked_amount(visit, "request", form_key, amount, shop.currency)
    if isinstance(money, Refusal):
        return _requests_page(shop, typed=typed, error=money.sentence, status=money.status)
    seconds = dict(EXPIRIES).get(int(expires_in)) if expires_in.isdigit() else None
    if seconds is None:
        return _requests_page(shop, typed=typed, error=visit._("Choose how long it stays open."),
                              status=422)  # fmt: skip
    made = run(visit, lambda: payment_requests.create_request(
        ctx, merchant_id=visit.user.id, amount=money, reference=reference.strip(),
        description=description.strip() or None, expires_in_seconds=int(expires_in),
        idempotency_key=session.idempotency_key(form_key),
    ))  # fmt: skip
    if isinstance(made, Refusal):
        return _requests_page(shop, typed=typed, error=made.sentence, status=made.status)
    return _requests_page(shop, made=made)


def _requests_page(
    shop: Shop,
    *,
    cursor: str | None = None,
    made: PaymentRequest | None = None,
    typed: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    visit, ctx = shop.visit, shop.visit.ctx
    now = ctx.clock.now()
    try:
        found = payment_requests.list_requests(ctx, visit.user.id, limit=20, cursor=cursor)
    except DomainError:
        return visit.not_found(NOT_YOURS)
    base = str(visit.request.base_url).rstrip("/")
    shared = None
    if made is not None:
        shared = {
            "link": f"{base}/pay/{made.id}",
            "reference": made.reference,
            "amount": visit.money(made.amount, made.currency),
            "till": shop.merchant.till_number,
            "qr_svg": _inline(qr_svg(qr.request_code(ctx, made).payload())),
            "expires": visit.when(made.expires_at),
        }
    rows = [
        {
            "id": item.id,
            "link": f"/pay/{item.id}",
            "reference": item.reference,
            "description": item.description,
            "amount": visit.money(item.amount, item.currency),
            "state": item.status_at(now).value,
            "expires": visit.when(item.expires_at),
        }
        for item in found.requests
    ]
    typed = typed or {}
    return shop.page(
        "merchant_requests.html",
        {
            "shared": shared,
            "requests": rows,
            "next_cursor": found.next_cursor,
            "form_key": visit.key("request"),
            "typed": typed,
            "reference": typed.get("reference") or f"R{ctx.ids.digits(6)}",
            "expiries": [(seconds, visit._(label)) for seconds, label in EXPIRIES],
            "error": error,
        },
        status,
    )


# --- escrow orders to ship --------------------------------------------------------------------


@router.get("/shop/orders", response_class=HTMLResponse)
def orders_page(
    request: Request, ctx: ContextDep, cursor: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    shop = _shop(request, ctx)
    if isinstance(shop, Response):
        return shop
    return _orders_page(shop, cursor=cursor)


@router.post("/shop/orders/{order_id}/ship", response_class=HTMLResponse)
def ship(
    request: Request,
    order_id: OrderId,
    *,
    ctx: ContextDep,
    carrier: Annotated[str, Form(max_length=limits.CARRIER_CODE_LENGTH_MAX)] = "",
    tracking_number: Annotated[str, Form(max_length=64)] = "",
    form_key: KeyField = "",
) -> Response:
    shop = _shop(request, ctx)
    if isinstance(shop, Response):
        return shop
    visit = shop.visit
    order = _sold(shop, order_id)
    if order is None:
        return visit.not_found(NO_ORDER)
    notes = {"form": order.id}
    if not visit.check_key(f"ship:{order.id}", form_key):
        return _orders_page(shop, notes=notes | {"error": visit._(STALE_FORM)}, status=403)
    shipped = run(visit, lambda: escrow.ship(
        ctx, seller_id=visit.user.id, order_id=order.id, carrier_code=carrier.strip(),
        tracking_number=tracking_number, idempotency_key=session.idempotency_key(form_key),
    ))  # fmt: skip
    if isinstance(shipped, Refusal):
        return _orders_page(shop, notes=notes | {"error": shipped.sentence},
                            status=shipped.status)  # fmt: skip
    done = visit._("Order {order} is marked shipped. The buyer is told.").format(
        order=shipped.id[-8:]
    )
    return _orders_page(shop, notes={"done": done})


def _sold(shop: Shop, order_id: str) -> EscrowOrder | None:
    """The order if this shop sells it; any other reads as none."""
    try:
        order = escrow.get_order(shop.visit.ctx, order_id)
    except DomainError:
        return None
    return order if order.seller_id == shop.merchant.user_id else None


def _orders_page(
    shop: Shop,
    *,
    cursor: str | None = None,
    notes: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    visit, ctx = shop.visit, shop.visit.ctx
    try:
        found = escrow.list_orders(ctx, visit.user.id, cursor=cursor)
    except DomainError:
        return visit.not_found(NOT_YOURS)
    carriers = [c for c in tracking.list_carriers(ctx, limit=limits.PAGE_SIZE_MAX).carriers
                if c.enabled]  # fmt: skip
    rows = []
    for order in found.orders:
        if order.seller_id != visit.user.id:
            continue  # what the merchant buys is on its own orders page
        can_ship = (order.state, EscrowAction.SHIP) in TRANSITIONS
        rows.append(
            {
                "id": order.id,
                "short": order.id[-8:],
                "amount": visit.money(order.amount, order.currency),
                "items": ", ".join(f"{item.quantity} \u00d7 {item.name}" for item in order.items),
                "state": order.state.value,
                "ship_by": visit.when(order.deadlines.ship_by)
                if order.state is EscrowState.FUNDED
                else None,
                "key": visit.key(f"ship:{order.id}") if can_ship else None,
            }
        )
    notes = _on_shown_form(notes, {row["id"] for row in rows})
    return shop.page(
        "merchant_orders.html",
        {
            "orders": rows,
            "carriers": [(c.code, c.name) for c in carriers],
            "next_cursor": found.next_cursor,
        }
        | (notes or {}),
        status,
    )


# --- payouts ----------------------------------------------------------------------------------


@router.get("/shop/payouts", response_class=HTMLResponse)
def payouts_page(request: Request, ctx: ContextDep) -> Response:
    shop = _shop(request, ctx)
    if isinstance(shop, Response):
        return shop
    return _payouts_page(shop)


@router.post("/shop/payouts", response_class=HTMLResponse)
def request_payout(
    request: Request,
    *,
    ctx: ContextDep,
    amount: AmountField = "",
    phone: PhoneField = "",
    pin: PinField = "",
    form_key: KeyField = "",
) -> Response:
    shop = _shop(request, ctx)
    if isinstance(shop, Response):
        return shop
    visit = shop.visit
    typed = {"amount": amount, "phone": phone}
    money = checked_amount(visit, "payout", form_key, amount, shop.currency)
    if isinstance(money, Refusal):
        return _payouts_page(shop, typed=typed, error=money.sentence, status=money.status)
    made = with_pin(visit, pin, form_key, lambda key: payouts.request_payout(
        ctx, merchant_id=visit.user.id, amount=money,
        destination=MobileMoney(phone.strip() or visit.user.phone), idempotency_key=key,
    ))  # fmt: skip
    if isinstance(made, Refusal):
        return _payouts_page(shop, typed=typed, error=made.sentence, status=made.status)
    done = visit._("Payout of {amount} requested to {to}.").format(
        amount=visit.money(made.amount, made.currency), to=made.destination.masked(visit._)
    )
    return _payouts_page(shop, done=done)


def _largest_payout(shop: Shop, balance: Money) -> Money:
    """The most that can be paid out of `balance` once the payout fee is added: a search over
    amounts, as the fee table may step (the service checks it again)."""
    table = fee_table(shop.visit.ctx.tariff, shop.currency.code, FeeKind.PAYOUT)
    low, high = 0, max(balance.amount_minor, 0)
    while low < high:
        middle = (low + high + 1) // 2
        if middle + table.fee_for(middle) <= balance.amount_minor:
            low = middle
        else:
            high = middle - 1
    return Money(low, shop.currency)


def _payouts_page(
    shop: Shop,
    *,
    typed: dict[str, str] | None = None,
    error: str | None = None,
    done: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    visit, ctx = shop.visit, shop.visit.ctx
    found = payouts.list_payouts(ctx, visit.user.id, limit=20)
    balance = _balance(shop) or Money.zero(shop.currency)
    most = _largest_payout(shop, balance)
    rows = [
        {
            "id": payout.id,
            "amount": visit.money(payout.amount, payout.currency),
            "fee": visit.money(payout.fee, payout.currency),
            "to": payout.destination.masked(visit._),
            "state": payout.state.value,
            "when": visit.when(payout.created_at),
        }
        for payout in found.payouts
    ]
    typed = typed or {}
    return shop.page(
        "merchant_payouts.html",
        {
            "balance": visit.money(balance),
            "most": visit.money(most) if most.amount_minor else None,
            "most_figure": most.to_decimal_string() if most.amount_minor else "",
            "phone": typed.get("phone") or visit.user.phone,
            "amount": typed.get("amount", ""),
            "form_key": visit.key("payout"),
            "payouts": rows,
            "error": error,
            "done": done,
        },
        status,
    )


# --- credit -----------------------------------------------------------------------------------


@router.get("/shop/credit", response_class=HTMLResponse)
def credit_page(request: Request, ctx: ContextDep) -> Response:
    shop = _shop(request, ctx)
    if isinstance(shop, Response):
        return shop
    return _credit_page(shop)


@router.post("/shop/credit/loan", response_class=HTMLResponse)
def take_loan(
    request: Request,
    *,
    ctx: ContextDep,
    offer_id: Annotated[str, Form(max_length=64)] = "",
    amount: AmountField = "",
    pin: PinField = "",
    form_key: KeyField = "",
) -> Response:
    shop = _shop(request, ctx)
    if isinstance(shop, Response):
        return shop
    visit = shop.visit
    notes = {"form": "loan", "amount": amount}
    money = checked_amount(visit, f"loan:{offer_id}", form_key, amount, shop.currency)
    if isinstance(money, Refusal):
        return _credit_page(shop, notes | {"error": money.sentence}, money.status)
    loan = with_pin(visit, pin, form_key, lambda key: credit.accept_offer(
        ctx, merchant_id=visit.user.id, offer_id=offer_id, amount=money, idempotency_key=key,
    ))  # fmt: skip
    if isinstance(loan, Refusal):
        return _credit_page(shop, notes | {"error": loan.sentence}, loan.status)
    done = visit._("{amount} is in your wallet. You repay {total} in all.").format(
        amount=visit.money(loan.principal_minor, loan.currency),
        total=visit.money(loan.total_repayable_minor, loan.currency),
    )
    return _credit_page(shop, {"done": done})


@router.post("/shop/credit/repay", response_class=HTMLResponse)
def repay(
    request: Request,
    *,
    ctx: ContextDep,
    loan_id: Annotated[str, Form(max_length=64)] = "",
    amount: AmountField = "",
    pin: PinField = "",
    form_key: KeyField = "",
) -> Response:
    shop = _shop(request, ctx)
    if isinstance(shop, Response):
        return shop
    visit = shop.visit
    notes = {"form": "repay", "amount": amount}
    money = checked_amount(visit, f"repay:{loan_id}", form_key, amount, shop.currency)
    if isinstance(money, Refusal):
        return _credit_page(shop, notes | {"error": money.sentence}, money.status)
    made = with_pin(visit, pin, form_key, lambda key: credit.repay(
        ctx, merchant_id=visit.user.id, loan_id=loan_id, amount=money, idempotency_key=key,
    ))  # fmt: skip
    if isinstance(made, Refusal):
        return _credit_page(shop, notes | {"error": made.sentence}, made.status)
    done = visit._("You repaid {amount}.").format(
        amount=visit.money(made.amount_minor, shop.currency)
    )
    return _credit_page(shop, {"done": done})


def _credit_page(
    shop: Shop, notes: dict[str, str] | None = None, status: int = 200
) -> HTMLResponse:
    visit, ctx = shop.visit, shop.visit.ctx
    found = credit.credit_offers(ctx, visit.user.id)
    offers = []
    for offer in found.offers:
        limit = Money(offer.limit_minor, Currency.of(offer.currency))
        fee = Money(flat_fee(offer.limit_minor, offer.fee_bps), limit.currency)
        offers.append(
            {
                "id": offer.id,
                "limit": visit.money(limit),
                "limit_figure": limit.to_decimal_string(),
                "words": [
                    visit._("You may borrow up to {limit}, at once, into your wallet.").format(
                        limit=visit.money(limit)
                    ),
                    visit._(
                        "The fee is {fee} of what you borrow, once: {example} on the whole {limit}."
                    ).format(
                        fee=bps_percent(offer.fee_bps),
                        example=visit.money(fee),
                        limit=visit.money(limit),
                    ),
                    visit._(
                        "You repay with {share} of every sale, automatically, within {days} days."
                    ).format(share=bps_percent(offer.withhold_bps), days=offer.term_days),
                    visit._("The offer stands until {when}.").format(
                        when=visit.when(offer.expires_at)
                    ),
                ],
                "key": visit.key(f"loan:{offer.id}"),
            }
        )
    loan_view = None
    loans = credit.list_loans(ctx, merchant_id=visit.user.id, status=LoanStatus.ACTIVE, limit=1)
    if loans:
        loan = loans[0]
        repaid = loan.repaid_principal_minor + loan.repaid_fee_minor
        loan_view = {
            "id": loan.id,
            "state": loan.status.value,
            "principal": visit.money(loan.principal_minor, loan.currency),
            "total": visit.money(loan.total_repayable_minor, loan.currency),
            "repaid": visit.money(repaid, loan.currency),
            "outstanding": visit.money(loan.outstanding_minor, loan.currency),
            "outstanding_figure": Money(
                loan.outstanding_minor, Currency.of(loan.currency)
            ).to_decimal_string(),
            "share": bps_percent(loan.withhold_bps),
            "late": loan.max_days_past_due > 0,
            "dues": [
                (
                    visit.day(due.due_on),
                    visit.money(due.cumulative_minor, loan.currency),
                    due.met,
                )
                for due in credit.schedule(ctx, loan)
            ],
            "repayments": [
                (visit.when(r.created_at), visit.money(r.amount_minor, loan.currency), r.kind.value)
                for r in credit.list_repayments(ctx, loan.id)
            ],
            "key": visit.key(f"repay:{loan.id}"),
        }
    return shop.page(
        "merchant_credit.html",
        {
            "offers": offers,
            "reasons": [r.said(visit._) for r in found.reasons],
            "improvements": [r.said(visit._) for r in found.improvements],
            "loan": loan_view,
        }
        | (notes or {}),
        status,
    )
