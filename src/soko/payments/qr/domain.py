"""EMVCo merchant-presented QR codes: reading any payload, and writing and reading Soko's own.

The format is EMV QRCPS Merchant-Presented Mode (v1.1). A payload is a run of data objects, each
a two-digit tag, a two-digit length and that many characters of value. Some values are themselves
runs of data objects (templates): the merchant account information templates 26-51, the
additional data template 62, the language template 64 and the unreserved templates 80-99. Tag 00
(the format, "01") comes first and tag 63 last, holding the CRC-16/CCITT-FALSE of everything
before its value, as four upper-case hex digits.

Reading is strict, because a lenient reader is how a damaged code becomes a payment:

* The checksum is checked first, whenever the payload ends like one ("6304" and four hex
  digits), so a damaged code is reported as damaged rather than as whatever field the damage
  happened to break. Then the structure, then each field against the spec's format and length.
* Lengths count characters, not bytes (the spec's own example carries Chinese in template 64).
  Everything outside template 64 is the spec's "ans" set: printable ASCII, 0x20-0x7E. Template 64
  holds any printable Unicode. The CRC is computed over the UTF-8 bytes.
* A length of "00", a repeated tag in one template, a template without its globally unique
  identifier (sub-tag 00), a missing mandatory field (52, 53, 58, 59, 60 and one merchant account
  02-51) are all ``QrMalformed``, with the tag path ("62.05"), the offset and the rule broken.
* The currency (53) must be three digits. Whether Soko knows it is a separate question: any
  scheme's code can be shown (``QrCode.currency`` is None for a currency outside our table), but
  only a known currency can be paid (``read_merchant_qr`` raises ``QrCurrencyUnknown``). When the
  currency is known, the amount (54) may not have more decimals than its exponent.
* The amount follows the spec: digits with at most one "." ("98.73", "98", even "98."), at most
  13 characters, never zero.

Writing (``MerchantQr.payload``) emits the fields in the spec's order, a merchant account
template under ``MERCHANT_ACCOUNT_TAG`` (26) holding our GUID and the merchant's till, and tag 01
"11" for a static code (no amount) or "12" for a dynamic one (with an amount and, optionally, a
reference in 62.05). ``fit_text`` turns any name into the "ans" set: see its docstring.
"""

from __future__ import annotations

import binascii
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, TypeAlias

from soko.kernel import limits
from soko.kernel.errors import AmountMustBePositive, CurrencyMismatch
from soko.kernel.money import CURRENCIES, Currency, Money
from soko.payments.qr.errors import (
    QrChecksumInvalid,
    QrCurrencyUnknown,
    QrFieldInvalid,
    QrMalformed,
    QrNotPayable,
)
from soko.people.errors import MerchantCategoryInvalid

__all__ = [
    "MERCHANT_ACCOUNT_TAG",
    "MerchantQr",
    "QrCode",
    "QrField",
    "QrTree",
    "ScannedMerchantQr",
    "crc16",
    "currency_by_numeric",
    "fit_text",
    "parse_qr",
    "read_merchant_qr",
]

#: Where our merchant account template goes: 26 is the first of the templates (26-51) that
#: payment networks outside EMVCo's members use, so it is the conventional first choice.
MERCHANT_ACCOUNT_TAG: Final = "26"

# The format's own lengths (EMV QRCPS tables 3.2-3.8), not Soko's choices.
NAME_LENGTH_MAX: Final = 25
CITY_LENGTH_MAX: Final = 15
AMOUNT_LENGTH_MAX: Final = 13
REFERENCE_LENGTH_MAX: Final = 25
GUID_LENGTH_MAX: Final = 32
#: A payment request's id in our template (ours are 30 characters: "prq_" and a ULID).
REQUEST_ID_LENGTH_MAX: Final = 40
_VALUE_LENGTH_MAX: Final = 99

_STATIC: Final = "11"
_DYNAMIC: Final = "12"
_FORMAT_VERSION: Final = "01"
_CRC_TAG: Final = "63"
_ADDITIONAL_DATA_TAG: Final = "62"
_LANGUAGE_TAG: Final = "64"
_REFERENCE_LABEL: Final = "05"
_TILL_SUBTAG: Final = "01"
_REQUEST_SUBTAG: Final = "02"
_GUID_SUBTAG: Final = "00"

