"""People: consumers, merchants and cash agents, identified by phone number, confirmed by PIN."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

import phonenumbers

from soko.kernel import limits
from soko.kernel.money import Currency
from soko.kernel.text import is_printable_name
from soko.people.errors import (
    CountryUnknown,
    MerchantCategoryInvalid,
    NameInvalid,
    PhoneNumberInvalid,
    PinBusy,
    PinIncorrect,
    PinLocked,
    PinMalformed,
    PinTriesExceeded,
)

_PIN: Final = re.compile(r"[0-9]{4,6}")
# What a person types as a phone number: ASCII digits, an optional leading +, and the usual
# separators. No letters (phonenumbers would read them as keypad digits), no extensions.
_PHONE_TEXT: Final = re.compile(r"\+?[0-9 ()\-.]+")
_MERCHANT_CATEGORY: Final = re.compile(r"[0-9]{4}")


class UserKind(StrEnum):
    CONSUMER = "consumer"
    MERCHANT = "merchant"
    AGENT = "agent"


#: The currency a user's wallet opens in by default, by country (ISO 3166 alpha-2). The
#: countries Soko serves: Africa's, and a few where cross-border sellers and buyers live.
HOME_CURRENCY: Final[dict[str, str]] = {
    "KE": "KES", "UG": "UGX", "TZ": "TZS", "RW": "RWF", "BI": "BIF", "ET": "ETB", "SO": "SOS",
    "SS": "SSP", "SD": "SDG", "DJ": "DJF", "ER": "ERN", "NG": "NGN", "GH": "GHS", "SL": "SLE",
    "LR": "LRD", "GM": "GMD", "GN": "GNF", "CV": "CVE", "MR": "MRU", "SN": "XOF", "CI": "XOF",
    "ML": "XOF", "BF": "XOF", "NE": "XOF", "TG": "XOF", "BJ": "XOF", "GW": "XOF", "CM": "XAF",
    "CF": "XAF", "TD": "XAF", "CG": "XAF", "GA": "XAF", "GQ": "XAF", "CD": "CDF", "AO": "AOA",
    "ZM": "ZMW", "ZW": "ZWG", "MW": "MWK", "MZ": "MZN", "ZA": "ZAR", "NA": "NAD", "BW": "BWP",
    "LS": "LSL", "SZ": "SZL", "MG": "MGA", "MU": "MUR", "SC": "SCR", "KM": "KMF", "EG": "EGP",
    "LY": "LYD", "TN": "TND", "DZ": "DZD", "MA": "MAD", "ST": "STN",
    "US": "USD", "GB": "GBP", "CN": "CNY", "IN": "INR", "AE": "AED", "DE": "EUR", "FR": "EUR",
}  # fmt: skip


def parse_phone(text: str, default_region: str | None = None) -> str:
    """The number in E.164 (`+254712345678`), from E.164 or local form with `default_region`."""
    if (
        not isinstance(text, str)
        or len(text) > limits.PHONE_TEXT_LENGTH_MAX
        or _PHONE_TEXT.fullmatch(text) is None
    ):
        raise PhoneNumberInvalid("digits, an optional leading +, spaces and dashes only")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as error:
        raise PhoneNumberInvalid(f"{text!r}: {error}") from error
    if not phonenumbers.is_valid_number(number):
        raise PhoneNumberInvalid(f"{text!r} is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def country_of_phone(e164: str) -> str | None:
    """The ISO 3166 country a number belongs to, if the numbering plan says."""
    region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    # "001" marks non-geographic numbers (+800, +881...), "ZZ" unknown ones: neither is ISO 3166.
    return None if region in (None, "001", "ZZ") else region


def home_currency(country: str) -> Currency:
    if country not in HOME_CURRENCY:
        raise CountryUnknown(f"{country!r}; Soko serves {', '.join(sorted(HOME_CURRENCY))}")
    return Currency.of(HOME_CURRENCY[country])


def check_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= limits.NAME_LENGTH_MAX or not is_printable_name(name):
        raise NameInvalid()
    return name


def check_merchant_category(code: str) -> str:
    if not isinstance(code, str) or _MERCHANT_CATEGORY.fullmatch(code) is None:
        raise MerchantCategoryInvalid()
    return code


def check_pin(pin: str) -> str:
    """A PIN is 4 to 6 ASCII digits. Its hash, never the PIN, is stored."""
    if not isinstance(pin, str) or _PIN.fullmatch(pin) is None:
        raise PinMalformed()
    return pin


@dataclass(frozen=True, slots=True)
class PinState:
    """Where a person's PIN stands: wrong tries, tries being checked, and a lock that times out.

    A try is counted as `checking` before its hash is checked (outside any transaction, ADR
    0016) and settled after: a wrong one adds to `failures`, the `PIN_ATTEMPTS_MAX`-th of which
    locks the PIN until `locked_until`, for longer each time (`lock_count`, ADR 0018). Tries in
    flight and wrong ones together never exceed what a lock allows, so tries made at the same
    moment test no more PINs than tries made one after another.
    """

    failures: int = 0
    checking: int = 0
    #: When the tries being checked count as wrong if never settled (their process died).
    checking_until: datetime | None = None
    locked_until: datetime | None = None
    lock_count: int = 0

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    @property
    def tries_left(self) -> int:
        return max(0, limits.PIN_ATTEMPTS_MAX - self.failures - self.checking)


def lock_seconds(lock_count: int) -> int:
    """How long the `lock_count`-th lock lasts (1-based): 15 minutes, an hour, then a day."""
    return limits.PIN_LOCK_SECONDS[min(lock_count, len(limits.PIN_LOCK_SECONDS)) - 1]


def pin_locked(pin: PinState, now: datetime) -> PinLocked:
    assert pin.locked_until is not None, pin
    return PinLocked(
        locked_until=pin.locked_until.isoformat(),
        retry_after=max(1, _ceil_seconds(pin.locked_until - now)),
        tries_left=0,
    )


def _ceil_seconds(delta: timedelta) -> int:
    return -(-delta // timedelta(seconds=1))


def _lock(pin: PinState, now: datetime) -> PinState:
    count = pin.lock_count + 1
    return replace(
        pin,
        failures=0,
        lock_count=count,
        locked_until=now + timedelta(seconds=lock_seconds(count)),
    )


def settled(pin: PinState, now: datetime) -> PinState:
    """The state as of `now`: tries never answered by their deadline count as wrong (and may
    lock), and an expired lock is gone (its count stays, for the next one's length)."""
    if pin.checking and pin.checking_until is not None and pin.checking_until <= now:
        pin = replace(pin, failures=pin.failures + pin.checking, checking=0, checking_until=None)
        if pin.failures >= limits.PIN_ATTEMPTS_MAX:
            pin = _lock(pin, now)
    if pin.locked_until is not None and pin.locked_until <= now:
        pin = replace(pin, locked_until=None)
    return pin


def start_pin_check(pin: PinState, now: datetime) -> PinState | PinLocked | PinBusy:
    """Count a try as being checked, or the refusal it meets before any check: a lock, or
    (nothing locked) other tries in flight holding every try the lock allows."""
    pin = settled(pin, now)
    if pin.locked_at(now):
        return pin_locked(pin, now)
    if pin.failures + pin.checking >= limits.PIN_ATTEMPTS_MAX:
        return PinBusy(retry_after=1)
    return replace(
        pin,
        checking=pin.checking + 1,
        checking_until=now + timedelta(seconds=limits.PIN_CHECK_SECONDS_MAX),
    )


def finish_pin_check(pin: PinState, *, correct: bool, now: datetime) -> PinState:
    """Settle a counted try. A right PIN clears the wrong tries, the lock and its count (whoever
    has the PIN has it, even if wrong tries made at the same moment locked it meanwhile); a wrong
    one counts, and the `PIN_ATTEMPTS_MAX`-th locks."""
    pin = settled(pin, now)
    checking = max(0, pin.checking - 1)
    pin = replace(pin, checking=checking, checking_until=pin.checking_until if checking else None)
    if correct:
        return replace(pin, failures=0, locked_until=None, lock_count=0)
    pin = replace(pin, failures=pin.failures + 1)
    return _lock(pin, now) if pin.failures >= limits.PIN_ATTEMPTS_MAX else pin


def pin_refusal(pin: PinState, now: datetime) -> PinIncorrect | PinLocked:
    """What a wrong try is told once settled: the tries left, or the lock it completed."""
    if pin.locked_at(now):
        return pin_locked(pin, now)
    return PinIncorrect(tries_left=pin.tries_left)


@dataclass(frozen=True, slots=True)
class TryWindow:
    """Wrong PINs tried from one client address in a fixed window (ADR 0018)."""

    started_at: datetime
    tries: int


def count_address_try(window: TryWindow | None, now: datetime) -> TryWindow | PinTriesExceeded:
    """Count a try from the address, or refuse it while the window is full."""
    length = timedelta(seconds=limits.PIN_TRIES_WINDOW_SECONDS)
    if window is None or window.started_at + length <= now:
        return TryWindow(started_at=now, tries=1)
    if window.tries >= limits.PIN_TRIES_PER_ADDRESS_MAX:
        return PinTriesExceeded(retry_after=max(1, _ceil_seconds(window.started_at + length - now)))
    return replace(window, tries=window.tries + 1)


def give_back_address_try(window: TryWindow, now: datetime) -> TryWindow:
    """A right PIN does not count against its address (a shop's customers share one)."""
    if window.started_at + timedelta(seconds=limits.PIN_TRIES_WINDOW_SECONDS) <= now:
        return window
    return replace(window, tries=max(0, window.tries - 1))


def address_subject(client: str) -> str:
    """What tries from a client address are counted under: the address, or for IPv6 its /64
    (one subscriber's whole network, which costs nothing to change addresses within)."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return f"address:{client}"[: limits.PIN_TRY_SUBJECT_LENGTH_MAX]
    if address.version == 6:
        return f"address:{ipaddress.ip_network((address, 64), strict=False)}"
    return f"address:{address}"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    kind: UserKind
    phone: str
    name: str
    country: str
    kyc_tier: int
    national_id: str | None = None
    pin: PinState = PinState()
    has_pin: bool = False

    def pin_locked_at(self, now: datetime) -> bool:
        return self.pin.locked_at(now)


@dataclass(frozen=True, slots=True)
class Merchant:
    """A small business: what a customer sees at the counter and where its money settles."""

    user_id: str
    trading_name: str
    category_code: str
    settlement_currency: str
    till_number: str


@dataclass(frozen=True, slots=True)
class Wallet:
    id: str
    user_id: str
    currency: str
    account_id: str


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    role: str
    merchant_id: str | None
    name: str
    revoked: bool
