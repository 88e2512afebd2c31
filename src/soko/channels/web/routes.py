"""The public pay page of a payment request: what is asked, its QR code, and a phone-and-PIN form.

No cookies and no session: the form carries the payer's phone number and PIN, so a forged
cross-site post would need the PIN itself. The idempotency key is made when the form is drawn,
so a double tap or a resent form pays once. Refusals come back as a short sentence on the form
(messages.py) with the request unchanged.
"""

from __future__ import annotations

from html import escape
from pathlib import Path as FilePath
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from soko.channels import i18n
from soko.channels.api.deps import ContextDep
from soko.channels.web import forms
from soko.channels.web.messages import sentence_for, status_for
from soko.channels.web.session import keep_asked_language, language_links, language_of
from soko.context import Context
from soko.kernel import limits
from soko.kernel.errors import DomainError
from soko.kernel.i18n import N_
from soko.kernel.money import Currency, Money
from soko.payments import requests as payment_requests
from soko.payments.domain import PaymentRequest, PaymentRequestStatus
from soko.payments.errors import PaymentRequestNotFound
from soko.payments.qr import service as qr
from soko.payments.qr.images import qr_svg
from soko.people import service as users

router = APIRouter(include_in_schema=False, dependencies=[Depends(forms.text_only)])
templates = Jinja2Templates(directory=FilePath(__file__).parent / "templates")
# Pages drawn without a visit (the pay page, sign-in) speak the source language; a visit's
# page passes its own `_` and `money` (visit.py), which take precedence.
templates.env.globals["_"] = lambda text: text

#: What the page says of a request that can no longer be paid.
_STATUS_TEXT = {
    PaymentRequestStatus.PAID: N_("This request has been paid. Thank you."),
    PaymentRequestStatus.CANCELLED: N_("The merchant cancelled this request."),
    PaymentRequestStatus.EXPIRED: N_("This request has expired. Ask the merchant for a new one."),
}

#: The page may not be framed (clickjacking) and loads nothing from anywhere.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

RequestId = Annotated[str, Path(max_length=64)]
_NOT_FOUND: Final = N_("Not found")
_NO_SUCH_REQUEST: Final = N_("There is no such payment request.")


@router.get("/pay/{request_id}", operation_id="payPage", response_class=HTMLResponse)
def pay_page(request: Request, request_id: RequestId, ctx: ContextDep) -> HTMLResponse:
    made = _request_or_none(ctx, request_id)
    if made is None:
        return _not_found(request)
    return _page(request, ctx, made)


@router.post("/pay/{request_id}", operation_id="pay", response_class=HTMLResponse)
def pay(
    request: Request,
    request_id: RequestId,
    *,
    ctx: ContextDep,
    phone: Annotated[str, Form(max_length=limits.PHONE_TEXT_LENGTH_MAX)],
    pin: Annotated[str, Form(max_length=16)],
    idempotency_key: Annotated[str, Form(max_length=limits.IDEMPOTENCY_KEY_LENGTH_MAX)],
) -> HTMLResponse:
    made = _request_or_none(ctx, request_id)
    if made is None:
        return _not_found(request)
    merchant = users.get_user(ctx, made.merchant_id)
    try:
        # Anyone may post this form: a number without an account reads as a wrong PIN, and
        # wrong PINs are limited per client address too (ADR 0019).
        payer = users.check_credentials(
            ctx, phone=phone, pin=pin, default_region=merchant.country,
            client=None if request.client is None else request.client.host,
        )  # fmt: skip
        payment = payment_requests.pay_request(
            ctx, payer_id=payer.id, request_id=made.id, idempotency_key=f"web:{idempotency_key}"
        )
    except DomainError as refused:
        translate = i18n.translator(language_of(request))
        return _page(request, ctx, made, phone=phone, error=sentence_for(refused, translate),
                     status=status_for(refused))  # fmt: skip
    return templates.TemplateResponse(
        request,
        "paid.html",
        _facts(request, ctx, made) | {"payment_id": payment.id},
        status_code=201,
        headers=_HEADERS,
    )


def _request_or_none(ctx: Context, request_id: str) -> PaymentRequest | None:
    try:
        return payment_requests.get_request(ctx, request_id)
    except PaymentRequestNotFound:
        return None


def _facts(request: Request, ctx: Context, made: PaymentRequest) -> dict[str, Any]:
    """What both pages show, in the visitor's language (`?lang=`, their cookie or browser): the
    link is shared with people Soko does not know yet."""
    merchant = users.get_merchant(ctx, made.merchant_id)
    language = language_of(request)
    return {
        "_": i18n.translator(language),
        "language": language,
        "language_links": language_links(request, language),
        "request_id": made.id,
        "merchant_name": merchant.trading_name,
        "till_number": merchant.till_number,
        "reference": made.reference,
        "description": made.description,
        "amount": i18n.format_money(Money(made.amount, Currency.of(made.currency)), language),
    }


def _page(
    request: Request,
    ctx: Context,
    made: PaymentRequest,
    *,
    phone: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    state = made.status_at(ctx.clock.now())
    facts = _facts(request, ctx, made)
    context = facts | {
        "status": state.value,
        "status_text": facts["_"](_STATUS_TEXT[state]) if state in _STATUS_TEXT else "",
        "expires_at": i18n.format_when(made.expires_at, ctx.timezone, facts["language"]),
        "phone": phone,
        "error": error,
        # A fresh key per drawing of the form: the same form posted twice pays once.
        "idempotency_key": ctx.ids.new("web"),
        "qr_svg": qr_svg(qr.request_code(ctx, made).payload())
        if state is PaymentRequestStatus.OPEN
        else "",
    }
    response = templates.TemplateResponse(
        request, "pay.html", context, status_code=status, headers=_HEADERS
    )
    keep_asked_language(request, response)
    return response


def _not_found(request: Request) -> HTMLResponse:
    # A whole page, as the pay page is: a phone shows it at its width, not zoomed out.
    language = language_of(request)
    translate = i18n.translator(language)
    return HTMLResponse(
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(translate(_NOT_FOUND))}</title></head>"
        '<body style="font-family:sans-serif;margin:1rem;max-width:36rem">'
        f"<h1>{escape(translate(_NOT_FOUND))}</h1>"
        f"<p>{escape(translate(_NO_SUCH_REQUEST))}</p></body></html>",
        status_code=404,
        headers=_HEADERS,
    )
