"""People: consumers, merchants and cash agents, identified by phone number, confirmed by PIN."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

import phonenumbers

from soko.kernel import limits
from soko.kernel.money import Currency
from soko.people.errors import (
    CountryUnknown,
    LanguageInvalid,
    MerchantCategoryInvalid,
    NameInvalid,
    PhoneNumberInvalid,
    PinMalformed,
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
    if not 1 <= len(name) <= limits.NAME_LENGTH_MAX or not name.isprintable():
        raise NameInvalid()
    return name


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
class PinAttempt:
    """What a PIN check leaves behind: the new count of wrong tries and whether it locked."""

    failures: int
    locked: bool


def after_pin_check(*, correct: bool, failures: int) -> PinAttempt:
    """Count a wrong PIN; the `limits.PIN_ATTEMPTS_MAX`-th wrong one in a row locks it."""
    if correct:
        return PinAttempt(failures=0, locked=False)
    failures += 1
    return PinAttempt(failures=failures, locked=failures >= limits.PIN_ATTEMPTS_MAX)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    kind: UserKind
    phone: str
    name: str
    country: str
    kyc_tier: int
    national_id: str | None = None
    pin_failures: int = 0
    pin_locked: bool = False
    has_pin: bool = False
    #: The language the person chose for screens and texts (`en`, `sw`); None until they choose,
    #: when channels default from the phone number's country.
    language: str | None = None


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
