"""The ledger's errors, in TigerBeetle's order of precedence.

The hierarchy (the kinds are in soko/kernel/errors.py)::

    DomainError
    ├── InvalidInput                 kind=invalid
    │   └── AccountFlagsAreMutuallyExclusive, CustomerAccountMayNotOverdraw, BatchEmpty,
    │       BatchTooLarge, TransferFlagsAreMutuallyExclusive, TransferCodeUnknown,
    │       PendingIdMustBeNull, PendingIdRequired, TimeoutReservedForPendingTransfer,
    │       PendingTimeoutInvalid, ReferenceTooLong, AccountsMustBeDifferent,
    │       AccountsMustHaveTheSameCurrency
    ├── NotFound                     kind=not_found
    │   └── AccountNotFound, DebitAccountNotFound, CreditAccountNotFound, TransferNotFound,
    │       PendingTransferNotFound
    ├── Conflict                     kind=conflict
    │   └── PendingTransferAlreadyPosted, PendingTransferAlreadyVoided,
    │       PendingTransferAlreadyExpired, PendingTransferNotExpired
    └── Rejected                     kind=rejected
        └── OverflowsDebits, OverflowsCredits, ExceedsCredits, ExceedsDebits,
            PendingTransferNotPending, PendingTransferExpired,
            ExceedsPendingTransferAmount
"""

from __future__ import annotations

from soko.kernel.errors import Conflict, InvalidInput, NotFound, Rejected

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
