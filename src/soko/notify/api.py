"""Webhooks: merchants register endpoints, read their deliveries (dead letters too), retry them.

Only API keys manage webhooks: a merchant key its own endpoints, an operator key any merchant's
(naming it when registering). Another merchant's endpoint or delivery answers exactly as an
unknown id does.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from soko.channels.api.deps import Caller, ContextDep, Principal
from soko.channels.api.problems import CALLER_NOT_ALLOWED, ApiError
from soko.channels.api.schemas import Page, problem_responses
from soko.kernel import limits
from soko.notify import service as webhooks
from soko.notify.domain import WebhookDelivery, WebhookEndpoint
from soko.notify.errors import WebhookDeliveryNotFound, WebhookEndpointNotFound
from soko.notify.schemas import (
    WebhookDeliveryPublic,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointPublic,
)

router = APIRouter(prefix="/v1", tags=["webhooks"])

_READ = problem_responses(401, 403, 404, 422, 503)


async def key_caller(caller: Caller) -> Principal:
    if caller.role == "user":
        raise ApiError(CALLER_NOT_ALLOWED, "webhooks are managed with an API key")
    return caller


KeyCaller = Annotated[Principal, Depends(key_caller)]


def visible_endpoint(
    endpoint_id: Annotated[str, Path(examples=["whe_01JH…"])], caller: KeyCaller, ctx: ContextDep
) -> WebhookEndpoint:
    endpoint = webhooks.get_endpoint(ctx, endpoint_id)
    if not caller.may_see(endpoint.owner_id):
        raise WebhookEndpointNotFound(endpoint_id=endpoint_id)
    return endpoint


VisibleEndpoint = Annotated[WebhookEndpoint, Depends(visible_endpoint)]


def visible_delivery(
    delivery_id: Annotated[str, Path(examples=["whd_01JH…"])], caller: KeyCaller, ctx: ContextDep
) -> WebhookDelivery:
    delivery = webhooks.get_delivery(ctx, delivery_id)
    if not caller.is_operator:
        endpoint = webhooks.get_endpoint(ctx, delivery.endpoint_id)
        if not caller.may_see(endpoint.owner_id):
            raise WebhookDeliveryNotFound(delivery_id=delivery_id)
    return delivery


VisibleDelivery = Annotated[WebhookDelivery, Depends(visible_delivery)]

Limit = Annotated[
    int,
    Query(
        description="Items per page.",
        # Documented here, checked by the use case (page_size_invalid).
        json_schema_extra={"minimum": 1, "maximum": limits.PAGE_SIZE_MAX},
    ),
]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page.")]


@router.post(
    "/webhook-endpoints",
    operation_id="createWebhookEndpoint",
    status_code=201,
    response_model=WebhookEndpointCreated,
    responses=problem_responses(400, 401, 403, 404, 413, 422, 503),
)
def create_endpoint(
    body: WebhookEndpointCreate, caller: KeyCaller, ctx: ContextDep, response: Response
) -> WebhookEndpointCreated:
    """Register a URL for some event types. The signing secret is in this response only."""
    new = webhooks.create_endpoint(
        ctx,
        owner_id=caller.acting_for(body.owner_id, "owner_id"),
        url=body.url,
        event_types=body.event_types,
    )
    response.headers["Location"] = f"/v1/webhook-endpoints/{new.endpoint.id}"
    response.headers["Cache-Control"] = "no-store"
    return WebhookEndpointCreated.of_new(new)


@router.get(
    "/webhook-endpoints",
    operation_id="listWebhookEndpoints",
    response_model=Page[WebhookEndpointPublic],
    responses=_READ,
)
def list_endpoints(
    caller: KeyCaller,
    ctx: ContextDep,
    owner_id: Annotated[
        str | None,
        Query(description="Only this merchant's (an operator key sees every merchant's)."),
    ] = None,
    limit: Limit = limits.PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
) -> Page[WebhookEndpointPublic]:
    """Endpoints, newest first, disabled ones included."""
    if not caller.is_operator:
        if owner_id is not None and owner_id != caller.user_id:
            raise caller.not_theirs(owner_id)
        owner_id = caller.user_id
    page = webhooks.list_endpoints(ctx, owner_id, limit=limit, cursor=cursor)
    return Page(
        items=[WebhookEndpointPublic.model_validate(endpoint) for endpoint in page.endpoints],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    operation_id="getWebhookEndpoint",
    response_model=WebhookEndpointPublic,
    responses=_READ,
)
def get_endpoint(endpoint: VisibleEndpoint) -> WebhookEndpointPublic:
    """An endpoint (never its secret)."""
    return WebhookEndpointPublic.model_validate(endpoint)


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    operation_id="disableWebhookEndpoint",
    status_code=204,
    response_class=Response,
    responses=_READ,
)
def disable_endpoint(endpoint: VisibleEndpoint, ctx: ContextDep) -> Response:
    """Disable an endpoint: nothing more is sent to it, and what still waited becomes dead."""
    webhooks.disable_endpoint(ctx, endpoint.id)
    return Response(status_code=204)


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    operation_id="listWebhookDeliveries",
    response_model=Page[WebhookDeliveryPublic],
    responses=_READ,
)
def list_deliveries(
    endpoint: VisibleEndpoint,
    ctx: ContextDep,
    status: Annotated[
        Literal["pending", "succeeded", "dead"] | None,
        Query(description="Only deliveries in this state: `dead` lists the dead letters."),
    ] = None,
    limit: Limit = limits.PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
) -> Page[WebhookDeliveryPublic]:
    """The endpoint's deliveries, newest first, with their attempts and last error."""
    page = webhooks.list_deliveries(ctx, endpoint.id, status=status, limit=limit, cursor=cursor)
    return Page(
        items=[WebhookDeliveryPublic.model_validate(delivery) for delivery in page.deliveries],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/webhook-deliveries/{delivery_id}/retry",
    operation_id="retryWebhookDelivery",
    response_model=WebhookDeliveryPublic,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 503),
)
def retry_delivery(delivery: VisibleDelivery, ctx: ContextDep) -> WebhookDeliveryPublic:
    """Send a dead delivery again, at once, with a new round of attempts."""
    return WebhookDeliveryPublic.model_validate(webhooks.retry_delivery(ctx, delivery.id))
