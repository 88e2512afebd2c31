"""POST /ussd: the USSD aggregator's callback (Africa's Talking protocol), authenticated.

The aggregator posts form fields `sessionId`, `serviceCode`, `phoneNumber` and `text` (every input
of the session so far, joined by "*") and shows the `text/plain` answer: "CON ..." waits for the
next input, "END ..." closes the session. The aggregator proves itself with the shared token
SOKO_USSD_TOKEN, as a bearer token or as `?token=` in the callback URL; with no token configured
the channel is off and the path does not exist (404).
"""

from __future__ import annotations

import hmac
import re
from typing import Final

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from soko.bootstrap import Runtime
from soko.channels.ussd import menus
from soko.channels.ussd.messages import screen_for
from soko.kernel import limits
from soko.kernel.errors import TextInvalid
from soko.kernel.text import is_text

router = APIRouter(include_in_schema=False)

#: Session ids become part of idempotency keys: printable ASCII without spaces.
_SESSION_ID: Final = re.compile(rf"[!-~]{{1,{limits.USSD_SESSION_ID_LENGTH_MAX}}}")
_FIELDS: Final = ("sessionId", "serviceCode", "phoneNumber", "text")
_FIELD_LENGTH_MAX: Final = {
    "sessionId": limits.USSD_SESSION_ID_LENGTH_MAX,
    "serviceCode": limits.USSD_SERVICE_CODE_LENGTH_MAX,
    "phoneNumber": limits.PHONE_TEXT_LENGTH_MAX,
    "text": limits.USSD_TEXT_LENGTH_MAX,
}


@router.post("/ussd", operation_id="ussd", response_class=PlainTextResponse)
async def ussd(request: Request) -> PlainTextResponse:
    runtime = request.app.state.runtime
    assert isinstance(runtime, Runtime), runtime
    refused = _refusal(request, runtime)
    if refused is not None:
        return refused
    form = await request.form(max_files=0, max_fields=len(_FIELDS) + 8)
    fields: dict[str, str] = {}
    for name in _FIELDS:
        value = form.get(name, "" if name == "text" else None)
        if not isinstance(value, str):
            return PlainTextResponse(f"Bad request: {name} is required.", status_code=400)
        fields[name] = value
    if not all(is_text(value) for value in fields.values()):
        # A NUL (or a lone surrogate) is not something a handset sends: refuse it on a screen,
        # before any menu or use case reads it.
        return PlainTextResponse(menus.Screen("END", screen_for(TextInvalid())).render())
    if _SESSION_ID.fullmatch(fields["sessionId"]) is None:
        return PlainTextResponse("Bad request: sessionId is not printable ASCII.", status_code=400)
    for name, length_max in _FIELD_LENGTH_MAX.items():
        if len(fields[name]) > length_max:
            # The aggregator shows the answer: a session grown too long ends politely.
            return PlainTextResponse(menus.Screen("END", menus.TOO_LONG).render())
    text = fields["text"]
    inputs = text.split("*") if text else []
    # E.164 as sent, or without its "+" (some aggregators; or a "+" a form decoded to a space).
    phone = fields["phoneNumber"].strip()
    if phone.isascii() and phone.isdigit() and not phone.startswith("0"):
        phone = f"+{phone}"
    # The menus call use cases, which block on the database: off the event loop.
    screen = await run_in_threadpool(
        menus.respond, runtime.context, phone, inputs, fields["sessionId"]
    )
    return PlainTextResponse(screen.render())


def _refusal(request: Request, runtime: Runtime) -> PlainTextResponse | None:
    """404 while no token is configured, 401 without a token, 403 with another one."""
    expected = runtime.settings.ussd_token
    if expected is None:
        return PlainTextResponse("Not Found", status_code=404)
    presented = _presented_token(request)
    if not presented:
        return PlainTextResponse(
            "Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    if not hmac.compare_digest(
        presented.encode("utf-8", "replace"), expected.get_secret_value().encode("utf-8")
    ):
        return PlainTextResponse("Forbidden", status_code=403)
    return None


def _presented_token(request: Request) -> str | None:
    """The token in `Authorization: Bearer`, else in the query string."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, credentials = authorization.partition(" ")
        return credentials.strip() if scheme.lower() == "bearer" else ""
    return request.query_params.get("token")
