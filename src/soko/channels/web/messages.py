"""The web's one error table: a short sentence on the form for every business refusal.

Most errors' titles read well to a customer already; the table rewrites the ones a customer
paying at a link, or trading in escrow in the web app, meets most, in plainer words. Every other
error shows its title.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

from soko.credit.errors import (
    ExceedsOfferLimit,
    InsufficientHistory,
    LenderCapitalInsufficient,
    LoanAlreadyOpen,
    LoanInArrears,
    LoanNotFound,
    OfferAlreadyUsed,
    OfferExpired,
    OfferNotFound,
    RepaymentCurrencyMismatch,
    RepaymentExceedsOutstanding,
    ScorecardInvalid,
)
from soko.deposits.errors import (
    DepositNotFound,
    MpesaAmountInvalid,
    MpesaNotConfigured,
    MpesaPhoneInvalid,
)
from soko.escrow.errors import (
    DeliveryCodeIncorrect,
    DeliveryCodeLocked,
    EscrowAlreadyCancelled,
    EscrowAlreadyFunded,
    EscrowAlreadyRefunded,
    EscrowAlreadyReleased,
    EscrowDisputed,
    EscrowNotFound,
)
from soko.fx.errors import (
    FxAmountOutsideCorridor,
    FxAmountTooSmall,
    FxCorridorDisabled,
    FxLiquidityInsufficient,
    FxPairUnknown,
    FxQuoteExpired,
    FxQuoteMismatch,
    FxQuoteNotFound,
    FxQuoteUsed,
    FxRateStale,
    FxTierTooLow,
)
from soko.kernel.errors import (
    CurrencyNotOffered,
    DomainError,
    IdempotencyKeyReused,
    SessionInvalid,
    TextInvalid,
    TransactionConflict,
)
from soko.kernel.i18n import N_
from soko.ledger.errors import ExceedsCredits
from soko.payments.errors import (
    AmountDiffersFromRequest,
    AmountRequired,
    MerchantNotFound,
    PaymentRequestAlreadyPaid,
    PaymentRequestCancelled,
    PaymentRequestExpired,
    PaymentRequestNotFound,
    ReferenceInvalid,
)
from soko.payments.qr.errors import (
    QrChecksumInvalid,
    QrCurrencyUnknown,
    QrFieldInvalid,
    QrMalformed,
    QrNotPayable,
)
from soko.people.errors import (
    CodeExpired,
    CodeIncorrect,
    CodeSendsExceeded,
    CountryNotServed,
    CredentialsInvalid,
    ExceedsDailyLimit,
    ExceedsMonthlyLimit,
    ExceedsTransactionLimit,
    MessageTooLong,
    NoWalletInCurrency,
    PhoneNumberInvalid,
    PinBusy,
    PinIncorrect,
    PinLocked,
    PinMalformed,
    PinNotSet,
    PinTriesExceeded,
    RecipientIsSender,
    UserNotFound,
)

MESSAGES: Final[dict[type[DomainError], str]] = {
    UserNotFound: "No Soko account has this phone number.",
    PhoneNumberInvalid: "That phone number does not look right.",
    PinIncorrect: "Wrong PIN. Please try again.",
    PinMalformed: "A PIN is 4 to 6 digits.",
    PinLocked: "Your PIN is locked after too many wrong tries.",
    PinBusy: "Your PIN is being checked already. Please try again in a moment.",
    PinTriesExceeded: "Too many wrong PINs from here.",
    CredentialsInvalid: "The phone number or PIN is wrong.",
    TextInvalid: "Some of what you typed cannot be read. Please type it again.",
    PinNotSet: "Set a PIN with your operator first.",
    ExceedsCredits: "Not enough money in your wallet.",
    NoWalletInCurrency: "You have no wallet in this currency.",
    ExceedsDailyLimit: "This would pass your daily limit.",
    ExceedsMonthlyLimit: "This would pass your monthly limit.",
    ExceedsTransactionLimit: "This is above your limit for one payment.",
    PaymentRequestAlreadyPaid: "This request has been paid already.",
    PaymentRequestExpired: "This request has expired. Ask the merchant for a new one.",
    PaymentRequestCancelled: "The merchant cancelled this request.",
    RecipientIsSender: "You cannot pay yourself.",
    CountryNotServed: "Soko does not serve numbers of that country.",
    TransactionConflict: "Soko is busy. Please try again.",
    # Merchant credit.
    OfferNotFound: "There is no such credit offer.",
    OfferExpired: "This credit offer has expired. Ask for a new one.",
    OfferAlreadyUsed: "This credit offer has been taken already.",
    ExceedsOfferLimit: "That is more than your credit offer allows.",
    LoanAlreadyOpen: "Repay your open loan before you borrow again.",
    LoanInArrears: "Your loan is behind. Catch up before you borrow again.",
    LenderCapitalInsufficient: "Soko cannot lend this much right now.",
    InsufficientHistory: "Keep selling with Soko a while longer to be offered credit.",
    LoanNotFound: "There is no such loan.",
    RepaymentExceedsOutstanding: "That is more than your loan still owes.",
    RepaymentCurrencyMismatch: "A loan is repaid in the currency it was lent in.",
    ScorecardInvalid: "Credit is not set up correctly. Call your operator.",
    # The signed-in web app (app_routes.py): sessions and escrow orders.
    SessionInvalid: "Please sign in again.",
    EscrowNotFound: "There is no such order.",
    EscrowAlreadyFunded: "You have paid for this order already.",
    EscrowAlreadyReleased: "The money has been released to the seller already.",
    EscrowAlreadyRefunded: "The money has been refunded to the buyer already.",
    EscrowAlreadyCancelled: "This order was cancelled.",
    EscrowDisputed: "This order is disputed: nothing moves until Soko settles it.",
    DeliveryCodeIncorrect: "That delivery code is wrong.",
    DeliveryCodeLocked: (
        "Too many wrong codes: the code is locked. The buyer can confirm receipt instead."
    ),
    # Money to another currency (FX quotes).
    FxQuoteNotFound: "There is no such quote.",
    FxQuoteExpired: "This quote has expired. Ask for a new one.",
    FxQuoteUsed: "This quote has been used already.",
    FxQuoteMismatch: "This quote is for other currencies or another amount.",
    FxCorridorDisabled: "Soko does not convert between these currencies.",
    FxAmountOutsideCorridor: "The amount is below the least or above the most for this pair.",
    FxAmountTooSmall: "The amount is too small to convert.",
    FxTierTooLow: "Verify your identity with your operator to send money abroad.",
    FxRateStale: "There is no current exchange rate for these currencies.",
    FxPairUnknown: "There is no exchange rate for these currencies.",
    FxLiquidityInsufficient: "Soko cannot pay out in that currency at the moment.",
    # Money in from M-Pesa.
    MpesaAmountInvalid: "M-Pesa takes whole shillings, from KES 1 to KES 250,000.",
    MpesaPhoneInvalid: "Enter a Kenyan M-Pesa number, like 0712 345 678.",
    MpesaNotConfigured: "M-Pesa top-ups are not available here yet.",
    DepositNotFound: "There is no such top-up.",
    # Sending and paying from the web app (consumer.py).
    MerchantNotFound: "There is no till with this number.",
    PaymentRequestNotFound: "There is no payment request with this reference or link.",
    ReferenceInvalid: "A reference is 1 to 25 letters, digits or signs.",
    AmountDiffersFromRequest: "The amount is not what the shop asked for.",
    AmountRequired: "Type the amount to pay.",
    MessageTooLong: "The message is too long.",
    CurrencyNotOffered: "Soko holds no wallets in that currency.",
    IdempotencyKeyReused: "This form was sent already with other details. Please start again.",
    QrMalformed: "This is not a payment QR code, or part of it is missing.",
    QrChecksumInvalid: "This QR code text is damaged. Copy it again.",
    QrFieldInvalid: "This is not a payment QR code, or part of it is missing.",
    QrCurrencyUnknown: "This QR code is in a currency Soko does not know.",
    QrNotPayable: "This QR code is not for a shop on Soko.",
    # Signing up and a forgotten PIN (account.py): codes sent by SMS.
    CodeIncorrect: "That code is wrong, or the national ID number does not match.",
    CodeExpired: "This code has expired or was used. Ask for a new one.",
    CodeSendsExceeded: "Too many codes were sent to this number.",
}


def _as_is(text: str) -> str:
    return text


#: The facts added to a sentence, and a wait in each unit, one and many.
_TRIES_LEFT: Final = (N_("{count} try left."), N_("{count} tries left."))
_TRY_AGAIN: Final = N_("Try again in {wait}.")
#: What a payer with no wallet in the currency asked for reads.
NO_WALLET: Final = N_("You have no {currency} wallet.")
_UNITS: Final = {
    "minute": (N_("{count} minute"), N_("{count} minutes")),
    "hour": (N_("{count} hour"), N_("{count} hours")),
}


def message_for(error: DomainError) -> str:
    return MESSAGES.get(type(error), error.title)


def sentence_for(error: DomainError, translate: Callable[[str], str] = _as_is) -> str:
    """The table\x27s sentence, in the language of `translate` (`visit._`; the table\x27s English
    without one), with the facts a person acts on: the tries left where a wrong one is counted,
    and how long to wait where a lock or limit says. The table\x27s sentences are translated in
    locale/*/LC_MESSAGES/web_account.po."""
    text = translate(message_for(error))
    currency = error.context.get("currency")
    if isinstance(error, NoWalletInCurrency) and isinstance(currency, str):
        text = translate(NO_WALLET).format(currency=currency)
    left = error.context.get("tries_left", error.context.get("attempts_left"))
    if isinstance(left, int) and not isinstance(left, bool) and left > 0:
        tries = translate(_TRIES_LEFT[0] if left == 1 else _TRIES_LEFT[1])
        text = f"{text} {tries.format(count=left)}"
    wait = error.context.get("retry_after")
    if isinstance(wait, int) and not isinstance(wait, bool) and wait > 1:
        text = f"{text} {translate(_TRY_AGAIN).format(wait=wait_text(wait, translate))}"
    return text


def wait_in_units(seconds: int) -> tuple[int, Literal["hour", "minute"]]:
    """A wait in the unit a person reads it in, rounded up: (15, "minute"), (24, "hour")."""
    if seconds % 3600 == 0 or seconds > 2 * 3600:
        return -(-seconds // 3600), "hour"
    return -(-seconds // 60), "minute"


def wait_text(seconds: int, translate: Callable[[str], str] = _as_is) -> str:
    """A wait in the unit a person reads it in: "15 minutes", "1 hour", "24 hours"."""
    count, unit = wait_in_units(seconds)
    one, many = _UNITS[unit]
    return translate(one if count == 1 else many).format(count=count)


def status_for(error: DomainError) -> int:
    """The HTTP status of a form refused for `error`."""
    if isinstance(error, PinTriesExceeded):
        return 429
    return {"conflict": 409, "unauthenticated": 401}.get(error.kind, 422)