# [0-9] rather than \d, which also matches other scripts' digits.
_TWO_DIGITS: Final = re.compile(r"[0-9]{2}")
_CRC_VALUE: Final = re.compile(r"[0-9A-F]{4}")
_ANS: Final = re.compile(r"[\x20-\x7e]*")
_AMOUNT: Final = re.compile(r"([0-9]*)(?:\.([0-9]*))?")
_PERCENTAGE: Final = re.compile(r"[0-9]{1,2}(?:\.[0-9]{0,2})?")
_MCC: Final = re.compile(r"[0-9]{4}")
_CURRENCY_NUMERIC: Final = re.compile(r"[0-9]{3}")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_LANGUAGE: Final = re.compile(r"[A-Za-z]{2}")
_CONSUMER_DATA_REQUEST: Final = re.compile(r"[AME]{1,3}")
_TILL: Final = re.compile(r"[0-9]{6}")
_ECHO_LENGTH_MAX: Final = 24

#: The name of each top-level tag, for showing any code.
ROOT_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "00": "Payload Format Indicator",
        "01": "Point of Initiation Method",
        "52": "Merchant Category Code",
        "53": "Transaction Currency",
        "54": "Transaction Amount",
        "55": "Tip or Convenience Indicator",
        "56": "Value of Convenience Fee Fixed",
        "57": "Value of Convenience Fee Percentage",
        "58": "Country Code",
        "59": "Merchant Name",
        "60": "Merchant City",
        "61": "Postal Code",
        "62": "Additional Data Field Template",
        "63": "CRC",
        "64": "Merchant Information - Language Template",
    }
)
_ADDITIONAL_DATA_NAMES: Final = MappingProxyType(
    {
        "01": "Bill Number",
        "02": "Mobile Number",
        "03": "Store Label",
        "04": "Loyalty Number",
        "05": "Reference Label",
        "06": "Customer Label",
        "07": "Terminal Label",
        "08": "Purpose of Transaction",
        "09": "Additional Consumer Data Request",
        "10": "Merchant Tax ID",
        "11": "Merchant Channel",
    }
)
_LANGUAGE_NAMES: Final = MappingProxyType(
    {
        "00": "Language Preference",
        "01": "Merchant Name - Alternate Language",
        "02": "Merchant City - Alternate Language",
    }
)
_TEMPLATE_NAMES: Final = MappingProxyType({"00": "Globally Unique Identifier"})
# Lengths of the 62 sub-tags the spec defines (the others are RFU or templates, up to 99).
_ADDITIONAL_DATA_LENGTH_MAX: Final = MappingProxyType(
    {f"{n:02d}": 25 for n in range(1, 9)} | {"09": 3, "10": 20}
)

#: A parsed code as plain data: (tag, value) for a primitive, (tag, children) for a template.
QrTree: TypeAlias = tuple[tuple[str, "str | QrTree"], ...]


def _echo(text: str) -> str:
    if len(text) <= _ECHO_LENGTH_MAX:
        return repr(text)
    return repr(text[:_ECHO_LENGTH_MAX]) + "..."


def crc16(text: str) -> str:
    """CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF) of the UTF-8 text: 4 hex digits."""
    return f"{binascii.crc_hqx(text.encode('utf-8'), 0xFFFF):04X}"


_BY_NUMERIC: Final[Mapping[str, Currency]] = MappingProxyType(
    {currency.numeric: currency for currency in CURRENCIES.values()}
)


def currency_by_numeric(numeric: str) -> Currency | None:
    """The currency in our table with this ISO 4217 numeric code ("404" is KES), if any."""
    return _BY_NUMERIC.get(numeric)


# --- reading any code -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QrField:
    """One data object: its tag, its value text, where its tag starts in the payload, and, for a
    template, the data objects its value holds."""

    tag: str
    value: str
    offset: int
    #: The parsed value of a template; None for a primitive field.
    children: tuple[QrField, ...] | None = None

    def child(self, tag: str) -> QrField | None:
        return next((c for c in self.children or () if c.tag == tag), None)

    def child_value(self, tag: str) -> str | None:
        found = self.child(tag)
        return None if found is None else found.value

    @property
    def guid(self) -> str | None:
        """A template's globally unique identifier (its sub-tag 00)."""
        return None if self.children is None else self.child_value(_GUID_SUBTAG)


