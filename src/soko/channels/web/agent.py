"""The agent's pages of the web app (/app/agent): float, commissions, today's cash-ins and
cash-outs, and the two counter forms, cash-in and cash-out.

Only an agent sees them: to anyone else every /app/agent page is 404 "not found", as a page
that does not exist. Each counter form has two steps. The agent types the customer's number
and the amount; the next page shows the customer's name (the agent checks it against the
customer's ID) and the amounts, and takes a PIN. Its key is drawn for exactly that customer,
amount and currency, and is the idempotency key of the money move: the same confirmation
sent twice moves money once, and a confirmation edited to another amount is out of date.

Cash-in (float to the customer's wallet) is approved with the agent's own PIN. A number with
no account is refused on the first step in so many words: `payments.cash_in` refuses it
(`UserNotFound`) rather than holding the money for it as sending money does, because the
customer stands at the counter and can sign up first.

Cash-out (the customer's e-money to the agent's float, the customer paying the fee) is
approved with the CUSTOMER's PIN, typed by the customer on the agent's phone. What a dishonest
agent could do with that form, and what stops it:

- **Guess a customer's PIN.** Every try goes through `users.verify_pin` of the customer
  (inside `payments.cash_out`): wrong ones count towards the customer's lock exactly as on
  USSD or the API, so no more than five PINs are tested before the lock (ADR 0016, 0019).
  Spreading guesses over many customers (four common PINs each, never locking anyone) is
  bounded as well: the form passes `pin_typed_at_agent`, and wrong tries are then also counted
  against the agent (`agent_subject`) in ADR 0019's per-address windows, at most
  `limits.PIN_TRIES_PER_ADDRESS_MAX` per 15 minutes whatever the customers, whatever the
  agent's address; a right PIN gives its try back, so a busy counter is not slowed by its
  honest customers.
- **Lock a customer out.** Five wrong tries lock the customer's PIN, as anywhere, but a lock
  times out on its own (15 minutes, then an hour, then a day: ADR 0019) and needs no call to
  the operator; with the agent's window, one agent cannot keep many people locked, and the
  agent is a signed-in, named party whose every try is recorded. A lock ends the customer's
  own sessions, never the agent's.
- **Take more than the customer agreed to.** The customer types the PIN on a page that shows
  the amount, the fee and their own name; the key of that page is bound to those, so an
  edited amount is refused as out of date, and the money can only go to this agent's float.
  The customer gets the usual SMS with the amount, the fee and the new balance.
- **Keep or replay the PIN.** The field is a password field, never filled in by the server,
  `autocomplete="off"`; after a refusal the page is drawn again with the field empty; every
  page is `Cache-Control: no-store`. A replay of a completed cash-out needs the PIN again
  (`cash_out` checks it before its idempotent replay) and moves nothing new.
- **Learn who has an account.** The first step says whether a number is on Soko and shows the
  name: an agent must know whom it pays, as at M-Pesa's counters. Agents are contracted and
  signed in; the same is not shown to anyone else.

What is left: the PIN is typed on a device the agent controls, so an agent with a doctored
phone could record it. The customer's own USSD withdrawal (the customer dials, names the agent
and types the PIN on their own phone) does not have that weakness, and the docs say to prefer
it (docs/web.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from soko.channels.api.deps import ContextDep
from soko.channels.web import forms, session
from soko.channels.web.messages import sentence_for, status_for
from soko.channels.web.money_forms import Refusal, read_amount, run, with_pin
from soko.channels.web.visit import (
    STALE_FORM,
    AmountField,
    KeyField,
    PhoneField,
    PinField,
    Visit,
    amount_from_text,
    visit_or_redirect,
)
from soko.kernel.errors import DomainError
from soko.kernel.i18n import N_
from soko.kernel.money import Currency, Money
from soko.ledger.errors import ExceedsCredits
from soko.payments import service as payments
from soko.payments.domain import Payment, PaymentKind
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import HOME_CURRENCY, User
from soko.people.errors import (
    ExceedsBalanceLimit,
    ExceedsDailyLimit,
    ExceedsMonthlyLimit,
    ExceedsTransactionLimit,
    PinBusy,
    PinIncorrect,
    PinLocked,
    PinNotSet,
    PinTriesExceeded,
    RecipientIsSender,
    UserNotFound,
)

router = APIRouter(
    prefix=session.PATH, include_in_schema=False, dependencies=[Depends(forms.text_only)]
)

PATH: Final = f"{session.PATH}/agent"
#: How many of today's cash-ins and cash-outs the agent's page lists.
ACTIVITY_SHOWN: Final = 50

CurrencyField = Annotated[str, Form(max_length=3)]

NO_SUCH_PAGE: Final = N_("There is no such page.")
NOT_ON_SOKO: Final = N_(
    "{phone} is not on Soko. Check the number, or ask the customer to sign up first."
)
NOT_YOURSELF: Final = N_("You cannot cash in or out for yourself.")
CURRENCY_UNKNOWN: Final = N_("Choose one of your float's currencies.")
FLOAT_SHORT: Final = N_("Your float is too low for this cash-in.")
CUSTOMER_SHORT: Final = N_(
    "The customer's wallet does not hold enough for this amount and the fee."
)
CUSTOMER_FULL: Final = N_("This would take the customer's wallet over its limit.")
CUSTOMER_LIMIT: Final = N_("This would pass the customer's spending limit.")
AGENT_PIN_WRONG: Final = N_("Wrong PIN. Tries left before it locks: {tries}.")
AGENT_PIN_LOCKED: Final = N_(
    "Your PIN is locked after too many wrong tries. It opens again at {time}."
)
CUSTOMER_PIN_WRONG: Final = N_(
    "That is not the customer's PIN. Tries left before it locks: {tries}."
)
CUSTOMER_PIN_LOCKED: Final = N_(
    "The customer's PIN is locked after too many wrong tries. It opens again at {time}."
)
CUSTOMER_PIN_BUSY: Final = N_("The customer's PIN is being checked already. Try again in a moment.")
CUSTOMER_NO_PIN: Final = N_("The customer has no PIN yet, so cannot approve a cash-out.")
TRIES_FROM_HERE: Final = N_("Too many wrong PINs were typed on this phone. Try again after {time}.")

CASH_IN: Final = "cash-in"
CASH_OUT: Final = "cash-out"


# --- the agent's page -----------------------------------------------------------------------


@router.get("/agent", operation_id="agentHome", response_class=HTMLResponse)
def agent_home(request: Request, ctx: ContextDep) -> Response:
    visit = _agent_visit(request, ctx)
    if isinstance(visit, Response):
        return visit
    today = payments.start_of_day(ctx)
    month = today.replace(day=1)
    floats = []
    for view in wallets.list_wallets(ctx, visit.user.id):
        currency = Currency.of(view.wallet.currency)
        floats.append(
            {
                "currency": currency.code,
                "balance": visit.money(view.balance),
                "today": visit.money(
                    payments.commissions_since(ctx, visit.user.id, currency, today)
                ),
                "month": visit.money(
                    payments.commissions_since(ctx, visit.user.id, currency, month)
                ),
            }
        )
    activity = [
        {
            "id": done.payment.id,
            "kind": done.payment.kind,
            "label": visit._("Cash-in")
            if done.payment.kind is PaymentKind.CASH_IN
            else visit._("Cash-out"),
            "customer": done.customer_name,
            "phone": done.customer_phone,
            "amount": visit.money(done.payment.amount, done.payment.currency),
            "commission": visit.money(done.payment.commission, done.payment.currency),
            "at": visit.when(done.payment.created_at),
        }
        for done in payments.agent_activity(ctx, visit.user.id, today, ACTIVITY_SHOWN)
    ]
    return visit.page("agent_home.html", {"floats": floats, "activity": activity})


# --- cash-in ----------------------------------------------------------------------------------


@router.get("/agent/cash-in", operation_id="agentCashInPage", response_class=HTMLResponse)
def cash_in_page(request: Request, ctx: ContextDep) -> Response:
    visit = _agent_visit(request, ctx)
    if isinstance(visit, Response):
        return visit
    return _details_form(visit, CASH_IN)


@router.post("/agent/cash-in", operation_id="agentCashInDetails", response_class=HTMLResponse)
def cash_in_details(
    request: Request,
    *,
    ctx: ContextDep,
    phone: PhoneField = "",
    amount: AmountField = "",
    currency: CurrencyField = "",
    form_key: KeyField = "",
) -> Response:
    return _details(request, ctx, CASH_IN, phone=phone, amount_text=amount,
                    currency_code=currency, form_key=form_key)  # fmt: skip


@router.post("/agent/cash-in/confirm", operation_id="agentCashIn", response_class=HTMLResponse)
def cash_in(
    request: Request,
    *,
    ctx: ContextDep,
    phone: PhoneField = "",
    amount: AmountField = "",
    currency: CurrencyField = "",
    pin: PinField = "",
    form_key: KeyField = "",
) -> Response:
    checked = _confirmed(request, ctx, CASH_IN, phone=phone, amount_text=amount,
                         currency_code=currency, form_key=form_key)  # fmt: skip
    if not isinstance(checked, _Deal):
        return checked
    visit, deal = checked.visit, checked
    paid = with_pin(visit, pin, form_key, lambda key: payments.cash_in(
        ctx, agent_id=visit.user.id, customer_phone=deal.customer.phone, amount=deal.amount,
        idempotency_key=key,
    ), say=lambda refused: _sentence(visit, CASH_IN, refused))  # fmt: skip
    if isinstance(paid, Refusal):
        return _confirm_page(deal, form_key, error=paid.sentence, status=paid.status)
    return _done(visit, CASH_IN, deal, paid)


# --- cash-out ---------------------------------------------------------------------------------


@router.get("/agent/cash-out", operation_id="agentCashOutPage", response_class=HTMLResponse)
def cash_out_page(request: Request, ctx: ContextDep) -> Response:
    visit = _agent_visit(request, ctx)
    if isinstance(visit, Response):
        return visit
    return _details_form(visit, CASH_OUT)


@router.post("/agent/cash-out", operation_id="agentCashOutDetails", response_class=HTMLResponse)
def cash_out_details(
    request: Request,
    *,
    ctx: ContextDep,
    phone: PhoneField = "",
    amount: AmountField = "",
    currency: CurrencyField = "",
    form_key: KeyField = "",
) -> Response:
    return _details(request, ctx, CASH_OUT, phone=phone, amount_text=amount,
                    currency_code=currency, form_key=form_key)  # fmt: skip


@router.post("/agent/cash-out/confirm", operation_id="agentCashOut", response_class=HTMLResponse)
def cash_out(
    request: Request,
    *,
    ctx: ContextDep,
    phone: PhoneField = "",
    amount: AmountField = "",
    currency: CurrencyField = "",
    customer_pin: PinField = "",
    form_key: KeyField = "",
) -> Response:
    checked = _confirmed(request, ctx, CASH_OUT, phone=phone, amount_text=amount,
                         currency_code=currency, form_key=form_key)  # fmt: skip
    if not isinstance(checked, _Deal):
        return checked
    visit, deal = checked.visit, checked
    # The customer's PIN is checked by `cash_out` itself (and counted against this agent too),
    # before it says whether the customer's wallet is short.
    paid = run(visit, lambda: payments.cash_out(
        ctx, customer_id=deal.customer.id, agent_id=visit.user.id, amount=deal.amount,
        pin=customer_pin, idempotency_key=session.idempotency_key(form_key),
        pin_typed_at_agent=True,
    ), say=lambda refused: _sentence(visit, CASH_OUT, refused))  # fmt: skip
    if isinstance(paid, Refusal):
        # Drawn again with the PIN field empty: the customer's PIN never comes back in a page.
        return _confirm_page(deal, form_key, error=paid.sentence, status=paid.status)
    return _done(visit, CASH_OUT, deal, paid)


# --- the pieces -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Deal:
    """A cash-in or cash-out as the agent typed it, its customer found."""

    visit: Visit
    form: str
    customer: User
    amount: Money


def _agent_visit(request: Request, ctx: ContextDep) -> Visit | Response:
    """The visit of a signed-in agent; anyone else is told there is no such page."""
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    if not visit.is_agent:
        return visit.not_found(NO_SUCH_PAGE)
    return visit


def _currencies(visit: Visit) -> list[str]:
    """The agent's float currencies; before any float, its country's currency."""
    held = [view.wallet.currency for view in wallets.list_wallets(visit.ctx, visit.user.id)]
    if held:
        return held
    home = HOME_CURRENCY.get(visit.user.country)
    return [home] if home is not None else list(visit.ctx.kyc_limits)[:1]


def _details_form(
    visit: Visit,
    form: str,
    *,
    phone: str = "",
    amount: str = "",
    currency: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    currencies = _currencies(visit)
    return visit.page(
        "agent_details.html",
        {
            "form": form,
            "action": f"{PATH}/{form}",
            "form_key": visit.key(form),
            "phone": phone,
            "amount": amount,
            "currencies": currencies,
            "currency": currency if currency in currencies else currencies[0],
            "error": error,
        },
        status,
    )


def _details(
    request: Request,
    ctx: ContextDep,
    form: str,
    *,
    phone: str,
    amount_text: str,
    currency_code: str,
    form_key: str,
) -> Response:
    """The first step: the customer and the amount, read and checked; then the confirmation."""
    visit = _agent_visit(request, ctx)
    if isinstance(visit, Response):
        return visit

    def again(error: str, status: int = 422) -> HTMLResponse:
        return _details_form(visit, form, phone=phone, amount=amount_text,
                             currency=currency_code, error=error, status=status)  # fmt: skip

    if not visit.check_key(form, form_key):
        return again(visit._(STALE_FORM), 403)
    if currency_code not in _currencies(visit):
        return again(visit._(CURRENCY_UNKNOWN))
    amount = read_amount(visit, amount_text, Currency.of(currency_code))
    if isinstance(amount, Refusal):
        return again(amount.sentence, amount.status)
    try:
        customer = users.find_by_phone(ctx, phone, default_region=visit.user.country)
        if customer.id == visit.user.id:
            raise RecipientIsSender()
        if form == CASH_OUT:
            payments.cash_out_fee(ctx, amount)  # an amount the tariff cannot price, said now
        else:
            short = _float_short(visit, amount)
            if short is not None:
                raise short
    except DomainError as refused:
        return again(_sentence(visit, form, refused), status_for(refused))
    deal = _Deal(visit, form, customer, amount)
    return _confirm_page(deal, visit.key(_purpose(deal)))


def _float_short(visit: Visit, amount: Money) -> ExceedsCredits | None:
    """Said on the first step already: `cash_in` refuses it anyway."""
    for view in wallets.list_wallets(visit.ctx, visit.user.id):
        if view.wallet.currency == amount.currency.code:
            left = view.available.amount_minor
            return None if left >= amount.amount_minor else ExceedsCredits(available=left)
    return ExceedsCredits(available=0)


def _purpose(deal: _Deal) -> str:
    """The confirmation's key is good for this customer, amount and currency only."""
    amount = deal.amount
    return f"{deal.form}:{deal.customer.id}:{amount.amount_minor}:{amount.currency.code}"


