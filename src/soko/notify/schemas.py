"""The API's bodies for webhook endpoints and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)
from pydantic.config import JsonValue

from soko.channels.api.schemas import _In
from soko.kernel import limits
from soko.notify.domain import EVENT_TYPES
from soko.notify.service import NewWebhookEndpoint

# --- webhooks ----------------------------------------------------------------------------------

#: What the domain checks of a webhook URL that a pattern can say; the rest (a host, no user
#: name, no fragment) is `webhook_url_invalid`.
WEBHOOK_URL_PATTERN: Final = r"^https?://[!-~]+$"
_EVENT_TYPE_NAMES: Final[list[JsonValue]] = [str(name) for name in sorted(EVENT_TYPES)]


class WebhookEndpointCreate(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://shop.example/soko/webhooks",
                    "event_types": ["payment.succeeded", "refund.succeeded"],
                }
            ]
        }
    )

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
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner_id: str
    url: str
    event_types: list[str]
    enabled: bool
    created_at: datetime


class WebhookEndpointCreated(WebhookEndpointPublic):
    secret: str = Field(
        description="The signing secret (whsec_…), shown this once: verify each delivery's "
        "webhook-signature with it (Standard Webhooks)."
    )

    @classmethod
    def of_new(cls, new: NewWebhookEndpoint) -> WebhookEndpointCreated:
        return cls(
            **WebhookEndpointPublic.model_validate(new.endpoint).model_dump(), secret=new.secret
        )


class WebhookDeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