def _is_merchant_account(tag: str) -> bool:
    return 2 <= int(tag) <= 51


def _is_template(tag: str) -> bool:
    number = int(tag)
    return 26 <= number <= 51 or 80 <= number <= 99 or tag in (_ADDITIONAL_DATA_TAG, _LANGUAGE_TAG)


# Top-level tags named by range rather than one by one.
_ROOT_RANGES: Final = (
    (2, 25, "Merchant Account Information (EMVCo member)"),
    (26, 51, "Merchant Account Information"),
    (65, 79, "Reserved for Future Use"),
    (80, 99, "Unreserved Template"),
)


def tag_name(path: tuple[str, ...]) -> str:
    """The spec's name for a tag, given its path from the root: ("62", "05") is the reference."""
    tag, number = path[-1], int(path[-1])
    parent = path[-2] if len(path) == 2 else None
    if len(path) == 1:
        ranged = (name for low, high, name in _ROOT_RANGES if low <= number <= high)
        return next(ranged, ROOT_NAMES.get(tag, "Unknown"))
    if parent == _ADDITIONAL_DATA_TAG:
        names = _ADDITIONAL_DATA_NAMES
        default = "Payment System Specific Template" if number >= 50 else "Reserved for Future Use"
    elif parent == _LANGUAGE_TAG:
        names, default = _LANGUAGE_NAMES, "Reserved for Future Use"
    else:
        names, default = _TEMPLATE_NAMES, "Payment Network Specific"
    return names.get(tag, default)


@dataclass(frozen=True, slots=True)
class QrCode:
    """A payload that passed every rule of the format, with its fields in payload order."""

    payload: str
    fields: tuple[QrField, ...]

    def get(self, tag: str) -> QrField | None:
        return next((f for f in self.fields if f.tag == tag), None)

    def value(self, tag: str) -> str | None:
        found = self.get(tag)
        return None if found is None else found.value

    def _required(self, tag: str) -> str:
        found = self.value(tag)
        assert found is not None, f"parse_qr lets no code through without tag {tag}"
        return found

    @property
    def static(self) -> bool | None:
        """True for "11" (the same code for many payments), False for "12", None when absent."""
        method = self.value("01")
        return None if method is None else method == _STATIC

    @property
    def category_code(self) -> str:
        return self._required("52")

    @property
    def currency_numeric(self) -> str:
        return self._required("53")

    @property
    def currency(self) -> Currency | None:
        """The currency, or None when it is not in our table (the code is shown, not paid)."""
        return currency_by_numeric(self.currency_numeric)

    @property
    def amount_text(self) -> str | None:
        return self.value("54")

    @property
    def amount(self) -> Money | None:
        """The amount, exactly; None when absent or in a currency outside our table."""
        text, currency = self.amount_text, self.currency
        if text is None or currency is None:
            return None
        whole, _, fraction = text.partition(".")
        # "98." and ".5" are the spec's; Money.parse wants digits on both sides of a point.
        return Money.parse(f"{whole or '0'}.{fraction}" if fraction else whole, currency)

    @property
    def country(self) -> str:
        return self._required("58")

    @property
    def merchant_name(self) -> str:
        return self._required("59")

    @property
    def merchant_city(self) -> str:
        return self._required("60")

    @property
    def merchant_accounts(self) -> tuple[QrField, ...]:
        """Tags 02-51: primitives for EMVCo's members (Visa, Mastercard...), templates after."""
        return tuple(f for f in self.fields if _is_merchant_account(f.tag))

    def account(self, guid: str) -> QrField | None:
        """The first merchant account template under this GUID (compared ignoring ASCII case,
        as domain names are)."""
        wanted = guid.lower()
        return next(
            (
                f
                for f in self.merchant_accounts
                if f.children is not None and (f.guid or "").lower() == wanted
            ),
            None,
        )

    def reference(self) -> str | None:
        """The reference label, 62.05."""
        additional = self.get(_ADDITIONAL_DATA_TAG)
        return None if additional is None else additional.child_value(_REFERENCE_LABEL)

    def tree(self) -> QrTree:
        def walk(fields: tuple[QrField, ...]) -> QrTree:
            return tuple(
                (f.tag, f.value if f.children is None else walk(f.children)) for f in fields
            )

        return walk(self.fields)


