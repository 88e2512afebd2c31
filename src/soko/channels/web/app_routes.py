"""The signed-in web app for people (/app): wallets, escrow orders, and their money moves.

Plain HTML forms, no JavaScript. Every page but sign-in needs the session cookie (session.py),
and without it redirects to sign-in. Every form carries a key drawn for this session and this
form; the forms that move money also ask for the PIN again, and their key is the idempotency
key, so a double tap moves money once. Refusals are a short sentence on the form (messages.py)
and change nothing. Someone else's order is "not found", exactly as an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Final

import phonenumbers
from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from soko.channels import i18n
from soko.channels.api.deps import ContextDep
from soko.channels.web import forms, session
from soko.channels.web.messages import sentence_for, status_for
from soko.channels.web.money_forms import Refusal, with_pin
from soko.channels.web.routes import _HEADERS as HEADERS
from soko.channels.web.routes import templates
from soko.channels.web.session import language_of
from soko.channels.web.visit import (
    SIGN_IN,
    STALE_FORM,
    KeyField,
    PinField,
    Visit,
    money_text,
    redirect,
    visit_or_redirect,
)
from soko.context import Context
from soko.escrow import service as escrow
from soko.escrow.domain import TRANSITIONS, EscrowAction, EscrowOrder, EscrowState
from soko.escrow.errors import EscrowNotFound
from soko.escrow.service import DeliveryCode
from soko.kernel import limits
from soko.kernel.errors import DomainError
from soko.kernel.i18n import N_
from soko.people import access, wallets
from soko.people import service as users
from soko.people.domain import HOME_CURRENCY, User

router = APIRouter(
    prefix=session.PATH, include_in_schema=False, dependencies=[Depends(forms.text_only)]
)

A, S = EscrowAction, EscrowState

#: Each state in a word or two people read (the `data-testid="state"` text), not its code.
_STATE_WORD: Final = {
    S.CREATED: N_("Not paid yet"),
    S.FUNDED: N_("In escrow"),
    S.SHIPPED: N_("Shipped"),
    S.DELIVERED: N_("Delivered"),
    S.DISPUTED: N_("Disputed"),
    S.RELEASED: N_("Released"),
    S.CANCELLED: N_("Cancelled"),
    S.REFUNDED: N_("Refunded"),
    S.RESOLVED: N_("Settled"),
}
#: One line on where each state leaves the money, as the buyer reads it and as the seller does
#: ({ship_by}: the shipping deadline).
_STATE_TEXT: Final = {
    S.CREATED: (N_("Waiting for you to pay into escrow."),
                N_("Waiting for the buyer to pay into escrow.")),
    S.FUNDED: (N_("Paid into escrow. The seller ships by {ship_by}."),
               N_("Paid into escrow. Ship it by {ship_by}.")),
    S.SHIPPED: (N_("On its way. The money stays held until you have the goods."),
                N_("On its way. You are paid when the buyer has the goods.")),
    S.DELIVERED: (N_("Delivered. The seller is paid when the inspection time ends."),
                  N_("Delivered. You are paid when the inspection time ends.")),
    S.DISPUTED: (N_("Disputed. The money is frozen until Soko settles it."),) * 2,
    S.RELEASED: (N_("Done. The money was released to the seller."),
                 N_("Done. The money was released to you.")),
    S.CANCELLED: (N_("Cancelled before anything was paid."),) * 2,
    S.REFUNDED: (N_("Refunded to you."), N_("Refunded to the buyer.")),
    S.RESOLVED: (N_("The dispute was settled by Soko."),) * 2,
}  # fmt: skip

OrderId = Annotated[str, Path(max_length=64)]


# --- signing in and out ---------------------------------------------------------------------


NextField = Annotated[str, Form(max_length=512)]


@router.get("/sign-in", operation_id="signInPage", response_class=HTMLResponse)
def sign_in_page(
    request: Request,
    ctx: ContextDep,
    next: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    back = session.safe_next(next)
    if session.signed_in(request, ctx) is not None:
        return redirect(back or session.PATH)
    return _sign_in_form(request, ctx, back=back or "")


@router.post("/sign-in", operation_id="createSession", response_class=HTMLResponse)
def sign_in(
    request: Request,
    *,
    ctx: ContextDep,
    phone: Annotated[str, Form(max_length=limits.PHONE_TEXT_LENGTH_MAX)] = "",
    country: Annotated[str, Form(max_length=2)] = "",
    pin: PinField = "",
    form_key: KeyField = "",
    next: NextField = "",
) -> Response:
    back = session.safe_next(next) or ""
    if not session.check_sign_in_form_key(request, form_key):
        return _sign_in_form(request, ctx, phone=phone, country=country, error=STALE_FORM,
                             status=403, back=back)  # fmt: skip
    region = country if country in _countries(ctx) else None
    try:
        client = None if request.client is None else request.client.host
        made = access.sign_in(
            ctx, phone=phone, pin=pin, default_region=region, client=client,
            seconds=limits.WEB_SESSION_IDLE_SECONDS,
        )  # fmt: skip
    except DomainError as refused:
        translate = i18n.translator(language_of(request))
        return _sign_in_form(request, ctx, phone=phone, country=country, back=back,
                             error=sentence_for(refused, translate),
                             status=_status(refused))  # fmt: skip
    response = redirect(back or session.PATH)
    session.keep(request, response, made)
    return response


@router.post("/sign-out", operation_id="signOut", response_class=HTMLResponse)
def sign_out(request: Request, ctx: ContextDep, form_key: KeyField = "") -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    if not session.check_form_key(visit.token, "sign-out", form_key):
        return visit.message(visit._("Not signed out"), visit._(STALE_FORM), 403)
    access.sign_out(ctx, visit.token)  # a copy of the cookie is worth nothing from now on
    response = redirect(SIGN_IN)
    session.forget(request, response)
    return response


def _sign_in_form(
    request: Request,
    ctx: Context,
    *,
    phone: str = "",
    country: str = "",
    error: str | None = None,
    status: int = 200,
    back: str = "",
) -> HTMLResponse:
    """The sign-in form, in the browser's language (no one is signed in to ask)."""
    language = language_of(request)
    translate = i18n.translator(language)
    key = session.new_sign_in_key()
    response = templates.TemplateResponse(
        request,
        "app_sign_in.html",
        {
            "phone": phone,
            "countries": country_choices(ctx),
            "country": chosen_country(ctx, country),
            "error": error if error is None or error != STALE_FORM else translate(STALE_FORM),
            "form_key": key,
            "next": back,
            "_": translate,
            "language": language,
            "language_links": session.language_links(request, language),
        },
        status_code=status,
        headers=HEADERS,
    )
    session.remember_sign_in_key(request, response, key)
    session.keep_asked_language(request, response)
    return response


