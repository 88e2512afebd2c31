"""Carriers and shipments: the carriers' signed webhook, operators' events, tracking reads.

Operators register carriers (each gets a signing secret, shown once) and may record tracking
events themselves. A carrier reports events to `POST /v1/carriers/{carrier_code}/events` with no
API key: its Standard Webhooks signature is its credential. A shipment is visible to the operator
and to its order's buyer and seller; to anyone else it answers exactly as an unknown id does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from soko.channels.api.deps import Caller, ContextDep, OperatorCaller
from soko.channels.api.schemas import Name, Page, problem_responses
from soko.escrow.tracking import service as shipments
from soko.escrow.tracking.domain import (
    EventSource,
    ShipmentStep,
    TrackingEvent,
    TrackingEventKind,
    parse_occurred_at,
)
from soko.escrow.tracking.service import NewCarrier, RecordedEvent, TrackedShipment
from soko.kernel import limits

router = APIRouter(prefix="/v1", tags=["shipments"])

#: What the domain checks, stated for the document (carrier_code_invalid, tracking_number_...).
CARRIER_CODE_PATTERN: Final = (
    rf"^[a-z][a-z0-9-]{{{limits.CARRIER_CODE_LENGTH_MIN - 1},"
    rf"{limits.CARRIER_CODE_LENGTH_MAX - 1}}}$"
)
TRACKING_NUMBER_PATTERN: Final = rf"^[A-Za-z0-9-]{{1,{limits.TRACKING_NUMBER_LENGTH_MAX}}}$"
EVENT_ID_SCHEMA: Final[dict[str, Any]] = {
    "minLength": 1,
    "maxLength": limits.CARRIER_EVENT_ID_LENGTH_MAX,
    "pattern": r"^[\x21-\x7e]+$",
}
_KINDS: Final = [kind.value for kind in TrackingEventKind]
_OCCURRED_AT: Final = (
    "When it happened: ISO 8601 with its UTC offset (2026-03-01T14:05:00+03:00), not in the "
    "future and not more than a year ago."
)

_READ = problem_responses(401, 403, 404, 422, 503)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- bodies -------------------------------------------------------------------------------------


class CarrierCreate(_In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "sendy", "name": "Sendy"}]})

    code: str = Field(
        description="A lowercase slug naming the carrier in its webhook URL.",
        examples=["sendy"],
        json_schema_extra={
            "minLength": limits.CARRIER_CODE_LENGTH_MIN,
            "maxLength": limits.CARRIER_CODE_LENGTH_MAX,
            "pattern": CARRIER_CODE_PATTERN,
        },
    )
    name: Name


class CarrierPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    enabled: bool
    created_at: datetime
    disabled_at: datetime | None


class CarrierCreated(CarrierPublic):
    secret: str = Field(
        description="The signing secret (whsec_…), shown this once: the carrier signs each "
        "event with it (Standard Webhooks)."
    )

    @classmethod
    def of_new(cls, new: NewCarrier) -> CarrierCreated:
        return cls(**CarrierPublic.model_validate(new.carrier).model_dump(), secret=new.secret)


class CarrierEventBody(BaseModel):
    """What a carrier POSTs (documentation only: the route reads the signed bytes itself)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tracking_number": "SND-20260301-0042",
                    "kind": "delivered",
                    "occurred_at": "2026-03-01T14:05:00+03:00",
                }
            ]
        }
    )

    tracking_number: str = Field(
        examples=["SND-20260301-0042"],
        json_schema_extra={"pattern": TRACKING_NUMBER_PATTERN},
    )
    kind: Literal[
        "picked_up", "in_transit", "out_for_delivery", "delivered", "failed_delivery", "returned"
    ]
    occurred_at: str = Field(
        description=_OCCURRED_AT,
        examples=["2026-03-01T14:05:00+03:00"],
        json_schema_extra={"format": "date-time"},
    )


