"""USSD's one error table: the short END screen each business refusal ends a session with.

An error is looked up along its class's ancestry, so every `DomainError` has a screen: its own
where a USSD dialogue can meet it, its category's (`NotFound`, `Conflict`, ...) otherwise.
The texts are English msgids, shown in the caller's language through the gettext catalogues
(channels/i18n.py). In every language they are plain GSM-7 and short enough that a fact (tries
left) still fits one screen; tests/architecture/test_error_tables.py checks both for every error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from soko.channels.web.messages import wait_in_units
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
from soko.deposits.errors import MpesaAmountInvalid, MpesaNotConfigured, MpesaPhoneInvalid
from soko.escrow.errors import (
    DeliveryCodeBuyerOnly,
    DeliveryCodeIncorrect,
    DeliveryCodeLocked,
    EscrowAlreadyCancelled,
    EscrowAlreadyDelivered,
    EscrowAlreadyFunded,
    EscrowAlreadyRefunded,
    EscrowAlreadyReleased,
    EscrowAlreadyResolved,
    EscrowAlreadyShipped,
    EscrowDisputed,
    EscrowNotDelivered,
    EscrowNotDisputed,
    EscrowNotFound,
    EscrowNotFunded,
    EscrowNotShipped,
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
    AmountMalformed,
    AmountMustBePositive,
    AmountNotAString,
    AmountOverflows,
    AmountTooPrecise,
    Conflict,
    CurrencyMismatch,
    CurrencyNotOffered,
    DomainError,
    Forbidden,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    Rejected,
    TextInvalid,
    TransactionConflict,
    Unauthenticated,
)
from soko.kernel.i18n import N_
from soko.ledger.errors import ExceedsCredits
from soko.payments.errors import (
    AmountDiffersFromRequest,
    MerchantNotFound,
    PaymentRequestAlreadyPaid,
    PaymentRequestCancelled,
    PaymentRequestExpired,
    PaymentRequestNotFound,
    ReferenceInvalid,
)
from soko.people.errors import (
    CountryNotServed,
    CountryUnknown,
    CredentialsInvalid,
    ExceedsBalanceLimit,
    ExceedsDailyLimit,
    ExceedsMonthlyLimit,
    ExceedsTransactionLimit,
    LanguageInvalid,
    NoWalletInCurrency,
    PhoneNumberInvalid,
    PinBusy,
    PinIncorrect,
    PinLocked,
    PinMalformed,
    PinNotSet,
    PinTriesExceeded,
    RecipientIsSender,
    UserKindMismatch,
    UserNotFound,
)

SCREENS: Final[dict[type[DomainError], str]] = {
    # Categories: what an error without a screen of its own says.
    DomainError: "Soko could not do this.",
    InvalidInput: "Soko could not read that.",
    NotFound: "Soko could not find that.",
    Conflict: "This can no longer be done.",
    Rejected: "Your balance or limits do not allow this.",
    Forbidden: "You may not do this.",
    Unauthenticated: "You may not do this.",
    # People and PINs.
    UserNotFound: "No Soko account has this phone number.",
    PhoneNumberInvalid: "That phone number does not look right.",
    PinIncorrect: "Wrong PIN.",
    PinMalformed: "A PIN is 4 to 6 digits.",
    PinLocked: "Your PIN is locked after too many wrong tries.",
    PinBusy: "Your PIN is being checked already. Please try again.",
    PinTriesExceeded: "Too many wrong PINs were tried from here.",
    CredentialsInvalid: "The phone number or PIN is wrong.",
    TextInvalid: "Soko could not read that.",
    PinNotSet: "You have no PIN yet. Visit a Soko agent to set one.",
    UserKindMismatch: "Your kind of account cannot do this.",
    MerchantNotFound: "No merchant has that till number.",
    RecipientIsSender: "You cannot pay yourself.",
    CountryUnknown: "Soko does not serve your country yet.",
    LanguageInvalid: "Soko has no texts in that language.",
    CountryNotServed: "Soko does not serve numbers of that country.",
    # Payment requests, paid by till number and reference.
    PaymentRequestNotFound: "That till has no request with this reference.",
    PaymentRequestAlreadyPaid: "This request is paid already.",
    PaymentRequestExpired: "This request has expired. Ask the merchant for a new one.",
    PaymentRequestCancelled: "The merchant cancelled this request.",
    ReferenceInvalid: "A reference is 1 to 25 letters or digits.",
    AmountDiffersFromRequest: "The request's amount has changed. Please dial again.",
    # Amounts.
    AmountMalformed: "Enter the amount in digits, like 1500 or 1500.50.",
    AmountNotAString: "Enter the amount in digits, like 1500 or 1500.50.",
    AmountTooPrecise: "The amount has too many decimal places.",
    AmountOverflows: "That amount is too large.",
    AmountMustBePositive: "Enter an amount above zero.",
    CurrencyNotOffered: "Soko holds no wallets in this currency here.",
    CurrencyMismatch: "That is not your wallet's currency.",
    # Balances and limits.
    ExceedsCredits: "Not enough money in your wallet.",
    NoWalletInCurrency: "You have no wallet in this currency.",
    ExceedsDailyLimit: "This would pass your daily limit.",
    ExceedsMonthlyLimit: "This would pass your monthly limit.",
    ExceedsTransactionLimit: "This is above your limit for one payment.",
    ExceedsBalanceLimit: "The receiving wallet cannot hold that much.",
    # Escrow orders.
    EscrowNotFound: "That order was not found.",
    EscrowAlreadyFunded: "This order is paid already.",
    EscrowNotFunded: "This order is not paid yet.",
    EscrowAlreadyShipped: "This order has shipped already.",
    EscrowNotShipped: "This order has not shipped yet.",
    EscrowAlreadyDelivered: "This order was delivered already.",
    EscrowNotDelivered: "This order has not been delivered yet.",
    EscrowDisputed: "This order is disputed: its money waits until Soko settles it.",
    EscrowNotDisputed: "This order is not disputed.",
    EscrowAlreadyReleased: "This order's money was released already.",
    EscrowAlreadyRefunded: "This order was refunded already.",
    EscrowAlreadyCancelled: "This order was cancelled.",
    EscrowAlreadyResolved: "This order's dispute was settled already.",
    DeliveryCodeIncorrect: "Wrong delivery code.",
    DeliveryCodeLocked: "Too many wrong codes: the code is locked. The buyer must confirm "
    "receipt instead.",
    DeliveryCodeBuyerOnly: "Only the buyer can see the delivery code.",
    # Merchant credit.
    OfferNotFound: "That credit offer was not found.",
    OfferExpired: "This credit offer has expired. Ask for a new one.",
    OfferAlreadyUsed: "This credit offer was taken already.",
    ExceedsOfferLimit: "That is more than your credit offer allows.",
    LoanAlreadyOpen: "Repay your open loan before you borrow again.",
    LoanInArrears: "Your loan is behind. Catch up before you borrow again.",
    LenderCapitalInsufficient: "Soko cannot lend this much now.",
    InsufficientHistory: "Sell with Soko a while longer to be offered credit.",
    LoanNotFound: "That loan was not found.",
    RepaymentExceedsOutstanding: "That is more than your loan still owes.",
    RepaymentCurrencyMismatch: "A loan is repaid in the currency it was lent in.",
    ScorecardInvalid: "Soko credit is not set up right. Call your operator.",
    # Money to another currency (FX quotes).
    FxQuoteNotFound: "That quote was not found.",
    FxQuoteExpired: "The quote has expired. Ask for a new one.",
    FxQuoteUsed: "This quote was used already.",
    FxQuoteMismatch: "The quote is for other currencies or another amount.",
    FxCorridorDisabled: "Soko does not send money between these currencies.",
    FxAmountOutsideCorridor: "The amount is too small or too large for this currency pair.",
    FxAmountTooSmall: "The amount is too small to convert.",
    FxTierTooLow: "Register your ID with a Soko agent to send abroad.",
    FxRateStale: "No current exchange rate for these currencies.",
    FxPairUnknown: "No exchange rate for these currencies.",
    FxLiquidityInsufficient: "Soko cannot pay out in that currency now.",
    # Top up from M-Pesa.
    MpesaAmountInvalid: "M-Pesa moves whole shillings, KES 1 to KES 250,000.",
    MpesaPhoneInvalid: "M-Pesa needs a Kenyan mobile number.",
    MpesaNotConfigured: "M-Pesa top-ups are not available yet.",
    # The session itself.
    IdempotencyKeyInvalid: "This session cannot be used. Please dial again.",
    IdempotencyKeyReused: "This session was used for something else. Please dial again.",
    TransactionConflict: "Soko is busy. Please try again.",
}

#: Facts from `error.context` a screen adds: how many tries are left.
_TRIES_LEFT: Final = ("attempts_left", "tries_left")


TRY_LEFT: Final = N_("{left} try left.")
TRIES_LEFT: Final = N_("{left} tries left.")
#: How long a lock (or a limit) lasts, in the unit `wait_in_units` picks, one and many.
WAITS: Final[dict[tuple[str, bool], str]] = {
    ("minute", False): N_("Wait {wait} minute."),
    ("minute", True): N_("Wait {wait} minutes."),
    ("hour", False): N_("Wait {wait} hour."),
    ("hour", True): N_("Wait {wait} hours."),
}


def screen_for(error: DomainError, translate: Callable[[str], str] = str) -> str:
    """The END screen's text for a refusal (without "END "), in `translate`'s language, with how
    many tries are left, or how long a lock lasts (ADR 0019)."""
    text = translate(next(SCREENS[cls] for cls in type(error).__mro__ if cls in SCREENS))
    wait = error.context.get("retry_after")
    if isinstance(wait, int) and not isinstance(wait, bool) and wait > 1:
        count, unit = wait_in_units(wait)
        return f"{text} " + translate(WAITS[unit, count != 1]).format(wait=count)
    for fact in _TRIES_LEFT:
        left = error.context.get(fact)
        if isinstance(left, int) and not isinstance(left, bool) and left >= 0:
            text += " " + translate(TRY_LEFT if left == 1 else TRIES_LEFT).format(left=left)
    return text
