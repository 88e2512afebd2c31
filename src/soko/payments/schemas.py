"""The API's bodies for transfers, cash, merchant payments, requests."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
)
from pydantic.config import JsonDict

from soko.channels.api.schemas import MoneyIn, MoneyPublic, Phone, Pin, Region, _In
from soko.kernel import limits
from soko.payments.domain import (
    Payment,
    PaymentKind,
    PaymentRequest,
    PaymentRequestStatus,
    Refund,
)

# --- payments ----------------------------------------------------------------------------------

#: An amount, or a quote that fixes it (`request_invalid` on `amount` otherwise): the router's
#: rule, stated for the document. Present and not null.
AMOUNT_OR_QUOTE: Final[list[JsonValue]] = [
    {"required": ["amount"], "properties": {"amount": {"type": "object"}}},
    {"required": ["quote_id"], "properties": {"quote_id": {"type": "string"}}},
]


class TransferCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount": {"amount": "150.00", "currency": "KES"},
                    "to_phone": "+254722100200",
                    "message": "Lunch",
                }
            ],
            # Exactly one recipient: the use case's rule (recipient_required), stated for the
            # document; checked there, so USSD and the web obey it too.
            "oneOf": [
                {"properties": {"to_phone": {"type": "string"}}, "required": ["to_phone"]},
                {"properties": {"to_wallet_id": {"type": "string"}}, "required": ["to_wallet_id"]},
            ],
            # An amount, or a quote that fixes it (amount_required in the API's words).
            "anyOf": AMOUNT_OR_QUOTE,
        },
    )

    amount: MoneyIn | None = Field(
        default=None,
        description="Required without quote_id. With one, optional: the quote's source or "
        "target amount, refused (fx_quote_mismatch) if it is neither.",
    )
    quote_id: str | None = Field(
        default=None,
        description="An FX quote (POST /v1/fx/quotes) to send to a wallet in another currency: "
        "the sender pays the quote's source amount, the recipient gets its target amount.",
    )
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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_phone": "+254712100200",
                    "amount": {"amount": "2000.00", "currency": "KES"},
                }
            ]
        }
    )

    customer_phone: Phone
    default_region: Region = None
    amount: MoneyIn
    agent_id: str | None = Field(
        default=None, description="Operator keys only: the agent taking the cash."
    )


class CashOutCreate(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agent_id": "usr_01JH4Y9S4P0Z7V5X8Q1D2E3F4G",
                    "amount": {"amount": "1000.00", "currency": "KES"},
                    "pin": "2468",
                }
            ]
        }
    )

    agent_id: str
    amount: MoneyIn
    pin: Pin = Field(description="The customer's PIN.")
    customer_id: str | None = Field(
        default=None, description="Operator keys only: the customer taking the cash."
    )


class FloatTopUpCreate(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agent_id": "usr_01JH4Y9S4P0Z7V5X8Q1D2E3F4G",
                    "amount": {"amount": "50000.00", "currency": "KES"},
                }
            ]
        }
    )

    agent_id: str
    amount: MoneyIn


class PaymentPublic(BaseModel):
    id: str
    kind: PaymentKind = Field(examples=["p2p"])
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
    target_amount: MoneyPublic | None = Field(
        default=None,
        description="Cross-currency payments (kinds fx_p2p, fx_merchant, fx_conversion): what "
        "the payee received in its currency. `amount` is then what was converted and `fee` the "
        "spread and FX fee, in the payer's currency.",
    )
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
            target_amount=None
            if payment.target_currency is None or payment.target_amount is None
            else MoneyPublic.minor(payment.target_amount, payment.target_currency),
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
            "examples": [
                {
                    "amount": {"amount": "500.00", "currency": "KES"},
                    "till_number": "123456",
                    "message": "Groceries",
                }
            ],
            # Exactly one merchant: the use case's rule (recipient_required), stated here too.
            "oneOf": [
                {"properties": {"till_number": {"type": "string"}}, "required": ["till_number"]},
                {"properties": {"merchant_id": {"type": "string"}}, "required": ["merchant_id"]},
            ],
            "anyOf": AMOUNT_OR_QUOTE,
        },
    )

    amount: MoneyIn | None = Field(
        default=None,
        description="Required without quote_id; with one, optional and checked against it.",
    )
    quote_id: str | None = Field(
        default=None,
        description="An FX quote to pay a merchant in its own currency from a wallet in another.",
    )
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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"amount": {"amount": "100.00", "currency": "KES"}, "reason": "Returned one item"}
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "amount": {"amount": "300.00", "currency": "KES"},
                    "reference": "INV-1",
                    "description": "Two bags of maize flour",
                    "expires_in_seconds": 86400,
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"amount": {"amount": "300.00", "currency": "KES"}}]}
    )

    amount: MoneyIn | None = Field(
        default=None,
        description="What the payer was shown; refused if it is not the requested amount "
        "(with quote_id, the quote's source amount is accepted too).",
    )
    quote_id: str | None = Field(
        default=None,
        description="An FX quote (POST /v1/fx/quotes with the request's amount as "
        "target_amount) to pay from a wallet in another currency: the merchant receives exactly "
        "the amount asked, the payer pays the quote's source amount.",
        examples=["fxq_01JH…"],
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
