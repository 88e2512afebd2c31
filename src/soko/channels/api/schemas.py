"""The API's bodies, named for their direction: `...Create` comes in, `...Public` goes out.

Schemas check shape and types; values are the domain's to judge, so a bad phone number or PIN
reaches the use case and gets the domain's own code. Amounts are the exception that proves it:
their syntax is checked here, with the domain's codes, so that the OpenAPI document can state
the pattern, and `Money.parse` then applies the currency's exponent.

The document still states what the domain checks wherever JSON Schema can say it (PIN and
category patterns, name and message lengths, KYC tiers, the served countries, the currencies and
their decimals, which fields go together), as annotations the domain enforces: a client, and
schemathesis, can tell a well-formed request from the document alone. What no schema can state
(whether a number exists, a name is printable, the money suffices) stays the domain's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Final, Generic, Literal, TypeVar

from pydantic import (
    AwareDatetime,
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

from soko import limits
from soko.domain import errors
from soko.domain.escrow import EscrowAction, EscrowState
from soko.domain.money import CURRENCIES, Money
from soko.domain.payouts import BankAccount, Destination, MobileMoney, Payout
from soko.domain.users import HOME_CURRENCY, Merchant, User, UserKind
from soko.domain.webhooks import EVENT_TYPES
from soko.services.access import NewApiKey, Session
from soko.services.ports import (
    ApiKey,
    EscrowDispute,
    EscrowOrder,
    Payment,
    PaymentRequest,
    PaymentRequestStatus,
    Refund,
    WebhookDelivery,
    WebhookEndpoint,
)
from soko.services.wallets import StatementEntry, WalletBalance
from soko.services.webhooks import NewWebhookEndpoint

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
NAME_SCHEMA: Final = {"minLength": 1, "maxLength": limits.NAME_LENGTH_MAX, "pattern": r"\S"}
_AMOUNT: Final = re.compile(AMOUNT_PATTERN)
# Decimals past the fourth are too precise for every currency, whatever else is wrong.
_TOO_PRECISE: Final = re.compile(r"[0-9]+\.[0-9]{5,}")
_CURRENCY: Final = re.compile(CURRENCY_PATTERN)


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
            errors.AmountNotAString.code,
            'an amount is a decimal string such as "1500.50", not a JSON {kind}',
            {"kind": _json_kind(value)},
        )
    if _AMOUNT.fullmatch(value) is None:
        if _TOO_PRECISE.fullmatch(value):
            raise PydanticCustomError(
                errors.AmountTooPrecise.code, "no currency has more than 4 decimal places"
            )
        raise PydanticCustomError(
            errors.AmountMalformed.code,
            'an amount is up to 19 digits and 4 decimals, such as "1500.50"',
        )
    return value


def _currency_code(value: object) -> str:
    if not isinstance(value, str) or _CURRENCY.fullmatch(value) is None:
        raise PydanticCustomError(
            errors.CurrencyUnknown.code, 'a currency is three capital letters, such as "KES"'
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
    `attempts_left` or `allowed` carry plain facts about the refusal."""

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
    400: "The request is malformed: body not JSON, or a bad Idempotency-Key.",
    401: "No valid API key or session token.",
    403: "This credential may not do this, or the PIN is wrong or locked.",
    404: "No such resource, or not one this credential may see.",
    409: "The request conflicts with the current state.",
    413: "The request body is too large.",
    422: "The request is well-formed but invalid, or a business rule refused it.",
    503: "The database kept conflicting; retry with the same Idempotency-Key.",
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


# --- users -------------------------------------------------------------------------------------


class MerchantCreate(_In):
    trading_name: Name = Field(examples=["Wanjiru's kiosk"])
    category_code: str = Field(
        description="ISO 18245 merchant category.",
        examples=["5411"],
        json_schema_extra={"pattern": MERCHANT_CATEGORY_PATTERN},
    )
    settlement_currency: CurrencyCode | None = None


class UserCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "properties": {"kind": {"const": "merchant"}, "merchant": {"type": "object"}},
                    "required": ["merchant"],
                },
                {
                    "properties": {
                        "kind": {"enum": ["consumer", "agent"]},
                        "merchant": {"type": "null"},
                    }
                },
            ]
        },
    )

    kind: UserKind
    phone: Phone
    default_region: Region = None
    name: Name = Field(examples=["Amina Njoroge"])
    country: str | None = Field(
        default=None,
        description="ISO 3166 alpha-2, one Soko serves; the phone number's country by default.",
        json_schema_extra={"enum": [*sorted(HOME_CURRENCY), None]},
    )
    pin: Pin | None = None
    merchant: MerchantCreate | None = Field(
        default=None, description="Required for, and only for, kind=merchant."
    )


class MerchantPublic(BaseModel):
    trading_name: str
    category_code: str
    settlement_currency: str
    till_number: str

    @classmethod
    def of(cls, merchant: Merchant) -> MerchantPublic:
        return cls(
            trading_name=merchant.trading_name,
            category_code=merchant.category_code,
            settlement_currency=merchant.settlement_currency,
            till_number=merchant.till_number,
        )


class UserPublic(BaseModel):
    id: str
    kind: UserKind
    phone: str
    name: str
    country: str
    kyc_tier: int
    has_pin: bool
    pin_locked: bool
    merchant: MerchantPublic | None = None

    @classmethod
    def of(cls, user: User, merchant: Merchant | None = None) -> UserPublic:
        return cls(
            id=user.id,
            kind=user.kind,
            phone=user.phone,
            name=user.name,
            country=user.country,
            kyc_tier=user.kyc_tier,
            has_pin=user.has_pin,
            pin_locked=user.pin_locked,
            merchant=None if merchant is None else MerchantPublic.of(merchant),
        )


class KycUpdate(_In):
    tier: int = Field(
        description="0 phone only, 1 national id recorded, 2 documents verified.",
        json_schema_extra={"enum": [0, 1, 2]},
    )
    national_id: str | None = Field(
        default=None,
        description="Required from tier 1, unless the user has one on record already.",
        json_schema_extra={
            "minLength": 1,
            "maxLength": limits.NATIONAL_ID_LENGTH_MAX,
            "pattern": r"\S",
        },
    )


class PinSet(_In):
    pin: Pin


# --- wallets -----------------------------------------------------------------------------------


class WalletOpen(_In):
    currency: OfferedCurrencyCode | None = Field(
        default=None, description="The user's country's currency by default."
    )


class WalletPublic(BaseModel):
    id: str
    user_id: str
    currency: str
    balance: MoneyPublic = Field(description="Posted money: what the wallet holds.")
    available: MoneyPublic = Field(description="What may be spent: the balance less holds.")

    @classmethod
    def of(cls, found: WalletBalance) -> WalletPublic:
        return cls(
            id=found.wallet.id,
            user_id=found.wallet.user_id,
            currency=found.wallet.currency,
            balance=MoneyPublic.of(found.balance),
            available=MoneyPublic.of(found.available),
        )


class StatementEntryPublic(BaseModel):
    transfer_id: str
    created_at: datetime
    code: str = Field(examples=["p2p"])
    amount: MoneyPublic = Field(description="Signed: money in positive, money out negative.")
    pending: bool = Field(description="A hold or its release: the balance did not change.")
    balance_after: MoneyPublic
    reference: str | None

    @classmethod
    def of(cls, entry: StatementEntry) -> StatementEntryPublic:
        return cls(
            transfer_id=entry.transfer_id,
            created_at=entry.created_at,
            code=entry.code,
            amount=MoneyPublic.of(entry.amount),
            pending=entry.pending,
            balance_after=MoneyPublic.of(entry.balance_after),
            reference=entry.reference,
        )


# --- payments ----------------------------------------------------------------------------------


class TransferCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # Exactly one recipient: the use case's rule (recipient_required), stated for the
            # document; checked there, so USSD and the web obey it too.
            "oneOf": [
                {"properties": {"to_phone": {"type": "string"}}, "required": ["to_phone"]},
                {"properties": {"to_wallet_id": {"type": "string"}}, "required": ["to_wallet_id"]},
            ]
        },
    )

    amount: MoneyIn
    to_phone: Phone | None = None
    to_wallet_id: str | None = None
    default_region: Region = None
    message: str | None = Field(
        default=None,
        description="Shown to the recipient.",
        json_schema_extra={"maxLength": limits.MESSAGE_LENGTH_MAX},
    )
    sender_id: str | None = Field(
        default=None, description="Operator keys only: the user who sends. Others send as self."
    )


class CashInCreate(_In):
    customer_phone: Phone
    default_region: Region = None
    amount: MoneyIn
    agent_id: str | None = Field(
        default=None, description="Operator keys only: the agent taking the cash."
    )


class CashOutCreate(_In):
    agent_id: str
    amount: MoneyIn
    pin: Pin = Field(description="The customer's PIN.")
    customer_id: str | None = Field(
        default=None, description="Operator keys only: the customer taking the cash."
    )


class FloatTopUpCreate(_In):
    agent_id: str
    amount: MoneyIn


class PaymentPublic(BaseModel):
    id: str
    kind: str = Field(examples=["p2p", "cash_in", "cash_out", "float_topup", "merchant"])
    amount: MoneyPublic
    fee: MoneyPublic = Field(
        description="Paid by the payer on top of the amount; for a merchant payment, the "
        "merchant discount fee, paid by the merchant out of the amount."
    )
    commission: MoneyPublic = Field(description="Earned by the agent, for cash in and out.")
    payer_wallet_id: str | None
    payee_wallet_id: str | None = Field(
        description="Null while money sent to an unregistered number waits for its owner."
    )
    payee_phone: str | None
    message: str | None
    refunded: MoneyPublic = Field(description="Refunded so far (merchant payments).")
    created_at: datetime

    @classmethod
    def of(cls, payment: Payment) -> PaymentPublic:
        return cls(
            id=payment.id,
            kind=payment.kind,
            amount=MoneyPublic.minor(payment.amount, payment.currency),
            fee=MoneyPublic.minor(payment.fee, payment.currency),
            commission=MoneyPublic.minor(payment.commission, payment.currency),
            payer_wallet_id=payment.payer_wallet_id,
            payee_wallet_id=payment.payee_wallet_id,
            payee_phone=payment.payee_phone,
            message=payment.message,
            refunded=MoneyPublic.minor(payment.refunded, payment.currency),
            created_at=payment.created_at,
        )


# --- merchant payments, refunds, payment requests ----------------------------------------------

TILL_PATTERN: Final = r"^[0-9]{6}$"
REFERENCE_SCHEMA: Final[JsonDict] = {
    "minLength": 1,
    "maxLength": limits.PAYMENT_REQUEST_REFERENCE_LENGTH_MAX,
    "pattern": r"^[\x20-\x7e]+$",
}


class MerchantPaymentCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # Exactly one merchant: the use case's rule (recipient_required), stated here too.
            "oneOf": [
                {"properties": {"till_number": {"type": "string"}}, "required": ["till_number"]},
                {"properties": {"merchant_id": {"type": "string"}}, "required": ["merchant_id"]},
            ]
        },
    )

    amount: MoneyIn
    till_number: str | None = Field(default=None, pattern=TILL_PATTERN, examples=["123456"])
    merchant_id: str | None = None
    message: str | None = Field(
        default=None,
        description="Shown to the merchant.",
        json_schema_extra={"maxLength": limits.MESSAGE_LENGTH_MAX},
    )
    payer_id: str | None = Field(
        default=None, description="Operator keys only: the user who pays. Others pay as self."
    )


class RefundCreate(_In):
    amount: MoneyIn
    reason: str | None = Field(
        default=None, json_schema_extra={"maxLength": limits.MESSAGE_LENGTH_MAX}
    )
    merchant_id: str | None = Field(
        default=None, description="Operator keys only: the merchant that refunds."
    )


