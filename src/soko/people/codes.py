"""One-time codes sent by SMS: opening an account by phone, and a new PIN for a forgotten one.

A code is six random digits, kept only as an argon2 hash (`ctx.pins`, as a PIN is), good for
`limits.CODE_SECONDS` and `limits.CODE_TRIES_MAX` tries; a number gets at most
`limits.CODE_SENDS_PER_WINDOW_MAX` codes an hour. The text goes out through the caller's
`deliver` (the web queues it in the SMS outbox: people know nothing of notify), in the same
transaction that keeps the code, so a code exists exactly when its text does.

Nothing a stranger does here locks a person out: a wrong code spends only that code's tries,
never the PIN's, and the PIN keeps working whatever codes are asked for. Whether a number has an
account is never said to the asker: asked to sign up a number that has one, Soko texts that
number to sign in instead, and asked for a new PIN for a number without one, it texts how to
sign up; either way a code is kept that no one was told, so the page answers alike.

A try is counted before the slow hash is checked, in a short transaction of its own (as a PIN's,
ADR 0016): tries made at once can never test more codes than allowed.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Literal

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.transactions import in_transaction
from soko.people import service as users
from soko.people.domain import (
    User,
    UserKind,
    address_subject,
    check_name,
    check_pin,
    check_served,
    code_usable,
    count_address_try,
    next_code,
    parse_phone,
)
from soko.people.errors import CodeExpired, CodeIncorrect, CodeSendsExceeded, PinTriesExceeded

Purpose = Literal["sign_up", "reset_pin"]
#: Queues the text for the number in the code's transaction: (uow, phone in E.164, the number's
#: account or None, the code, or None when the text must not carry one).
Deliver = Callable[[UnitOfWork, str, User | None, str | None], None]


def send_code(
    ctx: Context,
    *,
    purpose: Purpose,
    phone: str,
    default_region: str | None = None,
    deliver: Deliver,
    client: str | None = None,
) -> str:
    """Send a fresh code to the number (it replaces one waiting); returns the number in E.164.
    Refused with `CodeSendsExceeded` (and `retry_after`) once the number has had its codes, or
    the client address `client` has asked for as many codes as it may try PINs in a window
    (texts cost money: one address may not spray them over many numbers)."""
    e164 = parse_phone(phone, default_region)
    check_served(e164, ctx.countries)
    code = ctx.ids.digits(limits.CODE_DIGITS)
    code_hash = ctx.pins.hash(code)

    def work(uow: UnitOfWork) -> None:
        if client is not None:
            _count_send_from(uow, client, ctx.clock.now())
        last = uow.people.get_code(e164, purpose)
        kept = next_code(last, e164, purpose, code_hash, ctx.clock.now())
        if isinstance(kept, int):
            raise CodeSendsExceeded(retry_after=kept)
        uow.people.put_code(kept, new=last is None)
        user = uow.people.get_user_by_phone(e164)
        wanted = (user is None) == (purpose == "sign_up")
        deliver(uow, e164, user, code if wanted else None)

    in_transaction(ctx, work)
    return e164


def sign_up(
    ctx: Context,
    *,
    phone: str,
    code: str,
    name: str,
    pin: str,
    default_region: str | None = None,
) -> User:
    """Open a consumer account (KYC tier 0) for the number its code was sent to, with a PIN."""
    e164 = parse_phone(phone, default_region)
    name = check_name(name)
    check_pin(pin)
    _redeem(ctx, "sign_up", e164, code, lambda _left: None)
    return users.register(ctx, kind=UserKind.CONSUMER, phone=e164, name=name, pin=pin)


def reset_pin(
    ctx: Context,
    *,
    phone: str,
    code: str,
    new_pin: str,
    national_id: str = "",
    default_region: str | None = None,
) -> User:
    """Set a new PIN with the code texted to the number. A person whose national id is on
    record (KYC tier 1 and up) must type it too: a phone in someone else's hand is not enough.
    The PIN's lock is lifted and every session of the person ends (`users.set_pin`)."""
    e164 = parse_phone(phone, default_region)
    check_pin(new_pin)
    found: list[User] = []

    def matches(left: int) -> None:
        user = users.find_by_phone(ctx, e164)
        if user.national_id is not None and not hmac.compare_digest(
            _id_text(national_id).encode(), _id_text(user.national_id).encode()
        ):
            raise CodeIncorrect("the national id number does not match", tries_left=left)
        found.append(user)

    _redeem(ctx, "reset_pin", e164, code, matches)
    return users.set_pin(ctx, found[0].id, new_pin)


def _count_send_from(uow: UnitOfWork, client: str, now: datetime) -> None:
    subject = ("codes:" + address_subject(client))[: limits.PIN_TRY_SUBJECT_LENGTH_MAX]
    window = uow.people.address_tries(subject)
    counted = count_address_try(window, now)
    if isinstance(counted, PinTriesExceeded):
        raise CodeSendsExceeded(**counted.context)
    uow.people.put_address_tries(subject, counted, new=window is None)


def _id_text(national_id: str) -> str:
    """An id number as typed or kept, without the spaces and case people vary."""
    return "".join(national_id.split()).upper()[: limits.NATIONAL_ID_LENGTH_MAX + 1]


def _redeem(
    ctx: Context, purpose: Purpose, e164: str, code: str, check: Callable[[int], None]
) -> None:
    """Count a try of the number's code, check it, run `check` (given the tries left), and mark
    the code used: a code acts once."""

    def spend(uow: UnitOfWork) -> tuple[str, int]:
        kept = uow.people.get_code(e164, purpose)
        if kept is None or not code_usable(kept, ctx.clock.now()):
            raise CodeExpired()
        assert kept.code_hash is not None
        uow.people.put_code(replace(kept, tries_left=kept.tries_left - 1), new=False)
        return kept.code_hash, kept.tries_left - 1

    code_hash, left = in_transaction(ctx, spend)
    typed = code.strip()
    if not (typed.isascii() and typed.isdigit() and len(typed) == limits.CODE_DIGITS):
        raise CodeIncorrect(tries_left=left)
    if not ctx.pins.verify(code_hash, typed):
        raise CodeIncorrect(tries_left=left)
    check(left)
    if not in_transaction(ctx, lambda uow: uow.people.use_code(e164, purpose, code_hash)):
        raise CodeExpired()  # used meanwhile by another request with the same code