def _malformed(path: tuple[str, ...], offset: int, rule: str) -> QrMalformed:
    if not path:
        return QrMalformed(f"At offset {offset}: {rule}.", offset=offset)
    where = ".".join(path)
    return QrMalformed(f"Tag {where} at offset {offset}: {rule}.", tag=where, offset=offset)


def _data_objects(text: str, base: int, path: tuple[str, ...]) -> Iterator[QrField]:
    """The data objects of `text`, which starts at offset `base` of the payload."""
    cursor = 0
    seen: set[str] = set()
    where = " in tag " + ".".join(path) if path else ""
    while cursor < len(text):
        at = base + cursor
        left = len(text) - cursor
        if left < 4:
            raise _malformed(
                path, at, f"{left} characters left{where}, too few for a tag and a length"
            )
        tag, length_text = text[cursor : cursor + 2], text[cursor + 2 : cursor + 4]
        if not _TWO_DIGITS.fullmatch(tag):
            raise _malformed(path, at, f"a tag is two digits, found {tag!r}")
        here = (*path, tag)
        if not _TWO_DIGITS.fullmatch(length_text):
            raise _malformed(here, at + 2, f"a length is two digits, found {length_text!r}")
        length = int(length_text)
        if length == 0:
            raise _malformed(here, at + 2, 'a length is "01" to "99"; an empty field is omitted')
        start = cursor + 4
        if start + length > len(text):
            raise _malformed(
                here, at + 2, f"declares {length} characters, only {len(text) - start} remain"
            )
        if tag in seen:
            raise _malformed(here, at, "appears twice in the same template")
        seen.add(tag)
        yield QrField(tag, text[start : start + length], at)
        cursor = start + length


def _check_ans(field: QrField, path: tuple[str, ...]) -> None:
    if not _ANS.fullmatch(field.value):
        bad = next(c for c in field.value if not _ANS.fullmatch(c))
        raise _malformed(
            path,
            field.offset,
            f"holds {bad!r}; outside template 64 a value is printable ASCII (the spec's ans)",
        )


def _check_length(field: QrField, path: tuple[str, ...], maximum: int) -> None:
    if len(field.value) > maximum:
        raise _malformed(
            path, field.offset, f"is at most {maximum} characters, has {len(field.value)}"
        )


def _check_format(
    field: QrField, path: tuple[str, ...], pattern: re.Pattern[str], what: str
) -> None:
    if not pattern.fullmatch(field.value):
        raise _malformed(path, field.offset, f"must be {what}, found {_echo(field.value)}")


def _template(field: QrField, path: tuple[str, ...]) -> QrField:
    children = tuple(_data_objects(field.value, field.offset + 4, path))
    return QrField(field.tag, field.value, field.offset, children)


def _account_template(field: QrField, path: tuple[str, ...]) -> QrField:
    """26-51, 80-99, and the payment system templates 50-99 inside 62: a GUID and anything."""
    parsed = _template(field, path)
    for child in parsed.children or ():
        _check_ans(child, (*path, child.tag))
    guid = parsed.child(_GUID_SUBTAG)
    if guid is None:
        raise _malformed(
            path, field.offset, "a template must hold its globally unique identifier, 00"
        )
    _check_length(guid, (*path, _GUID_SUBTAG), GUID_LENGTH_MAX)
    return parsed


def _additional_data(field: QrField) -> QrField:
    path = (_ADDITIONAL_DATA_TAG,)
    parsed = _template(field, path)
    children = []
    for child in parsed.children or ():
        here = (*path, child.tag)
        if int(child.tag) >= 50:
            children.append(_account_template(child, here))
            continue
        _check_ans(child, here)
        if child.tag in _ADDITIONAL_DATA_LENGTH_MAX:
            _check_length(child, here, _ADDITIONAL_DATA_LENGTH_MAX[child.tag])
        if child.tag == "09":
            _check_format(child, here, _CONSUMER_DATA_REQUEST, 'some of "A", "M", "E"')
            if len(set(child.value)) != len(child.value):
                raise _malformed(here, child.offset, "names each of A, M, E at most once")
        if child.tag == "11" and len(child.value) != 3:
            raise _malformed(here, child.offset, "is exactly 3 characters")
        children.append(child)
    return QrField(parsed.tag, parsed.value, parsed.offset, tuple(children))


