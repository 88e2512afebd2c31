"""The web app's session cookie and the keys its forms carry (CSRF and idempotency in one).

The session token from `access.sign_in` lives in one cookie: HttpOnly (no script reads it),
SameSite=Strict (no other site's page sends it), Path=/app, Secure over https, and gone when
the session ends. Each form also carries a key made when it was drawn: a fresh id and an HMAC
of it and the form's purpose under the session token. Only a page drawn for this session can
produce it, a key made for one order's form fails on another's, and the same key posted twice
is the same idempotency key, so a double tap moves money once.

The sign-in form has no session yet: its key is checked against a short-lived cookie of its own
(a double-submit token), which SameSite=Strict keeps off cross-site posts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from soko.context import Context
from soko.kernel import limits
from soko.kernel.errors import SessionInvalid
from soko.people import access
from soko.people.domain import User

COOKIE = "soko_session"
SIGN_IN_COOKIE = "soko_sign_in"
PATH = "/app"
#: How long a drawn sign-in form stays usable.
SIGN_IN_FORM_SECONDS = 15 * 60
_MAC_HEX_CHARS = 32
#: Tokens are far shorter: anything longer is not one, and is not worth hashing.
_TOKEN_LENGTH_MAX = 128


def signed_in(request: Request, ctx: Context) -> tuple[User, str] | None:
    """The signed-in user and the session token, or None (no cookie, or an ended session)."""
    token = request.cookies.get(COOKIE)
    if token is None or len(token) > _TOKEN_LENGTH_MAX:
        return None
    try:
        return access.authenticate_session(ctx, token), token
    except SessionInvalid:
        return None


def keep(request: Request, response: Response, session: access.Session, ctx: Context) -> None:
    """Set the session cookie; the browser drops it when the session ends."""
    seconds = int((session.expires_at - ctx.clock.now()).total_seconds())
    _set(request, response, COOKIE, session.token, max(0, seconds))
    response.delete_cookie(
        SIGN_IN_COOKIE, path=PATH, secure=_https(request), httponly=True, samesite="strict"
    )


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
