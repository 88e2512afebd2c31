"""Money: exact amounts in integer minor units, their currencies, parsing, printing and splitting.

An amount is a count of a currency's minor units (cents, santimu, fils) held in a Python ``int``
and bounded to a signed 64-bit column. No binary fraction ever touches an amount: amounts arrive
as decimal strings in major units, are parsed with integer arithmetic, and are printed back the
same way.

Parsing is strict, because a lenient parser is how money gets rounded by accident:

* Only ``-?[0-9]+(\\.[0-9]+)?`` is an amount: ASCII digits, an optional leading minus, an optional
  fraction. No ``+``, exponents, separators, spaces, ``NaN`` or ``Infinity``, no ``.5`` or ``5.``.
* More fractional digits than the currency's ISO 4217 exponent is ``AmountTooPrecise``, even when
  the extra digits are zeros (``"1500.500"`` KES): a client that sends three decimals for a
  two-decimal currency has a bug we want to surface, and more digits is never a rounding.
* Text longer than ``AMOUNT_TEXT_LENGTH_MAX`` is ``AmountMalformed`` before any conversion, so a
  huge string costs nothing. The bound is a format rule and leaves room for leading zeros; a
  shorter string whose value does not fit in 64 bits is ``AmountOverflows``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from soko.kernel import limits
from soko.kernel.errors import (
    AmountMalformed,
    AmountNotAString,
    AmountOverflows,
    AmountTooPrecise,
    CurrencyMismatch,
    CurrencyUnknown,
    WeightsInvalid,
)
from soko.kernel.limits import AMOUNT_MINOR_MAX

__all__ = [
    "AMOUNT_MINOR_MAX",
    "AMOUNT_TEXT_LENGTH_MAX",
    "CURRENCIES",
    "Currency",
    "Money",
    "allocate",
]

#: The longest amount text ``Money.parse`` looks at. The largest amount, with sign and decimal
#: point, is at most 21 characters; 40 leaves room for leading zeros.
AMOUNT_TEXT_LENGTH_MAX: Final = limits.AMOUNT_TEXT_LENGTH_MAX

# [0-9] rather than \d: in a str pattern \d also matches Arabic-Indic, Devanagari and other digits.
_AMOUNT_SYNTAX: Final = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_CURRENCY_CODE_SYNTAX: Final = re.compile(r"[A-Z]{3}")
_CURRENCY_NUMERIC_SYNTAX: Final = re.compile(r"[0-9]{3}")
# ISO 4217 has no exponent above 4 (CLF, UYW); anything larger is a typo in the table.
_EXPONENT_MAX: Final = 4
# Errors echo at most this much of what the caller sent.
_ECHO_LENGTH_MAX: Final = 24


def _echo(text: str) -> str:
    if len(text) <= _ECHO_LENGTH_MAX:
        return repr(text)
    return repr(text[:_ECHO_LENGTH_MAX]) + "..."


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency: alphabetic code, numeric code, minor-unit exponent, English name."""

    code: str
    #: Three digits with leading zeros ("012" for DZD), as EMVCo QR codes carry it.
    numeric: str
    #: ISO 4217 minor units: KES 2, UGX 0, KWD 3. Not CLDR's display precision, which differs.
    exponent: int
    name: str

    def __post_init__(self) -> None:
        # The table below is the only producer; these catch a typo in it at import time.
        if not _CURRENCY_CODE_SYNTAX.fullmatch(self.code):
            raise ValueError(f"currency code must be three letters A-Z, got {self.code!r}")
        if not _CURRENCY_NUMERIC_SYNTAX.fullmatch(self.numeric):
            raise ValueError(f"currency numeric must be three digits, got {self.numeric!r}")
        if type(self.exponent) is not int or not 0 <= self.exponent <= _EXPONENT_MAX:
            raise ValueError(f"currency exponent must be 0..{_EXPONENT_MAX}, got {self.exponent!r}")

    @classmethod
    def of(cls, code: str) -> Currency:
        """The currency with this code, exactly as ISO writes it ("KES", never "kes")."""
        currency = CURRENCIES.get(code) if isinstance(code, str) else None
        if currency is None:
            shown = _echo(code) if isinstance(code, str) else type(code).__name__
            raise CurrencyUnknown(f"Soko does not know the currency {shown}.")
        return currency

    def __str__(self) -> str:
        return self.code