def _language(field: QrField) -> QrField:
    path = (_LANGUAGE_TAG,)
    parsed = _template(field, path)
    for child in parsed.children or ():
        here = (*path, child.tag)
        if any(unicodedata.category(c).startswith("C") for c in child.value):
            raise _malformed(here, child.offset, "holds a control character")
        if child.tag == "00":
            _check_format(child, here, _LANGUAGE, "two letters (ISO 639)")
        elif child.tag == "01":
            _check_length(child, here, NAME_LENGTH_MAX)
        elif child.tag == "02":
            _check_length(child, here, CITY_LENGTH_MAX)
    for required in ("00", "01"):
        if parsed.child(required) is None:
            raise _malformed(path, field.offset, f"the language template must hold {required}")
    return parsed


def _check_amount(field: QrField, path: tuple[str, ...], currency: Currency | None) -> None:
    match = _AMOUNT.fullmatch(field.value)
    if match is None or not field.value.strip("."):
        raise _malformed(
            path,
            field.offset,
            f"an amount is digits and at most one '.', found {_echo(field.value)}",
        )
    _check_length(field, path, AMOUNT_LENGTH_MAX)
    if not field.value.replace(".", "").strip("0"):
        raise _malformed(path, field.offset, "an amount, when present, is not zero")
    decimals = len(match.group(2) or "")
    if currency is not None and decimals > currency.exponent:
        raise _malformed(
            path,
            field.offset,
            f"{currency.code} allows {currency.exponent} decimal places, "
            f"{_echo(field.value)} has {decimals}",
        )


# The fixed formats of top-level primitives; the amounts (54, 56) need the currency, later.
_ROOT_FORMATS: Final = MappingProxyType(
    {
        "00": (re.compile(_FORMAT_VERSION), f'"{_FORMAT_VERSION}"'),
        "01": (
            re.compile(f"{_STATIC}|{_DYNAMIC}"),
            f'"{_STATIC}" (static) or "{_DYNAMIC}" (dynamic)',
        ),
        "52": (_MCC, "four digits (ISO 18245)"),
        "53": (_CURRENCY_NUMERIC, "three digits (ISO 4217 numeric)"),
        "55": (re.compile("0[123]"), '"01", "02" or "03"'),
        "57": (_PERCENTAGE, 'a percentage such as "3.25"'),
        "58": (_COUNTRY, "two capital letters (ISO 3166-1 alpha-2)"),
        _CRC_TAG: (_CRC_VALUE, "four upper-case hex digits"),
    }
)
_ROOT_LENGTH_MAX: Final = MappingProxyType({"59": NAME_LENGTH_MAX, "60": CITY_LENGTH_MAX, "61": 10})


def _root_field(field: QrField) -> QrField:
    """One top-level field checked against its tag's rule; templates come back parsed."""
    tag, path = field.tag, (field.tag,)
    if _is_template(tag):
        if tag == _ADDITIONAL_DATA_TAG:
            return _additional_data(field)
        if tag == _LANGUAGE_TAG:
            return _language(field)
        return _account_template(field, path)
    _check_ans(field, path)
    if tag in _ROOT_FORMATS:
        pattern, what = _ROOT_FORMATS[tag]
        _check_format(field, path, pattern, what)
    if tag in _ROOT_LENGTH_MAX:
        _check_length(field, path, _ROOT_LENGTH_MAX[tag])
    return field


def _check_ends(fields: tuple[QrField, ...]) -> None:
    first, last = fields[0], fields[-1]
    if first.tag != "00":
        raise _malformed(
            (first.tag,), first.offset, "the payload format indicator, 00, comes first"
        )
    if last.tag != _CRC_TAG or len(last.value) != 4:
        raise _malformed((last.tag,), last.offset, "the CRC, 63 with length 04, comes last")