class TrackingEventCreate(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": "ops-2026-12-06-001",
                    "kind": "delivered",
                    "occurred_at": "2026-12-06T14:02:00Z",
                }
            ]
        }
    )

    event_id: str = Field(
        description="Your id of this event: the same id again records nothing new.",
        examples=["ops-2026-03-01-0001"],
        json_schema_extra=EVENT_ID_SCHEMA,
    )
    kind: Literal[
        "picked_up", "in_transit", "out_for_delivery", "delivered", "failed_delivery", "returned"
    ]
    occurred_at: str = Field(
        description=_OCCURRED_AT,
        examples=["2026-03-01T14:05:00+03:00"],
        json_schema_extra={"format": "date-time"},
    )


class TrackingEventPublic(BaseModel):
    id: str
    shipment_id: str
    carrier_code: str
    event_id: str = Field(description="The carrier's id of the event (its webhook-id).")
    kind: TrackingEventKind
    occurred_at: datetime
    received_at: datetime
    source: EventSource
    order_action: Literal["deliver", "return"] | None = Field(
        description="What this event did to the escrow order: delivered it (the inspection "
        "period starts) or refunded it (returned); null if it moved nothing."
    )

    @classmethod
    def of(cls, event: TrackingEvent) -> TrackingEventPublic:
        action = None if event.order_action is None else event.order_action.value
        return cls(
            id=event.id,
            shipment_id=event.shipment_id,
            carrier_code=event.carrier_code,
            event_id=event.carrier_event_id,
            kind=event.kind,
            occurred_at=event.occurred_at,
            received_at=event.received_at,
            source=event.source,
            order_action=action,  # type: ignore[arg-type]  # deliver or return (a CHECK)
        )


class ShipmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    order_id: str
    carrier_code: str
    tracking_number: str
    step: ShipmentStep = Field(
        description="The furthest step any event reached, whatever order they came in."
    )
    created_at: datetime
    updated_at: datetime


class ShipmentTracked(ShipmentPublic):
    events: list[TrackingEventPublic] = Field(
        description=f"The latest {limits.TRACKING_EVENTS_SHOWN_MAX} events at most, oldest first."
    )

    @classmethod
    def of_tracked(cls, tracked: TrackedShipment) -> ShipmentTracked:
        return cls(
            **ShipmentPublic.model_validate(tracked.shipment).model_dump(),
            events=[TrackingEventPublic.of(event) for event in tracked.events],
        )


class TrackingEventRecorded(BaseModel):
    event: TrackingEventPublic
    shipment: ShipmentPublic
    repeat: bool = Field(
        description="True if this event id was recorded before: nothing changed, and `event` "
        "is the first recording."
    )

    @classmethod
    def of(cls, recorded: RecordedEvent) -> TrackingEventRecorded:
        return cls(
            event=TrackingEventPublic.of(recorded.event),
            shipment=ShipmentPublic.model_validate(recorded.shipment),
            repeat=recorded.repeat,
        )


# --- carriers -----------------------------------------------------------------------------------

CarrierCode = Annotated[str, Path(examples=["sendy"])]


@router.post(
    "/carriers",
    operation_id="createCarrier",
    status_code=201,
    response_model=CarrierCreated,
    responses=problem_responses(400, 401, 403, 409, 413, 422, 503),
)
def add_carrier(
    body: CarrierCreate, caller: OperatorCaller, ctx: ContextDep, response: Response
) -> CarrierCreated:
    """Register a carrier (operator key). Its signing secret is in this response only."""
    new = shipments.add_carrier(ctx, code=body.code, name=body.name)
    response.headers["Cache-Control"] = "no-store"
    return CarrierCreated.of_new(new)


