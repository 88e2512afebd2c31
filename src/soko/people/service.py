"""People use cases: register consumers, merchants and agents; PINs; KYC tiers."""

from __future__ import annotations

import secrets
import weakref
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.errors import CursorInvalid, PageSizeInvalid
from soko.kernel.money import Currency
from soko.kernel.transactions import in_transaction
from soko.payments.errors import MerchantNotFound
from soko.people import wallets
from soko.people.domain import (
    ApiKey,
    Merchant,
    PinState,
    User,
    UserKind,
    address_subject,
    check_city,
    check_language,
    check_merchant_category,
    check_name,
    check_pin,
    check_served,
    count_address_try,
    finish_pin_check,
    give_back_address_try,
    home_currency,
    parse_phone,
    pin_refusal,
    settled,
    start_pin_check,
)
from soko.people.errors import (
    CredentialsInvalid,
    NationalIdRequired,
    PinBusy,
    PinIncorrect,
    PinLocked,
    PinNotSet,
    PinTriesExceeded,
    UserKindMismatch,
    UserNotFound,
)
from soko.people.kyc import check_tier_requirements, tier_of
from soko.people.ports import PinHasher

#: Till numbers are six digits: short enough to key in at a counter, a million of them.
_TILL_DIGITS = 6


@dataclass(frozen=True, slots=True)
class MerchantDetails:
    trading_name: str
    category_code: str
    #: Defaults to the home currency of the merchant's country.
    settlement_currency: str | None = None
    #: Where the shop trades (its QR code's city); the operator's city by default.
    city: str | None = None


def register(
    ctx: Context,
    *,
    kind: UserKind,
    phone: str,
    name: str,
    country: str | None = None,
    default_region: str | None = None,
    pin: str | None = None,
    merchant: MerchantDetails | None = None,
) -> User:
    """Register a person or business by phone number. The country defaults to the number's."""
    e164 = parse_phone(phone, default_region)
    if country is not None:
        home_currency(country)  # an ISO 3166 code Soko knows
    country = check_served(e164, ctx.countries, country)
    home_currency(country)
    name = check_name(name)
    pin_hash = ctx.pins.hash(check_pin(pin)) if pin is not None else None
    if (kind is UserKind.MERCHANT) != (merchant is not None):
        raise UserKindMismatch("merchant details go with, and only with, a merchant")
    details = (
        _checked_merchant(merchant, country, ctx.qr_merchant_city) if merchant is not None else None
    )
    user = User(
        id=ctx.ids.new("usr"),
        kind=kind,
        phone=e164,
        name=name,
        country=country,
        kyc_tier=0,
        has_pin=pin_hash is not None,
    )

    def work(uow: UnitOfWork) -> User:
        uow.people.insert_user(user, pin_hash, ctx.clock.now())
        # Money sent to this number before it registered is paid out now.
        wallets.claim_held_payments(uow, ctx, user)
        if details is not None:
            # A random till; a clash (one in a million per merchant) retries the transaction.
            till = ctx.ids.digits(_TILL_DIGITS)
            uow.people.insert_merchant(replace(details, user_id=user.id, till_number=till))
        return user

    return in_transaction(ctx, work)


def _checked_merchant(details: MerchantDetails, country: str, default_city: str) -> Merchant:
    currency = details.settlement_currency or home_currency(country).code
    Currency.of(currency)
    return Merchant(
        user_id="",
        trading_name=check_name(details.trading_name),
        category_code=check_merchant_category(details.category_code),
        settlement_currency=currency,
        till_number="",
        city=check_city(details.city if details.city is not None else default_city),
    )


def get_user(ctx: Context, user_id: str) -> User:
    found = in_transaction(ctx, lambda uow: uow.people.get_user(user_id), read_only=True)
    if found is None:
        raise UserNotFound(user_id=user_id)
    return found


def find_by_phone(ctx: Context, phone: str, default_region: str | None = None) -> User:
    e164 = parse_phone(phone, default_region)
    found = in_transaction(ctx, lambda uow: uow.people.get_user_by_phone(e164), read_only=True)
    if found is None:
        raise UserNotFound(phone=e164)
    return found