def _check_root(fields: tuple[QrField, ...]) -> None:
    present = {f.tag for f in fields}
    for required in ("52", "53", "58", "59", "60"):
        if required not in present:
            raise QrMalformed(f"Tag {required} ({ROOT_NAMES[required]}) is required.", tag=required)
    if not any(_is_merchant_account(tag) for tag in present):
        raise QrMalformed("At least one merchant account (tags 02-51) is required.", tag="02-51")
    by_tag = {f.tag: f for f in fields}
    tip = by_tag.get("55")
    for fee_tag, indicator in (("56", "02"), ("57", "03")):
        fee = by_tag.get(fee_tag)
        wanted = tip is not None and tip.value == indicator
        if wanted and fee is None:
            raise _malformed(
                ("55",), tip.offset if tip else 0, f'"{indicator}" needs tag {fee_tag}'
            )
        if fee is not None and not wanted:
            raise _malformed((fee_tag,), fee.offset, f'only goes with tag 55 = "{indicator}"')


def _check_checksum(payload: str) -> None:
    stated = payload[-4:]
    if len(payload) < 8 or payload[-8:-4] != _CRC_TAG + "04" or not _CRC_VALUE.fullmatch(stated):
        return  # no checksum to check: the structure rules say what is wrong instead
    computed = crc16(payload[:-4])
    if stated != computed:
        raise QrChecksumInvalid(
            f"The CRC states {stated} but the payload computes to {computed}.",
            tag=_CRC_TAG,
            offset=len(payload) - 4,
            stated=stated,
            computed=computed,
        )


def parse_qr(payload: object) -> QrCode:
    """Any EMVCo merchant-presented payload, checked against every rule; see the module docstring.

    ``payload`` is typed ``object`` because it usually comes straight from a scanner or JSON.
    """
    if not isinstance(payload, str):
        raise QrMalformed(f"A QR payload is text, not {type(payload).__name__}.")
    if not payload:
        raise QrMalformed("The QR payload is empty.", offset=0)
    if len(payload) > limits.QR_PAYLOAD_LENGTH_MAX:
        raise QrMalformed(
            f"A QR payload is at most {limits.QR_PAYLOAD_LENGTH_MAX} characters, "
            f"got {len(payload)}.",
            offset=limits.QR_PAYLOAD_LENGTH_MAX,
        )
    _check_checksum(payload)
    # The ends first: a payload that is not framed as EMVCo is reported as that, not as a field.
    raw = tuple(_data_objects(payload, 0, ()))
    _check_ends(raw)
    fields = tuple(_root_field(f) for f in raw)
    _check_root(fields)
    code = QrCode(payload, fields)
    for fee_tag in ("54", "56"):
        amount = code.get(fee_tag)
        if amount is not None:
            _check_amount(amount, (fee_tag,), code.currency)
    return code


# --- Soko's own codes -------------------------------------------------------------------------

# Letters NFKD does not take apart, spelled as their languages' ASCII spellings do.
_SPELLED: Final = MappingProxyType(
    {
        "ß": "ss",
        "Æ": "AE",
        "æ": "ae",
        "Œ": "OE",
        "œ": "oe",
        "Ø": "O",
        "ø": "o",
        "Đ": "D",
        "đ": "d",
        "Ł": "L",
        "ł": "l",
        "Þ": "Th",
        "þ": "th",
        "Ð": "D",
        "ð": "d",
        "\u0131": "i",  # dotless i
        # Typographic quotes and dashes.
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
    }
)


def fit_text(text: str, length_max: int) -> str:
    """``text`` in the spec's "ans" set (printable ASCII), at most ``length_max`` characters.

    The rule, in order: compatibility-decompose (NFKD: "é" becomes "e" and a combining accent, a
    full-width letter becomes its ASCII one); drop combining marks; spell out the few Latin
    letters that do not decompose ("ß" is "ss", "Ø" is "O"); turn any whitespace into a space;
    drop every other character that is not printable ASCII (other scripts: Soko does not guess
    a transliteration of Ge'ez or Arabic); collapse runs of spaces; trim; cut to ``length_max``
    characters and trim again. The result may be empty: the caller decides what to print instead.
    """
    kept: list[str] = []
    for original in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(original):
            continue
        spelled = " " if original.isspace() else _SPELLED.get(original, original)
        if _ANS.fullmatch(spelled):
            kept.append(spelled)
    squeezed = " ".join("".join(kept).split())
    return squeezed[:length_max].rstrip()