def country_choices(ctx: Context) -> list[tuple[str, str]]:
    """The countries a phone number may be dialled from, as a form's choices."""
    return [
        (code, f"+{phonenumbers.country_code_for_region(code)} ({code})")
        for code in _countries(ctx)
    ]


def chosen_country(ctx: Context, country: str) -> str:
    """The country chosen on a form, else the operator's own: its first currency's."""
    countries = _countries(ctx)
    return country if country in countries else countries[0] if countries else ""


def countries(ctx: Context) -> list[str]:
    return _countries(ctx)


def _countries(ctx: Context) -> list[str]:
    """The countries whose home currency this operator offers, in the order of its currencies
    (its own first): local numbers are read as dialled from one of them."""
    offered = list(ctx.kyc_limits)
    return sorted(
        (code for code, currency in HOME_CURRENCY.items() if currency in offered),
        key=lambda code: (offered.index(HOME_CURRENCY[code]), code),
    )


# --- wallets and orders ---------------------------------------------------------------------


@router.get("", operation_id="home", response_class=HTMLResponse)
def home(request: Request, ctx: ContextDep) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    shown = [
        {
            "currency": view.wallet.currency,
            "balance": visit.money(view.balance),
            "held": visit.money(view.balance - view.available)
            if view.available != view.balance
            else None,
            "available": visit.money(view.available),
        }
        for view in wallets.list_wallets(ctx, visit.user.id)
    ]
    return visit.page("app_home.html", {"wallets": shown})


