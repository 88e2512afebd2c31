"""People: consumers, merchants and cash agents, identified by phone number, confirmed by PIN."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

import phonenumbers

from soko.kernel import limits
from soko.kernel.money import Currency
from soko.kernel.text import is_printable_name
from soko.people.errors import (
    CityInvalid,
    CountryNotServed,
    CountryUnknown,
    LanguageInvalid,
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
_LANGUAGE: Final = re.compile(r"[a-z]{2}")
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
        raise PhoneNumberInvalid(_unreadable_phone(text, error.error_type)) from error
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number)
        plan = f"in {where}'s numbering plan" if where not in (None, "ZZ", "001") else "anywhere"
        raise PhoneNumberInvalid(f"{text!r} is not a number in use {plan}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _unreadable_phone(text: str, reason: int) -> str:
    """Why the phone library could not read `text`, in Soko's words rather than its own."""
    errors = phonenumbers.NumberParseException
    if reason == errors.INVALID_COUNTRY_CODE:
        if text.lstrip().startswith("+"):
            return f"{text!r} does not start with a country calling code"
        return (
            f"{text!r} is a local number without its country: write it with the country "
            "code (+254 712 345 678), or name the country (default_region, such as KE)"
        )
    if reason == errors.TOO_LONG:
        return f"{text!r} is too long for a phone number"
    if reason in (errors.TOO_SHORT_NSN, errors.TOO_SHORT_AFTER_IDD):
        return f"{text!r} is too short for a phone number"
    return f"{text!r} is not a phone number"


def country_of_phone(e164: str) -> str | None:
    """The ISO 3166 country a number belongs to, if the numbering plan says."""
    region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    # "001" marks non-geographic numbers (+800, +881...), "ZZ" unknown ones: neither is ISO 3166.
    return None if region in (None, "001", "ZZ") else region


#: Currencies held across Africa beside the local one (savings, trade, and legal tender in
#: Zimbabwe and South Sudan): offering wallets in them does not make an operator serve the
#: United States or the euro area. It serves them when it names them (SOKO_COUNTRIES).
SECOND_CURRENCIES: Final = frozenset({"USD", "EUR"})


def served_countries(currencies: Iterable[str]) -> frozenset[str]:
    """The countries whose home currency is one of `currencies` (but for the second currencies
    above): whom an operator serves unless it names its countries (SOKO_COUNTRIES)."""
    local = set(currencies) - SECOND_CURRENCIES
    return frozenset(country for country, code in HOME_CURRENCY.items() if code in local)


def check_served(e164: str, served: Collection[str], country: str | None = None) -> str:
    """The country of the number's owner, `country` if named, else the number's: refused unless
    the operator serves both. Money for a number of another country would wait for it to
    register, which it never may."""
    home = country_of_phone(e164)
    served_list = ", ".join(sorted(served))
    if home is None or home not in served:
        numbers = f"{home} numbers" if home else "numbers of no country"
        raise CountryNotServed(
            f"{numbers} are not served here; this operator serves {served_list}", country=home
        )
    if country is not None and country not in served:
        raise CountryNotServed(
            f"{country} is not served here; this operator serves {served_list}", country=country
        )
    return country or home


def home_currency(country: str) -> Currency:
    if country not in HOME_CURRENCY:
        raise CountryUnknown(f"{country!r}; Soko serves {', '.join(sorted(HOME_CURRENCY))}")
    return Currency.of(HOME_CURRENCY[country])


def mask_phone(e164: str) -> str:
    """+254712345200 as +2547•••••200: enough to recognise a number one knows, not to call it."""
    shown_start, shown_end = 5, 3
    hidden = max(len(e164) - shown_start - shown_end, 1)
    return e164[:shown_start] + "•" * hidden + e164[-shown_end:]