# Pinned to the ISO 4217 list published 2026-01-01, in which ZWG, SLE, MRU and STN have replaced
# ZWL, SLL, MRO and STD. Which currencies Soko can hold is our decision, not a dependency's, so
# the table lives here; tests/unit/test_money.py checks every row against the iso4217 package.
_TABLE: Final = (
    # Every currency in use in an African country.
    Currency("AOA", "973", 2, "Kwanza"),
    Currency("BIF", "108", 0, "Burundi Franc"),
    Currency("BWP", "072", 2, "Pula"),
    Currency("CDF", "976", 2, "Congolese Franc"),
    Currency("CVE", "132", 2, "Cabo Verde Escudo"),
    Currency("DJF", "262", 0, "Djibouti Franc"),
    Currency("DZD", "012", 2, "Algerian Dinar"),
    Currency("EGP", "818", 2, "Egyptian Pound"),
    Currency("ERN", "232", 2, "Nakfa"),
    Currency("ETB", "230", 2, "Ethiopian Birr"),
    Currency("GHS", "936", 2, "Ghana Cedi"),
    Currency("GMD", "270", 2, "Dalasi"),
    Currency("GNF", "324", 0, "Guinean Franc"),
    Currency("KES", "404", 2, "Kenyan Shilling"),
    Currency("KMF", "174", 0, "Comorian Franc"),
    Currency("LRD", "430", 2, "Liberian Dollar"),
    Currency("LSL", "426", 2, "Loti"),
    Currency("LYD", "434", 3, "Libyan Dinar"),
    Currency("MAD", "504", 2, "Moroccan Dirham"),
    Currency("MGA", "969", 2, "Malagasy Ariary"),
    Currency("MRU", "929", 2, "Ouguiya"),
    Currency("MUR", "480", 2, "Mauritius Rupee"),
    Currency("MWK", "454", 2, "Malawi Kwacha"),
    Currency("MZN", "943", 2, "Mozambique Metical"),
    Currency("NAD", "516", 2, "Namibia Dollar"),
    Currency("NGN", "566", 2, "Naira"),
    Currency("RWF", "646", 0, "Rwanda Franc"),
    Currency("SCR", "690", 2, "Seychelles Rupee"),
    Currency("SDG", "938", 2, "Sudanese Pound"),
    Currency("SLE", "925", 2, "Leone"),
    Currency("SOS", "706", 2, "Somali Shilling"),
    Currency("SSP", "728", 2, "South Sudanese Pound"),
    Currency("STN", "930", 2, "Dobra"),
    Currency("SZL", "748", 2, "Lilangeni"),
    Currency("TND", "788", 3, "Tunisian Dinar"),
    Currency("TZS", "834", 2, "Tanzanian Shilling"),
    Currency("UGX", "800", 0, "Uganda Shilling"),
    Currency("XAF", "950", 0, "CFA Franc BEAC"),
    Currency("XOF", "952", 0, "CFA Franc BCEAO"),
    Currency("ZAR", "710", 2, "Rand"),
    Currency("ZMW", "967", 2, "Zambian Kwacha"),
    Currency("ZWG", "924", 2, "Zimbabwe Gold"),
    # Trading partners, and the exponents 0 and 3 outside Africa.
    Currency("AED", "784", 2, "UAE Dirham"),
    Currency("AUD", "036", 2, "Australian Dollar"),
    Currency("BHD", "048", 3, "Bahraini Dinar"),
    Currency("CAD", "124", 2, "Canadian Dollar"),
    Currency("CHF", "756", 2, "Swiss Franc"),
    Currency("CNY", "156", 2, "Yuan Renminbi"),
    Currency("EUR", "978", 2, "Euro"),
    Currency("GBP", "826", 2, "Pound Sterling"),
    Currency("INR", "356", 2, "Indian Rupee"),
    Currency("JOD", "400", 3, "Jordanian Dinar"),
    Currency("JPY", "392", 0, "Yen"),
    Currency("KWD", "414", 3, "Kuwaiti Dinar"),
    Currency("OMR", "512", 3, "Rial Omani"),
    Currency("SAR", "682", 2, "Saudi Riyal"),
    Currency("USD", "840", 2, "US Dollar"),
)

#: Every currency Soko can hold, by code.
CURRENCIES: Final[Mapping[str, Currency]] = MappingProxyType({c.code: c for c in _TABLE})