class RefundPublic(BaseModel):
    id: str
    payment_id: str
    amount: MoneyPublic
    fee_returned: MoneyPublic = Field(
        description="The share of the merchant discount fee given back to the merchant."
    )
    reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, made: Refund) -> RefundPublic:
        return cls(
            id=made.id,
            payment_id=made.payment_id,
            amount=MoneyPublic.minor(made.amount, made.currency),
            fee_returned=MoneyPublic.minor(made.fee_returned, made.currency),
            reason=made.reason,
            created_at=made.created_at,
        )


class PaymentRequestCreate(_In):
    amount: MoneyIn
    reference: str = Field(
        description="The merchant's own reference (an invoice or order number): 1 to 25 "
        "printable ASCII characters, as EMV QR codes carry it.",
        json_schema_extra=REFERENCE_SCHEMA,
        examples=["INV-2026-0042"],
    )
    description: str | None = Field(
        default=None, json_schema_extra={"maxLength": limits.MESSAGE_LENGTH_MAX}
    )
    expires_in_seconds: int = Field(
        default=limits.PAYMENT_REQUEST_SECONDS_DEFAULT,
        ge=limits.PAYMENT_REQUEST_SECONDS_MIN,
        le=limits.PAYMENT_REQUEST_SECONDS_MAX,
    )
    merchant_id: str | None = Field(
        default=None, description="Operator keys only: the merchant that asks."
    )


class PaymentRequestPay(_In):
    amount: MoneyIn | None = Field(
        default=None,
        description="What the payer was shown; refused if it is not the requested amount.",
    )
    payer_id: str | None = Field(
        default=None, description="Operator keys only: the user who pays. Others pay as self."
    )


class PaymentRequestPublic(BaseModel):
    id: str
    merchant_id: str
    amount: MoneyPublic
    reference: str
    description: str | None
    status: PaymentRequestStatus
    expires_at: datetime
    payment_id: str | None
    pay_url: str = Field(description="The public page where a customer pays the request.")
    created_at: datetime

    @classmethod
    def of(cls, made: PaymentRequest, *, now: datetime, public_url: str) -> PaymentRequestPublic:
        return cls(
            id=made.id,
            merchant_id=made.merchant_id,
            amount=MoneyPublic.minor(made.amount, made.currency),
            reference=made.reference,
            description=made.description,
            status=made.status_at(now),
            expires_at=made.expires_at,
            payment_id=made.payment_id,
            pay_url=f"{public_url}/pay/{made.id}",
            created_at=made.created_at,
        )


# --- webhooks ----------------------------------------------------------------------------------

#: What the domain checks of a webhook URL that a pattern can say; the rest (a host, no user
#: name, no fragment) is `webhook_url_invalid`.
WEBHOOK_URL_PATTERN: Final = r"^https?://[!-~]+$"
_EVENT_TYPE_NAMES: Final[list[JsonValue]] = [str(name) for name in sorted(EVENT_TYPES)]


class WebhookEndpointCreate(_In):
    url: str = Field(
        description="Where Soko POSTs events: an absolute http(s) URL, without credentials.",
        examples=["https://shop.example/hooks/soko"],
        json_schema_extra={
            "minLength": 1,
            "maxLength": limits.WEBHOOK_URL_LENGTH_MAX,
            "pattern": WEBHOOK_URL_PATTERN,
        },
    )
    event_types: list[str] = Field(
        description="The events sent to this URL.",
        examples=[["payment.succeeded", "refund.succeeded"]],
        json_schema_extra={
            "minItems": 1,
            "items": {"type": "string", "enum": _EVENT_TYPE_NAMES},
        },
    )
    owner_id: str | None = Field(
        default=None, description="The merchant, named with an operator key; else the caller."
    )


class WebhookEndpointPublic(BaseModel):
    id: str
    owner_id: str
    url: str
    event_types: list[str]
    enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookEndpointPublic:
        return cls(
            id=endpoint.id,
            owner_id=endpoint.owner_id,
            url=endpoint.url,
            event_types=list(endpoint.event_types),
            enabled=endpoint.enabled,
            created_at=endpoint.created_at,
        )


