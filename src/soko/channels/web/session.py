"""The web app's session cookie and the keys its forms carry (CSRF and idempotency in one).

The session token from `access.sign_in` lives in one cookie: HttpOnly (no script reads it),
SameSite=Strict (no other site's page sends it), Path=/app, Secure over https. The session
lasts while in use: `limits.WEB_SESSION_IDLE_SECONDS` after the last page, at most
`limits.WEB_SESSION_SECONDS_MAX` after signing in (`access.use_session`); the cookie lives to
that cap and the server decides.

Each form also carries a key made when it was drawn: a fresh id and an HMAC of it and the form's
purpose under the session token. Only a page drawn for this session can
produce it, a key made for one order's form fails on another's, and the same key posted twice
is the same idempotency key, so a double tap moves money once.

The sign-in form has no session yet: its key is checked against a short-lived cookie of its own
(a double-submit token), which SameSite=Strict keeps off cross-site posts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final
from urllib.parse import urlencode, urlsplit

from fastapi import Request, Response

from soko.channels import i18n
from soko.context import Context
from soko.kernel import limits
from soko.kernel.errors import SessionInvalid
from soko.people import access
from soko.people.domain import User

COOKIE = "soko_session"
#: The person's language, for the pages drawn without a session (sign-in after an expired
#: session, error pages): not a secret, and it names no one.
LANGUAGE_COOKIE = "soko_language"
_LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
SIGN_IN_COOKIE = "soko_sign_in"
PATH = "/app"
#: How long a drawn sign-in form stays usable.
SIGN_IN_FORM_SECONDS = 15 * 60
_MAC_HEX_CHARS = 32
#: Tokens are far shorter: anything longer is not one, and is not worth hashing.
_TOKEN_LENGTH_MAX = 128
#: The longest page address kept to return to after signing in.
_NEXT_LENGTH_MAX = 512


def signed_in(request: Request, ctx: Context) -> tuple[User, str] | None:
    """The signed-in user and the session token, or None (no cookie, or an ended session)."""
    token = request.cookies.get(COOKIE)
    if token is None or len(token) > _TOKEN_LENGTH_MAX:
        return None
    try:
        user = access.use_session(
            ctx,
            token,
            idle_seconds=limits.WEB_SESSION_IDLE_SECONDS,
            cap_seconds=limits.WEB_SESSION_SECONDS_MAX,
        )
    except SessionInvalid:
        return None
    return user, token


def keep(request: Request, response: Response, session: access.Session) -> None:
    """Set the session cookie, kept to the session's cap: the server ends it sooner when idle."""
    _set(request, response, COOKIE, session.token, limits.WEB_SESSION_SECONDS_MAX)
    remember_language(request, response, i18n.language_for(session.user.language,
                                                           session.user.country))  # fmt: skip
    response.delete_cookie(
        SIGN_IN_COOKIE, path=PATH, secure=_https(request), httponly=True, samesite="strict"
    )


def remember_language(request: Request, response: Response, language: str) -> None:
    """Keep the person's language for the pages drawn before they sign in again."""
    response.set_cookie(
        LANGUAGE_COOKIE, language, max_age=_LANGUAGE_COOKIE_SECONDS, path="/",
        secure=_https(request), httponly=True, samesite="lax",
    )  # fmt: skip


def forget(request: Request, response: Response) -> None:
    """Clear the session cookie (sign out)."""
    response.delete_cookie(
        COOKIE, path=PATH, secure=_https(request), httponly=True, samesite="strict"
    )


def form_key(ctx: Context, token: str, purpose: str) -> str:
    """A key for a form drawn now for this session, good for `purpose` only."""
    nonce = ctx.ids.new("web")
    return f"{nonce}.{_mac(token, purpose, nonce)}"


def check_form_key(token: str, purpose: str, key: str) -> bool:
    nonce, dot, mac = key.partition(".")
    if not dot or not nonce or len(key) > limits.IDEMPOTENCY_KEY_LENGTH_MAX - len("web:"):
        return False
    return hmac.compare_digest(mac.encode(), _mac(token, purpose, nonce).encode())


def idempotency_key(key: str) -> str:
    """The idempotency key of a checked form key: the same form sent twice acts once."""
    return f"web:{key}"


def new_sign_in_key() -> str:
    """A fresh key for the sign-in form; `remember_sign_in_key` sets it as its cookie too."""
    return secrets.token_urlsafe(24)


def remember_sign_in_key(request: Request, response: Response, key: str) -> None:
    _set(request, response, SIGN_IN_COOKIE, key, SIGN_IN_FORM_SECONDS)


def check_sign_in_form_key(request: Request, key: str) -> bool:
    kept = request.cookies.get(SIGN_IN_COOKIE)
    if not kept or not key:
        return False
    return hmac.compare_digest(kept.encode(), key.encode())


def safe_next(target: str | None) -> str | None:
    """`target` if it is a page of the app to return to after signing in (a local path under
    /app, never another site, scheme or host); otherwise None."""
    if not target or len(target) > _NEXT_LENGTH_MAX or not target.isascii():
        return None
    if not (target == PATH or target.startswith((PATH + "/", PATH + "?"))):
        return None
    if "\\" in target or "//" in target or any(ord(c) < 0x21 or c == "\x7f" for c in target):
        return None
    if (
        any(part in {".", ".."} for part in target.split("?")[0].split("/"))
        or "%2e" in target.lower()
    ):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith(f"{PATH}/sign-"):
        return None
    return target


def _mac(token: str, purpose: str, nonce: str) -> str:
    message = f"{purpose}\n{nonce}".encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()[:_MAC_HEX_CHARS]


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


def _set(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    # Max-Age rather than Expires: it does not depend on the browser's clock agreeing with ours.
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        secure=_https(request),
        httponly=True,
        samesite="strict",
    )


# --- the language of pages drawn without a session ---------------------------------------------


#: The query parameter that picks a public page's language (`/?lang=sw`, `/pay/pr_…?lang=sw`):
#: a link shared in Kiswahili opens in Kiswahili, whatever the browser says.
LANGUAGE_PARAMETER: Final = "lang"


def language_of(request: Request) -> str:
    """The visitor's language without a session to ask: the one the address asks for
    (`?lang=`), else the one they last chose here (a cookie), else the browser's
    Accept-Language."""
    asked = request.query_params.get(LANGUAGE_PARAMETER)
    if asked in i18n.LANGUAGES:
        return str(asked)
    kept = request.cookies.get(LANGUAGE_COOKIE)
    if kept in i18n.LANGUAGES:
        return str(kept)
    for part in request.headers.get("accept-language", "")[:200].split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in i18n.LANGUAGES:
            return code
    return i18n.SOURCE


def language_links(request: Request, language: str) -> list[tuple[str, str, str, bool]]:
    """The public pages' language switch: each language's code, own name, this address with
    `?lang=` set to it (the rest of the query kept: `next`, say), and whether it is the page's."""
    links = []
    for code in i18n.LANGUAGES:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != LANGUAGE_PARAMETER]
        href = f"{request.url.path}?{urlencode([*query, (LANGUAGE_PARAMETER, code)])}"
        links.append((code, i18n.NAMES.get(code, code), href, code == language))
    return links


def keep_asked_language(request: Request, response: Response) -> None:
    """A language asked for by `?lang=` is kept (the language cookie) for the next pages."""
    asked = request.query_params.get(LANGUAGE_PARAMETER)
    if asked in i18n.LANGUAGES and asked != request.cookies.get(LANGUAGE_COOKIE):
        remember_language(request, response, str(asked))