@dataclass(frozen=True, slots=True)
class UserPage:
    #: Each user with its merchant details (None but for merchants).
    users: list[tuple[User, Merchant | None]]
    next_cursor: str | None


def list_users(
    ctx: Context,
    *,
    kind: UserKind | None = None,
    phone: str | None = None,
    default_region: str | None = None,
    limit: int = limits.PAGE_SIZE_DEFAULT,
    after: str | None = None,
) -> UserPage:
    """People in the order they registered, a page at a time: of one kind, or the one with a
    phone number (for the operator: finding someone who calls)."""
    _check_page(limit, after)
    e164 = None if phone is None else parse_phone(phone, default_region)

    def work(uow: UnitOfWork) -> UserPage:
        found = uow.people.list_users(
            kind=None if kind is None else kind.value, phone=e164, limit=limit, after_id=after
        )
        listed = [
            (user, uow.people.get_merchant(user.id) if user.kind is UserKind.MERCHANT else None)
            for user in found
        ]
        return UserPage(listed, found[-1].id if len(found) == limit else None)

    return in_transaction(ctx, work, read_only=True)


@dataclass(frozen=True, slots=True)
class ApiKeyPage:
    keys: list[ApiKey]
    next_cursor: str | None


def list_api_keys(
    ctx: Context, *, limit: int = limits.PAGE_SIZE_DEFAULT, after: str | None = None
) -> ApiKeyPage:
    """API keys in the order they were made, revoked ones too: never a secret, which is shown
    once when a key is made and kept only as a hash."""
    _check_page(limit, after)
    found = in_transaction(
        ctx, lambda uow: uow.people.list_api_keys(limit=limit, after_id=after), read_only=True
    )
    return ApiKeyPage(found, found[-1].id if len(found) == limit else None)


def _check_page(limit: int, cursor: str | None) -> None:
    if not 1 <= limit <= limits.PAGE_SIZE_MAX:
        raise PageSizeInvalid(f"page size {limit}; allowed 1 to {limits.PAGE_SIZE_MAX}")
    if cursor is not None and not 0 < len(cursor) <= 40:  # ids are at most 40 characters
        raise CursorInvalid()


def get_merchant(ctx: Context, user_id: str) -> Merchant:
    found = in_transaction(ctx, lambda uow: uow.people.get_merchant(user_id), read_only=True)
    if found is None:
        raise UserNotFound(user_id=user_id)
    return found


def find_by_till(ctx: Context, till_number: str) -> Merchant:
    """The merchant with this till number (what a customer types or reads at the counter)."""
    found = in_transaction(
        ctx, lambda uow: uow.people.get_merchant_by_till(till_number), read_only=True
    )
    if found is None:
        raise MerchantNotFound(till_number=till_number)
    return found


def set_pin(ctx: Context, user_id: str, pin: str) -> User:
    """Set (or replace) the PIN; clears wrong tries and the lock (an operator action), and ends
    every session of the person: one opened with the old PIN is not proof of the new one."""
    pin_hash = ctx.pins.hash(check_pin(pin))

    def work(uow: UnitOfWork) -> User:
        user = _locked_user(uow, user_id)
        updated = replace(user, pin=PinState(), has_pin=True)
        uow.people.update_user(updated, pin_hash=pin_hash)
        uow.people.end_sessions_of(user_id, ctx.clock.now())
        return updated

    return in_transaction(ctx, work)


def unlock_pin(ctx: Context, user_id: str) -> User:
    """An operator lifts a PIN lock after checking who is asking (the next lock is short again).

    The sessions the lock ended stay ended: the person signs in again."""

    def work(uow: UnitOfWork) -> User:
        user = _locked_user(uow, user_id)
        updated = replace(user, pin=replace(user.pin, failures=0, locked_until=None, lock_count=0))
        uow.people.update_user(updated)
        return updated

    return in_transaction(ctx, work)


