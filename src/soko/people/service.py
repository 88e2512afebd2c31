"""People use cases: register consumers, merchants and agents; PINs; KYC tiers."""

from __future__ import annotations

from dataclasses import dataclass, replace

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.money import Currency
from soko.kernel.transactions import in_transaction
from soko.payments.errors import MerchantNotFound
from soko.people import wallets
from soko.people.domain import (
    Merchant,
    User,
    UserKind,
    after_pin_check,
    check_language,
    check_merchant_category,
    check_name,
    check_pin,
    country_of_phone,
    home_currency,
    parse_phone,
)
from soko.people.errors import (
    NationalIdRequired,
    PinIncorrect,
    PinLocked,
    PinNotSet,
    UserKindMismatch,
    UserNotFound,
)
from soko.people.kyc import check_tier_requirements, tier_of

#: Till numbers are six digits: short enough to key in at a counter, a million of them.
_TILL_DIGITS = 6


@dataclass(frozen=True, slots=True)
class MerchantDetails:
    trading_name: str
    category_code: str
    #: Defaults to the home currency of the merchant's country.
    settlement_currency: str | None = None


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
    country = country or country_of_phone(e164) or ""
    home_currency(country)  # refuses countries Soko does not serve
    name = check_name(name)
    pin_hash = ctx.pins.hash(check_pin(pin)) if pin is not None else None
    if (kind is UserKind.MERCHANT) != (merchant is not None):
        raise UserKindMismatch("merchant details go with, and only with, a merchant")
    details = _checked_merchant(merchant, country) if merchant is not None else None
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


def _checked_merchant(details: MerchantDetails, country: str) -> Merchant:
    currency = details.settlement_currency or home_currency(country).code
    Currency.of(currency)
    return Merchant(
        user_id="",
        trading_name=check_name(details.trading_name),
        category_code=check_merchant_category(details.category_code),
        settlement_currency=currency,
        till_number="",
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
    """Set (or replace) the PIN; clears wrong tries and the lock (an operator action)."""
    pin_hash = ctx.pins.hash(check_pin(pin))

    def work(uow: UnitOfWork) -> User:
        user = _locked_user(uow, user_id)
        updated = replace(user, pin_failures=0, pin_locked=False, has_pin=True)
        uow.people.update_user(updated, pin_hash=pin_hash)
        return updated

    return in_transaction(ctx, work)


def unlock_pin(ctx: Context, user_id: str) -> User:
    """An operator lifts a PIN lock after checking who is asking."""

    def work(uow: UnitOfWork) -> User:
        updated = replace(_locked_user(uow, user_id), pin_failures=0, pin_locked=False)
        uow.people.update_user(updated)
        return updated

    return in_transaction(ctx, work)


def verify_pin(ctx: Context, user_id: str, pin: str) -> User:
    """Check the PIN, counting wrong tries; the fifth wrong one in a row locks it.

    The slow hash (argon2, tens of milliseconds) is checked outside any transaction: inside one
    it held SQLite's single write lock, and so every other payment, for as long. The try is
    counted as wrong first, in a short transaction of its own, and cleared in another once the
    PIN proves right: tries made at the same moment can never test more PINs than the lock
    allows, and a try cut short by a crash stays counted. A wrong PIN is remembered although
    the operation it guarded does not happen.
    """
    check_pin(pin)

    def count_the_try(uow: UnitOfWork) -> tuple[User, str | None]:
        user = _locked_user(uow, user_id)
        if user.pin_locked:
            return user, None
        stored = uow.people.pin_hash(user_id)
        if stored is None:
            raise PinNotSet()
        attempt = after_pin_check(correct=False, failures=user.pin_failures)
        counted = replace(user, pin_failures=attempt.failures, pin_locked=attempt.locked)
        uow.people.update_user(counted)
        return counted, stored

    counted, stored = in_transaction(ctx, count_the_try)
    if stored is None:
        raise PinLocked()
    if ctx.pins.verify(stored, pin):

        def clear_the_count(uow: UnitOfWork) -> User | None:
            user = _locked_user(uow, user_id)
            if uow.people.pin_hash(user_id) != stored:
                return None  # the PIN was changed meanwhile: this one is no longer it
            cleared = replace(user, pin_failures=0, pin_locked=False)
            if cleared != user:
                uow.people.update_user(cleared)
            return cleared

        cleared = in_transaction(ctx, clear_the_count)
        if cleared is not None:
            return cleared
    if counted.pin_locked:
        raise PinLocked()
    raise PinIncorrect(attempts_left=limits.PIN_ATTEMPTS_MAX - counted.pin_failures)


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