def _as_currency(currency: Currency | str) -> Currency:
    return currency if isinstance(currency, Currency) else Currency.of(currency)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: a signed count of ``currency``'s minor units.

    The range is symmetric, ``-AMOUNT_MINOR_MAX..AMOUNT_MINOR_MAX``, so negation never overflows;
    that gives up only -2**63, which a BIGINT could hold but no payment needs.
    """

    amount_minor: int
    currency: Currency

    def __post_init__(self) -> None:
        # A bool is an int to Python, and True cents is always a bug. Anything that is not an int
        # here is a programmer error; input from outside arrives through parse().
        if type(self.amount_minor) is not int:
            raise TypeError(
                f"amount_minor must be an int, got {type(self.amount_minor).__name__}",
            )
        if not isinstance(self.currency, Currency):
            raise TypeError(f"currency must be a Currency, got {type(self.currency).__name__}")
        if abs(self.amount_minor) > AMOUNT_MINOR_MAX:
            # Not echoed: a runaway int can be too long even to print.
            raise AmountOverflows(f"The {self.currency} amount does not fit in 64 bits.")

    @classmethod
    def zero(cls, currency: Currency | str) -> Money:
        return cls(0, _as_currency(currency))

    @classmethod
    def of(cls, amount_minor: int, currency: Currency | str) -> Money:
        """``Money.of(150050, "KES")`` is KES 1500.50."""
        return cls(amount_minor, _as_currency(currency))

    @classmethod
    def parse(cls, text: object, currency: Currency | str) -> Money:
        """The amount a decimal string in major units names, exactly; see the module docstring.

        ``text`` is typed ``object`` because it usually comes straight from decoded JSON, where a
        number must be refused rather than trusted. Zero and negative amounts are returned: whether
        they are allowed is the use case's rule, not the parser's.
        """
        resolved = _as_currency(currency)
        if not isinstance(text, str):
            raise AmountNotAString(
                f'An amount must be a decimal string such as "1500.50", not {type(text).__name__}.',
            )
        if len(text) > AMOUNT_TEXT_LENGTH_MAX:
            raise AmountMalformed(
                f"An amount is at most {AMOUNT_TEXT_LENGTH_MAX} characters, got {len(text)}.",
            )
        match = _AMOUNT_SYNTAX.fullmatch(text)
        if match is None:
            raise AmountMalformed(
                f'{_echo(text)} is not a plain decimal number such as "1500.50".',
            )
        sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
        exponent = resolved.exponent
        if len(fraction) > exponent:
            raise AmountTooPrecise(
                f"{resolved} allows {exponent} decimal places; {_echo(text)} has {len(fraction)}.",
                currency=resolved.code,
                exponent=exponent,
            )
        magnitude = int(whole) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
        if magnitude > AMOUNT_MINOR_MAX:
            raise AmountOverflows(f"{resolved} {text} does not fit in 64 bits of minor units.")
        return cls(-magnitude if sign else magnitude, resolved)

    def to_decimal_string(self) -> str:
        """Major units with exactly ``exponent`` decimals: "1500.50" KES, "1500" UGX, "-3.20"."""
        exponent = self.currency.exponent
        sign = "-" if self.amount_minor < 0 else ""
        if exponent == 0:
            return f"{sign}{abs(self.amount_minor)}"
        whole, fraction = divmod(abs(self.amount_minor), 10**exponent)
        return f"{sign}{whole}.{fraction:0{exponent}d}"

    def __str__(self) -> str:
        return f"{self.currency.code} {self.to_decimal_string()}"

    def to_display_string(self) -> str:
        """For people to read in a message: the code and thousands grouped, "KES 10,000.00".
        (Not for SMS texts, which count every character, nor for the wire.)"""
        whole, _, fraction = self.to_decimal_string().lstrip("-").partition(".")
        sign = "-" if self.amount_minor < 0 else ""
        grouped = f"{int(whole):,}" + (f".{fraction}" if fraction else "")
        return f"{self.currency.code} {sign}{grouped}"

    def __repr__(self) -> str:
        return f"Money.of({self.amount_minor}, {self.currency.code!r})"

    def is_positive(self) -> bool:
        return self.amount_minor > 0

    def is_zero(self) -> bool:
        return self.amount_minor == 0

    def _require_same_currency(self, other: Money, operation: str) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"Cannot {operation} {self.currency} and {other.currency}.",
                currencies=[self.currency.code, other.currency.code],
            )

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "add")
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "subtract")
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    # Equality stays the dataclass's (KES 1 != UGX 1, and hashing works), but an order between
    # currencies would be meaningless, so the comparisons refuse one.
    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "compare")
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "compare")
        return self.amount_minor <= other.amount_minor

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "compare")
        return self.amount_minor > other.amount_minor

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "compare")
        return self.amount_minor >= other.amount_minor

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """Split this amount by ``weights``; see ``allocate``. The parts sum to this amount."""
        return [Money(part, self.currency) for part in allocate(self.amount_minor, weights)]


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights``; the parts always sum to ``total``.

    Rounding mode: largest remainder. Each part starts as its exact share rounded toward zero;
    the units that leaves over go one each to the parts with the largest remainders, ties to the
    earliest index. So every part is within one minor unit of its exact share, a zero weight
    always gets zero, and no unit is created or lost: the books balance to the unit. Because ties
    go to the earliest part, the caller decides who gets a contested unit by the order of weights.
    A negative total is split as its absolute value and negated, so rounding is the same size
    either way (a refund mirrors its payment).
    """
    if type(total) is not int:
        raise TypeError(f"total must be an int, got {type(total).__name__}")
    weights = tuple(weights)
    if not weights:
        raise WeightsInvalid("There must be at least one weight.")
    for index, weight in enumerate(weights):
        if type(weight) is not int or weight < 0:
            raise WeightsInvalid(
                f"Weight {index} is {weight!r}; weights are non-negative integers.",
                index=index,
            )
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise WeightsInvalid("At least one weight must be greater than zero.")

    magnitude = abs(total)
    shares = [divmod(magnitude * weight, weight_sum) for weight in weights]
    parts = [quotient for quotient, _ in shares]
    leftover = magnitude - sum(parts)
    # The remainders sum to leftover * weight_sum and each is below weight_sum, so more than
    # `leftover` parts have a non-zero remainder: a zero weight never receives a leftover unit.
    by_largest_remainder = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
    for index in by_largest_remainder[:leftover]:
        parts[index] += 1
    return parts if total >= 0 else [-part for part in parts]