def verify_pin(ctx: Context, user_id: str, pin: str, *, tried_from: str | None = None) -> User:
    """Check a person's PIN, counting wrong tries; the fifth wrong one in a row locks it, for 15
    minutes, an hour, then a day (ADR 0019), and ends the person's sessions.

    The slow hash (argon2, tens of milliseconds) is checked outside any transaction: inside one
    it held SQLite's single write lock, and so every other payment, for as long (ADR 0016). The
    try is counted as being checked first, in a short transaction of its own, and settled in
    another once checked: tries made at the same moment can never test more PINs than the lock
    allows, and one refused because the others being checked fill the lock's allowance is told
    so (`PinBusy`), not that a lock exists. A try cut short by a crash counts as wrong once
    `limits.PIN_CHECK_SECONDS_MAX` have passed. A wrong PIN is remembered although the
    operation it guarded does not happen.

    `tried_from` names where the PIN was typed when that is not the person's own phone (an
    agent's, `agent_subject`): wrong tries are then also counted against it, in the windows
    ADR 0019 keeps per client address, so one source cannot try many people's PINs.
    """
    check_pin(pin)
    return _check(ctx, _Person(user_id), pin, address=tried_from)


def check_credentials(
    ctx: Context,
    *,
    phone: str,
    pin: str,
    default_region: str | None = None,
    client: str | None = None,
) -> User:
    """The person a phone number and PIN prove, on a form open to anyone (signing in, a pay
    link), from the client address `client` if known (ADR 0019).

    A number without an account (or without a PIN) is refused as a wrong PIN is, after the same
    work (an argon2 check against a stand-in hash, two short transactions) and with the same
    count of tries left and the same locks: no one learns who has an account by trying numbers.
    Wrong tries from one address are limited whatever the numbers (`PinTriesExceeded`).
    """
    e164 = parse_phone(phone, default_region)
    check_pin(pin)
    address = None if client is None else address_subject(client)
    try:
        return _check(ctx, _Number(e164), pin, address=address)
    except PinIncorrect as wrong:
        raise CredentialsInvalid(tries_left=wrong.context["tries_left"]) from None


@dataclass(frozen=True, slots=True)
class _Person:
    user_id: str


@dataclass(frozen=True, slots=True)
class _Number:
    phone: str


@dataclass(frozen=True, slots=True)
class _Counted:
    """What counting a try found: whose PIN (None: a number without one), its hash, or why the
    try was refused before any check."""

    user: User | None
    stored: str | None
    refusal: PinLocked | PinBusy | None = None


def _check(ctx: Context, who: _Person | _Number, pin: str, *, address: str | None) -> User:
    now = ctx.clock.now()

    def count_the_try(uow: UnitOfWork) -> _Counted:
        if address is not None:
            _count_address_try(uow, address, now)
        user: User | None
        if isinstance(who, _Person):
            user = _locked_user(uow, who.user_id)
        else:
            found = uow.people.get_user_by_phone(who.phone)
            user = None if found is None else _locked_user(uow, found.id)
        stored = None if user is None else uow.people.pin_hash(user.id)
        if user is not None and stored is not None:
            started = start_pin_check(user.pin, now)
            if isinstance(started, PinState):
                _store_pin(uow, user, started, now)
                return _Counted(user, stored)
            _store_pin(uow, user, settled(user.pin, now), now)
            return _Counted(user, stored, started)
        if isinstance(who, _Person):
            raise PinNotSet()
        # A number without an account or without a PIN: counted as a person's would be.
        known = uow.people.unknown_number_pin(who.phone)
        state = known or PinState()
        started = start_pin_check(state, now)
        counted = started if isinstance(started, PinState) else settled(state, now)
        uow.people.put_unknown_number_pin(who.phone, counted, now, new=known is None)
        return _Counted(None, None, None if isinstance(started, PinState) else started)

    counted = in_transaction(ctx, count_the_try)
    if counted.refusal is not None:
        raise counted.refusal
    # The one slow step, with no transaction open; a number without a PIN is checked against a
    # stand-in hash, so that it takes as long.
    correct = counted.stored is not None and ctx.pins.verify(counted.stored, pin)
    if counted.stored is None:
        ctx.pins.verify(_stand_in_hash(ctx.pins), pin)

    def settle_the_try(uow: UnitOfWork) -> tuple[User | None, PinState]:
        if counted.user is None:
            assert isinstance(who, _Number), who
            state = uow.people.unknown_number_pin(who.phone) or PinState()
            finished = finish_pin_check(state, correct=False, now=now)
            uow.people.put_unknown_number_pin(who.phone, finished, now, new=False)
            return None, finished
        user = _locked_user(uow, counted.user.id)
        # A PIN changed meanwhile: this one is no longer it, and the try stays wrong.
        right = correct and uow.people.pin_hash(user.id) == counted.stored
        finished = finish_pin_check(user.pin, correct=right, now=now)
        _store_pin(uow, user, finished, now)
        if right and address is not None:
            _give_back_address_try(uow, address, now)
        return (replace(user, pin=finished) if right else None), finished

    proven, state = in_transaction(ctx, settle_the_try)
    if proven is not None:
        return proven
    raise pin_refusal(state, now)