@router.get("/orders", operation_id="orders", response_class=HTMLResponse)
def orders(
    request: Request,
    ctx: ContextDep,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    try:
        page = escrow.list_orders(ctx, visit.user.id, cursor=cursor)
    except DomainError:
        return visit.not_found()
    names = _Names(ctx)
    rows = [
        {
            "id": order.id,
            "amount": _money(order.amount, order.currency),
            "role": N_("You buy from {other}")
            if order.buyer_id == visit.user.id
            else N_("You sell to {other}"),
            "other": names.other_party(visit.user, order),
            "state": visit._(_STATE_WORD[order.state]),
            "created": visit.when(order.created_at),
        }
        for order in page.orders
    ]
    return visit.page("app_orders.html", {"orders": rows, "next_cursor": page.next_cursor})


@router.get("/orders/{order_id}", operation_id="orderPage", response_class=HTMLResponse)
def order_page(request: Request, order_id: OrderId, ctx: ContextDep) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    order = _order_for(visit, order_id)
    if order is None:
        return visit.not_found()
    return _order_page(visit, order)


# --- the money moves ------------------------------------------------------------------------


@router.post("/orders/{order_id}/fund", operation_id="fundEscrowOrder", response_class=HTMLResponse)
def fund(
    request: Request, order_id: OrderId, ctx: ContextDep, pin: PinField = "",
    form_key: KeyField = "",
) -> Response:  # fmt: skip
    checked = _checked(request, ctx, order_id, "fund", form_key)
    if not isinstance(checked, tuple):
        return checked
    visit, order = checked
    funded = with_pin(visit, pin, form_key, lambda key: escrow.fund(
        ctx, buyer_id=visit.user.id, order_id=order.id, idempotency_key=key,
    ))  # fmt: skip
    if isinstance(funded, Refusal):
        return _refused(visit, order_id, funded, "fund")
    try:
        code: DeliveryCode | None = escrow.delivery_code(
            ctx, buyer_id=visit.user.id, order_id=order.id
        )
    except DomainError:
        code = None  # a replayed form for an order that has moved on: its code is spent
    return visit.page(
        "app_done.html",
        {
            "heading": visit._("Paid into escrow"),
            "order_id": funded.id,
            "amount": _money(funded.amount, funded.currency),
            "lines": [
                visit._("Held for {seller} until you have the goods.").format(
                    seller=_Names(ctx).seller(funded)
                )
            ],
            "code": code,
        },
    )


@router.post("/orders/{order_id}/code", operation_id="showCode", response_class=HTMLResponse)
def show_code(
    request: Request, order_id: OrderId, ctx: ContextDep, pin: PinField = "",
    form_key: KeyField = "",
) -> Response:  # fmt: skip
    checked = _checked(request, ctx, order_id, "show_code", form_key)
    if not isinstance(checked, tuple):
        return checked
    visit, order = checked
    code = with_pin(visit, pin, form_key, lambda _key: escrow.delivery_code(
        ctx, buyer_id=visit.user.id, order_id=order.id,
    ))  # fmt: skip
    if isinstance(code, Refusal):
        return _refused(visit, order_id, code, "show_code")
    return _order_page(visit, order, code=code)


@router.post("/orders/{order_id}/confirm", operation_id="confirm", response_class=HTMLResponse)
def confirm(
    request: Request, order_id: OrderId, ctx: ContextDep, pin: PinField = "",
    form_key: KeyField = "",
) -> Response:  # fmt: skip
    checked = _checked(request, ctx, order_id, "confirm", form_key)
    if not isinstance(checked, tuple):
        return checked
    visit, order = checked
    released = with_pin(visit, pin, form_key, lambda key: escrow.confirm_receipt(
        ctx, buyer_id=visit.user.id, order_id=order.id, idempotency_key=key,
    ))  # fmt: skip
    if isinstance(released, Refusal):
        return _refused(visit, order_id, released, "confirm")
    return visit.page(
        "app_done.html",
        {
            "heading": visit._("Released"),
            "order_id": released.id,
            "amount": _money(released.released, released.currency),
            "lines": [
                visit._("Paid to {seller}. Thank you for confirming.").format(
                    seller=_Names(ctx).seller(released)
                )
            ],
            "code": None,
        },
    )


@router.post(
    "/orders/{order_id}/delivery-code", operation_id="enterCode", response_class=HTMLResponse
)
def enter_code(
    request: Request,
    order_id: OrderId,
    *,
    ctx: ContextDep,
    code: Annotated[str, Form(max_length=16)] = "",
    pin: PinField = "",
    form_key: KeyField = "",
) -> Response:
    checked = _checked(request, ctx, order_id, "enter_code", form_key)
    if not isinstance(checked, tuple):
        return checked
    visit, order = checked
    released = with_pin(visit, pin, form_key, lambda key: escrow.enter_delivery_code(
        ctx, order_id=order.id, code=code.strip(), seller_id=visit.user.id, idempotency_key=key,
    ))  # fmt: skip
    if isinstance(released, Refusal):
        return _refused(visit, order_id, released, "enter_code")
    paid = _money(released.released - released.fee, released.currency)
    return visit.page(
        "app_done.html",
        {
            "heading": visit._("Released"),
            "order_id": released.id,
            "amount": paid,
            "lines": [
                visit._(
                    "Paid into your wallet for order {number}: {amount} less a fee of {fee}."
                ).format(
                    number=released.id[-8:],
                    amount=_money(released.released, released.currency),
                    fee=_money(released.fee, released.currency),
                )
            ],
            "code": None,
        },
    )


#: What a buyer may say went wrong (consumer_dispute.html offers them), as escrow stores it.
DISPUTE_REASONS = frozenset({"not_received", "not_as_described", "damaged", "other"})
FROZEN = N_("The money stays frozen until Soko has heard you and the seller, and settles it.")


@router.post("/orders/{order_id}/dispute", operation_id="openDispute", response_class=HTMLResponse)
def open_dispute(
    request: Request,
    order_id: OrderId,
    *,
    ctx: ContextDep,
    reason: Annotated[str, Form(max_length=32)] = "",
    message: Annotated[str, Form(max_length=4 * limits.DISPUTE_TEXT_LENGTH_MAX)] = "",
    pin: PinField = "",
    form_key: KeyField = "",
) -> Response:
    """The buyer disputes before release: the money stays frozen until the operator settles."""
    checked = _checked(request, ctx, order_id, "dispute", form_key)
    if not isinstance(checked, tuple):
        return checked
    visit, order = checked
    disputed = with_pin(visit, pin, form_key, lambda key: escrow.dispute(
        ctx, buyer_id=visit.user.id, order_id=order.id,
        reason=reason if reason in DISPUTE_REASONS else "other", message=message.strip(),
        idempotency_key=key,
    ))  # fmt: skip
    if isinstance(disputed, Refusal):
        return _refused(visit, order_id, disputed, "dispute")
    return visit.page(
        "app_done.html",
        {
            "heading": visit._(N_("Dispute opened")),
            "order_id": disputed.id,
            "amount": _money(disputed.amount, disputed.currency),
            "lines": [visit._(FROZEN)],
            "code": None,
        },
    )


# --- the pieces -----------------------------------------------------------------------------


def _checked(
    request: Request, ctx: Context, order_id: str, form: str, form_key: str
) -> tuple[Visit, EscrowOrder] | Response:
    """The visit and the order, once the session, the order and the form's key check out."""
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    order = _order_for(visit, order_id)
    if order is None:
        return visit.not_found()
    if not visit.check_key(_purpose(form, order.id), form_key):
        return _order_page(visit, order, error=STALE_FORM, error_form=form, status=403)
    return visit, order


def _purpose(form: str, order_id: str) -> str:
    return f"{form}:{order_id}"


def _order_for(visit: Visit, order_id: str) -> EscrowOrder | None:
    """The order if the visitor buys or sells it; anyone else's reads as no order."""
    try:
        order = escrow.get_order(visit.ctx, order_id)
    except EscrowNotFound:
        return None
    return order if visit.user.id in (order.buyer_id, order.seller_id) else None


def _refused(visit: Visit, order_id: str, refused: Refusal, form: str) -> Response:
    order = _order_for(visit, order_id)
    if order is None:
        return visit.not_found()
    if isinstance(refused.error, EscrowNotFound):
        # A party to the order, but not the one this step is for.
        return _order_page(visit, order, error=visit._("This step is not yours to take."),
                           error_form=form, status=404)  # fmt: skip
    return _order_page(visit, order, error=refused.sentence, error_form=form,
                       status=refused.status)  # fmt: skip


def _order_page(
    visit: Visit,
    order: EscrowOrder,
    *,
    code: DeliveryCode | None = None,
    error: str | None = None,
    error_form: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    if error == STALE_FORM:
        error = visit._(STALE_FORM)
    ctx = visit.ctx
    buyer = order.buyer_id == visit.user.id
    can = {
        "fund": buyer and (order.state, A.FUND) in TRANSITIONS,
        "show_code": buyer and (order.state, A.ENTER_DELIVERY_CODE) in TRANSITIONS,
        "confirm": buyer and (order.state, A.CONFIRM_RECEIPT) in TRANSITIONS,
        "enter_code": not buyer and (order.state, A.ENTER_DELIVERY_CODE) in TRANSITIONS,
        "dispute": buyer and (order.state, A.DISPUTE) in TRANSITIONS,
    }
    deadlines = [
        (N_("Ship by"), order.deadlines.ship_by),
        (N_("Deliver by"), order.deadlines.deliver_by),
    ]
    if order.deadlines.inspection_ends is not None:
        deadlines.append((N_("Inspection ends"), order.deadlines.inspection_ends))
    settled = []
    if order.released:
        settled.append((N_("Released to the seller"), _money(order.released, order.currency)))
        if not buyer:
            settled.append((N_("Fee"), _money(order.fee, order.currency)))
    if order.refunded:
        settled.append((N_("Refunded to the buyer"), _money(order.refunded, order.currency)))
    context = {
        "order_id": order.id,
        "amount": _money(order.amount, order.currency),
        "items": order.items,
        "description": order.description,
        "role": "buyer" if buyer else "seller",
        "other_label": N_("Seller") if buyer else N_("Buyer"),
        "other": _Names(ctx).other_party(visit.user, order),
        "state": visit._(_STATE_WORD[order.state]),
        "state_text": visit._(_STATE_TEXT[order.state][0 if buyer else 1]).format(
            ship_by=visit.when(order.deadlines.ship_by)
        ),
        "deadlines": [(label, visit.when(at)) for label, at in deadlines]
        if order.state not in (S.RELEASED, S.REFUNDED, S.RESOLVED, S.CANCELLED)
        else [],
        "settled": settled,
        "can": can,
        "keys": {form: visit.key(_purpose(form, order.id)) for form, shown in can.items() if shown},
        "code": code,
        "error": error,
        "error_form": error_form,
    }
    return visit.page("app_order.html", context, status)


class _Names:
    """Who is on the other side of an order, read once per page."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._seen: dict[str, str] = {}

    def seller(self, order: EscrowOrder) -> str:
        if order.seller_id not in self._seen:
            merchant = users.get_merchant(self._ctx, order.seller_id)
            self._seen[order.seller_id] = merchant.trading_name
        return self._seen[order.seller_id]

    def other_party(self, me: User, order: EscrowOrder) -> str:
        if order.buyer_id == me.id:
            return self.seller(order)
        if order.buyer_id not in self._seen:
            buyer = users.get_user(self._ctx, order.buyer_id)
            self._seen[order.buyer_id] = f"{buyer.name} ({buyer.phone})"
        return self._seen[order.buyer_id]


def _status(refused: DomainError) -> int:
    return status_for(refused)


def _money(amount_minor: int, currency: str) -> str:
    return money_text(amount_minor, currency)
