"""Errors of carriers, shipments and tracking events.

The hierarchy (the kinds are in soko/kernel/errors.py)::

    DomainError
    ├── InvalidInput                 kind=invalid
    │   └── CarrierCodeInvalid, TrackingNumberInvalid, TrackingEventKindUnknown,
    │       CarrierEventIdInvalid, TrackingEventTimeInvalid, CarrierEventMalformed
    ├── NotFound                     kind=not_found
    │   └── CarrierNotFound, ShipmentNotFound, TrackingNumberUnknown
    ├── Conflict                     kind=conflict
    │   └── CarrierExists, CarrierDisabled, TrackingNumberTaken, CarrierEventIdReused
    └── Unauthenticated              kind=unauthenticated
        └── CarrierSignatureInvalid, CarrierTimestampInvalid
"""

from __future__ import annotations

from soko.kernel.errors import Conflict, InvalidInput, NotFound, Unauthenticated

# --- shipments and carriers -------------------------------------------------------------------


class CarrierCodeInvalid(InvalidInput):
    code = "carrier_code_invalid"
    title = "A carrier code is 2 to 32 lowercase letters, digits or dashes, starting with a letter."


class TrackingNumberInvalid(InvalidInput):
    code = "tracking_number_invalid"
    title = "A tracking number is 1 to 40 letters, digits or dashes."


class TrackingEventKindUnknown(InvalidInput):
    code = "tracking_event_kind_unknown"
    title = "The tracking event kind is not one Soko knows."


class CarrierEventIdInvalid(InvalidInput):
    code = "carrier_event_id_invalid"
    title = "An event id is 1 to 128 printable ASCII characters without spaces."


class TrackingEventTimeInvalid(InvalidInput):
    code = "tracking_event_time_invalid"
    title = "occurred_at must be an ISO 8601 time with its offset, not in the future."


class CarrierEventMalformed(InvalidInput):
    code = "carrier_event_malformed"
    title = "The carrier event body is not the JSON object Soko expects."


class CarrierNotFound(NotFound):
    code = "carrier_not_found"
    title = "The carrier does not exist."


class ShipmentNotFound(NotFound):
    code = "shipment_not_found"
    title = "The shipment does not exist."


class TrackingNumberUnknown(NotFound):
    code = "tracking_number_unknown"
    title = "No shipment of this carrier has this tracking number."


class CarrierExists(Conflict):
    code = "carrier_exists"
    title = "A carrier with this code exists already."


class CarrierDisabled(Conflict):
    code = "carrier_disabled"
    title = "The carrier is disabled: it takes no new shipments and its events are refused."


class TrackingNumberTaken(Conflict):
    code = "tracking_number_taken"
    title = "The carrier's tracking number belongs to another shipment."


class CarrierEventIdReused(Conflict):
    code = "carrier_event_id_reused"
    title = "The event id was used before for another event."


class CarrierSignatureInvalid(Unauthenticated):
    code = "carrier_signature_invalid"
    title = "The carrier event's webhook-signature is missing or does not match."


class CarrierTimestampInvalid(Unauthenticated):
    code = "carrier_timestamp_invalid"
    title = "The webhook-timestamp is malformed or more than 5 minutes from Soko's clock."
