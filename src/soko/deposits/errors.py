"""Errors of M-Pesa deposits, C2B payments and reversals.

The hierarchy (the kinds are in soko/kernel/errors.py)::

    DomainError
    ├── InvalidInput                 kind=invalid
    │   └── MpesaAmountInvalid, MpesaPhoneInvalid
    ├── NotFound                     kind=not_found
    │   └── DepositNotFound, MpesaPaymentNotFound, MpesaReceiptNotInStatement
    ├── Conflict                     kind=conflict
    │   └── MpesaPaymentNotInSuspense, MpesaReversalNotAllowed
    └── Rejected                     kind=rejected
        └── MpesaNotConfigured
"""

from __future__ import annotations

from soko.kernel.errors import Conflict, InvalidInput, NotFound, Rejected


class MpesaAmountInvalid(InvalidInput):
    code = "mpesa_amount_invalid"
    title = "M-Pesa moves whole shillings only, from KES 1 to KES 250,000 at a time."


class MpesaPhoneInvalid(InvalidInput):
    code = "mpesa_phone_invalid"
    title = "M-Pesa needs a Kenyan mobile number (+2547... or +2541...)."


class DepositNotFound(NotFound):
    code = "deposit_not_found"
    title = "The deposit does not exist."


class MpesaPaymentNotFound(NotFound):
    code = "mpesa_payment_not_found"
    title = "No M-Pesa payment with this transaction id is in Soko's books."


class MpesaReceiptNotInStatement(NotFound):
    code = "mpesa_receipt_not_in_statement"
    title = "The M-Pesa statement shows no completed payment in with this receipt and amount."


class MpesaPaymentNotInSuspense(Conflict):
    code = "mpesa_payment_not_in_suspense"
    title = "The M-Pesa payment is not in suspense: it has been credited or returned already."


class MpesaReversalNotAllowed(Conflict):
    code = "mpesa_reversal_not_allowed"
    title = "This M-Pesa payment cannot be reversed: it is not money in, or is reversed already."


class MpesaNotConfigured(Rejected):
    code = "mpesa_not_configured"
    title = "M-Pesa is not set up on this server."
