"""The consumer's pages of the web app: the statement, sending money, and paying a till, a
payment request or a pasted QR code.

Each money move is two steps, as M-Pesa's are: a form, then a confirmation that shows who is
paid (their name, or that the number is not on Soko yet), the amount and the fee, and asks for
the PIN. The confirmation's key is drawn for exactly what it shows (the purpose carries the
facts), so changing a hidden field makes the key fail; it is also the idempotency key, so the
same confirmation sent twice moves money once. A refusal is a sentence on the same form and
moves nothing. The statement is the service's (`wallets.statement`, with the balance after each
line); its search reads the pages newest first, a bounded number of lines per request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from soko.channels.api.deps import ContextDep
from soko.channels.web import forms, session
from soko.channels.web.messages import status_for
from soko.channels.web.money_forms import Refusal, read_amount, sentence, with_pin
from soko.channels.web.routes import _HEADERS as HEADERS
from soko.channels.web.visit import (
    STALE_FORM,
    AmountField,
    KeyField,
    PhoneField,
    PinField,
    Visit,
    visit_or_redirect,
)
from soko.kernel import limits
from soko.kernel.errors import CursorInvalid, DomainError
from soko.kernel.i18n import N_
from soko.kernel.ids import is_id
from soko.kernel.money import Currency, Money
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.payments.domain import Payment, PaymentRequest, PaymentRequestStatus
from soko.payments.errors import (
    MerchantNotFound,
    PaymentRequestAlreadyPaid,
    PaymentRequestCancelled,
    PaymentRequestExpired,
    PaymentRequestNotFound,
)
from soko.payments.qr import service as qr
from soko.payments.qr.domain import read_merchant_qr
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import Merchant, Party, User, check_served, parse_phone
from soko.people.errors import MessageTooLong, RecipientIsSender, UserNotFound

router = APIRouter(
    prefix=session.PATH, include_in_schema=False, dependencies=[Depends(forms.text_only)]
)

#: Lines on one page of the statement.
PAGE_LINES: Final = 20
#: A search reads at most this many lines of the statement per request; "Search older" goes on.
SEARCH_LINES_MAX: Final = 1000
_SEARCH_CHUNK: Final = 100
#: The longest search text, and a QR payload (EMVCo's own maximum is 512 characters).
SEARCH_TEXT_MAX: Final = 100
QR_PAYLOAD_MAX: Final = 512

MessageField = Annotated[str, Form(max_length=4 * limits.MESSAGE_LENGTH_MAX)]
CurrencyField = Annotated[str, Form(max_length=3)]
TillField = Annotated[str, Form(max_length=32)]
PayloadField = Annotated[str, Form(max_length=2 * QR_PAYLOAD_MAX)]

NO_WALLET: Final = N_("You have no {currency} wallet to pay from.")
NO_WALLETS: Final = N_("You have no wallet yet. Cash in at an agent first.")
DATE_UNREADABLE: Final = N_("Type dates like 2026-12-07.")
DATES_REVERSED: Final = N_("The first date is after the last one.")
SEARCH_TOO_LONG: Final = N_("Search for at most 100 characters.")
STATEMENT_MOVED_ON: Final = N_(
    "That page of the statement is out of date: here are the newest lines."
)
TILL_REQUIRED: Final = N_("Type the till number too, or paste the whole link.")
REFERENCE_REQUIRED: Final = N_("Type the reference or paste the link.")
PAYLOAD_REQUIRED: Final = N_("Paste the text of the QR code.")
STATIC_CODE: Final = N_("This code is the till of {name}: type the amount to pay.")

#: What a statement line says, by its code: money out, then money in. `{party}` is who.
_WITH_PARTY: Final[dict[str, tuple[str, str]]] = {
    "p2p": (N_("Sent to {party}"), N_("Received from {party}")),
    "payment": (N_("Paid {party}"), N_("Payment from {party}")),
    "refund": (N_("Refund to {party}"), N_("Refund from {party}")),
}
_WORDS: Final[dict[str, str]] = {
    "p2p": N_("Transfer"), "payment": N_("Payment"), "refund": N_("Refund"), "fee": N_("Fee"),
    "cash_in": N_("Cash deposit"), "cash_out": N_("Cash withdrawal"),
    "commission": N_("Commission"), "float_topup": N_("Float top-up"),
    "escrow_hold": N_("Held in escrow"), "escrow_release": N_("From escrow"),
    "loan_disbursement": N_("Loan"), "loan_repayment": N_("Loan repayment"),
    "loan_fee": N_("Loan fee"), "loan_write_off": N_("Loan written off"),
    "deposit": N_("Deposit"), "withdrawal": N_("Withdrawal"), "payout": N_("Payout"),
    "fx_conversion": N_("Currency exchange"), "correction": N_("Correction"),
    "capital_injection": N_("Capital"),
}  # fmt: skip


# --- the statement --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Search:
    """What the statement is narrowed to: text, and days in the operator's time zone."""

    text: str = ""
    first: date | None = None
    last: date | None = None

    @property
    def narrowed(self) -> bool:
        return bool(self.text) or self.first is not None or self.last is not None


