"""Who may call: operator and merchant API keys, and people's sessions (phone and PIN).

Secrets are shown once and stored only as SHA-256 hashes: a stolen database holds no usable key
or token. Keys and tokens carry 256 random bits, so a fast hash is enough (argon2 is for PINs,
which are short).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.errors import ApiKeyInvalid, SessionInvalid
from soko.kernel.transactions import in_transaction
from soko.people import service as users
from soko.people.domain import ApiKey, User, UserKind, UssdSession, check_name
from soko.people.errors import ApiKeyNotFound, UserKindMismatch, UserNotFound

Role = Literal["operator", "merchant"]
KEY_PREFIX = "soko_sk_"
TOKEN_PREFIX = "soko_st_"  # noqa: S105 - a public prefix, not a secret


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: ApiKey
    #: Shown to the operator once; only its hash is kept.
    secret: str


def create_api_key(
    ctx: Context, *, role: Role, name: str, merchant_id: str | None = None
) -> NewApiKey:
    """A key for the operator (everything) or for one merchant (its own data only)."""
    name = check_name(name)
    if (role == "merchant") != (merchant_id is not None):
        raise UserKindMismatch("a merchant key names its merchant; an operator key none")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=ctx.ids.new("key"), role=role, merchant_id=merchant_id, name=name, revoked=False
    )

    def work(uow: UnitOfWork) -> NewApiKey:
        if merchant_id is not None:
            merchant = uow.people.get_user(merchant_id)
            if merchant is None or merchant.kind is not UserKind.MERCHANT:
                raise UserNotFound(user_id=merchant_id)
        uow.people.insert_api_key(key, _digest(secret), ctx.clock.now())
        return NewApiKey(key, secret)

    return in_transaction(ctx, work)


def authenticate_api_key(ctx: Context, secret: str | None) -> ApiKey:
    if not secret or not secret.startswith(KEY_PREFIX):
        raise ApiKeyInvalid()
    digest = _digest(secret)
    key = in_transaction(ctx, lambda uow: uow.people.get_api_key_by_hash(digest), read_only=True)
    if key is None or key.revoked:
        raise ApiKeyInvalid()
    return key


def revoke_api_key(ctx: Context, key_id: str) -> None:
    def work(uow: UnitOfWork) -> bool:
        return uow.people.revoke_api_key(key_id, ctx.clock.now())

    if not in_transaction(ctx, work):
        raise ApiKeyNotFound(key_id=key_id)


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    #: The bearer token, shown once.
    token: str
    expires_at: datetime


def sign_in(
    ctx: Context,
    *,
    phone: str,
    pin: str,
    default_region: str | None = None,
    client: str | None = None,
    seconds: int = limits.SESSION_SECONDS_MAX,
) -> Session:
    """Phone number and PIN for a short-lived bearer token, good for `seconds` (the web app's
    slide on with `use_session`). Wrong PINs count towards the lock, and from the client
    address `client` towards its limit. A number without an account is refused exactly as a
    wrong PIN is (`CredentialsInvalid`, ADR 0019)."""
    user = users.check_credentials(
        ctx, phone=phone, pin=pin, default_region=default_region, client=client
    )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = ctx.clock.now()
    expires_at = now + timedelta(seconds=seconds)
    in_transaction(
        ctx, lambda uow: uow.people.insert_session(_digest(token), user.id, expires_at, now)
    )
    return Session(user=user, token=token, expires_at=expires_at)


def sign_out(ctx: Context, token: str) -> None:
    """End the session now: its token authenticates nothing from here on. An unknown or ended
    token is already signed out."""
    if token.startswith(TOKEN_PREFIX):
        digest = _digest(token)
        in_transaction(ctx, lambda uow: uow.people.end_session(digest, ctx.clock.now()))


def authenticate_session(ctx: Context, token: str | None) -> User:
    if not token or not token.startswith(TOKEN_PREFIX):
        raise SessionInvalid()
    digest = _digest(token)

    def work(uow: UnitOfWork) -> User | None:
        user_id = uow.people.session_user(digest, ctx.clock.now())
        return None if user_id is None else uow.people.get_user(user_id)

    user = in_transaction(ctx, work, read_only=True)
    if user is None:
        raise SessionInvalid()
    return user


def use_session(ctx: Context, token: str | None, *, idle_seconds: int, cap_seconds: int) -> User:
    """`authenticate_session` for a session that lasts while in use: each use moves its end to
    `idle_seconds` from now, never past `cap_seconds` after signing in. The end is written only
    once less than half the idle time remains, so most pages write nothing."""
    if not token or not token.startswith(TOKEN_PREFIX):
        raise SessionInvalid()
    digest = _digest(token)
    now = ctx.clock.now()

    def read(uow: UnitOfWork) -> tuple[User, datetime, datetime] | None:
        times = uow.people.session_times(digest, now)
        if times is None:
            return None
        user_id, expires_at, created_at = times
        user = uow.people.get_user(user_id)
        return None if user is None else (user, expires_at, created_at)

    found = in_transaction(ctx, read, read_only=True)
    if found is None:
        raise SessionInvalid()
    user, expires_at, created_at = found
    if expires_at - now < timedelta(seconds=idle_seconds / 2):
        later = min(
            now + timedelta(seconds=idle_seconds), created_at + timedelta(seconds=cap_seconds)
        )
        if later > expires_at:
            in_transaction(ctx, lambda uow: uow.people.extend_session(digest, later, now))
    return user


# --- USSD sessions: where a dial got to ------------------------------------------------------


def ussd_session(ctx: Context, session_id: str) -> UssdSession | None:
    return in_transaction(ctx, lambda uow: uow.people.get_ussd_session(session_id), read_only=True)


def resumable_ussd_session(ctx: Context, phone: str) -> UssdSession | None:
    """The phone's last session if it was dropped mid-flow (no END screen, something typed)
    within `limits.USSD_RESUME_SECONDS`: a new dial offers to go on with it."""
    since = ctx.clock.now() - timedelta(seconds=limits.USSD_RESUME_SECONDS)
    last = in_transaction(
        ctx, lambda uow: uow.people.last_ussd_session(phone, since), read_only=True
    )
    if last is None or last.result is not None or not last.path:
        return None
    return last


def save_ussd_session(ctx: Context, session: UssdSession) -> None:
    in_transaction(ctx, lambda uow: uow.people.save_ussd_session(session))