def fit_words(text: str, length_max: int) -> str:
    """``fit_text``, but a text too long is cut at a word boundary ("Dar es Salaam Kariakoo"
    to 15 is "Dar es Salaam", not "Dar es Salaam K"); a first word longer than ``length_max``
    alone is cut inside it, as nothing shorter would name the place."""
    whole = fit_text(text, len(text) * 4 + 4)  # "ß" spelled "ss": never cut here
    if len(whole) <= length_max:
        return whole
    cut = whole[: length_max + 1].rsplit(" ", 1)[0].rstrip()
    return cut if cut and len(cut) <= length_max else whole[:length_max].rstrip()


def _require_text(value: object, field: str, length_max: int) -> None:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= length_max
        or not _ANS.fullmatch(value)
        or not value.strip()
    ):
        shown = _echo(value) if isinstance(value, str) else type(value).__name__
        raise QrFieldInvalid(
            f"The {field} in a QR code is 1 to {length_max} printable ASCII characters, not all "
            f"spaces; got {shown}.",
            field=field,
        )


def _tlv(tag: str, value: str) -> str:
    assert 1 <= len(value) <= _VALUE_LENGTH_MAX, (tag, value)
    return f"{tag}{len(value):02d}{value}"


@dataclass(frozen=True, slots=True)
class MerchantQr:
    """A merchant's code as Soko writes it: static without an amount, dynamic with one.

    Every field is checked when the value is made, so a ``MerchantQr`` always encodes. Names and
    cities from elsewhere go through ``fit_text`` first.
    """

    #: Our globally unique identifier, reverse-domain style ("dev.soko"), 1 to 32 characters.
    guid: str
    #: What the payer pays: the merchant's six-digit till number (sub-tag 01 of our template).
    merchant_id: str
    #: ISO 18245 merchant category code, four digits.
    category_code: str
    currency: Currency
    #: ISO 3166-1 alpha-2.
    country: str
    merchant_name: str
    merchant_city: str
    #: Positive and in ``currency``; present makes the code dynamic.
    amount: Money | None = None
    #: What the merchant wants to see against the payment (an invoice, an order): tag 62.05.
    reference: str | None = None
    #: The payment request this code pays, if any (sub-tag 02 of our template): a merchant's
    #: reference need not be unique, a request id is.
    request_id: str | None = None

    def __post_init__(self) -> None:
        _require_text(self.guid, "guid", GUID_LENGTH_MAX)
        if not isinstance(self.merchant_id, str) or not _TILL.fullmatch(self.merchant_id):
            raise QrFieldInvalid(
                "The merchant id in a QR code is the six-digit till number.", field="merchant_id"
            )
        if not isinstance(self.category_code, str) or not _MCC.fullmatch(self.category_code):
            raise MerchantCategoryInvalid()
        if not isinstance(self.currency, Currency):
            raise TypeError(f"currency must be a Currency, got {type(self.currency).__name__}")
        if not isinstance(self.country, str) or not _COUNTRY.fullmatch(self.country):
            raise QrFieldInvalid(
                "The country in a QR code is two capital letters (ISO 3166-1 alpha-2).",
                field="country",
            )
        _require_text(self.merchant_name, "merchant_name", NAME_LENGTH_MAX)
        _require_text(self.merchant_city, "merchant_city", CITY_LENGTH_MAX)
        if self.reference is not None:
            _require_text(self.reference, "reference", REFERENCE_LENGTH_MAX)
        if self.request_id is not None:
            _require_text(self.request_id, "request_id", REQUEST_ID_LENGTH_MAX)
            if self.amount is None:
                raise QrFieldInvalid("A payment request's code carries its amount.", field="amount")
        if self.amount is not None:
            if self.amount.currency != self.currency:
                raise CurrencyMismatch(
                    f"The amount is in {self.amount.currency}, the code in {self.currency}.",
                    currencies=[self.amount.currency.code, self.currency.code],
                )
            if not self.amount.is_positive():
                raise AmountMustBePositive("A QR code's amount must be greater than zero.")
            text = self.amount.to_decimal_string()
            if len(text) > AMOUNT_LENGTH_MAX:
                raise QrFieldInvalid(
                    f"A QR code's amount is at most {AMOUNT_LENGTH_MAX} characters; "
                    f"{self.amount} is {len(text)}.",
                    field="amount",
                )

    @property
    def static(self) -> bool:
        return self.amount is None

    @classmethod
    def fitted(
        cls,
        *,
        guid: str,
        merchant_id: str,
        category_code: str,
        currency: Currency,
        country: str,
        names: tuple[str, ...],
        city: str,
        amount: Money | None = None,
        reference: str | None = None,
        request_id: str | None = None,
    ) -> MerchantQr:
        """A code from the merchant's own texts: the name is the first of ``names`` (trading
        name, then the person's name) that survives ``fit_text``, else "Till <number>"; the city
        is fitted by ``fit_words``, cut at a word boundary. The reference is taken as given: the
        merchant chose it for this code, and a silently altered reference would not match their
        books."""
        fitted = (fit_text(name, NAME_LENGTH_MAX) for name in names)
        name = next((n for n in fitted if n), f"Till {merchant_id}")
        return cls(
            guid=guid,
            merchant_id=merchant_id,
            category_code=category_code,
            currency=currency,
            country=country,
            merchant_name=name,
            merchant_city=fit_words(city, CITY_LENGTH_MAX),
            amount=amount,
            reference=reference,
            request_id=request_id,
        )

    def payload(self) -> str:
        """The payload text, fields in the spec's order, ending in its CRC."""
        account = _tlv(_GUID_SUBTAG, self.guid) + _tlv(_TILL_SUBTAG, self.merchant_id)
        if self.request_id is not None:
            account += _tlv(_REQUEST_SUBTAG, self.request_id)
        parts = [
            _tlv("00", _FORMAT_VERSION),
            _tlv("01", _STATIC if self.amount is None else _DYNAMIC),
            _tlv(MERCHANT_ACCOUNT_TAG, account),
            _tlv("52", self.category_code),
            _tlv("53", self.currency.numeric),
        ]
        if self.amount is not None:
            parts.append(_tlv("54", self.amount.to_decimal_string()))
        parts += [
            _tlv("58", self.country),
            _tlv("59", self.merchant_name),
            _tlv("60", self.merchant_city),
        ]
        if self.reference is not None:
            parts.append(_tlv(_ADDITIONAL_DATA_TAG, _tlv(_REFERENCE_LABEL, self.reference)))
        body = "".join(parts) + _CRC_TAG + "04"
        return body + crc16(body)


