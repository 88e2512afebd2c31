"""The API's bodies for escrow orders and disputes."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
)

from soko.channels.api.schemas import NOT_BLANK, MoneyIn, MoneyPublic, Phone, Region, _In
from soko.escrow.domain import EscrowAction, EscrowDispute, EscrowOrder, EscrowState
from soko.kernel import limits

# --- escrow ------------------------------------------------------------------------------------


class OrderItemIn(_In):
    name: str = Field(
        min_length=1,
        max_length=limits.ESCROW_ITEM_NAME_LENGTH_MAX,
        json_schema_extra={"pattern": NOT_BLANK},
        examples=["Kitenge fabric, 6 yards"],
    )
    quantity: int = Field(ge=1, le=limits.ESCROW_ITEM_QUANTITY_MAX)


class EscrowOrderCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "buyer_phone": "+254712100200",
                    "amount": {"amount": "2500.00", "currency": "KES"},
                    "items": [{"name": "Kitenge fabric, 6 yards", "quantity": 2}],
                    "ship_by": "2026-12-10T17:00:00Z",
                    "description": "Blue and gold",
                }
            ],
            # Exactly one buyer: the use case's rule (recipient_required), stated here too.
            "oneOf": [
                {"properties": {"buyer_id": {"type": "string"}}, "required": ["buyer_id"]},
                {"properties": {"buyer_phone": {"type": "string"}}, "required": ["buyer_phone"]},
            ],
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

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"acting_user_id": "usr_01JH4Y7Q2M8X5T3V6N9B0C1D2E"}]}
    )

    acting_user_id: str | None = Field(
        default=None, description="Operator keys only: the buyer or seller who acts."
    )


class EscrowFund(EscrowActor):
    model_config = ConfigDict(json_schema_extra={"examples": [{"quote_id": "fxq_01JH4Y9S4P0Z"}]})

    quote_id: str | None = Field(
        default=None,
        description="An FX quote (POST /v1/fx/quotes with the order's amount as target_amount) "
        "to fund the order from a wallet in another currency, at a rate locked now: the seller "
        "is paid the order's amount in its currency; a refund gives back what the buyer paid.",
        examples=["fxq_01JH4Y9S4P0Z"],
    )


class EscrowShip(EscrowActor):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "acting_user_id": "usr_01JH4Y8R3N9Y6U4W7P0C1D2E3F",
                    "carrier_code": "sendy",
                    "tracking_number": "SND123456",
                }
            ]
        }
    )

    carrier_code: str = Field(min_length=1, max_length=32, examples=["sendy"])
    tracking_number: str = Field(min_length=1, max_length=40, examples=["SND-2026-000123"])


class DeliveryCodeEnter(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"code": "482913", "acting_user_id": "usr_01JH4Y8R3N9Y6U4W7P0C1D2E3F"}]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "acting_user_id": "usr_01JH4Y7Q2M8X5T3V6N9B0C1D2E",
                    "reason": "not_as_described",
                    "message": "The fabric is green, not blue.",
                    "evidence": ["https://photos.example/1.jpg"],
                }
            ]
        }
    )

    reason: str = Field(pattern=r"^[A-Za-z0-9_]{1,32}$", examples=["not_as_described"])
    message: str = Field(
        min_length=1,
        max_length=limits.DISPUTE_TEXT_LENGTH_MAX,
        json_schema_extra={"pattern": NOT_BLANK},
    )
    evidence: list[
        Annotated[str, Field(min_length=1, max_length=limits.DISPUTE_EVIDENCE_LENGTH_MAX)]
    ] = Field(
        default_factory=list,
        max_length=limits.DISPUTE_EVIDENCE_MAX,
        description="References to photos or documents kept elsewhere.",
    )


class DisputeAnswer(EscrowActor):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "acting_user_id": "usr_01JH4Y8R3N9Y6U4W7P0C1D2E3F",
                    "answer": "The photo shows blue in daylight; I offer a partial refund.",
                }
            ]
        }
    )

    answer: str = Field(
        min_length=1,
        max_length=limits.DISPUTE_TEXT_LENGTH_MAX,
        json_schema_extra={"pattern": NOT_BLANK},
    )


class DisputeResolve(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "outcome": "split",
                    "to_buyer": {"amount": "1000.00", "currency": "KES"},
                    "to_seller": {"amount": "1500.00", "currency": "KES"},
                    "note": "Colour differs from the listing.",
                }
            ]
        }
    )

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
    fx_quote_id: str | None = Field(
        default=None,
        description="The FX quote the buyer funded the order with from a wallet in another "
        "currency (GET /v1/fx/quotes/{id}): a refund gives back that currency's amount.",
    )
    shipment_id: str | None = Field(
        description="The parcel's shipment once shipped: GET /v1/shipments/{shipment_id}."
    )
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
            shipment_id=order.shipment_id,
            fx_quote_id=order.fx_quote_id,
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