@router.get(
    "/carriers", operation_id="listCarriers", response_model=Page[CarrierPublic], responses=_READ
)
def list_carriers(
    caller: OperatorCaller,
    ctx: ContextDep,
    limit: Annotated[
        int,
        Query(
            description="Items per page.",
            json_schema_extra={"minimum": 1, "maximum": limits.PAGE_SIZE_MAX},
        ),
    ] = limits.PAGE_SIZE_DEFAULT,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> Page[CarrierPublic]:
    """Carriers by code, disabled ones included (operator key)."""
    page = shipments.list_carriers(ctx, limit=limit, cursor=cursor)
    return Page(
        items=[CarrierPublic.model_validate(carrier) for carrier in page.carriers],
        next_cursor=page.next_cursor,
    )


async def _signed_body(request: Request) -> bytes:
    # The exact bytes the carrier signed: a parsed and re-encoded body would not verify.
    return await request.body()


_SIGNATURE_HEADERS: Final = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "The carrier's id of this event: a repeat with the same id records "
        "nothing new.",
        "schema": {"type": "string", **EVENT_ID_SCHEMA},
        "example": "msg_2tL6Vb9qkE4NfP",
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "Unix seconds when the carrier signed; at most "
        f"{limits.CARRIER_CLOCK_TOLERANCE_SECONDS} s from Soko's clock.",
        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
        "example": "1772363100",
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "Space-separated `v1,<base64 HMAC-SHA256>` signatures of "
        "`{webhook-id}.{webhook-timestamp}.{body}`, keyed with the carrier's whsec_ secret "
        "(Standard Webhooks); one valid signature suffices.",
        "schema": {"type": "string", "minLength": 1},
        "example": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
    },
]


@router.post(
    "/carriers/{carrier_code}/events",
    operation_id="receiveCarrierEvent",
    response_model=TrackingEventRecorded,
    responses=problem_responses(400, 401, 404, 409, 413, 422, 503),
    openapi_extra={
        "parameters": _SIGNATURE_HEADERS,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CarrierEventBody.model_json_schema()}},
        },
    },
)
def receive_carrier_event(
    carrier_code: CarrierCode,
    request: Request,
    body: Annotated[bytes, Depends(_signed_body)],
    ctx: ContextDep,
) -> TrackingEventRecorded:
    """A carrier reports a tracking event. No API key: the Standard Webhooks signature, made
    with the carrier's secret, is the credential (401 `carrier_signature_invalid` or
    `carrier_timestamp_invalid` otherwise). Events are recorded once per webhook-id and may
    arrive in any order; `delivered` starts the order's inspection period, `returned` refunds
    the buyer."""
    recorded = shipments.receive_carrier_event(
        ctx, carrier_code=carrier_code, headers=request.headers, body=body
    )
    return TrackingEventRecorded.of(recorded)


# --- shipments ----------------------------------------------------------------------------------


@router.post(
    "/shipments/{shipment_id}/events",
    operation_id="recordShipmentEvent",
    response_model=TrackingEventRecorded,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 503),
)
def record_event(
    shipment_id: Annotated[str, Path(examples=["shp_01JH…"])],
    body: TrackingEventCreate,
    caller: OperatorCaller,
    ctx: ContextDep,
) -> TrackingEventRecorded:
    """Record a tracking event for a shipment (operator key): for a carrier without a webhook,
    or an event it missed. Idempotent by `event_id`, so no Idempotency-Key is needed."""
    recorded = shipments.record_event(
        ctx,
        shipment_id=shipment_id,
        kind=body.kind,
        occurred_at=parse_occurred_at(body.occurred_at),
        event_id=body.event_id,
    )
    return TrackingEventRecorded.of(recorded)


@router.get(
    "/shipments/{shipment_id}",
    operation_id="getShipment",
    response_model=ShipmentTracked,
    responses=_READ,
)
def get_shipment(
    shipment_id: Annotated[str, Path(examples=["shp_01JH…"])], caller: Caller, ctx: ContextDep
) -> ShipmentTracked:
    """A shipment with its latest tracking events: for the operator, and the order's buyer and
    seller."""
    seen_by = None if caller.is_operator else (caller.user_id or "")
    tracked = shipments.get_shipment(ctx, shipment_id, seen_by=seen_by)
    return ShipmentTracked.of_tracked(tracked)