@router.get("/statement", response_class=HTMLResponse)
def statement(
    request: Request,
    *,
    ctx: ContextDep,
    currency: str = "",
    q: str = "",
    start: Annotated[str, Query(alias="from")] = "",
    end: Annotated[str, Query(alias="to")] = "",
    cursor: str = "",
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    views = wallets.list_wallets(ctx, visit.user.id)
    context: dict[str, Any] = {
        "currencies": [view.wallet.currency for view in views],
        "q": q[: SEARCH_TEXT_MAX * 2],
        "start": start[:32],
        "end": end[:32],
        "lines": [],
        "next_link": None,
        "error": None,
        "searched": False,
    }
    if not views:
        return visit.page("consumer_statement.html", context | {"error": visit._(NO_WALLETS)})
    view = next((v for v in views if v.wallet.currency == currency), views[0])
    context |= {"currency": view.wallet.currency, "balance": visit.money(view.balance)}
    search, problem = _search(q, start, end)
    if problem is not None:
        return visit.page(
            "consumer_statement.html", context | {"error": visit._(problem)}, status=422
        )
    try:
        if cursor and not is_id(cursor, "tr"):
            raise CursorInvalid()  # not one of ours: never worth a query
        lines, after = _statement_lines(visit, view.wallet.id, search, cursor or None)
    except CursorInvalid:
        lines, after = _statement_lines(visit, view.wallet.id, search, None)
        context["error"] = visit._(STATEMENT_MOVED_ON)
    next_link = None
    if after is not None:
        query = {"currency": view.wallet.currency, "q": search.text, "from": start, "to": end,
                 "cursor": after}  # fmt: skip
        next_link = "?" + urlencode({name: value for name, value in query.items() if value})
    context |= {"lines": lines, "next_link": next_link, "searched": search.narrowed}
    return visit.page("consumer_statement.html", context)


def _search(text: str, start: str, end: str) -> tuple[Search, str | None]:
    text = " ".join(text.split())
    if len(text) > SEARCH_TEXT_MAX:
        return Search(), SEARCH_TOO_LONG
    try:
        first, last = _day(start), _day(end)
    except ValueError:
        return Search(), DATE_UNREADABLE
    if first is not None and last is not None and first > last:
        return Search(), DATES_REVERSED
    return Search(text, first, last), None


def _day(text: str) -> date | None:
    """A day typed as 2026-12-07 (what a date field sends) or 7/12/2026 (day first, as
    East Africa writes it, where a browser shows a plain text field)."""
    text = text.strip()
    if not text:
        return None
    if len(text) > 10:
        raise ValueError(text)
    if "/" in text:
        day, month, year = (int(part) for part in text.split("/"))
        return date(year, month, day)
    return date.fromisoformat(text)


def _statement_lines(
    visit: Visit, wallet_id: str, search: Search, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of lines, and the cursor of the next (None on the last)."""
    ctx = visit.ctx
    if not search.narrowed:
        page = wallets.statement(ctx, wallet_id, limit=PAGE_LINES, cursor=cursor)
        return [_line(visit, entry) for entry in page.entries], page.next_cursor
    tz = ctx.timezone
    since = None if search.first is None else datetime.combine(search.first, time.min, tz)
    until = None
    if search.last is not None:
        until = datetime.combine(search.last + timedelta(days=1), time.min, tz)
    wanted = search.text.casefold()
    found: list[dict[str, Any]] = []
    read = 0
    while read < SEARCH_LINES_MAX:
        page = wallets.statement(ctx, wallet_id, limit=_SEARCH_CHUNK, cursor=cursor)
        for entry in page.entries:
            read += 1
            cursor = entry.transfer_id
            if since is not None and entry.created_at < since:
                return found, None  # newest first: nothing older can match
            if until is not None and entry.created_at >= until:
                continue
            line = _line(visit, entry)
            if wanted and wanted not in line["haystack"]:
                continue
            found.append(line)
            if len(found) == PAGE_LINES:
                return found, cursor if page.next_cursor or entry is not page.entries[-1] else None
        if page.next_cursor is None:
            return found, None
        cursor = page.next_cursor
    return found, cursor


def _line(visit: Visit, entry: wallets.StatementEntry) -> dict[str, Any]:
    incoming = entry.amount.amount_minor > 0
    party = _party(entry.counterparty)
    if entry.code in _WITH_PARTY and party:
        what = visit._(_WITH_PARTY[entry.code][incoming]).format(party=party)
    else:
        what = visit._(_WORDS.get(entry.code, entry.code.replace("_", " ").capitalize()))
        if party:
            what = f"{what}: {party}"
    searchable = (what, party or "", entry.message or "", entry.reference or "")
    return {
        "when": visit.when(entry.created_at),
        "what": what,
        "message": entry.message,
        "reference": entry.reference,
        "amount": visit.money(entry.amount),
        "incoming": incoming,
        "pending": entry.pending,
        "balance": visit.money(entry.balance_after),
        "haystack": " ".join(searchable).casefold(),
    }


def _party(party: Party | None) -> str | None:
    if party is None:
        return None
    return f"{party.name} ({party.phone})" if party.name else party.phone


# --- sending money --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sending:
    """What a send confirmation shows and its key is drawn for."""

    phone: str
    amount: Money
    message: str

    @property
    def purpose(self) -> str:
        return _purpose("send", self.phone, self.amount.to_decimal_string(),
                        self.amount.currency.code, self.message)  # fmt: skip


@router.get("/send", response_class=HTMLResponse)
def send_page(
    request: Request, ctx: ContextDep, phone: str = "", amount: str = "", currency: str = ""
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    return _send_form(visit, phone=phone[:32], amount=amount[:32], currency=currency[:3])


@router.post("/send", response_class=HTMLResponse)
def send_review(
    request: Request,
    *,
    ctx: ContextDep,
    phone: PhoneField = "",
    amount: AmountField = "",
    currency: CurrencyField = "",
    message: MessageField = "",
    form_key: KeyField = "",
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    typed = {"phone": phone, "amount": amount, "currency": currency, "message": message}
    if not visit.check_key("send", form_key):
        return _send_form(visit, **typed, error=visit._(STALE_FORM), status=403)
    wallet = _wallet_in(visit, currency)
    if wallet is None:
        return _send_form(visit, **typed, error=_no_wallet(visit, currency), status=422)
    money = read_amount(visit, amount, Currency.of(wallet.wallet.currency))
    if isinstance(money, Refusal):
        return _send_form(visit, **typed, error=money.sentence, status=money.status)
    try:
        to = parse_phone(phone.strip(), visit.user.country)
        check_served(to, ctx.countries)
        if to == visit.user.phone:
            raise RecipientIsSender()
        if len(message.strip()) > limits.MESSAGE_LENGTH_MAX:
            raise MessageTooLong()
        sending = Sending(to, money, message.strip())
        return _send_confirm(visit, sending)
    except DomainError as refused:
        return _send_form(visit, **typed, error=sentence(visit, refused),
                          status=status_for(refused))  # fmt: skip


@router.post("/send/confirm", response_class=HTMLResponse)
def send_confirm(
    request: Request,
    *,
    ctx: ContextDep,
    phone: PhoneField = "",
    amount: AmountField = "",
    currency: CurrencyField = "",
    message: MessageField = "",
    pin: PinField = "",
    form_key: KeyField = "",
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    sending = _sending(phone, amount, currency, message)
    if sending is None or not visit.check_key(sending.purpose, form_key):
        return _send_form(visit, phone=phone, amount=amount, currency=currency, message=message,
                          error=visit._(STALE_FORM), status=403)  # fmt: skip
    sent = with_pin(visit, pin, form_key, lambda key: payments.send_money(
        ctx, sender_id=visit.user.id, amount=sending.amount, to_phone=sending.phone,
        message=sending.message or None, idempotency_key=key,
    ))  # fmt: skip
    if isinstance(sent, Refusal):
        return _send_confirm(visit, sending, error=sent.sentence, status=sent.status)
    recipient = _user_by_phone(visit, sending.phone)
    held = sent.payee_wallet_id is None
    lines = [
        visit._("To {name}").format(name=_person(recipient, sending.phone)),
        visit._("Fee: {fee}").format(fee=visit.money(sent.fee, sent.currency)),
    ]
    if held:
        days = max(1, ctx.unclaimed_transfer_seconds // 86_400)
        lines.append(
            visit._(
                "{phone} is not on Soko yet. We sent them an SMS: the money waits for them for "
                "{days} days, and comes back to you, fee included, if they do not join."
            ).format(phone=sending.phone, days=days)
        )
    return _done(visit, sent, visit._("Held for them") if held else visit._("Sent"), lines)


def _sending(phone: str, amount: str, currency: str, message: str) -> Sending | None:
    """The facts a confirmation carries back, or None if they are not what a page drew."""
    try:
        return Sending(phone, Money.parse(amount, currency), message)
    except (DomainError, ValueError):
        return None


def _send_form(
    visit: Visit,
    *,
    phone: str = "",
    amount: str = "",
    currency: str = "",
    message: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    views = wallets.list_wallets(visit.ctx, visit.user.id)
    currencies = [view.wallet.currency for view in views]
    context = {
        "form_key": visit.key("send"),
        "phone": phone,
        "amount": amount,
        "currencies": currencies,
        "currency": currency if currency in currencies else (currencies or [""])[0],
        "message": message,
        "message_max": limits.MESSAGE_LENGTH_MAX,
        "balances": [(v.wallet.currency, visit.money(v.available)) for v in views],
        "error": error if error is not None else (None if views else visit._(NO_WALLETS)),
    }
    return visit.page("consumer_send.html", context, status)


def _send_confirm(
    visit: Visit, sending: Sending, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    recipient = _user_by_phone(visit, sending.phone)
    fee = payments.p2p_fee(visit.ctx, sending.amount)
    context = {
        "form_key": visit.key(sending.purpose),
        "phone": sending.phone,
        "amount_text": sending.amount.to_decimal_string(),
        "currency": sending.amount.currency.code,
        "message": sending.message,
        "name": None if recipient is None else recipient.name,
        "amount": visit.money(sending.amount),
        "fee": visit.money(fee),
        "total": visit.money(sending.amount + fee),
        "error": error,
    }
    return visit.page("consumer_send_confirm.html", context, status)


def _user_by_phone(visit: Visit, phone: str) -> User | None:
    try:
        return users.find_by_phone(visit.ctx, phone)
    except UserNotFound:
        return None


def _person(user: User | None, phone: str) -> str:
    return phone if user is None else f"{user.name} ({phone})"


# --- paying ---------------------------------------------------------------------------------

#: The camera scanner of the pay page (a progressive enhancement: the page works without it).
SCAN_SCRIPT: Final = (Path(__file__).parent / "static" / "consumer_scan.js").read_bytes()
#: The pay page's policy: every page's, and this one same-origin script.
SCAN_POLICY: Final = HEADERS["Content-Security-Policy"].replace(
    "default-src 'none';", "default-src 'none'; script-src 'self';", 1
)
assert "script-src 'self'" in SCAN_POLICY, SCAN_POLICY


@router.get("/scan.js")
def scan_script(request: Request, ctx: ContextDep) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    return Response(SCAN_SCRIPT, media_type="text/javascript; charset=utf-8", headers={
        "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Paying:
    """A payment to confirm: where its form posts, what it carries back, what the key is for."""

    merchant: Merchant
    amount: Money
    action: str
    purpose: str
    hidden: dict[str, str]
    reference: str | None = None
    description: str | None = None


@router.get("/pay", response_class=HTMLResponse)
def pay_page(request: Request, ctx: ContextDep) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    return _pay_forms(visit)


@router.post("/pay/till", response_class=HTMLResponse)
def pay_till_review(
    request: Request,
    *,
    ctx: ContextDep,
    till: TillField = "",
    amount: AmountField = "",
    form_key: KeyField = "",
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    till = till.strip()
    typed = {"till": till, "amount": amount, "error_form": "till"}
    if not visit.check_key("pay-till", form_key):
        return _pay_forms(visit, **typed, error=visit._(STALE_FORM), status=403)
    try:
        merchant = users.find_by_till(ctx, till)
    except DomainError as refused:
        return _pay_forms(visit, **typed, error=sentence(visit, refused),
                          status=status_for(refused))  # fmt: skip
    checked = _payable(visit, merchant, merchant.settlement_currency, amount)
    if isinstance(checked, str):
        return _pay_forms(visit, **typed, error=checked, status=422)
    return _pay_confirm(visit, _till_paying(merchant, checked))


@router.post("/pay/till/confirm", response_class=HTMLResponse)
def pay_till(
    request: Request,
    *,
    ctx: ContextDep,
    till: TillField = "",
    amount: AmountField = "",
    currency: CurrencyField = "",
    pin: PinField = "",
    form_key: KeyField = "",
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    typed = {"till": till, "amount": amount, "error_form": "till"}
    try:
        money = Money.parse(amount, currency)
    except (DomainError, ValueError):
        money = None
    if money is None or not visit.check_key(_purpose("till", till, amount, currency), form_key):
        return _pay_forms(visit, **typed, error=visit._(STALE_FORM), status=403)
    try:
        merchant = users.find_by_till(ctx, till)
    except DomainError as refused:
        return _pay_forms(visit, **typed, error=sentence(visit, refused), status=422)
    paid = with_pin(visit, pin, form_key, lambda key: payments.pay_merchant(
        ctx, payer_id=visit.user.id, till_number=till, amount=money, idempotency_key=key,
    ))  # fmt: skip
    if isinstance(paid, Refusal):
        return _pay_confirm(visit, _till_paying(merchant, money), error=paid.sentence,
                            status=paid.status)  # fmt: skip
    return _done(visit, paid, visit._("Paid"), [_to_shop(visit, merchant)])


def _till_paying(merchant: Merchant, amount: Money) -> Paying:
    till, text, code = merchant.till_number, amount.to_decimal_string(), amount.currency.code
    return Paying(merchant, amount, "/app/pay/till/confirm", _purpose("till", till, text, code),
                  {"till": till, "amount": text, "currency": code})  # fmt: skip


@router.get("/pay/request", response_class=HTMLResponse)
def pay_request_review(
    request: Request, ctx: ContextDep, ref: str = "", till: str = ""
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    ref, till = ref.strip()[:256], till.strip()[:32]
    typed = {"ref": ref, "request_till": till, "error_form": "request"}
    try:
        found = _request_for(visit, ref, till)
    except DomainError as refused:
        return _pay_forms(visit, **typed, error=sentence(visit, refused),
                          status=status_for(refused))  # fmt: skip
    except ValueError as missing:
        return _pay_forms(visit, **typed, error=visit._(str(missing)), status=422)
    return _request_confirm(visit, found, typed)


@router.post("/pay/request/confirm", response_class=HTMLResponse)
def pay_request(
    request: Request,
    *,
    ctx: ContextDep,
    request_id: Annotated[str, Form(max_length=64)] = "",
    pin: PinField = "",
    form_key: KeyField = "",
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    typed = {"ref": request_id, "error_form": "request"}
    if not visit.check_key(_purpose("request", request_id), form_key):
        return _pay_forms(visit, **typed, error=visit._(STALE_FORM), status=403)
    try:
        found = payment_requests.get_request(ctx, request_id)
    except DomainError as refused:
        return _pay_forms(visit, **typed, error=sentence(visit, refused), status=422)
    asked = Money(found.amount, Currency.of(found.currency))
    paid = with_pin(visit, pin, form_key, lambda key: payment_requests.pay_request(
        ctx, payer_id=visit.user.id, request_id=found.id, amount=asked, idempotency_key=key,
    ))  # fmt: skip
    if isinstance(paid, Refusal):
        return _request_confirm(visit, found, typed, error=paid.sentence, status=paid.status)
    merchant = users.get_merchant(ctx, found.merchant_id)
    reference = visit._("Reference: {reference}").format(reference=found.reference)
    return _done(visit, paid, visit._("Paid"), [_to_shop(visit, merchant), reference])


@router.post("/pay/qr", response_class=HTMLResponse)
def pay_qr_review(
    request: Request, *, ctx: ContextDep, payload: PayloadField = "", form_key: KeyField = ""
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    payload = payload.strip()
    typed = {"payload": payload, "error_form": "qr"}
    if not visit.check_key("pay-qr", form_key):
        return _pay_forms(visit, **typed, error=visit._(STALE_FORM), status=403)
    try:
        paying = _qr_paying(visit, payload) if payload else visit._(PAYLOAD_REQUIRED)
    except DomainError as refused:
        return _pay_forms(visit, **typed, error=sentence(visit, refused),
                          status=status_for(refused))  # fmt: skip
    if isinstance(paying, Merchant):
        # A static code is the till itself: the payer types the amount, as at the counter.
        notice = visit._(STATIC_CODE).format(name=paying.trading_name)
        return _pay_forms(visit, till=paying.till_number, notice=notice)
    if isinstance(paying, str):
        return _pay_forms(visit, **typed, error=paying, status=422)
    return _pay_confirm(visit, paying)


@router.post("/pay/qr/confirm", response_class=HTMLResponse)
def pay_qr(
    request: Request,
    *,
    ctx: ContextDep,
    payload: PayloadField = "",
    pin: PinField = "",
    form_key: KeyField = "",
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    typed = {"payload": payload, "error_form": "qr"}
    if not visit.check_key(_qr_purpose(payload), form_key):
        return _pay_forms(visit, **typed, error=visit._(STALE_FORM), status=403)
    try:
        # Read again as when the key was drawn: the shop or its request may have changed since.
        paying = _qr_paying(visit, payload)
    except DomainError as refused:
        return _pay_forms(visit, **typed, error=sentence(visit, refused),
                          status=status_for(refused))  # fmt: skip
    if not isinstance(paying, Paying):
        return _pay_forms(visit, **typed, error=visit._(STALE_FORM), status=403)
    paid = with_pin(visit, pin, form_key, lambda key: qr.pay_code(
        ctx, payer_id=visit.user.id, payload=payload, amount=paying.amount, idempotency_key=key,
    ))  # fmt: skip
    if isinstance(paid, Refusal):
        return _pay_confirm(visit, paying, error=paid.sentence, status=paid.status)
    lines = [_to_shop(visit, paying.merchant)]
    if paying.reference:
        lines.append(visit._("Reference: {reference}").format(reference=paying.reference))
    return _done(visit, paid, visit._("Paid"), lines)


def _qr_paying(visit: Visit, payload: str) -> Paying | Merchant | str:
    """What a pasted code asks: a payment to confirm, the merchant of a static code (no amount:
    the till form asks it), or the sentence that refuses it before any PIN."""
    ctx = visit.ctx
    scanned = read_merchant_qr(payload, guid=ctx.qr_guid).merchant
    merchant = users.find_by_till(ctx, scanned.merchant_id)
    description = None
    if scanned.request_id is not None:
        found = payment_requests.get_request(ctx, scanned.request_id)
        _check_open(visit, found)
        description = found.description
    if scanned.amount is None:
        return merchant
    checked = _payable(visit, merchant, scanned.currency.code, scanned.amount.to_decimal_string())
    if isinstance(checked, str):
        return checked
    return Paying(merchant, checked, "/app/pay/qr/confirm", _qr_purpose(payload),
                  {"payload": payload}, scanned.reference, description)  # fmt: skip


def _qr_purpose(payload: str) -> str:
    return _purpose("qr", hashlib.sha256(payload.encode()).hexdigest())


def _request_for(visit: Visit, ref: str, till: str) -> PaymentRequest:
    """The request a pasted link (`…/pay/prq_…`), a request id, or a till and reference name.
    ValueError carries what is missing."""
    if not ref:
        raise ValueError(REFERENCE_REQUIRED)
    wanted = ref.split("/pay/", 1)[1] if "/pay/" in ref else ref
    wanted = wanted.split("?", 1)[0].split("#", 1)[0].strip("/ ")
    if is_id(wanted, "prq"):
        found = payment_requests.get_request(visit.ctx, wanted)
    elif "/pay/" in ref:
        raise PaymentRequestNotFound()
    elif not till:
        raise ValueError(TILL_REQUIRED)
    elif not till.isascii() or not till.isdigit():
        raise MerchantNotFound(till_number=till)  # a till is digits: anything else is no till
    else:
        found = payment_requests.find_request(visit.ctx, till_number=till, reference=ref)
    _check_open(visit, found)
    return found


def _check_open(visit: Visit, found: PaymentRequest) -> None:
    match found.status_at(visit.ctx.clock.now()):
        case PaymentRequestStatus.PAID:
            raise PaymentRequestAlreadyPaid()
        case PaymentRequestStatus.CANCELLED:
            raise PaymentRequestCancelled()
        case PaymentRequestStatus.EXPIRED:
            raise PaymentRequestExpired()


def _request_confirm(
    visit: Visit,
    found: PaymentRequest,
    typed: dict[str, Any],
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    merchant = users.get_merchant(visit.ctx, found.merchant_id)
    asked = Money(found.amount, Currency.of(found.currency)).to_decimal_string()
    checked = _payable(visit, merchant, found.currency, asked)
    if isinstance(checked, str):
        return _pay_forms(visit, **typed, error=checked, status=422)
    paying = Paying(merchant, checked, "/app/pay/request/confirm", _purpose("request", found.id),
                    {"request_id": found.id}, found.reference, found.description)  # fmt: skip
    return _pay_confirm(visit, paying, error=error, status=status)


def _payable(visit: Visit, merchant: Merchant, currency: str, amount: str) -> Money | str:
    """The amount to pay the merchant, or the sentence that refuses it before any PIN."""
    if merchant.user_id == visit.user.id:
        return sentence(visit, RecipientIsSender())
    if _wallet_in(visit, currency) is None:
        return _no_wallet(visit, currency)
    money = read_amount(visit, amount, Currency.of(currency))
    return money.sentence if isinstance(money, Refusal) else money


def _pay_forms(
    visit: Visit,
    *,
    till: str = "",
    amount: str = "",
    ref: str = "",
    request_till: str = "",
    payload: str = "",
    error: str | None = None,
    error_form: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "till_key": visit.key("pay-till"),
        "qr_key": visit.key("pay-qr"),
        "till": till,
        "amount": amount,
        "ref": ref,
        "request_till": request_till,
        "payload": payload,
        "payload_max": QR_PAYLOAD_MAX,
        "error": error,
        "error_form": error_form,
        "notice": notice,
    }
    page = visit.page("consumer_pay.html", context, status)
    page.headers["Content-Security-Policy"] = SCAN_POLICY
    return page


def _pay_confirm(
    visit: Visit, paying: Paying, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    context = {
        "action": paying.action,
        "form_key": visit.key(paying.purpose),
        "hidden": paying.hidden,
        "shop": paying.merchant.trading_name,
        "till": paying.merchant.till_number,
        "amount": visit.money(paying.amount),
        "reference": paying.reference,
        "description": paying.description,
        "error": error,
    }
    return visit.page("consumer_pay_confirm.html", context, status)


def _to_shop(visit: Visit, merchant: Merchant) -> str:
    return visit._("To {shop}, till {till}").format(
        shop=merchant.trading_name, till=merchant.till_number
    )


# --- the pieces -----------------------------------------------------------------------------


def _purpose(*facts: str) -> str:
    """A form key's purpose: the form and every fact its page shows, so that a key drawn for
    one amount or payee fails for another."""
    return "\n".join(facts)


def _wallet_in(visit: Visit, currency: str) -> wallets.WalletBalance | None:
    views = wallets.list_wallets(visit.ctx, visit.user.id)
    if not currency and len(views) == 1:
        return views[0]
    return next((view for view in views if view.wallet.currency == currency), None)


def _no_wallet(visit: Visit, currency: str) -> str:
    if not currency:
        return visit._(NO_WALLETS)
    return visit._(NO_WALLET).format(currency=currency)


def _done(visit: Visit, paid: Payment, heading: str, lines: list[str]) -> HTMLResponse:
    balance = next(
        (v.balance for v in wallets.list_wallets(visit.ctx, visit.user.id)
         if v.wallet.currency == paid.currency),
        None,
    )  # fmt: skip
    context = {
        "heading": heading,
        "amount": visit.money(paid.amount, paid.currency),
        "lines": lines,
        "receipt": paid.id,
        "when": visit.when(paid.created_at),
        "balance": None if balance is None else visit.money(balance),
    }
    return visit.page("consumer_done.html", context, 201)
