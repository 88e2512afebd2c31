"""The public pay page of a payment request: what is asked, its QR code, and a phone-and-PIN form.

No cookies and no session: the form carries the payer's phone number and PIN, so a forged
cross-site post would need the PIN itself. The idempotency key is made when the form is drawn,
so a double tap or a resent form pays once. Refusals come back as a short sentence on the form
(messages.py) with the request unchanged.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from soko.channels.api.deps import ContextDep
from soko.channels.web import forms
from soko.channels.web.messages import sentence_for, status_for
from soko.context import Context
from soko.kernel import limits
from soko.kernel.errors import DomainError
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
    PaymentRequestStatus.PAID: "This request has been paid. Thank you.",
    PaymentRequestStatus.CANCELLED: "The merchant cancelled this request.",
    PaymentRequestStatus.EXPIRED: "This request has expired. Ask the merchant for a new one.",
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
        return _page(request, ctx, made, phone=phone, error=sentence_for(refused),
                     status=status_for(refused))  # fmt: skip
    return templates.TemplateResponse(
        request,
        "paid.html",
        _facts(ctx, made) | {"payment_id": payment.id},
        status_code=201,
        headers=_HEADERS,
    )


def _request_or_none(ctx: Context, request_id: str) -> PaymentRequest | None:
    try:
        return payment_requests.get_request(ctx, request_id)
    except PaymentRequestNotFound:
        return None


def _facts(ctx: Context, made: PaymentRequest) -> dict[str, Any]:
    merchant = users.get_merchant(ctx, made.merchant_id)
    return {
        "request_id": made.id,
        "merchant_name": merchant.trading_name,
        "till_number": merchant.till_number,
        "reference": made.reference,
        "description": made.description,
        "amount": str(Money(made.amount, Currency.of(made.currency))),
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
    context = _facts(ctx, made) | {
        "status": state.value,
        "status_text": _STATUS_TEXT.get(state, ""),
        "expires_at": made.expires_at.astimezone(ctx.timezone).strftime("%d %b %Y %H:%M"),
        "phone": phone,
        "error": error,
        # A fresh key per drawing of the form: the same form posted twice pays once.
        "idempotency_key": ctx.ids.new("web"),
        "qr_svg": qr_svg(qr.request_code(ctx, made).payload())
        if state is PaymentRequestStatus.OPEN
        else "",
    }
    return templates.TemplateResponse(
        request, "pay.html", context, status_code=status, headers=_HEADERS
    )


def _not_found(request: Request) -> HTMLResponse:
    # A whole page, as the pay page is: a phone shows it at its width, not zoomed out.
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Not found</title></head>"
        '<body style="font-family:sans-serif;margin:1rem;max-width:36rem">'
        "<h1>Not found</h1><p>There is no such payment request.</p></body></html>",
        status_code=404,
        headers=_HEADERS,
    )
