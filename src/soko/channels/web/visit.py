"""What every signed-in page of the web app shares: the visit, its language, and its forms.

A page module (consumer.py, merchant.py, agent.py, account.py, app_routes.py) starts each route
with `visit_or_redirect`; without a session that is a redirect to sign in. `Visit.page` draws a
template with what the layout needs: the person's name and role, the sign-out form's key, `_`
(the person's language: `{{ _("Send money") }}`, then `.format(...)` for facts) and `money`
(an amount the local way, `KES 1,500.00`).

Amounts are typed as decimals ("1500", "1,500.50") and read with `amount_from_text`; a text
that is not an amount in that currency is refused on the form, never rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Match

from soko.channels import i18n
from soko.channels.web import session
from soko.channels.web.routes import _HEADERS as HEADERS
from soko.channels.web.routes import templates
from soko.context import Context
from soko.kernel import limits
from soko.kernel.errors import DomainError
from soko.kernel.i18n import N_
from soko.kernel.money import Currency, Money
from soko.people.domain import User, UserKind

SIGN_IN: Final = f"{session.PATH}/sign-in"


#: What a form says when its key is missing, forged, or drawn for another session or form.
STALE_FORM: Final = N_("This form is out of date. Please try again.")
#: What a form says of an amount it cannot read.
AMOUNT_UNREADABLE: Final = N_("Type the amount in figures, like 1500 or 1500.50.")

# Fields default to empty so that a missing one is refused on the page, not as JSON.
PinField = Annotated[str, Form(max_length=16)]
KeyField = Annotated[str, Form(max_length=limits.IDEMPOTENCY_KEY_LENGTH_MAX)]
AmountField = Annotated[str, Form(max_length=32)]
PhoneField = Annotated[str, Form(max_length=limits.PHONE_TEXT_LENGTH_MAX)]


@dataclass(frozen=True, slots=True)
class Visit:
    """A request from a signed-in person."""

    request: Request
    ctx: Context
    user: User
    token: str

    @property
    def language(self) -> str:
        return i18n.language_for(self.user.language, self.user.country)

    def _(self, text: str) -> str:
        """`text` in the person's language."""
        return i18n.translator(self.language)(text)

    def money(self, amount: Money | int, currency: str | Currency | None = None) -> str:
        """An amount the local way: `visit.money(money)` or `visit.money(150000, "KES")`."""
        return money_text(amount, currency, self.language, self.user.country)

    def when(self, at: datetime) -> str:
        return when_text(self.ctx, at, self.language)

    def day(self, day: date) -> str:
        return i18n.format_day(day, self.language)

    def month(self, day: date) -> str:
        return i18n.format_month(day, self.language)

    def key(self, purpose: str) -> str:
        return session.form_key(self.ctx, self.token, purpose)

    def check_key(self, purpose: str, key: str) -> bool:
        return session.check_form_key(self.token, purpose, key)

    @property
    def is_merchant(self) -> bool:
        return self.user.kind is UserKind.MERCHANT

    @property
    def is_agent(self) -> bool:
        return self.user.kind is UserKind.AGENT

    def page(self, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        context = {
            "user_name": self.user.name,
            "role": self.user.kind.value,
            "sign_out_key": self.key("sign-out"),
            "language": self.language,
            "_": self._,
            "money": self.money,
            # The M-Pesa top-up is linked only where the operator has set M-Pesa up.
            "top_up_offered": self.ctx.mpesa is not None,
        } | context
        return templates.TemplateResponse(
            self.request, name, context, status_code=status, headers=HEADERS
        )

    def message(self, heading: str, text: str, status: int) -> HTMLResponse:
        return self.page("app_message.html", {"heading": heading, "text": text}, status)

    def not_found(self, text: str = "There is no such order.") -> HTMLResponse:
        return self.message(self._("Not found"), self._(text), 404)


def visit_or_redirect(request: Request, ctx: Context) -> Visit | Response:
    """The signed-in visit, or a redirect to sign in that comes back to this page after."""
    found = session.signed_in(request, ctx)
    if found is None:
        return redirect(sign_in_address(request))
    user, token = found
    return Visit(request, ctx, user, token)


def sign_in_address(request: Request) -> str:
    """The sign-in page, with the page to come back to (`?next=`): this one for a page, the
    page a form was drawn on when that shares the form's address; home otherwise."""
    here = request.url.path
    if request.method != "GET" and not _has_page(request):
        return SIGN_IN
    if request.method == "GET" and request.url.query:
        here = f"{here}?{request.url.query}"
    back = session.safe_next(here)
    if back is None or back == session.PATH:
        return SIGN_IN
    return f"{SIGN_IN}?{urlencode({'next': back})}"


def _has_page(request: Request) -> bool:
    scope = {**request.scope, "method": "GET"}
    return any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes)


def redirect(to: str) -> Response:
    return RedirectResponse(to, status_code=303, headers=HEADERS)


def money_text(
    amount: Money | int,
    currency: str | Currency | None = None,
    language: str = i18n.SOURCE,
    country: str | None = None,
) -> str:
    if not isinstance(amount, Money):
        assert currency is not None, "an amount in minor units needs its currency"
        code = currency if isinstance(currency, Currency) else Currency.of(currency)
        amount = Money(amount, code)
    return i18n.format_money(amount, language, country)


def when_text(ctx: Context, at: datetime, language: str = i18n.SOURCE) -> str:
    """A time in the operator's time zone, the month in the reader's words."""
    return i18n.format_when(at, ctx.timezone, language)


def amount_from_text(text: str, currency: Currency) -> Money | None:
    """The amount a person typed ("1500", "1,500.50", "KES 1500"), or None when it is not a
    positive amount with at most the currency's decimals. The grouping and the currency code a
    person may type are taken off; the rest is `Money.parse`, the API's own reading: exact,
    never rounded."""
    cleaned = text.strip().replace(",", "").replace(" ", "").replace("\u00a0", "")
    if cleaned.upper().startswith(currency.code):
        cleaned = cleaned[len(currency.code) :]
    try:
        money = Money.parse(cleaned, currency)
    except DomainError:
        return None
    return money if money.is_positive() else None
