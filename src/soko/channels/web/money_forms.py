"""The steps every money form of the web app takes, in one place.

A form that moves money checks its key (drawn for this session and this form: a missing, forged
or stale one is refused with 403), reads the typed amount (422 when it is not one), checks the
PIN, and calls the service with the key as its idempotency key, so a form sent twice moves
money once. Whatever refuses it (the form or the service) comes back as a `Refusal`: the
sentence for the form, in the person's language, and the HTTP status. The page module draws
its own form again with it; what the steps are and their order stays visible in each route:

    money = checked_amount(visit, "payout", form_key, amount, currency)
    if isinstance(money, Refusal):
        return _payouts_page(shop, error=money.sentence, status=money.status)
    made = with_pin(visit, pin, form_key, lambda key: payouts.request_payout(
        ctx, merchant_id=visit.user.id, amount=money, ..., idempotency_key=key))
    if isinstance(made, Refusal):
        return _payouts_page(shop, error=made.sentence, status=made.status)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from soko.channels.web import session
from soko.channels.web.messages import sentence_for, status_for
from soko.channels.web.visit import AMOUNT_UNREADABLE, STALE_FORM, Visit, amount_from_text
from soko.kernel.errors import DomainError
from soko.kernel.money import Currency, Money
from soko.people import service as users

T = TypeVar("T")

#: A refusal's sentence from the service's error; `sentence` (messages.py's) unless a page has
#: its own words (the agent's pages say whose PIN and whose wallet).
Say = Callable[[DomainError], str]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A form refused: the sentence shown on it, the status, and the service's error (None for
    the form's own refusals: an out-of-date key, an amount that cannot be read)."""

    sentence: str
    status: int
    error: DomainError | None = None


def sentence(visit: Visit, error: DomainError) -> str:
    """messages.py's sentence in the person's language, with the facts they act on: the tries
    left, and how long to wait."""
    return sentence_for(error, visit._)


def refusal(visit: Visit, error: DomainError, say: Say | None = None) -> Refusal:
    """The service's refusal as the form shows it: its sentence and status."""
    text = say(error) if say is not None else sentence(visit, error)
    return Refusal(text, status_for(error), error)


def stale(visit: Visit) -> Refusal:
    """A form whose key is missing, forged, or drawn for another session or form."""
    return Refusal(visit._(STALE_FORM), 403)


def read_amount(visit: Visit, text: str, currency: Currency) -> Money | Refusal:
    """The amount typed (`amount_from_text`), or the sentence that says it cannot be read."""
    amount = amount_from_text(text, currency)
    return Refusal(visit._(AMOUNT_UNREADABLE), 422) if amount is None else amount


def checked_amount(
    visit: Visit, purpose: str, form_key: str, text: str, currency: Currency
) -> Money | Refusal:
    """The form's key checked for `purpose` first (403), then its amount read (422)."""
    if not visit.check_key(purpose, form_key):
        return stale(visit)
    return read_amount(visit, text, currency)


def run(visit: Visit, call: Callable[[], T], *, say: Say | None = None) -> T | Refusal:
    """What `call` returns, or its `DomainError` as the form's refusal."""
    try:
        return call()
    except DomainError as error:
        return refusal(visit, error, say)


def with_pin(
    visit: Visit,
    pin: str,
    form_key: str,
    call: Callable[[str], T],
    *,
    say: Say | None = None,
) -> T | Refusal:
    """The signed-in person's PIN checked (`users.verify_pin`: a wrong one counts towards the
    lock), then `call` with the form key's idempotency key; a refusal of either as the form's."""

    def checked() -> T:
        users.verify_pin(visit.ctx, visit.user.id, pin)
        return call(session.idempotency_key(form_key))

    return run(visit, checked, say=say)