#: What makes a spreadsheet read a cell as a formula (OWASP, "CSV injection"): a name or a
#: message written by someone else must never run in the reader's Excel.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(cell: str) -> str:
    """A text cell for CSV that a spreadsheet shows as text: one that begins like a formula
    gets a leading apostrophe, which spreadsheets hide."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def check_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= limits.NAME_LENGTH_MAX or not is_printable_name(name):
        raise NameInvalid()
    return name


def check_city(city: str) -> str:
    """A merchant's city as its owner writes it ("Kampala", "Dar es Salaam"): the same rule as a
    name, 1 to 80 printable characters, trimmed. The QR code prints a fitted copy of it."""
    city = city.strip() if isinstance(city, str) else ""
    if not 1 <= len(city) <= limits.NAME_LENGTH_MAX or not is_printable_name(city):
        raise CityInvalid(field="city")
    return city


def check_merchant_category(code: str) -> str:
    if not isinstance(code, str) or _MERCHANT_CATEGORY.fullmatch(code) is None:
        raise MerchantCategoryInvalid()
    return code


def check_language(code: str) -> str:
    """A language as people choose it: a lowercase ISO 639-1 code (`en`, `sw`, `fr`)."""
    if not isinstance(code, str) or _LANGUAGE.fullmatch(code) is None:
        raise LanguageInvalid()
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
    locks the PIN until `locked_until`, for longer each time (`lock_count`, ADR 0019). Tries in
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
    """Wrong PINs tried from one client address in a fixed window (ADR 0019)."""

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


def agent_subject(agent_id: str) -> str:
    """What tries typed on an agent's phone are counted under (a customer's PIN at cash-out):
    the agent, whatever address its phone has."""
    return f"agent:{agent_id}"[: limits.PIN_TRY_SUBJECT_LENGTH_MAX]


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
    #: The language the person chose for screens and texts (`en`, `sw`); None until they choose,
    #: when channels default from the phone number's country.
    language: str | None = None

    def pin_locked_at(self, now: datetime) -> bool:
        return self.pin.locked_at(now)


@dataclass(frozen=True, slots=True)
class UssdSession:
    """Where a USSD dial got to: enough to resume it, and to answer a resent final request."""

    id: str
    phone: str
    #: The session whose idempotency keys this one uses: itself, or the one it resumed.
    origin_id: str
    #: The inputs taken over from the resumed session ("" when none).
    resumed_path: str
    #: The first screen offered to resume: the first input answers that offer.
    offered: bool
    #: The inputs so far ("*"-joined), cut before the first secret one.
    path: str
    result: str | None
    result_inputs: int | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Merchant:
    """A small business: what a customer sees at the counter and where its money settles."""

    user_id: str
    trading_name: str
    category_code: str
    settlement_currency: str
    till_number: str
    #: The merchant's open loan (soko.credit), kept on this row so that a payment, which reads
    #: the merchant anyway, knows without another read whether part of it repays a loan.
    open_loan_id: str | None = None
    #: Where the shop trades: its QR code's Merchant City (migration 0016). Empty only on a
    #: record not yet stored; registration fills it (the operator's city by default).
    city: str = ""


@dataclass(frozen=True, slots=True)
class Wallet:
    id: str
    user_id: str
    currency: str
    account_id: str


@dataclass(frozen=True, slots=True)
class Party:
    """One side of a payment as the other side's statement shows it."""

    #: The merchant's trading name or the person's name; None for a number with no account.
    name: str | None
    phone: str


@dataclass(frozen=True, slots=True)
class PaymentSides:
    """Who paid whom in a payment, or in the payment a refund gives back, and its message.

    `reference` is what the ledger's transfers refer to: the payment's id or the refund's.
    """

    reference: str
    payer_wallet_id: str | None
    payer: Party | None
    payee_wallet_id: str | None
    payee: Party | None
    message: str | None

    def other_side(self, wallet_id: str) -> Party | None:
        """The party facing `wallet_id`, its phone masked; None if the wallet is neither."""
        if wallet_id == self.payer_wallet_id:
            other = self.payee
        elif wallet_id == self.payee_wallet_id:
            other = self.payer
        else:
            return None
        return None if other is None else Party(other.name, mask_phone(other.phone))


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    role: str
    merchant_id: str | None
    name: str
    revoked: bool
    #: Set when read back for a listing (a key being made or checked does not need it).
    created_at: datetime | None = None


# --- one-time codes sent by SMS ----------------------------------------------------------------

#: What a code is for: opening an account, or choosing a new PIN in place of a forgotten one.
CODE_PURPOSES: Final = ("sign_up", "reset_pin")


@dataclass(frozen=True, slots=True)
class OneTimeCode:
    """The code waiting for one number and purpose (argon2-hashed; None once used), and how many
    codes were sent to it in the current window."""

    phone: str
    purpose: str
    code_hash: str | None
    expires_at: datetime
    tries_left: int
    window_started_at: datetime
    sends: int


def next_code(
    last: OneTimeCode | None, phone: str, purpose: str, code_hash: str, now: datetime
) -> OneTimeCode | int:
    """The code to keep when a new one is sent, or the seconds to wait when the number has had
    its codes for this window. A new code replaces the one waiting."""
    window = timedelta(seconds=limits.CODE_SENDS_WINDOW_SECONDS)
    if last is None or last.window_started_at + window <= now:
        started, sends = now, 0
    else:
        started, sends = last.window_started_at, last.sends
    if sends >= limits.CODE_SENDS_PER_WINDOW_MAX:
        return max(1, int((started + window - now).total_seconds()))
    return OneTimeCode(
        phone=phone,
        purpose=purpose,
        code_hash=code_hash,
        expires_at=now + timedelta(seconds=limits.CODE_SECONDS),
        tries_left=limits.CODE_TRIES_MAX,
        window_started_at=started,
        sends=sends + 1,
    )


def code_usable(code: OneTimeCode | None, now: datetime) -> bool:
    return (
        code is not None
        and code.code_hash is not None
        and code.tries_left > 0
        and code.expires_at > now
    )