class WebhookEndpointCreated(WebhookEndpointPublic):
    secret: str = Field(
        description="The signing secret (whsec_…), shown this once: verify each delivery's "
        "webhook-signature with it (Standard Webhooks)."
    )

    @classmethod
    def of_new(cls, new: NewWebhookEndpoint) -> WebhookEndpointCreated:
        return cls(**WebhookEndpointPublic.of(new.endpoint).model_dump(), secret=new.secret)


class WebhookDeliveryPublic(BaseModel):
    id: str
    event_id: str = Field(description="Also the webhook-id header: receivers drop repeats by it.")
    event_type: str
    endpoint_id: str
    status: Literal["pending", "succeeded", "dead"] = Field(
        description="dead: every attempt failed, or the endpoint was disabled; retry it with "
        "POST /v1/webhook-deliveries/{id}/retry."
    )
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None = Field(description="The receiver's last HTTP status, if any.")
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> WebhookDeliveryPublic:
        return cls(
            id=delivery.id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            endpoint_id=delivery.endpoint_id,
            status=delivery.status,  # type: ignore[arg-type]  # the CHECK keeps it one of three
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            updated_at=delivery.updated_at,
        )


# --- access ------------------------------------------------------------------------------------


class ApiKeyCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # The domain's rule (user_kind_mismatch otherwise), stated for the document.
            "oneOf": [
                {
                    "properties": {
                        "role": {"const": "operator"},
                        "merchant_id": {"type": "null"},
                    }
                },
                {
                    "properties": {
                        "role": {"const": "merchant"},
                        "merchant_id": {"type": "string"},
                    },
                    "required": ["merchant_id"],
                },
            ]
        },
    )

    role: Literal["operator", "merchant"]
    name: Name = Field(examples=["checkout server"])
    merchant_id: str | None = Field(default=None, description="Required for role=merchant.")


class ApiKeyPublic(BaseModel):
    id: str
    role: str
    name: str
    merchant_id: str | None
    revoked: bool

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyPublic:
        return cls(
            id=key.id,
            role=key.role,
            name=key.name,
            merchant_id=key.merchant_id,
            revoked=key.revoked,
        )


class ApiKeyCreated(ApiKeyPublic):
    secret: str = Field(description="Shown this once; only its hash is kept.")

    @classmethod
    def of_new(cls, new: NewApiKey) -> ApiKeyCreated:
        return cls(**ApiKeyPublic.of(new.key).model_dump(), secret=new.secret)


class SessionCreate(_In):
    phone: Phone
    pin: Pin
    default_region: Region = None


