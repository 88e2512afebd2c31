"""The API's bodies, named for their direction: `...Create` comes in, `...Public` goes out.

Schemas check shape and types; values are the domain's to judge, so a bad phone number or PIN
reaches the use case and gets the domain's own code. Amounts are the exception that proves it:
their syntax is checked here, with the domain's codes, so that the OpenAPI document can state
the pattern, and `Money.parse` then applies the currency's exponent.

The document still states what the domain checks wherever JSON Schema can say it (PIN and
category patterns, name and message lengths, KYC tiers, the served countries, the currencies and
their decimals, which fields go together), as annotations the domain enforces: a client, and
schemathesis, can tell a well-formed request from the document alone. What no schema can state
(whether a number exists, a name is printable, the money suffices) stays the domain's."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Final, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    SecretStr,
    TypeAdapter,
    WithJsonSchema,
)
from pydantic.config import JsonDict, JsonValue
from pydantic_core import PydanticCustomError

from soko.kernel import limits
from soko.kernel.errors import (
    AmountMalformed,
    AmountMustBePositive,
    AmountNotAString,
    AmountTooPrecise,
    CurrencyUnknown,
)
from soko.kernel.money import CURRENCIES, Money

#: At most 19 integer digits (64 bits of minor units) and 4 decimals (the largest ISO 4217
#: exponent); the currency's own exponent is checked when the amount is parsed.
AMOUNT_PATTERN: Final = r"^[0-9]{1,19}(\.[0-9]{1,4})?$"
CURRENCY_PATTERN: Final = r"^[A-Z]{3}$"
# The syntax the domain checks, stated for the document only: the domain refuses with its own
# codes (pin_malformed, phone_number_invalid...), which a pydantic constraint would replace.
PIN_PATTERN: Final = r"^[0-9]{4,6}$"
PHONE_PATTERN: Final = r"^\+?[0-9 ().-]+$"
REGION_PATTERN: Final = r"^[A-Z]{2}$"
MERCHANT_CATEGORY_PATTERN: Final = r"^[0-9]{4}$"
#: A person's or key's name: 1 to 80 printable characters once trimmed (domain `name_invalid`).
#: At least one character that is not blank to Python's `str.strip` (which the use cases apply)
#: nor to a JSON Schema regex: Python also strips the separators U+001C-U+001F and U+0085.
NOT_BLANK: Final = r"[^\s\u001c-\u001f\u0085]"
NAME_SCHEMA: Final = {"minLength": 1, "maxLength": limits.NAME_LENGTH_MAX, "pattern": NOT_BLANK}
_AMOUNT: Final = re.compile(AMOUNT_PATTERN)
# Decimals past the fourth are too precise for every currency, whatever else is wrong.
_TOO_PRECISE: Final = re.compile(r"[0-9]+\.[0-9]{5,}")
_CURRENCY: Final = re.compile(CURRENCY_PATTERN)
# A minus sign before a number that would otherwise do: told it must be positive, not malformed.
_NEGATIVE: Final = re.compile(r"-[0-9]{1,19}(\.[0-9]{1,4})?")


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "array" if isinstance(value, list) else "object"


def _amount_text(value: object) -> str:
    # Error types are domain codes: problems.py turns them into the domain's problem.
    if not isinstance(value, str):
        raise PydanticCustomError(
            AmountNotAString.code,
            'an amount is a decimal string such as "1500.50", not a JSON {kind}',
            {"kind": _json_kind(value)},
        )
    if _AMOUNT.fullmatch(value) is None:
        if _TOO_PRECISE.fullmatch(value):
            raise PydanticCustomError(
                AmountTooPrecise.code, "no currency has more than 4 decimal places"
            )
        if _NEGATIVE.fullmatch(value):
            raise PydanticCustomError(
                AmountMustBePositive.code,
                "the amount must be positive: money moves one way, named by the operation",
            )
        raise PydanticCustomError(
            AmountMalformed.code,
            'an amount is up to 19 digits and 4 decimals, such as "1500.50"',
        )
    return value


def _currency_code(value: object) -> str:
    if not isinstance(value, str) or _CURRENCY.fullmatch(value) is None:
        raise PydanticCustomError(
            CurrencyUnknown.code, 'a currency is three capital letters, such as "KES"'
        )
    return value


AmountText = Annotated[
    str,
    PlainValidator(_amount_text),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": AMOUNT_PATTERN,
            "description": "Major units as a decimal string; never a JSON number.",
            "examples": ["1500.50"],
        }
    ),
]
CurrencyCode = Annotated[
    str,
    PlainValidator(_currency_code),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": CURRENCY_PATTERN,
            # Any other code is `currency_unknown` (Money.parse); which of these the operator
            # holds wallets in is its configuration (`currency_not_offered`).
            "enum": sorted(CURRENCIES),
            "description": "ISO 4217 alphabetic code, of a currency Soko knows.",
            "examples": ["KES"],
        }
    ),
]
OFFERED_CURRENCY: Final = "OfferedCurrency"
# Pydantic resolves a $ref it did not make itself, so the field carries this mark instead, and
# `refer_to_offered_currencies` swaps it for the $ref once the document is built.
_OFFERED_MARK: Final = "x-soko-offered-currency"
#: A currency of money that moves or a wallet: one the operator holds wallets in. Which ones is
#: configuration (SOKO_KYC_LIMITS), so the schema comes from the runtime's settings.
OfferedCurrencyCode = Annotated[
    str,
    PlainValidator(_currency_code),
    WithJsonSchema({"type": "string", _OFFERED_MARK: True}),
]


def _offered_currency_schema(offered: Iterable[str]) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": CURRENCY_PATTERN,
        "enum": sorted(offered),
        "description": (
            "ISO 4217 alphabetic code of a currency this operator holds wallets in: any other is "
            "refused (currency_unknown, or currency_not_offered for one Soko knows)."
        ),
        "examples": ["KES"],
    }


def _amounts_by_exponent() -> list[JsonValue]:
    """How many decimals an amount may have, by the currency's ISO 4217 exponent.

    `amount_too_precise` otherwise: "10.5" is no UGX amount. Stated for the document; the
    domain checks it when the amount is parsed.
    """

    def rule(exponent: int) -> JsonDict:
        codes: list[JsonValue] = [c.code for c in CURRENCIES.values() if c.exponent == exponent]
        decimals = rf"(\.[0-9]{{1,{exponent}}})?" if exponent else ""
        return {
            "properties": {
                "currency": {"enum": sorted(codes, key=str)},
                "amount": {"pattern": rf"^[0-9]{{1,19}}{decimals}$"},
            }
        }

    return [rule(exponent) for exponent in sorted({c.exponent for c in CURRENCIES.values()})]


Phone = Annotated[
    str,
    Field(
        description=(
            "E.164 (+254712345678), or local with default_region: digits, an optional leading +, "
            "spaces, dots, dashes and parentheses, and a number that exists in its country's "
            "numbering plan (`format: phone`)."
        ),
        examples=["+254712345678"],
        json_schema_extra={
            "format": "phone",
            "pattern": PHONE_PATTERN,
            "minLength": 1,
            "maxLength": limits.PHONE_TEXT_LENGTH_MAX,
        },
    ),
]
Region = Annotated[
    str | None,
    Field(
        description="ISO 3166 alpha-2 country for a local number.",
        examples=["KE"],
        json_schema_extra={"pattern": REGION_PATTERN},
    ),
]
Pin = Annotated[
    SecretStr,
    Field(
        description="4 to 6 digits.",
        examples=["4321"],
        json_schema_extra={"pattern": PIN_PATTERN},
    ),
]
Name = Annotated[
    str,
    Field(
        description="1 to 80 printable characters; spaces around it are trimmed.",
        json_schema_extra=NAME_SCHEMA,
    ),
]


class _In(BaseModel):
    # An unknown field is most often a typo of an optional one: refuse it rather than ignore it.
    model_config = ConfigDict(extra="forbid")


# --- amounts -----------------------------------------------------------------------------------


class MoneyIn(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": _amounts_by_exponent()})

    amount: AmountText
    currency: OfferedCurrencyCode

    def to_money(self) -> Money:
        """Exact, or the domain's refusal (`amount_too_precise` for 1.005 KES)."""
        return Money.parse(self.amount, self.currency)


