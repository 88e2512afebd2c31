"""Errors of payments: transfers, merchant payments, refunds, requests.

The hierarchy (the kinds are in soko/kernel/errors.py)::

    DomainError
    ├── InvalidInput                 kind=invalid
    │   └── PaymentNotRefundable, ReferenceInvalid, ExpiryInvalid,
    │       AmountDiffersFromRequest, AmountRequired
    ├── NotFound                     kind=not_found
    │   └── PaymentNotFound, MerchantNotFound, PaymentRequestNotFound
    ├── Conflict                     kind=conflict
    │   └── PaymentRequestAlreadyPaid, PaymentRequestExpired, PaymentRequestCancelled
    └── Rejected                     kind=rejected
        └── ExceedsRefundableAmount
"""

from __future__ import annotations

from soko.kernel.errors import Conflict, InvalidInput, NotFound, Rejected


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    title = "No such payment."


# --- merchant payments, refunds and payment requests -------------------------------------------


class MerchantNotFound(NotFound):
    code = "merchant_not_found"
    title = "No merchant has this till number or id."


class PaymentRequestNotFound(NotFound):
    code = "payment_request_not_found"
    title = "The payment request does not exist."


class PaymentNotRefundable(InvalidInput):
    code = "payment_not_refundable"
    title = "Only payments to a merchant can be refunded; other payments are final."


class ExceedsRefundableAmount(Rejected):
    code = "exceeds_refundable_amount"
    title = "The refund is above what is left of the payment after earlier refunds."


class PaymentRequestAlreadyPaid(Conflict):
    code = "payment_request_already_paid"
    title = "The payment request has been paid already; it can be paid only once."


class PaymentRequestExpired(Conflict):
    code = "payment_request_expired"
    title = "The payment request expired before it was paid."


class PaymentRequestCancelled(Conflict):
    code = "payment_request_cancelled"
    title = "The merchant cancelled the payment request."


class ReferenceInvalid(InvalidInput):
    code = "reference_invalid"
    title = "A reference is 1 to 25 printable ASCII characters."


class ExpiryInvalid(InvalidInput):
    code = "expiry_invalid"
    title = "The expiry is outside the allowed range."


class AmountDiffersFromRequest(InvalidInput):
    code = "amount_differs_from_request"
    title = "The amount differs from the amount the merchant asked for."


class AmountRequired(InvalidInput):
    code = "amount_required"
    title = "A static QR code carries no amount: the payer must give one."