class SessionPublic(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    expires_at: datetime
    user_id: str

    @classmethod
    def of(cls, session: Session) -> SessionPublic:
        return cls(token=session.token, expires_at=session.expires_at, user_id=session.user.id)


# --- payouts -----------------------------------------------------------------------------------


class BankAccountIn(_In):
    type: Literal["bank_account"]
    bank_code: str = Field(
        description="The bank's clearing code or SWIFT BIC.",
        examples=["01", "KCBLKENX"],
        json_schema_extra={
            "pattern": rf"^[A-Za-z0-9]{{{limits.BANK_CODE_LENGTH_MIN},"
            rf"{limits.BANK_CODE_LENGTH_MAX}}}$"
        },
    )
    account_number: str = Field(
        description="Letters and digits (an IBAN, or the bank's own account number).",
        examples=["1234567890"],
        json_schema_extra={
            "pattern": rf"^[A-Za-z0-9]{{{limits.BANK_ACCOUNT_NUMBER_LENGTH_MIN},"
            rf"{limits.BANK_ACCOUNT_NUMBER_LENGTH_MAX}}}$"
        },
    )
    account_name: Name = Field(examples=["Wanjiru Kamau"])

    def to_destination(self) -> BankAccount:
        return BankAccount(self.bank_code, self.account_number, self.account_name)


class MobileMoneyIn(_In):
    type: Literal["mobile_money"]
    phone: str = Field(
        description="E.164, in the country whose currency the payout is in (`format: phone`).",
        examples=["+254722123456"],
        json_schema_extra={"format": "phone", "pattern": r"^\+[0-9]{6,15}$"},
    )

    def to_destination(self) -> MobileMoney:
        return MobileMoney(self.phone)


class PayoutCreate(_In):
    amount: MoneyIn
    destination: Annotated[BankAccountIn | MobileMoneyIn, Field(discriminator="type")]
    merchant_id: str | None = Field(
        default=None,
        description="Operator keys only: the merchant paying out. A merchant key pays out as self.",
    )


class BankAccountPublic(BaseModel):
    type: Literal["bank_account"] = "bank_account"
    bank_code: str
    account_number: str
    account_name: str


class MobileMoneyPublic(BaseModel):
    type: Literal["mobile_money"] = "mobile_money"
    phone: str


def _destination_public(destination: Destination) -> BankAccountPublic | MobileMoneyPublic:
    if isinstance(destination, BankAccount):
        return BankAccountPublic(
            bank_code=destination.bank_code,
            account_number=destination.account_number,
            account_name=destination.account_name,
        )
    return MobileMoneyPublic(phone=destination.phone)


class PayoutPublic(BaseModel):
    id: str
    merchant_id: str
    wallet_id: str
    status: Literal["requested", "submitted", "paid", "failed"] = Field(
        description="requested (money held), submitted (at the rail), then paid or failed "
        "(the amount and fee are back in the wallet)."
    )
    amount: MoneyPublic
    fee: MoneyPublic = Field(description="Paid by the merchant on top of the amount.")
    destination: Annotated[BankAccountPublic | MobileMoneyPublic, Field(discriminator="type")]
    rail: str = Field(examples=["sandbox"])
    rail_reference: str | None = Field(description="The rail's own reference, once submitted.")
    failure_reason: str | None = Field(description="Why the rail failed it.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, payout: Payout) -> PayoutPublic:
        return cls(
            id=payout.id,
            merchant_id=payout.merchant_id,
            wallet_id=payout.wallet_id,
            status=payout.state.value,
            amount=MoneyPublic.minor(payout.amount, payout.currency),
            fee=MoneyPublic.minor(payout.fee, payout.currency),
            destination=_destination_public(payout.destination),
            rail=payout.rail,
            rail_reference=payout.rail_reference,
            failure_reason=payout.failure_reason,
            created_at=payout.created_at,
            updated_at=payout.updated_at,
        )


# --- escrow ------------------------------------------------------------------------------------


class OrderItemIn(_In):
    name: str = Field(
        min_length=1,
        max_length=limits.ESCROW_ITEM_NAME_LENGTH_MAX,
        json_schema_extra={"pattern": r"\S"},
        examples=["Kitenge fabric, 6 yards"],
    )
    quantity: int = Field(ge=1, le=limits.ESCROW_ITEM_QUANTITY_MAX)


class EscrowOrderCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # Exactly one buyer: the use case's rule (recipient_required), stated here too.
            "oneOf": [
                {"properties": {"buyer_id": {"type": "string"}}, "required": ["buyer_id"]},
                {"properties": {"buyer_phone": {"type": "string"}}, "required": ["buyer_phone"]},
            ]
        },
    )

    buyer_id: str | None = None
    buyer_phone: Phone | None = None
    default_region: Region = None
    amount: MoneyIn
    items: list[OrderItemIn] = Field(min_length=1, max_length=limits.ESCROW_ITEMS_MAX)
    ship_by: AwareDatetime = Field(
        description="The seller ships by then, or the buyer is refunded (with a time zone)."
    )
    description: str | None = Field(
        default=None, json_schema_extra={"maxLength": limits.MESSAGE_LENGTH_MAX}
    )
    seller_id: str | None = Field(
        default=None, description="Operator keys only: the merchant that sells."
    )


class EscrowActor(_In):
    """The body of an order's moves: empty, except that an operator key names who acts."""

    acting_user_id: str | None = Field(
        default=None, description="Operator keys only: the buyer or seller who acts."
    )


class EscrowShip(EscrowActor):
    carrier_code: str = Field(min_length=1, max_length=32, examples=["sendy"])
    tracking_number: str = Field(min_length=1, max_length=40, examples=["SND-2026-000123"])


