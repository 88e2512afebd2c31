"""The web's one error table: a short sentence on the form for every business refusal.

Most errors' titles read well to a customer already; the table rewrites the ones a customer
paying at a link, or trading in escrow in the web app, meets most, in plainer words. Every other
error shows its title.
"""

from __future__ import annotations

from typing import Final

from soko.domain import errors

MESSAGES: Final[dict[type[errors.DomainError], str]] = {
    errors.UserNotFound: "No Soko account has this phone number.",
    errors.PhoneNumberInvalid: "That phone number does not look right.",
    errors.PinIncorrect: "Wrong PIN. Please try again.",
    errors.PinMalformed: "A PIN is 4 to 6 digits.",
    errors.PinLocked: "Your PIN is locked after too many wrong tries. Call your operator.",
    errors.PinNotSet: "Set a PIN with your operator first.",
    errors.ExceedsCredits: "Not enough money in your wallet.",
    errors.ExceedsDailyLimit: "This would pass your daily limit.",
    errors.ExceedsMonthlyLimit: "This would pass your monthly limit.",
    errors.ExceedsTransactionLimit: "This is above your limit for one payment.",
    errors.PaymentRequestAlreadyPaid: "This request has been paid already.",
    errors.PaymentRequestExpired: "This request has expired. Ask the merchant for a new one.",
    errors.PaymentRequestCancelled: "The merchant cancelled this request.",
    errors.RecipientIsSender: "You cannot pay yourself.",
    errors.TransactionConflict: "Soko is busy. Please try again.",
    # The signed-in web app (app_routes.py): sessions and escrow orders.
    errors.SessionInvalid: "Please sign in again.",
    errors.EscrowNotFound: "There is no such order.",
    errors.EscrowAlreadyFunded: "You have paid for this order already.",
    errors.EscrowAlreadyReleased: "The money has been released to the seller already.",
    errors.EscrowAlreadyRefunded: "The money has been refunded to the buyer already.",
    errors.EscrowAlreadyCancelled: "This order was cancelled.",
    errors.EscrowDisputed: "This order is disputed: nothing moves until Soko settles it.",
    errors.DeliveryCodeIncorrect: "That delivery code is wrong.",
    errors.DeliveryCodeLocked: (
        "Too many wrong codes: the code is locked. The buyer can confirm receipt instead."
    ),
}


def message_for(error: errors.DomainError) -> str:
    return MESSAGES.get(type(error), error.title)
