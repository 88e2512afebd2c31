"""Errors of webhook endpoints and deliveries.

The hierarchy (the kinds are in soko/kernel/errors.py)::

    DomainError
    ├── InvalidInput                 kind=invalid
    │   └── WebhookUrlInvalid, WebhookEventTypeUnknown, WebhookEventTypesRequired
    ├── NotFound                     kind=not_found
    │   └── WebhookEndpointNotFound, WebhookDeliveryNotFound
    ├── Conflict                     kind=conflict
    │   └── WebhookDeliveryNotDead, WebhookEndpointDisabled
    └── Rejected                     kind=rejected
        └── WebhookEndpointLimitReached
"""

from __future__ import annotations

from soko.kernel.errors import Conflict, InvalidInput, NotFound, Rejected

# --- webhooks ---------------------------------------------------------------------------------


class WebhookUrlInvalid(InvalidInput):
    code = "webhook_url_invalid"
    title = "A webhook URL must be an absolute http or https URL without credentials or fragment."


class WebhookEventTypeUnknown(InvalidInput):
    code = "webhook_event_type_unknown"
    title = "The event type is not one Soko sends."


class WebhookEventTypesRequired(InvalidInput):
    code = "webhook_event_types_required"
    title = "A webhook endpoint must subscribe to at least one event type."


class WebhookEndpointNotFound(NotFound):
    code = "webhook_endpoint_not_found"
    title = "No such webhook endpoint."


class WebhookDeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"
    title = "No such webhook delivery."


class WebhookDeliveryNotDead(Conflict):
    code = "webhook_delivery_not_dead"
    title = "Only a dead delivery can be retried; this one is pending or delivered."


class WebhookEndpointDisabled(Conflict):
    code = "webhook_endpoint_disabled"
    title = "The webhook endpoint is disabled: nothing is sent to it any more."


class WebhookEndpointLimitReached(Rejected):
    code = "webhook_endpoint_limit_reached"
    title = "The merchant has as many enabled webhook endpoints as allowed; disable one first."