def _confirmed(
    request: Request,
    ctx: ContextDep,
    form: str,
    *,
    phone: str,
    amount_text: str,
    currency_code: str,
    form_key: str,
) -> _Deal | Response:
    """The deal a confirmation was drawn for, once the session and its key check out."""
    visit = _agent_visit(request, ctx)
    if isinstance(visit, Response):
        return visit
    stale = _details_form(visit, form, phone=phone, currency=currency_code,
                          error=visit._(STALE_FORM), status=403)  # fmt: skip
    if currency_code not in _currencies(visit):
        return stale
    amount = amount_from_text(amount_text, Currency.of(currency_code))
    if amount is None:
        return stale
    try:
        customer = users.find_by_phone(ctx, phone, default_region=visit.user.country)
    except DomainError:
        return stale
    deal = _Deal(visit, form, customer, amount)
    if not visit.check_key(_purpose(deal), form_key):
        return stale
    return deal


def _confirm_page(
    deal: _Deal, form_key: str, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    visit, amount = deal.visit, deal.amount
    context: dict[str, Any] = {
        "form": deal.form,
        "action": f"{PATH}/{deal.form}/confirm",
        "back": f"{PATH}/{deal.form}",
        "form_key": form_key,
        "customer": deal.customer.name,
        "phone": deal.customer.phone,
        "amount": visit.money(amount),
        "amount_field": amount.to_decimal_string(),
        "currency": amount.currency.code,
        "error": error,
    }
    if deal.form == CASH_OUT:
        fee = payments.cash_out_fee(visit.ctx, amount)
        context |= {"fee": visit.money(fee), "total": visit.money(amount + fee)}
    return visit.page("agent_confirm.html", context, status)


def _done(visit: Visit, form: str, deal: _Deal, paid: Payment) -> HTMLResponse:
    return visit.page(
        "agent_done.html",
        {
            "form": form,
            "payment_id": paid.id,
            "customer": deal.customer.name,
            "phone": deal.customer.phone,
            "amount": visit.money(paid.amount, paid.currency),
            "fee": visit.money(paid.fee, paid.currency),
            "commission": visit.money(paid.commission, paid.currency),
            "again": f"{PATH}/{form}",
        },
    )


def _sentence(visit: Visit, form: str, refused: DomainError) -> str:
    """A refusal in the agent's words: whose PIN, whose wallet, whose limit; what is left."""
    facts = refused.context
    retry_after = facts.get("retry_after")
    until = (
        visit.when(visit.ctx.clock.now() + timedelta(seconds=retry_after))
        if isinstance(retry_after, int) and not isinstance(retry_after, bool)
        else ""
    )
    tries = facts.get("tries_left")
    customer_pin = form == CASH_OUT
    text: str | None = None
    match refused:
        case UserNotFound():
            text = visit._(NOT_ON_SOKO).format(phone=facts.get("phone", ""))
        case RecipientIsSender():
            text = visit._(NOT_YOURSELF)
        case PinIncorrect() if isinstance(tries, int):
            wrong = CUSTOMER_PIN_WRONG if customer_pin else AGENT_PIN_WRONG
            text = visit._(wrong).format(tries=tries)
        case PinLocked() if until:
            locked = CUSTOMER_PIN_LOCKED if customer_pin else AGENT_PIN_LOCKED
            text = visit._(locked).format(time=until)
        case PinBusy() if customer_pin:
            text = visit._(CUSTOMER_PIN_BUSY)
        case PinNotSet() if customer_pin:
            text = visit._(CUSTOMER_NO_PIN)
        case PinTriesExceeded() if until:
            text = visit._(TRIES_FROM_HERE).format(time=until)
        case ExceedsCredits() if customer_pin:
            text = visit._(CUSTOMER_SHORT)
        case ExceedsCredits():
            text = visit._(FLOAT_SHORT)
        case ExceedsBalanceLimit():
            text = visit._(CUSTOMER_FULL)
        case ExceedsTransactionLimit() | ExceedsDailyLimit() | ExceedsMonthlyLimit():
            text = visit._(CUSTOMER_LIMIT)
    return text if text is not None else sentence_for(refused, visit._)
