"""Errors of escrow orders, disputes and delivery codes.

The hierarchy (the kinds are in soko/kernel/errors.py)::

    DomainError
    ├── InvalidInput                 kind=invalid
    │   └── DisputeOutcomeUnknown, EscrowSplitMismatch, DeadlineInvalid, OrderItemsInvalid
    ├── NotFound                     kind=not_found
    │   └── EscrowNotFound
    ├── Conflict                     kind=conflict
    │   └── EscrowAlreadyFunded, EscrowNotFunded, EscrowAlreadyShipped, EscrowNotShipped,
    │       EscrowAlreadyDelivered, EscrowNotDelivered, EscrowDisputed, EscrowNotDisputed,
    │       EscrowAlreadyReleased, EscrowAlreadyRefunded, EscrowAlreadyCancelled,
    │       EscrowAlreadyResolved
    └── Forbidden                    kind=forbidden
        └── DeliveryCodeIncorrect, DeliveryCodeLocked, DeliveryCodeBuyerOnly
"""

from __future__ import annotations

from soko.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound

# --- escrow -------------------------------------------------------------------------------------


class EscrowNotFound(NotFound):
    code = "escrow_not_found"
    title = "The escrow order does not exist."


class EscrowAlreadyFunded(Conflict):
    code = "escrow_already_funded"
    title = "The order has been paid into escrow already."


class EscrowNotFunded(Conflict):
    code = "escrow_not_funded"
    title = "The order has not been paid into escrow yet."


class EscrowAlreadyShipped(Conflict):
    code = "escrow_already_shipped"
    title = "The goods have been shipped already."


class EscrowNotShipped(Conflict):
    code = "escrow_not_shipped"
    title = "The goods have not been shipped yet."


class EscrowAlreadyDelivered(Conflict):
    code = "escrow_already_delivered"
    title = "The goods have been delivered already."


class EscrowNotDelivered(Conflict):
    code = "escrow_not_delivered"
    title = "The goods have not been delivered yet."


class EscrowDisputed(Conflict):
    code = "escrow_disputed"
    title = "The order is disputed: its money is frozen until an operator resolves it."


class EscrowNotDisputed(Conflict):
    code = "escrow_not_disputed"
    title = "The order is not disputed."


class EscrowAlreadyReleased(Conflict):
    code = "escrow_already_released"
    title = "The order's money has been released to the seller already."


class EscrowAlreadyRefunded(Conflict):
    code = "escrow_already_refunded"
    title = "The order's money has been refunded to the buyer already."


class EscrowAlreadyCancelled(Conflict):
    code = "escrow_already_cancelled"
    title = "The order was cancelled."


class EscrowAlreadyResolved(Conflict):
    code = "escrow_already_resolved"
    title = "The order's dispute has been resolved already."


class DisputeOutcomeUnknown(InvalidInput):
    code = "dispute_outcome_unknown"
    title = "A dispute is resolved by release, refund or split."


class EscrowSplitMismatch(InvalidInput):
    code = "escrow_split_mismatch"
    title = "The parts of a split must add up to the amount held in escrow."


class DeliveryCodeIncorrect(Forbidden):
    code = "delivery_code_incorrect"
    title = "The delivery code is wrong."


class DeliveryCodeLocked(Forbidden):
    code = "delivery_code_locked"
    title = "Too many wrong delivery codes: the buyer must confirm receipt instead."


class DeliveryCodeBuyerOnly(Forbidden):
    code = "delivery_code_buyer_only"
    title = "Only the buyer, signed in, sees the delivery code."


class DeadlineInvalid(InvalidInput):
    code = "deadline_invalid"
    title = "The deadline is in the past or too far ahead."


class OrderItemsInvalid(InvalidInput):
    code = "order_items_invalid"
    title = "An order lists 1 to 50 items, each with a name and a positive quantity."
