"""Business failures, each named after the rule it breaks.

Every channel maps these in exactly one table (the API to RFC 9457 problem+json, the CLI to
``code: detail``), so each class carries a stable snake_case ``code``, a fixed ``title`` and a
``kind`` that says what sort of failure it is. The hierarchy::

    DomainError
    ├── InvalidInput                 kind=invalid     the request itself is malformed
    │   ├── AmountMalformed, AmountNotAString, AmountTooPrecise, AmountOverflows,
    │   │   AmountMustBePositive, CurrencyUnknown, CurrencyMismatch, CurrencyNotOffered,
    │   │   WeightsInvalid
    │   ├── AccountFlagsAreMutuallyExclusive, CustomerAccountMayNotOverdraw,
    │   │   TransferFlagsAreMutuallyExclusive,
    │   │   AccountsMustBeDifferent, AccountsMustHaveTheSameCurrency,
    │   │   TimeoutReservedForPendingTransfer, PendingTimeoutInvalid, ReferenceTooLong,
    │   │   PendingIdMustBeNull, PendingIdRequired, TransferCodeUnknown, BatchEmpty,
    │   │   BatchTooLarge, PageSizeInvalid, CursorInvalid
    │   ├── IdempotencyKeyInvalid
    │   ├── WebhookUrlInvalid, WebhookEventTypeUnknown, WebhookEventTypesRequired
    │   ├── QrMalformed, QrChecksumInvalid, QrCurrencyUnknown, QrFieldInvalid
    │   ├── CarrierCodeInvalid, TrackingNumberInvalid, TrackingEventKindUnknown,
    │   │   CarrierEventIdInvalid, TrackingEventTimeInvalid, CarrierEventMalformed
    │   └── PhoneNumberInvalid, CountryUnknown, NameInvalid, MerchantCategoryInvalid,
    │       PinMalformed, KycTierInvalid, NationalIdRequired, MessageTooLong, RecipientRequired,
    │       RecipientIsSender,
    │       UserKindMismatch, PaymentNotRefundable, ReferenceInvalid, ExpiryInvalid,
    │       AmountDiffersFromRequest, AmountRequired, EscrowSplitMismatch, DeadlineInvalid,
    │       DisputeOutcomeUnknown,
    │       OrderItemsInvalid,
    │       BankCodeInvalid, BankAccountNumberInvalid, BankAccountNameInvalid,
    │       MobileMoneyCurrencyMismatch
    ├── NotFound                     kind=not_found
    │   ├── WebhookEndpointNotFound, WebhookDeliveryNotFound
    │   ├── CarrierNotFound, ShipmentNotFound, TrackingNumberUnknown
    │   ├── AccountNotFound, DebitAccountNotFound, CreditAccountNotFound,
    │   │   TransferNotFound, PendingTransferNotFound, UserNotFound, WalletNotFound,
    │   │   ApiKeyNotFound, PaymentNotFound, MerchantNotFound, PaymentRequestNotFound,
    │   │   PayoutNotFound, EscrowNotFound
    ├── Conflict                     kind=conflict    the state moved on; the request was fine
    │   ├── WebhookDeliveryNotDead, WebhookEndpointDisabled
    │   ├── CarrierExists, CarrierDisabled, TrackingNumberTaken, CarrierEventIdReused
    │   ├── PendingTransferAlreadyPosted, PendingTransferAlreadyVoided,
    │   │   PendingTransferAlreadyExpired, PendingTransferNotExpired, AccountExists,
    │   │   IdempotencyKeyReused, TransactionConflict, PhoneNumberTaken,
    │   │   PaymentRequestAlreadyPaid, PaymentRequestExpired, PaymentRequestCancelled,
    │   │   EscrowAlreadyFunded, EscrowNotFunded, EscrowAlreadyShipped, EscrowNotShipped,
    │   │   EscrowAlreadyDelivered, EscrowNotDelivered, EscrowDisputed, EscrowNotDisputed,
    │   │   EscrowAlreadyReleased, EscrowAlreadyRefunded, EscrowAlreadyCancelled,
    │   │   EscrowAlreadyResolved
    ├── Rejected                     kind=rejected    a limit or balance rule says no
    │   ├── WebhookEndpointLimitReached
    │   ├── ExceedsCredits, ExceedsDebits, OverflowsDebits, OverflowsCredits,
    │   │   ExceedsPendingTransferAmount, PendingTransferNotPending, PendingTransferExpired,
    │   │   ExceedsTransactionLimit, ExceedsDailyLimit, ExceedsMonthlyLimit, ExceedsBalanceLimit,
    │   │   ExceedsRefundableAmount, QrNotPayable
    ├── Forbidden                    kind=forbidden   the caller may not do this
    │   └── PinIncorrect, PinLocked, PinNotSet, DeliveryCodeIncorrect, DeliveryCodeLocked,
    │       DeliveryCodeBuyerOnly
    └── Unauthenticated              kind=unauthenticated   the caller did not prove who it is
        └── ApiKeyInvalid, SessionInvalid, CarrierSignatureInvalid, CarrierTimestampInvalid

``transient`` follows TigerBeetle: True only where the very same request may succeed later without
any change by the caller (a transaction conflict). Balance rules are not transient: a retry of the
same request against the same balance fails the same way until something else changes.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

ErrorKind = Literal["invalid", "not_found", "conflict", "rejected", "forbidden", "unauthenticated"]


class DomainError(Exception):
    """A business rule said no. Subclasses fix ``code``, ``title`` and ``kind``."""

    code: ClassVar[str] = "domain_error"
    title: ClassVar[str] = "The request broke a business rule."
    kind: ClassVar[ErrorKind] = "invalid"
    transient: ClassVar[bool] = False

    def __init__(self, detail: str | None = None, **context: Any) -> None:
        self.detail = detail or self.title
        #: Extra facts for the caller (the failing index in a batch, the amount still allowed...).
        self.context: dict[str, Any] = context
        super().__init__(self.detail)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r}, **{self.context!r})"


class InvalidInput(DomainError):
    code = "invalid_input"
    title = "The request is malformed."
    kind = "invalid"


class NotFound(DomainError):
    code = "not_found"
    title = "The resource does not exist."
    kind = "not_found"


class Conflict(DomainError):
    code = "conflict"
    title = "The request conflicts with the current state."
    kind = "conflict"


class Rejected(DomainError):
    code = "rejected"
    title = "A balance or limit rule rejected the request."
    kind = "rejected"


class Forbidden(DomainError):
    code = "forbidden"
    title = "The caller may not do this."
    kind = "forbidden"


class Unauthenticated(DomainError):
    code = "unauthenticated"
    title = "The caller did not prove who it is."
    kind = "unauthenticated"


class ApiKeyInvalid(Unauthenticated):
    code = "api_key_invalid"
    title = "The API key is missing, unknown or revoked."


class SessionInvalid(Unauthenticated):
    code = "session_invalid"
    title = "The session token is missing, unknown or expired; sign in again."


# --- amounts and currencies -------------------------------------------------------------------


class AmountMalformed(InvalidInput):
    code = "amount_malformed"
    title = "The amount is not a plain decimal number."


class AmountNotAString(InvalidInput):
    code = "amount_not_a_string"
    title = "The amount must be a decimal string, never a binary number."


class AmountTooPrecise(InvalidInput):
    code = "amount_too_precise"
    title = "The amount has more decimal places than its currency allows."


class AmountOverflows(InvalidInput):
    code = "amount_overflows"
    title = "The amount does not fit in a signed 64-bit count of minor units."


class AmountMustBePositive(InvalidInput):
    code = "amount_must_be_positive"
    title = "The amount must be greater than zero."


class CurrencyUnknown(InvalidInput):
    code = "currency_unknown"
    title = "The currency is not an ISO 4217 currency that Soko knows."


class CurrencyMismatch(InvalidInput):
    code = "currency_mismatch"
    title = "The amount's currency does not match the account's currency."


class CurrencyNotOffered(InvalidInput):
    code = "currency_not_offered"
    title = "This operator holds no wallets in the currency (no KYC limits are set for it)."


class WeightsInvalid(InvalidInput):
    code = "weights_invalid"
    title = "Allocation weights must be non-negative integers, not all zero."


# --- ledger: accounts -------------------------------------------------------------------------


class AccountFlagsAreMutuallyExclusive(InvalidInput):
    code = "account_flags_are_mutually_exclusive"
    title = "An account cannot forbid both debits over credits and credits over debits."


class CustomerAccountMayNotOverdraw(InvalidInput):
    code = "customer_account_may_not_overdraw"
    title = "A customer account must carry the rule that keeps it from going below zero."


class AccountNotFound(NotFound):
    code = "account_not_found"
    title = "The account does not exist."


class AccountExists(Conflict):
    code = "account_exists"
    title = "An account with this name already exists with different fields."


# --- ledger: transfers, in TigerBeetle's order of precedence ----------------------------------


class BatchEmpty(InvalidInput):
    code = "batch_empty"
    title = "A batch must hold at least one transfer."


class BatchTooLarge(InvalidInput):
    code = "batch_too_large"
    title = "The batch holds more transfers than the limit allows."


class TransferFlagsAreMutuallyExclusive(InvalidInput):
    code = "transfer_flags_are_mutually_exclusive"
    title = "A transfer can be at most one of pending, post, void or expire."


class TransferCodeUnknown(InvalidInput):
    code = "transfer_code_unknown"
    title = "The transfer code is not one Soko knows."


class PendingIdMustBeNull(InvalidInput):
    code = "pending_id_must_be_null"
    title = "Only a post, void or expiry refers to a pending transfer."


class PendingIdRequired(InvalidInput):
    code = "pending_id_required"
    title = "A post, void or expiry must name the pending transfer it resolves."


class TimeoutReservedForPendingTransfer(InvalidInput):
    code = "timeout_reserved_for_pending_transfer"
    title = "Only a pending transfer may have a timeout."


class PendingTimeoutInvalid(InvalidInput):
    code = "pending_timeout_invalid"
    title = "A pending transfer's timeout must be between zero and the configured maximum."


class ReferenceTooLong(InvalidInput):
    code = "reference_too_long"
    title = "The transfer reference is longer than the limit allows."


class AccountsMustBeDifferent(InvalidInput):
    code = "accounts_must_be_different"
    title = "A transfer must move money between two different accounts."


class DebitAccountNotFound(NotFound):
    code = "debit_account_not_found"
    title = "The debit account does not exist."


class CreditAccountNotFound(NotFound):
    code = "credit_account_not_found"
    title = "The credit account does not exist."


class AccountsMustHaveTheSameCurrency(InvalidInput):
    code = "accounts_must_have_the_same_currency"
    title = "Both accounts of a transfer must hold the same currency."


class OverflowsDebits(Rejected):
    code = "overflows_debits"
    title = "The transfer would overflow the debit account's counters."


class OverflowsCredits(Rejected):
    code = "overflows_credits"
    title = "The transfer would overflow the credit account's counters."


class ExceedsCredits(Rejected):
    code = "exceeds_credits"
    title = "The debit account's debits would exceed its credits (insufficient funds)."


class ExceedsDebits(Rejected):
    code = "exceeds_debits"
    title = "The credit account's credits would exceed its debits."


# --- ledger: resolving pending transfers ------------------------------------------------------


class TransferNotFound(NotFound):
    code = "transfer_not_found"
    title = "The transfer does not exist."


class PendingTransferNotFound(NotFound):
    code = "pending_transfer_not_found"
    title = "The pending transfer does not exist."


class PendingTransferNotPending(Rejected):
    code = "pending_transfer_not_pending"
    title = "The referenced transfer is not a pending transfer."


class PendingTransferAlreadyPosted(Conflict):
    code = "pending_transfer_already_posted"
    title = "The pending transfer was already posted."


class PendingTransferAlreadyVoided(Conflict):
    code = "pending_transfer_already_voided"
    title = "The pending transfer was already voided."


class PendingTransferAlreadyExpired(Conflict):
    code = "pending_transfer_already_expired"
    title = "The pending transfer already expired."


class PendingTransferExpired(Rejected):
    code = "pending_transfer_expired"
    title = "The pending transfer's timeout has passed; it can only expire."


class PendingTransferNotExpired(Conflict):
    code = "pending_transfer_not_expired"
    title = "The pending transfer's timeout has not passed yet."


class ExceedsPendingTransferAmount(Rejected):
    code = "exceeds_pending_transfer_amount"
    title = "The amount posted exceeds the pending transfer's amount."


# --- people: phones, PINs, users, KYC tiers and limits -----------------------------------------


class PhoneNumberInvalid(InvalidInput):
    code = "phone_number_invalid"
    title = "The phone number is not a valid number (E.164, or local with a known region)."


class CountryUnknown(InvalidInput):
    code = "country_unknown"
    title = "The country is not an ISO 3166 alpha-2 code that Soko serves."


class NameInvalid(InvalidInput):
    code = "name_invalid"
    title = "A name must be 1 to 80 printable characters."


class MerchantCategoryInvalid(InvalidInput):
    code = "merchant_category_invalid"
    title = "The merchant category must be a four-digit ISO 18245 code."


class PinMalformed(InvalidInput):
    code = "pin_malformed"
    title = "A PIN is 4 to 6 digits."


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
    title = "The PIN is locked after too many wrong tries; an operator must unlock it."


class PinNotSet(Forbidden):
    code = "pin_not_set"
    title = "This user has no PIN yet."


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    title = "No such payment."


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "No active API key has this id."


class UserNotFound(NotFound):
    code = "user_not_found"
    title = "No such user."


class WalletNotFound(NotFound):
    code = "wallet_not_found"
    title = "No such wallet."


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


# --- payouts ----------------------------------------------------------------------------------


class PayoutNotFound(NotFound):
    code = "payout_not_found"
    title = "The payout does not exist."


class BankCodeInvalid(InvalidInput):
    code = "bank_code_invalid"
    title = "A bank code is 2 to 11 letters and digits (a clearing code or a SWIFT BIC)."


class BankAccountNumberInvalid(InvalidInput):
    code = "bank_account_number_invalid"
    title = "A bank account number is 5 to 34 letters and digits."


class BankAccountNameInvalid(InvalidInput):
    code = "bank_account_name_invalid"
    title = "The account holder's name is 1 to 80 printable characters."


class MobileMoneyCurrencyMismatch(InvalidInput):
    code = "mobile_money_currency_mismatch"
    title = "A mobile-money number receives only its own country's currency."


# --- EMVCo merchant-presented QR codes (domain/qr.py) -----------------------------------------


class QrMalformed(InvalidInput):
    code = "qr_malformed"
    title = "The QR payload breaks an EMVCo rule (structure, field format or a required field)."


class QrChecksumInvalid(InvalidInput):
    code = "qr_checksum_invalid"
    title = "The QR payload's CRC (tag 63) does not match its content: it was damaged or altered."


class QrCurrencyUnknown(InvalidInput):
    code = "qr_currency_unknown"
    title = "The QR code's currency (tag 53) is not an ISO 4217 numeric code Soko knows."


class QrFieldInvalid(InvalidInput):
    code = "qr_field_invalid"
    title = "A value does not fit its EMVCo QR field (characters or length)."


class QrNotPayable(Rejected):
    code = "qr_not_payable"
    title = "The QR code is valid EMVCo but carries no merchant account of this operator."


# --- webhooks ---------------------------------------------------------------------------------


class WebhookUrlInvalid(InvalidInput):
    code = "webhook_url_invalid"
    title = "A webhook URL must be an absolute http or https URL without credentials or fragment."


class WebhookEventTypeUnknown(InvalidInput):
    code = "webhook_event_type_unknown"
    title = "The event type is not one Soko sends."


class WebhookEventTypesRequired(InvalidInput):
    code = "webhook_event_types_required"
    title = "A webhook endpoint must subscribe to at least one event type."


class WebhookEndpointNotFound(NotFound):
    code = "webhook_endpoint_not_found"
    title = "No such webhook endpoint."


class WebhookDeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"
    title = "No such webhook delivery."


class WebhookDeliveryNotDead(Conflict):
    code = "webhook_delivery_not_dead"
    title = "Only a dead delivery can be retried; this one is pending or delivered."


class WebhookEndpointDisabled(Conflict):
    code = "webhook_endpoint_disabled"
    title = "The webhook endpoint is disabled: nothing is sent to it any more."


class WebhookEndpointLimitReached(Rejected):
    code = "webhook_endpoint_limit_reached"
    title = "The merchant has as many enabled webhook endpoints as allowed; disable one first."


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


# --- shipments and carriers -------------------------------------------------------------------


class CarrierCodeInvalid(InvalidInput):
    code = "carrier_code_invalid"
    title = "A carrier code is 2 to 32 lowercase letters, digits or dashes, starting with a letter."


class TrackingNumberInvalid(InvalidInput):
    code = "tracking_number_invalid"
    title = "A tracking number is 1 to 40 letters, digits or dashes."


class TrackingEventKindUnknown(InvalidInput):
    code = "tracking_event_kind_unknown"
    title = "The tracking event kind is not one Soko knows."


class CarrierEventIdInvalid(InvalidInput):
    code = "carrier_event_id_invalid"
    title = "An event id is 1 to 128 printable ASCII characters without spaces."


class TrackingEventTimeInvalid(InvalidInput):
    code = "tracking_event_time_invalid"
    title = "occurred_at must be an ISO 8601 time with its offset, not in the future."


class CarrierEventMalformed(InvalidInput):
    code = "carrier_event_malformed"
    title = "The carrier event body is not the JSON object Soko expects."


class CarrierNotFound(NotFound):
    code = "carrier_not_found"
    title = "The carrier does not exist."


class ShipmentNotFound(NotFound):
    code = "shipment_not_found"
    title = "The shipment does not exist."


class TrackingNumberUnknown(NotFound):
    code = "tracking_number_unknown"
    title = "No shipment of this carrier has this tracking number."


class CarrierExists(Conflict):
    code = "carrier_exists"
    title = "A carrier with this code exists already."


class CarrierDisabled(Conflict):
    code = "carrier_disabled"
    title = "The carrier is disabled: it takes no new shipments and its events are refused."


class TrackingNumberTaken(Conflict):
    code = "tracking_number_taken"
    title = "The carrier's tracking number belongs to another shipment."


class CarrierEventIdReused(Conflict):
    code = "carrier_event_id_reused"
    title = "The event id was used before for another event."


class CarrierSignatureInvalid(Unauthenticated):
    code = "carrier_signature_invalid"
    title = "The carrier event's webhook-signature is missing or does not match."


class CarrierTimestampInvalid(Unauthenticated):
    code = "carrier_timestamp_invalid"
    title = "The webhook-timestamp is malformed or more than 5 minutes from Soko's clock."


# --- reads, idempotency and transactions ------------------------------------------------------


class PageSizeInvalid(InvalidInput):
    code = "page_size_invalid"
    title = "The page size is outside the allowed range."


class CursorInvalid(InvalidInput):
    code = "cursor_invalid"
    title = "The pagination cursor is not one Soko issued."


class IdempotencyKeyInvalid(InvalidInput):
    code = "idempotency_key_invalid"
    title = "The idempotency key is missing, empty or too long."


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    title = "The idempotency key was already used for a different request."


class TransactionConflict(Conflict):
    code = "transaction_conflict"
    title = "The database kept reporting conflicting transactions; try again."
    transient = True


def all_error_classes() -> list[type[DomainError]]:
    """Every concrete error, for the channels' totality tests."""
    found: list[type[DomainError]] = []
    stack: list[type[DomainError]] = [DomainError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.code)