class DeliveryCodeEnter(_In):
    code: str = Field(pattern=r"^[0-9]{6}$", description="The buyer's one-time delivery code.")
    acting_user_id: str | None = Field(
        default=None,
        description="Operator keys only: the seller entering it; omitted, the operator (a "
        "courier desk) enters it.",
    )


class DeliveryCodePublic(BaseModel):
    code: str | None = Field(
        description="The six digits to give at handover; null for an order funded before "
        "codes were kept (its code went by SMS only)."
    )
    tries_left: int = Field(description="Wrong entries left before the code locks.")


class DisputeCreate(EscrowActor):
    reason: str = Field(pattern=r"^[A-Za-z0-9_]{1,32}$", examples=["not_as_described"])
    message: str = Field(
        min_length=1,
        max_length=limits.DISPUTE_TEXT_LENGTH_MAX,
        json_schema_extra={"pattern": r"\S"},
    )
    evidence: list[
        Annotated[str, Field(min_length=1, max_length=limits.DISPUTE_EVIDENCE_LENGTH_MAX)]
    ] = Field(
        default_factory=list,
        max_length=limits.DISPUTE_EVIDENCE_MAX,
        description="References to photos or documents kept elsewhere.",
    )


class DisputeAnswer(EscrowActor):
    answer: str = Field(
        min_length=1,
        max_length=limits.DISPUTE_TEXT_LENGTH_MAX,
        json_schema_extra={"pattern": r"\S"},
    )


class DisputeResolve(_In):
    outcome: Literal["release", "refund", "split"]
    to_buyer: MoneyIn | None = Field(default=None, description="For a split.")
    to_seller: MoneyIn | None = Field(default=None, description="For a split.")
    note: str | None = Field(
        default=None, json_schema_extra={"maxLength": limits.DISPUTE_TEXT_LENGTH_MAX}
    )


class OrderItemPublic(BaseModel):
    name: str
    quantity: int


class EscrowOrderPublic(BaseModel):
    id: str
    seller_id: str
    buyer_id: str
    state: EscrowState
    amount: MoneyPublic
    items: list[OrderItemPublic]
    description: str | None
    ship_by: datetime
    deliver_by: datetime
    inspection_ends_at: datetime | None
    next_timer: EscrowAction | None = Field(description="What happens at `next_timer_at`.")
    next_timer_at: datetime | None
    released: MoneyPublic = Field(description="The seller's part once closed, before its fee.")
    fee: MoneyPublic
    refunded: MoneyPublic = Field(description="The buyer's part once closed.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, order: EscrowOrder) -> EscrowOrderPublic:
        money = partial(MoneyPublic.minor, currency=order.currency)
        return cls(
            id=order.id,
            seller_id=order.seller_id,
            buyer_id=order.buyer_id,
            state=order.state,
            amount=money(order.amount),
            items=[OrderItemPublic(name=i.name, quantity=i.quantity) for i in order.items],
            description=order.description,
            ship_by=order.deadlines.ship_by,
            deliver_by=order.deadlines.deliver_by,
            inspection_ends_at=order.deadlines.inspection_ends,
            next_timer=order.timer_action,
            next_timer_at=order.timer_due_at,
            released=money(order.released),
            fee=money(order.fee),
            refunded=money(order.refunded),
            created_at=order.created_at,
            updated_at=order.updated_at,
        )


class DisputePublic(BaseModel):
    id: str
    order_id: str
    reason: str
    message: str
    evidence: list[str]
    seller_answer: str | None
    outcome: str | None
    to_buyer: int | None = Field(description="Minor units given back by a split.")
    to_seller: int | None
    note: str | None
    opened_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, dispute: EscrowDispute) -> DisputePublic:
        return cls(
            id=dispute.id,
            order_id=dispute.order_id,
            reason=dispute.reason,
            message=dispute.message,
            evidence=list(dispute.evidence),
            seller_answer=dispute.seller_answer,
            outcome=dispute.outcome,
            to_buyer=dispute.to_buyer,
            to_seller=dispute.to_seller,
            note=dispute.note,
            opened_at=dispute.opened_at,
            closed_at=dispute.closed_at,
        )
