"""People's accounts on the web: the public home page, signing up by phone with a code sent by
SMS, a forgotten PIN, and the account page (change the PIN, choose the language).

The sign-up and forgotten-PIN forms have no session yet: like sign-in, their key is checked
against a short-lived cookie of their own (session.py). The code comes by SMS through the outbox
(people/codes.py keeps it hashed, with its tries and its sends); the page never says whether a
number has an account: a number that has one is texted to sign in instead. The code, the PIN and
its repeat go in one form, so a slow phone loads one page less.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import phonenumbers
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from soko.channels import i18n
from soko.channels.api.deps import ContextDep
from soko.channels.web import forms, session
from soko.channels.web.app_routes import chosen_country, countries, country_choices
from soko.channels.web.messages import sentence_for, status_for
from soko.channels.web.routes import _HEADERS as HEADERS
from soko.channels.web.routes import templates
from soko.channels.web.session import language_of
from soko.channels.web.visit import (
    STALE_FORM,
    KeyField,
    PhoneField,
    PinField,
    Visit,
    redirect,
    visit_or_redirect,
)
from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.errors import DomainError
from soko.kernel.i18n import N_
from soko.notify import sms_service as sms
from soko.notify.sms import fit
from soko.people import access, codes
from soko.people import service as users
from soko.people.domain import User, check_name
from soko.people.errors import LanguageInvalid

router = APIRouter(
    prefix=session.PATH, include_in_schema=False, dependencies=[Depends(forms.text_only)]
)
#: The public home page, outside /app.
public = APIRouter(include_in_schema=False, dependencies=[Depends(forms.text_only)])

NameField = Annotated[str, Form(max_length=limits.NAME_LENGTH_MAX + 20)]
CodeField = Annotated[str, Form(max_length=16)]
CountryField = Annotated[str, Form(max_length=2)]
IdField = Annotated[str, Form(max_length=limits.NATIONAL_ID_LENGTH_MAX + 8)]
LanguageField = Annotated[str, Form(max_length=8)]

#: The texts the codes come in; the code's number is filled in.
_SIGN_UP_TEXT: Final = N_(
    "Your Soko sign-up code is {code}. It expires in 10 minutes. Never share it."
)
_HAS_ACCOUNT_TEXT: Final = N_(
    "Soko: someone asked to open an account for this number, which has one. "
    "Sign in with your PIN, or use Forgot PIN."
)
_RESET_TEXT: Final = N_(
    "Your Soko code for a new PIN is {code}. It expires in 10 minutes. "
    "Never share it, not even with Soko staff."
)
_NO_ACCOUNT_TEXT: Final = N_(
    "Soko: someone asked for a new PIN for this number, which has no Soko account. "
    "Sign up to open one."
)
_PINS_DIFFER: Final = N_("The two PINs are not the same. Type the new PIN twice.")
_PIN_CHANGED: Final = N_("Your PIN is changed. Use the new one from now on.")
_LANGUAGE_CHANGED: Final = N_("Soko speaks your language now.")


# --- the public home page ---------------------------------------------------------------------


@public.get("/", operation_id="homePage", response_class=HTMLResponse)
def home_page(request: Request, ctx: ContextDep) -> Response:
    signed_in = session.signed_in(request, ctx) is not None
    return _public_page(request, "account_home.html", {"signed_in": signed_in})


# --- signing up -------------------------------------------------------------------------------


@router.get("/sign-up", operation_id="signUpPage", response_class=HTMLResponse)
def sign_up_page(request: Request, ctx: ContextDep) -> Response:
    if session.signed_in(request, ctx) is not None:
        return redirect(session.PATH)
    return _number_form(request, ctx, "sign_up")


@router.post("/sign-up", operation_id="sendSignUpCode", response_class=HTMLResponse)
def send_sign_up_code(
    request: Request,
    *,
    ctx: ContextDep,
    phone: PhoneField = "",
    country: CountryField = "",
    name: NameField = "",
    form_key: KeyField = "",
) -> Response:
    return _send(request, ctx, "sign_up", phone=phone, country=country, name=name,
                 form_key=form_key)  # fmt: skip


@router.get("/sign-up/code", operation_id="signUpCodePage", response_class=HTMLResponse)
def sign_up_code_page() -> Response:
    # The code form is drawn for the number it was sent to: start there.
    return redirect(f"{session.PATH}/sign-up")


@router.post("/sign-up/code", operation_id="signUp", response_class=HTMLResponse)
def sign_up(
    request: Request,
    *,
    ctx: ContextDep,
    phone: PhoneField = "",
    name: NameField = "",
    code: CodeField = "",
    pin: PinField = "",
    pin_again: PinField = "",
    form_key: KeyField = "",
) -> Response:
    fields = {"phone": phone, "name": name}
    if not session.check_sign_in_form_key(request, form_key):
        return _code_form(request, "sign_up", fields, STALE_FORM, status=403)
    if pin != pin_again:
        return _code_form(request, "sign_up", fields, _PINS_DIFFER, status=422)
    try:
        codes.sign_up(ctx, phone=phone, code=code, name=name, pin=pin)
    except DomainError as refused:
        return _code_form(request, "sign_up", fields, refused)
    return _signed_in(request, ctx, phone, pin)


# --- a forgotten PIN --------------------------------------------------------------------------


@router.get("/forgot-pin", operation_id="forgotPinPage", response_class=HTMLResponse)
def forgot_pin_page(request: Request, ctx: ContextDep) -> Response:
    return _number_form(request, ctx, "reset_pin")


@router.post("/forgot-pin", operation_id="sendResetCode", response_class=HTMLResponse)
def send_reset_code(
    request: Request,
    *,
    ctx: ContextDep,
    phone: PhoneField = "",
    country: CountryField = "",
    form_key: KeyField = "",
) -> Response:
    return _send(request, ctx, "reset_pin", phone=phone, country=country, name="",
                 form_key=form_key)  # fmt: skip


@router.get("/forgot-pin/code", operation_id="resetCodePage", response_class=HTMLResponse)
def reset_code_page() -> Response:
    return redirect(f"{session.PATH}/forgot-pin")


@router.post("/forgot-pin/code", operation_id="resetPin", response_class=HTMLResponse)
def reset_pin(
    request: Request,
    *,
    ctx: ContextDep,
    phone: PhoneField = "",
    code: CodeField = "",
    national_id: IdField = "",
    pin: PinField = "",
    pin_again: PinField = "",
    form_key: KeyField = "",
) -> Response:
    fields = {"phone": phone}
    if not session.check_sign_in_form_key(request, form_key):
        return _code_form(request, "reset_pin", fields, STALE_FORM, status=403)
    if pin != pin_again:
        return _code_form(request, "reset_pin", fields, _PINS_DIFFER, status=422)
    try:
        codes.reset_pin(ctx, phone=phone, code=code, new_pin=pin, national_id=national_id)
    except DomainError as refused:
        return _code_form(request, "reset_pin", fields, refused)
    # Every session of the person ended with the reset; this one starts with the new PIN.
    return _signed_in(request, ctx, phone, pin)


# --- the account page -------------------------------------------------------------------------


@router.get("/account", operation_id="accountPage", response_class=HTMLResponse)
def account_page(
    request: Request,
    ctx: ContextDep,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    notice = {"pin": _PIN_CHANGED, "language": _LANGUAGE_CHANGED}.get(done or "")
    return _account(visit, notice=None if notice is None else visit._(notice))


@router.post("/account/pin", operation_id="changePin", response_class=HTMLResponse)
def change_pin(
    request: Request,
    *,
    ctx: ContextDep,
    old_pin: PinField = "",
    pin: PinField = "",
    pin_again: PinField = "",
    form_key: KeyField = "",
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    if not visit.check_key("change-pin", form_key):
        return _account(visit, error=visit._(STALE_FORM), error_form="pin", status=403)
    if pin != pin_again:
        return _account(visit, error=visit._(_PINS_DIFFER), error_form="pin", status=422)
    try:
        users.change_pin(ctx, visit.user.id, old_pin, pin)
    except DomainError as refused:
        return _account(visit, error=sentence_for(refused, visit._), error_form="pin",
                        status=status_for(refused))  # fmt: skip
    # A new PIN ends every session (users.set_pin): this one goes on under a new token.
    return _signed_in(request, ctx, visit.user.phone, pin, f"{session.PATH}/account?done=pin")


@router.post("/account/language", operation_id="chooseLanguage", response_class=HTMLResponse)
def choose_language(
    request: Request, *, ctx: ContextDep, language: LanguageField = "", form_key: KeyField = ""
) -> Response:
    visit = visit_or_redirect(request, ctx)
    if isinstance(visit, Response):
        return visit
    if not visit.check_key("language", form_key):
        return _account(visit, error=visit._(STALE_FORM), error_form="language", status=403)
    try:
        if language not in i18n.LANGUAGES:
            # The form offers the languages Soko has texts in; any other is not one of them.
            raise LanguageInvalid(f"no texts in {language!r}")
        users.set_language(ctx, visit.user.id, language)
    except DomainError as refused:
        return _account(visit, error=sentence_for(refused, visit._), error_form="language",
                        status=status_for(refused))  # fmt: skip
    response = redirect(f"{session.PATH}/account?done=language")
    session.remember_language(request, response, language)
    return response


# --- the pieces -------------------------------------------------------------------------------


def _account(
    visit: Visit,
    *,
    notice: str | None = None,
    error: str | None = None,
    error_form: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return visit.page(
        "account_page.html",
        {
            "phone": visit.user.phone,
            "languages": [(code, i18n.NAMES.get(code, code)) for code in i18n.LANGUAGES],
            "keys": {"pin": visit.key("change-pin"), "language": visit.key("language")},
            "notice": notice,
            "error": error,
            "error_form": error_form,
        },
        status,
    )


def _send(
    request: Request,
    ctx: Context,
    purpose: codes.Purpose,
    *,
    phone: str,
    country: str,
    name: str,
    form_key: str,
) -> Response:
    fields = {"phone": phone, "country": country, "name": name}
    if not session.check_sign_in_form_key(request, form_key):
        return _number_form(request, ctx, purpose, fields, STALE_FORM, status=403)
    region = country if country in countries(ctx) else None
    try:
        if purpose == "sign_up":
            check_name(name)
        e164 = codes.send_code(
            ctx, purpose=purpose, phone=phone, default_region=region,
            deliver=_deliver(ctx, purpose),
            client=None if request.client is None else request.client.host,
        )  # fmt: skip
    except DomainError as refused:
        return _number_form(request, ctx, purpose, fields, refused)
    return _code_form(request, purpose, {"phone": e164, "name": name})


def _deliver(ctx: Context, purpose: codes.Purpose) -> codes.Deliver:
    """Queue the code's text in the outbox, in the number's language."""

    def deliver(uow: UnitOfWork, phone: str, user: User | None, code: str | None) -> None:
        if user is not None:
            language = i18n.language_for(user.language, user.country)
        else:
            language = i18n.default_language(_region(phone))
        translate = i18n.translator(language)
        if purpose == "sign_up":
            text = _SIGN_UP_TEXT if code is not None else _HAS_ACCOUNT_TEXT
        else:
            text = _RESET_TEXT if code is not None else _NO_ACCOUNT_TEXT
        sms.queue(uow, ctx, phone=phone, text=fit(translate(text).format(code=code)))

    return deliver


def _region(phone: str) -> str | None:
    try:
        region: str | None = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        return None
    return region


def _signed_in(
    request: Request, ctx: Context, phone: str, pin: str, to: str = session.PATH
) -> Response:
    """Sign in with the PIN just chosen, and go on to `to`."""
    client = None if request.client is None else request.client.host
    made = access.sign_in(ctx, phone=phone, pin=pin, client=client,
                          seconds=limits.WEB_SESSION_IDLE_SECONDS)  # fmt: skip
    response = redirect(to)
    session.keep(request, response, made)
    return response


def _public_page(
    request: Request, name: str, context: dict[str, Any], status: int = 200, *, key: bool = False
) -> HTMLResponse:
    """A page drawn without a session, in the browser's language; with a fresh form key (and
    its cookie) when it has a form."""
    language = language_of(request)
    made = session.new_sign_in_key() if key else ""
    words = {
        "_": i18n.translator(language),
        "language": language,
        "language_links": session.language_links(request, language),
    }
    response = templates.TemplateResponse(
        request, name, words | {"form_key": made} | context, status_code=status, headers=HEADERS
    )
    if key:
        session.remember_sign_in_key(request, response, made)
    session.keep_asked_language(request, response)
    return response


def _error_text(request: Request, error: DomainError | str) -> str:
    translate = i18n.translator(language_of(request))
    return sentence_for(error, translate) if isinstance(error, DomainError) else translate(error)


def _status(error: DomainError | str, status: int) -> int:
    return status_for(error) if isinstance(error, DomainError) else status


def _number_form(
    request: Request,
    ctx: Context,
    purpose: codes.Purpose,
    fields: dict[str, str] | None = None,
    error: DomainError | str | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """The first step: the phone number (and, signing up, the name) to send a code to."""
    fields = fields or {}
    return _public_page(
        request,
        "account_number.html",
        {
            "purpose": purpose,
            "phone": fields.get("phone", ""),
            "name": fields.get("name", ""),
            "countries": country_choices(ctx),
            "country": chosen_country(ctx, fields.get("country", "")),
            "error": None if error is None else _error_text(request, error),
        },
        200 if error is None else _status(error, status),
        key=True,
    )


def _code_form(
    request: Request,
    purpose: codes.Purpose,
    fields: dict[str, str],
    error: DomainError | str | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """The second step: the code texted to the number, and the PIN to choose, twice."""
    return _public_page(
        request,
        "account_code.html",
        {
            "purpose": purpose,
            "phone": fields.get("phone", ""),
            "name": fields.get("name", ""),
            "minutes": limits.CODE_SECONDS // 60,
            "error": None if error is None else _error_text(request, error),
        },
        200 if error is None else _status(error, status),
        key=True,
    )
