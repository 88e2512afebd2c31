"""Merchant credit's business failures, each named after the rule it breaks.

The hierarchy (the kinds are in soko/kernel/errors.py)::

    DomainError
    ├── InvalidInput                 kind=invalid
    │   └── ScorecardInvalid, RepaymentCurrencyMismatch
    ├── NotFound                     kind=not_found
    │   └── OfferNotFound, LoanNotFound
    ├── Conflict                     kind=conflict
    │   └── OfferExpired, OfferAlreadyUsed, LoanAlreadyOpen
    └── Rejected                     kind=rejected
        └── ExceedsOfferLimit, LenderCapitalInsufficient, LoanInArrears,
            RepaymentExceedsOutstanding, InsufficientHistory
"""

from __future__ import annotations

from soko.kernel.errors import Conflict, InvalidInput, NotFound, Rejected

__all__ = [
    "ExceedsOfferLimit",
    "InsufficientHistory",
    "LenderCapitalInsufficient",
    "LoanAlreadyOpen",
    "LoanInArrears",
    "LoanNotFound",
    "OfferAlreadyUsed",
    "OfferExpired",
    "OfferNotFound",
    "RepaymentCurrencyMismatch",
    "RepaymentExceedsOutstanding",
    "ScorecardInvalid",
]


class ScorecardInvalid(InvalidInput):
    code = "scorecard_invalid"
    title = "The credit scorecard is not valid JSON of the documented shape."


class RepaymentCurrencyMismatch(InvalidInput):
    code = "repayment_currency_mismatch"
    title = "A loan is repaid only in the currency it was lent in."


class OfferNotFound(NotFound):
    code = "offer_not_found"
    title = "No such credit offer."


class LoanNotFound(NotFound):
    code = "loan_not_found"
    title = "No such loan."


class OfferExpired(Conflict):
    code = "offer_expired"
    title = "The credit offer has expired; ask for a new one."


class OfferAlreadyUsed(Conflict):
    code = "offer_already_used"
    title = "The credit offer has been taken already; an offer is used once."


class LoanAlreadyOpen(Conflict):
    code = "loan_already_open"
    title = "The merchant has a loan open already; repay it before taking another."


class ExceedsOfferLimit(Rejected):
    code = "exceeds_offer_limit"
    title = "The amount asked for is above the offer's limit."


class LenderCapitalInsufficient(Rejected):
    code = "lender_capital_insufficient"
    title = "The lender has not enough capital left to lend this amount."


class LoanInArrears(Rejected):
    code = "loan_in_arrears"
    title = "A loan of the merchant's is in arrears: no new credit until it is brought up to date."


class RepaymentExceedsOutstanding(Rejected):
    code = "repayment_exceeds_outstanding"
    title = "The repayment is more than the loan still owes."


class InsufficientHistory(Rejected):
    code = "insufficient_history"
    title = "The merchant's sales history is too short or too thin for a credit offer yet."
