"""USSD's one error table: the short END screen each business refusal ends a session with.

An error is looked up along its class's ancestry, so every `DomainError` has a screen: its own
where a USSD dialogue can meet it, its category's (`NotFound`, `Conflict`, ...) otherwise.
Texts are plain GSM-7 and short enough that a fact (tries left) still fits one screen;
tests/architecture/test_error_tables.py checks both for every error.
"""

from __future__ import annotations

from typing import Final

from soko.domain import errors

SCREENS: Final[dict[type[errors.DomainError], str]] = {
    # Categories: what an error without a screen of its own says.
    errors.DomainError: "Soko could not do this.",
    errors.InvalidInput: "Soko could not read that.",
    errors.NotFound: "Soko could not find that.",
    errors.Conflict: "This can no longer be done.",
    errors.Rejected: "Your balance or limits do not allow this.",
    errors.Forbidden: "You may not do this.",
    errors.Unauthenticated: "You may not do this.",
    # People and PINs.
    errors.UserNotFound: "No Soko account has this phone number.",
    errors.PhoneNumberInvalid: "That phone number does not look right.",
    errors.PinIncorrect: "Wrong PIN.",
    errors.PinMalformed: "A PIN is 4 to 6 digits.",
    errors.PinLocked: "Your PIN is locked after too many wrong tries. Visit a Soko agent.",
    errors.PinNotSet: "You have no PIN yet. Visit a Soko agent to set one.",
    errors.UserKindMismatch: "Your kind of account cannot do this.",
    errors.MerchantNotFound: "No merchant has that till number.",
    errors.RecipientIsSender: "You cannot pay yourself.",
    errors.CountryUnknown: "Soko does not serve your country yet.",
    # Amounts.
    errors.AmountMalformed: "Enter the amount in digits, like 1500 or 1500.50.",
    errors.AmountNotAString: "Enter the amount in digits, like 1500 or 1500.50.",
    errors.AmountTooPrecise: "The amount has too many decimal places.",
    errors.AmountOverflows: "That amount is too large.",
    errors.AmountMustBePositive: "Enter an amount above zero.",
    errors.CurrencyNotOffered: "Soko holds no wallets in this currency here.",
    errors.CurrencyMismatch: "That is not your wallet's currency.",
    # Balances and limits.
    errors.ExceedsCredits: "Not enough money in your wallet.",
    errors.ExceedsDailyLimit: "This would pass your daily limit.",
    errors.ExceedsMonthlyLimit: "This would pass your monthly limit.",
    errors.ExceedsTransactionLimit: "This is above your limit for one payment.",
    errors.ExceedsBalanceLimit: "The receiving wallet cannot hold that much.",
    # Escrow orders.
    errors.EscrowNotFound: "That order was not found.",
    errors.EscrowAlreadyFunded: "This order is paid already.",
    errors.EscrowNotFunded: "This order is not paid yet.",
    errors.EscrowAlreadyShipped: "This order has shipped already.",
    errors.EscrowNotShipped: "This order has not shipped yet.",
    errors.EscrowAlreadyDelivered: "This order was delivered already.",
    errors.EscrowNotDelivered: "This order has not been delivered yet.",
    errors.EscrowDisputed: "This order is disputed: its money waits until Soko settles it.",
    errors.EscrowNotDisputed: "This order is not disputed.",
    errors.EscrowAlreadyReleased: "This order's money was released already.",
    errors.EscrowAlreadyRefunded: "This order was refunded already.",
    errors.EscrowAlreadyCancelled: "This order was cancelled.",
    errors.EscrowAlreadyResolved: "This order's dispute was settled already.",
    errors.DeliveryCodeIncorrect: "Wrong delivery code.",
    errors.DeliveryCodeLocked: "Too many wrong codes: the code is locked. The buyer must confirm "
    "receipt instead.",
    errors.DeliveryCodeBuyerOnly: "Only the buyer can see the delivery code.",
    # The session itself.
    errors.IdempotencyKeyInvalid: "This session cannot be used. Please dial again.",
    errors.IdempotencyKeyReused: "This session was used for something else. Please dial again.",
    errors.TransactionConflict: "Soko is busy. Please try again.",
}

#: Facts from `error.context` a screen adds: how many tries are left.
_TRIES_LEFT: Final = ("attempts_left", "tries_left")


def screen_for(error: errors.DomainError) -> str:
    """The END screen's text for a refusal (without "END ")."""
    text = next(SCREENS[cls] for cls in type(error).__mro__ if cls in SCREENS)
    for fact in _TRIES_LEFT:
        left = error.context.get(fact)
        if isinstance(left, int) and not isinstance(left, bool) and left >= 0:
            text += f" {left} {'try' if left == 1 else 'tries'} left."
    return text