@dataclass(frozen=True, slots=True)
class ScannedMerchantQr:
    """What a payer needs from a code that names one of our merchants."""

    merchant: MerchantQr
    #: From tag 01; a code without it is taken as static (reusable), the safer reading.
    static: bool
    #: The merchant account template that named us ("26" for our own codes).
    template_tag: str
    #: The whole code, to show it.
    code: QrCode


def read_merchant_qr(payload: object, *, guid: str) -> ScannedMerchantQr:
    """A code to pay: valid EMVCo (``parse_qr``), with a merchant account template under
    ``guid`` whose sub-tag 01 is a six-digit till, in a currency we know.

    ``QrNotPayable`` when the code is fine but names no merchant of ours (another scheme's code,
    or another operator's).
    """
    code = parse_qr(payload)
    account = code.account(guid)
    if account is None:
        others = sorted({f.guid for f in code.merchant_accounts if f.guid is not None})
        raise QrNotPayable(
            f"The code names no merchant account under {guid!r}"
            + (f"; it names {', '.join(others)}." if others else "."),
            guids=", ".join(others),
        )
    till = account.child(_TILL_SUBTAG)
    if till is None or not _TILL.fullmatch(till.value):
        offset = account.offset if till is None else till.offset
        raise _malformed(
            (account.tag, _TILL_SUBTAG), offset, "under our identifier this is a six-digit till"
        )
    currency = code.currency
    if currency is None:
        raise QrCurrencyUnknown(
            f"The code's currency {code.currency_numeric!r} is not one Soko knows.",
            tag="53",
            numeric=code.currency_numeric,
        )
    request = account.child(_REQUEST_SUBTAG)
    merchant = MerchantQr(
        guid=account.guid or guid,
        merchant_id=till.value,
        category_code=code.category_code,
        currency=currency,
        country=code.country,
        merchant_name=code.merchant_name,
        merchant_city=code.merchant_city,
        amount=code.amount,
        reference=code.reference(),
        request_id=None if request is None else request.value,
    )
    return ScannedMerchantQr(
        merchant=merchant,
        static=code.static is not False,
        template_tag=account.tag,
        code=code,
    )