def _store_pin(uow: UnitOfWork, user: User, pin: PinState, now: datetime) -> None:
    """Store the PIN's new state; a lock made now ends the person's sessions."""
    if pin == user.pin:
        return
    uow.people.update_user(replace(user, pin=pin))
    if pin.locked_at(now) and pin.locked_until != user.pin.locked_until:
        uow.people.end_sessions_of(user.id, now)


def _count_address_try(uow: UnitOfWork, subject: str, now: datetime) -> None:
    window = uow.people.address_tries(subject)
    counted = count_address_try(window, now)
    if isinstance(counted, PinTriesExceeded):
        raise counted
    uow.people.put_address_tries(subject, counted, new=window is None)


def _give_back_address_try(uow: UnitOfWork, subject: str, now: datetime) -> None:
    window = uow.people.address_tries(subject)
    if window is not None:
        uow.people.put_address_tries(subject, give_back_address_try(window, now), new=False)


#: A hash of no one's PIN for each hasher (the same cost as real ones), made once per process.
_STAND_INS: weakref.WeakKeyDictionary[PinHasher, str] = weakref.WeakKeyDictionary()


def _stand_in_hash(pins: PinHasher) -> str:
    try:
        return _STAND_INS[pins]
    except KeyError:
        made = _STAND_INS[pins] = pins.hash(secrets.token_hex(8))
        return made


def forget_pin_tries(ctx: Context) -> int:
    """Drop the PIN tries counted for addresses and unknown numbers that no longer matter: a
    window long over, a number untouched for longer than its longest lock; and the one-time
    codes (codes.py) whose code and window of sends are both over (a worker job)."""
    longest = max(limits.PIN_TRIES_WINDOW_SECONDS, *limits.PIN_LOCK_SECONDS)
    before = ctx.clock.now() - timedelta(seconds=longest + limits.PIN_CHECK_SECONDS_MAX)
    return in_transaction(
        ctx,
        lambda uow: uow.people.forget_pin_tries(before, limits.PIN_TRIES_FORGOTTEN_PER_BATCH_MAX),
    )


def change_pin(ctx: Context, user_id: str, old_pin: str, new_pin: str) -> User:
    """The person replaces their PIN, proving the old one (a wrong one counts towards the lock)."""
    check_pin(new_pin)
    verify_pin(ctx, user_id, old_pin)
    return set_pin(ctx, user_id, new_pin)


def set_language(ctx: Context, user_id: str, language: str) -> User:
    """The person chooses the language of their screens and texts."""
    check_language(language)

    def work(uow: UnitOfWork) -> User:
        updated = replace(_locked_user(uow, user_id), language=language)
        uow.people.update_user(updated)
        return updated

    return in_transaction(ctx, work)


def set_kyc_tier(ctx: Context, user_id: str, tier: int, national_id: str | None = None) -> User:
    """An operator records what it verified: tier 1 needs the national id number."""
    level = tier_of(tier)
    if national_id is not None:
        national_id = national_id.strip()
        if not 1 <= len(national_id) <= limits.NATIONAL_ID_LENGTH_MAX:
            raise NationalIdRequired("a national id is 1 to 32 characters")

    def work(uow: UnitOfWork) -> User:
        user = _locked_user(uow, user_id)
        recorded = national_id or user.national_id
        check_tier_requirements(level, recorded)
        updated = replace(user, kyc_tier=int(level), national_id=recorded)
        uow.people.update_user(updated)
        return updated

    return in_transaction(ctx, work)


def _locked_user(uow: UnitOfWork, user_id: str) -> User:
    user = uow.people.get_user(user_id, lock=True)
    if user is None:
        raise UserNotFound(user_id=user_id)
    return user
