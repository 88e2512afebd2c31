"""The web's one error table: a short sentence on the form for every business refusal.

Most errors' titles read well to a customer already; the table rewrites the ones a customer
paying at a link meets most, in plainer words. Every other error shows its title.
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
}


def message_for(error: errors.DomainError) -> str:
    return MESSAGES.get(type(error), error.title)
