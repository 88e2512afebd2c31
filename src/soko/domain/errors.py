"""Business failures, each named after the rule it breaks.

Every channel maps these in exactly one table (the API to RFC 9457 problem+json, the CLI to
``code: detail``), so each class carries a stable snake_case ``code``, a fixed ``title`` and a
``kind`` that says what sort of failure it is. The hierarchy::

    DomainError
    ├── InvalidInput                 kind=invalid     the request itself is malformed
    │   ├── AmountMalformed, AmountNotAString, AmountTooPrecise, AmountOverflows,
    │   │   AmountMustBePositive, CurrencyUnknown, CurrencyMismatch, WeightsInvalid
    │   ├── AccountFlagsAreMutuallyExclusive, CustomerAccountMayNotOverdraw,
    │   │   TransferFlagsAreMutuallyExclusive,
    │   │   AccountsMustBeDifferent, AccountsMustHaveTheSameCurrency,
    │   │   TimeoutReservedForPendingTransfer, PendingTimeoutInvalid, ReferenceTooLong,
    │   │   PendingIdMustBeNull, PendingIdRequired, TransferCodeUnknown, BatchEmpty,
    │   │   BatchTooLarge, PageSizeInvalid, CursorInvalid
    │   └── IdempotencyKeyInvalid
    ├── NotFound                     kind=not_found
    │   ├── AccountNotFound, DebitAccountNotFound, CreditAccountNotFound,
    │   │   TransferNotFound, PendingTransferNotFound
    ├── Conflict                     kind=conflict    the state moved on; the request was fine
    │   ├── PendingTransferAlreadyPosted, PendingTransferAlreadyVoided,
    │   │   PendingTransferAlreadyExpired, PendingTransferNotExpired, AccountExists,
    │   │   IdempotencyKeyReused, TransactionConflict
    ├── Rejected                     kind=rejected    a limit or balance rule says no
    │   ├── ExceedsCredits, ExceedsDebits, OverflowsDebits, OverflowsCredits,
    │   │   ExceedsPendingTransferAmount, PendingTransferNotPending, PendingTransferExpired
    └── Forbidden                    kind=forbidden   the caller may not do this

``transient`` follows TigerBeetle: True only where the very same request may succeed later without
any change by the caller (a transaction conflict). Balance rules are not transient: a retry of the
same request against the same balance fails the same way until something else changes.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

ErrorKind = Literal["invalid", "not_found", "conflict", "rejected", "forbidden"]


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
