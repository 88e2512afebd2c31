"""Errors of people: phones, PINs, users, KYC tiers and limits.

The hierarchy (the kinds are in soko/kernel/errors.py)::

    DomainError
    ├── InvalidInput                 kind=invalid
    │   └── PhoneNumberInvalid, CountryUnknown, NameInvalid, CityInvalid, MerchantCategoryInvalid,
    │       PinMalformed, KycTierInvalid, NationalIdRequired, MessageTooLong,
    │       RecipientRequired, RecipientIsSender, UserKindMismatch, LanguageInvalid
    ├── NotFound                     kind=not_found
    │   └── ApiKeyNotFound, UserNotFound, WalletNotFound
    ├── Conflict                     kind=conflict
    │   └── PinBusy, PhoneNumberTaken
    ├── Rejected                     kind=rejected
    │   └── CountryNotServed, PinTriesExceeded, ExceedsTransactionLimit, ExceedsDailyLimit,
    │       ExceedsMonthlyLimit, ExceedsBalanceLimit, CodeIncorrect, CodeExpired,
    │       CodeSendsExceeded, NoWalletInCurrency
    ├── Forbidden                    kind=forbidden
    │   └── PinIncorrect, PinLocked, PinNotSet
    └── Unauthenticated              kind=unauthenticated
        └── CredentialsInvalid
"""

from __future__ import annotations

from soko.kernel.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Rejected,
    Unauthenticated,
)
from soko.ledger.errors import ExceedsCredits

# --- people: phones, PINs, users, KYC tiers and limits -----------------------------------------


class PhoneNumberInvalid(InvalidInput):
    code = "phone_number_invalid"
    title = "The phone number is not a valid number (E.164, or local with a known region)."


class CountryUnknown(InvalidInput):
    code = "country_unknown"
    title = "The country is not an ISO 3166 alpha-2 code that Soko serves."


class CountryNotServed(Rejected):
    code = "country_not_served"
    title = "The operator does not serve this country: no account or money for its numbers."


class NameInvalid(InvalidInput):
    code = "name_invalid"
    title = "A name must be 1 to 80 printable characters."


class CityInvalid(InvalidInput):
    code = "city_invalid"
    title = "A city must be 1 to 80 printable characters."


class MerchantCategoryInvalid(InvalidInput):
    code = "merchant_category_invalid"
    title = "The merchant category must be a four-digit ISO 18245 code."


class PinMalformed(InvalidInput):
    code = "pin_malformed"
    title = "A PIN is 4 to 6 digits."


class LanguageInvalid(InvalidInput):
    code = "language_invalid"
    title = "A language is a lowercase two-letter ISO 639-1 code that Soko has texts in."


class KycTierInvalid(InvalidInput):
    code = "kyc_tier_invalid"
    title = "KYC tiers are 0 (phone only), 1 (national id recorded) and 2 (documents verified)."


class NationalIdRequired(InvalidInput):
    code = "national_id_required"
    title = "KYC tier 1 and above need the national id number recorded."


class PinIncorrect(Forbidden):
    code = "pin_incorrect"
    title = "The PIN is wrong."


class PinLocked(Forbidden):
    code = "pin_locked"
    title = "The PIN is locked for a while after too many wrong tries (see locked_until)."


class PinBusy(Conflict):
    """Other tries of the PIN, still being checked, hold every try the lock allows: whether
    they lock it is not known yet. Nothing is locked; the same try may pass a moment later."""

    code = "pin_busy"
    title = "Other tries of this PIN are being checked; try again in a moment."
    transient = True


class PinTriesExceeded(Rejected):
    code = "pin_tries_exceeded"
    title = "Too many wrong PINs from this address; wait before trying again (see retry_after)."


class CredentialsInvalid(Unauthenticated):
    """Signing in: the phone number has no account, or the PIN is wrong. Which one is not said,
    so that no one learns who has an account by trying numbers."""

    code = "credentials_invalid"
    title = "The phone number or PIN is wrong."


class PinNotSet(Forbidden):
    code = "pin_not_set"
    title = "This user has no PIN yet."


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "No active API key has this id."


class UserNotFound(NotFound):
    code = "user_not_found"
    title = "No such user."


class WalletNotFound(NotFound):
    code = "wallet_not_found"
    title = "No such wallet."


class NoWalletInCurrency(ExceedsCredits):
    """The payer holds no wallet in the currency asked (a Ugandan with shillings paying a KES
    till): it has nothing to spend in it, so it is an `ExceedsCredits`, but told as what it is,
    since topping up the wallets the payer has would not help. The `currency` is in context."""

    code = "no_wallet_in_currency"
    title = "The payer holds no wallet in this currency."


class PhoneNumberTaken(Conflict):
    code = "phone_number_taken"
    title = "A user with this phone number already exists."


class MessageTooLong(InvalidInput):
    code = "message_too_long"
    title = "The message to the recipient is longer than the limit allows."


class RecipientRequired(InvalidInput):
    code = "recipient_required"
    title = "Name exactly one recipient: a phone number or a wallet id."


class RecipientIsSender(InvalidInput):
    code = "recipient_is_sender"
    title = "Money cannot be sent to the wallet it comes from."


class UserKindMismatch(InvalidInput):
    code = "user_kind_mismatch"
    title = "The user is not of the kind this operation needs (consumer, merchant or agent)."


class ExceedsTransactionLimit(Rejected):
    code = "exceeds_transaction_limit"
    title = "The amount is above the per-transaction maximum of the user's KYC tier."


class ExceedsDailyLimit(Rejected):
    code = "exceeds_daily_limit"
    title = "The amount would take today's outgoing total above the KYC tier's daily maximum."


class ExceedsMonthlyLimit(Rejected):
    code = "exceeds_monthly_limit"
    title = "The amount would take this month's outgoing total above the tier's maximum."


class ExceedsBalanceLimit(Rejected):
    code = "exceeds_balance_limit"
    title = "The receiving wallet would hold more than its KYC tier's maximum balance."


# --- one-time codes sent by SMS (codes.py) -----------------------------------------------------


class CodeIncorrect(Rejected):
    """The code (or, resetting a PIN, the national id number on record) is wrong; the code's
    tries left are in `tries_left`."""

    code = "code_incorrect"
    title = "The code is wrong, or does not match what Soko has on record."


class CodeExpired(Rejected):
    """No code is waiting for this number: never sent, used, out of tries or too old."""

    code = "code_expired"
    title = "The code has expired or was used; ask for a new one."


class CodeSendsExceeded(Rejected):
    code = "code_sends_exceeded"
    title = "Too many codes were sent to this number; wait before asking again (see retry_after)."