class MoneyPublic(BaseModel):
    amount: str = Field(
        pattern=r"^-?[0-9]+(\.[0-9]+)?$",
        description="Major units, exactly as many decimals as the currency has.",
        examples=["1500.50"],
    )
    currency: str = Field(pattern=CURRENCY_PATTERN, examples=["KES"])

    @classmethod
    def of(cls, money: Money) -> MoneyPublic:
        return cls(amount=money.to_decimal_string(), currency=money.currency.code)

    @classmethod
    def minor(cls, amount_minor: int, currency: str) -> MoneyPublic:
        return cls.of(Money.of(amount_minor, currency))


# --- pages and problems ------------------------------------------------------------------------

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last one."
    )


class FieldError(BaseModel):
    location: str = Field(examples=["body"], description="body, query, path or header.")
    field: str = Field(examples=["amount.amount"])
    message: str
    type: str = Field(description="The validator's error type, or a Soko error code.")


class Problem(BaseModel):
    """RFC 9457 problem details, with Soko's stable `code`. Extension members such as
    `tries_left` or `allowed` carry plain facts about the refusal."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["https://soko.dev/problems/exceeds_credits"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str = Field(description="Stable snake_case code; branch on this, not on text.")
    errors: list[FieldError] | None = Field(
        default=None, description="Each invalid field, for request_invalid and similar."
    )


_STATUS_MEANING: Final = {
    400: (
        "The request is malformed: body not JSON, a bad Idempotency-Key, or a NUL in a path, "
        "query or header (text_invalid)."
    ),
    401: "No valid API key or session token, or (signing in) a wrong phone number or PIN.",
    403: "This credential may not do this, or the PIN is wrong or locked.",
    404: "No such resource, or not one this credential may see.",
    409: "The request conflicts with the current state.",
    413: "The request body is too large.",
    422: "The request is well-formed but invalid, or a business rule refused it.",
    429: "Too many wrong PINs from this address; wait Retry-After seconds.",
    503: (
        "The database kept conflicting, or other tries of the PIN are being checked; retry "
        "with the same Idempotency-Key after Retry-After seconds."
    ),
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status as application/problem+json (see app.py)."""
    return {
        status: {
            "description": _STATUS_MEANING[status],
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        for status in statuses
    }


#: Every money-moving POST (which also takes the Idempotency-Key header).
MONEY_MOVING_PROBLEMS: Final = problem_responses(400, 401, 403, 404, 409, 413, 422, 503)


def refer_to_offered_currencies(node: Any) -> Any:
    """The document with each offered-currency field a $ref to the OfferedCurrency schema."""
    if isinstance(node, dict):
        if node.get(_OFFERED_MARK):
            return {"$ref": f"#/components/schemas/{OFFERED_CURRENCY}"}
        return {key: refer_to_offered_currencies(value) for key, value in node.items()}
    if isinstance(node, list):
        return [refer_to_offered_currencies(value) for value in node]
    return node


def document_schemas(offered_currencies: Iterable[str]) -> dict[str, Any]:
    """The components the routes refer to by hand: FastAPI only registers the models they take
    and return. The Problem of `problem_responses`, and the operator's currencies."""
    schema = TypeAdapter(Problem).json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {
        **definitions,
        "Problem": schema,
        OFFERED_CURRENCY: _offered_currency_schema(offered_currencies),
    }
