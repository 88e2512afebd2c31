"""Top up a wallet from M-Pesa on the web (/app/top-up): an amount and the M-Pesa number, the
STK prompt sent to that phone, and a page that says where the top-up stands.

The form asks for the PIN (it prompts a phone to pay, in the person's name) and carries a key
drawn for this session; the key is the deposit's idempotency key, so a double submit prompts the
phone once. The status page has a "Check again" link while M-Pesa has not answered (no
JavaScript, and no timed refresh: WCAG 2.2.1 wants the person in control of the timing), and
someone else's top-up reads as no top-up.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response

from soko.channels.api.deps import ContextDep
from soko.channels.web import forms, session
from soko.channels.web.money_forms import Refusal, checked_amount, with_pin
from soko.channels.web.visit import (
    AmountField,
    KeyField,
    PhoneField,
    PinField,
    Visit,
    redirect,
    visit_or_redirect,
)
from soko.deposits import service as deposits
from soko.deposits.domain import CURRENCY, Deposit, DepositOutcome, DepositState
from soko.deposits.errors import DepositNotFound
from soko.kernel.i18n import N_
from soko.kernel.money import Currency

router = APIRouter(
    prefix=session.PATH, include_in_schema=False, dependencies=[Depends(forms.text_only)]
)

PURPOSE: Final = "top-up"
NOT_AVAILABLE: Final = N_("M-Pesa top-ups are not available here yet.")

#: What each outcome tells the person, in a sentence.
OUTCOME_TEXT: Final[dict[DepositOutcome, str]] = {
    DepositOutcome.PAID: N_("The money is in your wallet."),
    DepositOutcome.INSUFFICIENT_FUNDS: N_("Your M-Pesa balance was too low. Nothing was paid."),
    DepositOutcome.CANCELLED: N_("The M-Pesa prompt was cancelled. Nothing was paid."),
    DepositOutcome.UNREACHABLE: N_("M-Pesa could not reach the phone. Nothing was paid."),
    DepositOutcome.EXPIRED: N_("The M-Pesa prompt expired. Nothing was paid."),
    DepositOutcome.WRONG_PIN: N_("The M-Pesa PIN was wrong. Nothing was paid."),
    DepositOutcome.FAILED: N_("M-Pesa did not take the payment. Nothing was paid."),
    DepositOutcome.REFUSED: N_("M-Pesa could not send the prompt. Please try again later."),
    DepositOutcome.OUTCOME_UNKNOWN: N_(
        "Soko could not tell whether M-Pesa sent the prompt. If you paid, the money comes to "
        "your wallet once M-Pesa confirms it."
    ),
}
STATE_TEXT: Final[dict[DepositState, str]] = {
    DepositState.INITIATED: N_("Waiting for M-Pesa"),
    DepositState.PENDING: N_("Waiting for M-Pesa"),
    DepositState.PAID: N_("Paid"),
    DepositState.FAILED: N_("Not paid"),
    DepositState.UNKNOWN: N_("Not known yet"),
}

DepositId = Annotated[str, Path(max_length=64)]


def _available(visit: Visit) -> bool:
    return visit.ctx.mpesa is not None


def _local(phone: str) -> str:
    """+254712345678 as Kenyans write it: 0712345678."""
    return "0" + phone[4:] if phone.startswith("+254") else phone


def _form(
    visit: Visit, *, amount: str = "", phone: str | None = None, error: str | None = None,
    status: int = 200,
) -> HTMLResponse:  # fmt: skip
    return visit.page(
        "deposits_form.html",
        {
            "form_key": visit.key(PURPOSE),
            "amount": amount,
            "phone": _local(visit.user.phone) if phone is None else phone,
            "error": error,
            "available": _available(visit),
            "not_available": NOT_AVAILABLE,
        },
        status,
    )


@router.get("/top-up", response_class=HTMLResponse)
def top_up_page(request: Request, ctx: ContextDep) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    return _form(visit, status=200 if _available(visit) else 503)


@router.post("/top-up", response_class=HTMLResponse)
def top_up(
    request: Request, *, ctx: ContextDep, amount: AmountField = "", phone: PhoneField = "",
    pin: PinField = "", form_key: KeyField = "",
) -> Response:  # fmt: skip
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    if not _available(visit):
        return _form(visit, status=503)
    money = checked_amount(visit, PURPOSE, form_key, amount, Currency.of(CURRENCY))
    if isinstance(money, Refusal):
        return _form(visit, amount=amount, phone=phone, error=money.sentence, status=money.status)
    deposit = with_pin(visit, pin, form_key, lambda key: deposits.request_deposit(
        ctx, user_id=visit.user.id, amount=money, phone=phone.strip() or None, idempotency_key=key,
    ))  # fmt: skip
    if isinstance(deposit, Refusal):
        return _form(visit, amount=amount, phone=phone, error=deposit.sentence,
                     status=deposit.status)  # fmt: skip
    return redirect(f"{session.PATH}/top-up/{deposit.id}")


@router.get("/top-up/{deposit_id}", response_class=HTMLResponse)
def top_up_status(request: Request, deposit_id: DepositId, ctx: ContextDep) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    deposit = _own(visit, deposit_id)
    if deposit is None:
        return visit.message(visit._("Not found"), visit._("There is no such top-up."), 404)
    waiting = deposit.state in (DepositState.INITIATED, DepositState.PENDING)
    return visit.page(
        "deposits_status.html",
        {
            "deposit_id": deposit.id,
            "amount": visit.money(deposit.amount, deposit.currency),
            "phone": _local("+" + deposit.phone),
            "state": deposit.state.value,
            "state_text": STATE_TEXT[deposit.state],
            "waiting": waiting,
            "outcome_text": None if deposit.outcome is None else OUTCOME_TEXT[deposit.outcome],
            "receipt": deposit.receipt,
            "reference": deposit.account_reference,
            "when": visit.when(deposit.created_at),
        },
    )


def _own(visit: Visit, deposit_id: str) -> Deposit | None:
    """The visitor's own top-up; anyone else's reads as none."""
    try:
        deposit = deposits.get_deposit(visit.ctx, deposit_id)
    except DepositNotFound:
        return None
    return deposit if deposit.user_id == visit.user.id else None
