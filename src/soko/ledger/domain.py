"""The double-entry ledger's rules: accounts, transfers, two-phase holds, checked in a fixed order.

Borrowed from TigerBeetle's model. An account holds one currency and four counters; a transfer
moves a positive amount from a debit account to a credit account of the same currency. A pending
transfer reserves the amount (it counts in the ``*_pending`` counters) until a later transfer
posts it (fully or in part; the rest is released), voids it, or records that it expired. Every
step is a new, immutable transfer: nothing is edited.

`plan_transfers` is the whole state machine. It takes the accounts and pending transfers a batch
touches, applies the requests in order against private copies, and either raises the first
broken rule (with the failing ``index``; nothing is applied: the batch is all or none) or returns
the plan that storage then writes. The rules are guard clauses in TigerBeetle's precedence, so
a request that breaks two rules always reports the same one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntFlag, StrEnum
from typing import Final

from soko.kernel import limits
from soko.kernel.errors import AmountMustBePositive, AmountOverflows, CurrencyMismatch, DomainError
from soko.kernel.money import Currency, Money
from soko.ledger.chart import CUSTOMER_ACCOUNT_CODES, AccountCode, AccountFlags, TransferCode
from soko.ledger.errors import (
    AccountFlagsAreMutuallyExclusive,
    AccountsMustBeDifferent,
    AccountsMustHaveTheSameCurrency,
    BatchEmpty,
    BatchTooLarge,
    CreditAccountNotFound,
    CustomerAccountMayNotOverdraw,
    DebitAccountNotFound,
    ExceedsCredits,
    ExceedsDebits,
    ExceedsPendingTransferAmount,
    OverflowsCredits,
    OverflowsDebits,
    PendingIdMustBeNull,
    PendingIdRequired,
    PendingTimeoutInvalid,
    PendingTransferAlreadyExpired,
    PendingTransferAlreadyPosted,
    PendingTransferAlreadyVoided,
    PendingTransferExpired,
    PendingTransferNotExpired,
    PendingTransferNotFound,
    PendingTransferNotPending,
    ReferenceTooLong,
    TimeoutReservedForPendingTransfer,
    TransferCodeUnknown,
    TransferFlagsAreMutuallyExclusive,
)


class TransferFlags(IntFlag):
    """What kind of step a transfer is. At most one flag is set."""

    NONE = 0
    #: Reserve the amount until a later post, void or expiry.
    PENDING = 1
    #: Move (part of) a pending transfer's amount for good; the rest is released.
    POST_PENDING = 2
    #: Release a pending transfer's whole amount.
    VOID_PENDING = 4
    #: Record that a pending transfer's timeout passed; releases the whole amount.
    EXPIRE_PENDING = 8


# Transfers that resolve a hold, and every valid value (at most one flag). Set membership and ==
# instead of IntFlag arithmetic, which costs a microsecond per operation on the hot path.
RESOLUTIONS: Final = frozenset(
    {TransferFlags.POST_PENDING, TransferFlags.VOID_PENDING, TransferFlags.EXPIRE_PENDING}
)
_VALID_FLAGS: Final = RESOLUTIONS | {TransferFlags.NONE, TransferFlags.PENDING}


class PendingState(StrEnum):
    """Where a pending transfer stands. It leaves `PENDING` exactly once."""

    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


_STATE_AFTER: Final = {
    TransferFlags.POST_PENDING: PendingState.POSTED,
    TransferFlags.VOID_PENDING: PendingState.VOIDED,
    TransferFlags.EXPIRE_PENDING: PendingState.EXPIRED,
}
_ALREADY_RESOLVED: Final[dict[PendingState, type[DomainError]]] = {
    PendingState.POSTED: PendingTransferAlreadyPosted,
    PendingState.VOIDED: PendingTransferAlreadyVoided,
    PendingState.EXPIRED: PendingTransferAlreadyExpired,
}


@dataclass(frozen=True, slots=True)
class Account:
    """A ledger account: one currency, four counters, and the balance rule in its flags."""

    id: str
    currency: str
    code: AccountCode
    flags: AccountFlags
    name: str | None = None
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    @property
    def balance(self) -> int:
        """Posted credits less posted debits: what a credit-normal account (a wallet) holds."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """What may still be debited from a credit-normal account: the balance less holds."""
        return self.credits_posted - self.debits_posted - self.debits_pending

    def moved(
        self,
        *,
        debits_pending: int = 0,
        debits_posted: int = 0,
        credits_pending: int = 0,
        credits_posted: int = 0,
    ) -> Account:
        """This account with the given amounts added to its counters (a new value)."""
        # Built directly rather than with dataclasses.replace: this runs twice per transfer.
        return Account(
            self.id,
            self.currency,
            self.code,
            self.flags,
            self.name,
            self.debits_pending + debits_pending,
            self.debits_posted + debits_posted,
            self.credits_pending + credits_pending,
            self.credits_posted + credits_posted,
        )


@dataclass(frozen=True, slots=True)
class Transfer:
    """An immutable movement of `amount` minor units from one account to another."""

    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    currency: str
    code: TransferCode
    flags: TransferFlags
    created_at: datetime
    pending_id: str | None = None
    expires_at: datetime | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """What a use case asks the ledger to do. Build one with the functions below."""

    id: str
    flags: TransferFlags = TransferFlags.NONE
    code: TransferCode | None = None
    debit_account_id: str | None = None
    credit_account_id: str | None = None
    amount: int | None = None
    currency: str | None = None
    pending_id: str | None = None
    timeout_seconds: int = 0
    reference: str | None = None


def move(
    transfer_id: str,
    *,
    debit_account_id: str,
    credit_account_id: str,
    amount: int,
    currency: str,
    code: TransferCode,
    reference: str | None = None,
) -> TransferRequest:
    """Move `amount` now."""
    return TransferRequest(
        transfer_id,
        code=code,
        debit_account_id=debit_account_id,
        credit_account_id=credit_account_id,
        amount=amount,
        currency=currency,
        reference=reference,
    )


def hold(
    transfer_id: str,
    *,
    debit_account_id: str,
    credit_account_id: str,
    amount: int,
    currency: str,
    code: TransferCode,
    timeout_seconds: int = 0,
    reference: str | None = None,
) -> TransferRequest:
    """Reserve `amount` as a pending transfer; 0 seconds means it never expires by itself."""
    return TransferRequest(
        transfer_id,
        flags=TransferFlags.PENDING,
        code=code,
        debit_account_id=debit_account_id,
        credit_account_id=credit_account_id,
        amount=amount,
        currency=currency,
        timeout_seconds=timeout_seconds,
        reference=reference,
    )


def post(transfer_id: str, pending_id: str, amount: int | None = None) -> TransferRequest:
    """Post a pending transfer: all of it, or `amount` of it with the rest released."""
    return TransferRequest(
        transfer_id, flags=TransferFlags.POST_PENDING, pending_id=pending_id, amount=amount
    )


def void(transfer_id: str, pending_id: str) -> TransferRequest:
    """Release a pending transfer's whole amount."""
    return TransferRequest(transfer_id, flags=TransferFlags.VOID_PENDING, pending_id=pending_id)


def expire(transfer_id: str, pending_id: str) -> TransferRequest:
    """Record that a pending transfer timed out, releasing its amount."""
    return TransferRequest(transfer_id, flags=TransferFlags.EXPIRE_PENDING, pending_id=pending_id)


@dataclass(slots=True)
class LedgerPlan:
    """What a batch does, for storage to write in one transaction."""

    transfers: list[Transfer] = field(default_factory=list)
    #: Every touched account as it stands after the batch.
    accounts: dict[str, Account] = field(default_factory=dict)
    #: Pending transfers created by this batch, with the state they end the batch in.
    created_pending: dict[str, PendingState] = field(default_factory=dict)
    #: Pending transfers created earlier and resolved by this batch.
    resolved_pending: dict[str, PendingState] = field(default_factory=dict)


def validate_account(code: AccountCode, flags: AccountFlags) -> None:
    """The rules for opening an account (the currency is checked by the caller's Money layer)."""
    both = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
    if flags & both == both:
        raise AccountFlagsAreMutuallyExclusive()
    if code in CUSTOMER_ACCOUNT_CODES and flags != AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS:
        raise CustomerAccountMayNotOverdraw(
            f"a {code.value} account holds customers' money and must never go below zero"
        )


def plan_transfers(
    accounts: Mapping[str, Account],
    referenced: Mapping[str, Transfer],
    pending_states: Mapping[str, PendingState],
    requests: Sequence[TransferRequest],
    now: datetime,
) -> LedgerPlan:
    """Apply `requests` in order, all or none, and return the plan (or raise the first error).

    `accounts` must hold every account the requests name (missing ones are reported as not
    found), `referenced` every transfer a post/void/expire names with `pending_states` giving the
    state of those that are pending, and `now` is the caller's clock.
    """
    if not requests:
        raise BatchEmpty()
    if len(requests) > limits.TRANSFERS_PER_BATCH_MAX:
        raise BatchTooLarge(
            f"{len(requests)} transfers; at most {limits.TRANSFERS_PER_BATCH_MAX} per batch",
            limit=limits.TRANSFERS_PER_BATCH_MAX,
        )
    assert len({request.id for request in requests}) == len(requests), "duplicate transfer ids"
    plan = LedgerPlan()
    # Private copies: a request sees the effects of the ones before it in the same batch.
    books = _Books(dict(accounts), dict(referenced), dict(pending_states), plan)
    for index, request in enumerate(requests):
        try:
            if request.flags in RESOLUTIONS:
                books.resolve(request, now)
            else:
                books.create(request, now)
        except DomainError as error:
            error.context.setdefault("index", index)
            raise
    return plan


@dataclass(slots=True)
class _Books:
    accounts: dict[str, Account]
    transfers: dict[str, Transfer]
    states: dict[str, PendingState]
    plan: LedgerPlan

    def create(self, request: TransferRequest, now: datetime) -> None:
        amount = _checked_new_transfer(request)
        debit, credit = self._checked_accounts(request, amount)
        is_pending = request.flags == TransferFlags.PENDING
        if is_pending:
            self.accounts[debit.id] = debit.moved(debits_pending=amount)
            self.accounts[credit.id] = credit.moved(credits_pending=amount)
        else:
            self.accounts[debit.id] = debit.moved(debits_posted=amount)
            self.accounts[credit.id] = credit.moved(credits_posted=amount)
        expires_at = (
            now + timedelta(seconds=request.timeout_seconds)
            if is_pending and request.timeout_seconds
            else None
        )
        transfer = Transfer(
            id=request.id,
            debit_account_id=debit.id,
            credit_account_id=credit.id,
            amount=amount,
            currency=debit.currency,
            code=_known(request.code),
            flags=request.flags,
            created_at=now,
            expires_at=expires_at,
            reference=request.reference,
        )
        self._record(transfer, debit.id, credit.id)
        # Remembered whatever its kind, so a later post in this batch names the right rule.
        self.transfers[transfer.id] = transfer
        if is_pending:
            self.states[transfer.id] = PendingState.PENDING
            self.plan.created_pending[transfer.id] = PendingState.PENDING

    def _checked_accounts(self, request: TransferRequest, amount: int) -> tuple[Account, Account]:
        """The account rules, in order: existence, currency, overflow, then balance."""
        assert request.debit_account_id is not None and request.credit_account_id is not None
        if request.debit_account_id == request.credit_account_id:
            raise AccountsMustBeDifferent()
        debit = self.accounts.get(request.debit_account_id)
        if debit is None:
            raise DebitAccountNotFound(account_id=request.debit_account_id)
        credit = self.accounts.get(request.credit_account_id)
        if credit is None:
            raise CreditAccountNotFound(account_id=request.credit_account_id)
        if debit.currency != credit.currency:
            raise AccountsMustHaveTheSameCurrency(
                f"debit account holds {debit.currency}, credit account holds {credit.currency}"
            )
        if request.currency != debit.currency:
            raise CurrencyMismatch(
                f"transfer in {request.currency}, accounts hold {debit.currency}"
            )
        # Overflow first, as TigerBeetle does: the balance checks below add the same terms.
        if debit.debits_pending + debit.debits_posted + amount > limits.AMOUNT_MINOR_MAX:
            raise OverflowsDebits(account_id=debit.id)
        if credit.credits_pending + credit.credits_posted + amount > limits.AMOUNT_MINOR_MAX:
            raise OverflowsCredits(account_id=credit.id)
        # Account flags are 0, 1 or 2 (validate_account and a CHECK), so == tests the bit.
        if (
            debit.flags == AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
            and debit.debits_pending + debit.debits_posted + amount > debit.credits_posted
        ):
            currency = Currency.of(debit.currency)
            raise ExceedsCredits(
                f"{Money(amount, currency).to_display_string()} requested, "
                f"{Money(max(debit.available, 0), currency).to_display_string()} available",
                account_id=debit.id,
                available=max(debit.available, 0),
            )
        if (
            credit.flags == AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
            and credit.credits_pending + credit.credits_posted + amount > credit.debits_posted
        ):
            raise ExceedsDebits(account_id=credit.id)
        return debit, credit

    def resolve(self, request: TransferRequest, now: datetime) -> None:
        flags = request.flags
        pending = self._checked_pending(request)
        amount = _resolution_amount(request, pending, now)
        debit = self.accounts[pending.debit_account_id]
        credit = self.accounts[pending.credit_account_id]
        # Posting moves money from pending to posted, so pending + posted never grows and the
        # overflow and balance rules checked when the hold was made still hold.
        posted = amount if flags == TransferFlags.POST_PENDING else 0
        self.accounts[debit.id] = debit.moved(debits_pending=-pending.amount, debits_posted=posted)
        self.accounts[credit.id] = credit.moved(
            credits_pending=-pending.amount, credits_posted=posted
        )
        transfer = Transfer(
            id=request.id,
            debit_account_id=debit.id,
            credit_account_id=credit.id,
            amount=amount,
            currency=pending.currency,
            code=pending.code,
            flags=flags,
            created_at=now,
            pending_id=pending.id,
            reference=request.reference or pending.reference,
        )
        self._record(transfer, debit.id, credit.id)
        new_state = _STATE_AFTER[flags]
        self.states[pending.id] = new_state
        if pending.id in self.plan.created_pending:
            self.plan.created_pending[pending.id] = new_state
        else:
            self.plan.resolved_pending[pending.id] = new_state

    def _checked_pending(self, request: TransferRequest) -> Transfer:
        """The rules for naming a hold: it exists, is a hold, and is still open."""
        _check_kind_flags(request.flags)
        # A resolution takes its accounts, currency and code from the hold: the builders (post,
        # void, expire) never set them, so a request that does is a programmer error.
        assert request.debit_account_id is None and request.credit_account_id is None, request
        assert request.currency is None and request.code is None, request
        if request.pending_id is None:
            raise PendingIdRequired()
        if request.timeout_seconds:
            raise TimeoutReservedForPendingTransfer()
        _check_reference(request.reference)
        pending = self.transfers.get(request.pending_id)
        if pending is None:
            raise PendingTransferNotFound(pending_id=request.pending_id)
        if pending.flags != TransferFlags.PENDING:
            raise PendingTransferNotPending(pending_id=pending.id)
        state = self.states[pending.id]
        if state is not PendingState.PENDING:
            raise _ALREADY_RESOLVED[state](pending_id=pending.id)
        return pending

    def _record(self, transfer: Transfer, debit_id: str, credit_id: str) -> None:
        self.plan.transfers.append(transfer)
        self.plan.accounts[debit_id] = self.accounts[debit_id]
        self.plan.accounts[credit_id] = self.accounts[credit_id]


def _checked_new_transfer(request: TransferRequest) -> int:
    """The rules a new transfer or hold must meet on its own; returns its amount."""
    _check_kind_flags(request.flags)
    if request.pending_id is not None:
        raise PendingIdMustBeNull()
    if request.code is None:
        raise TransferCodeUnknown("A transfer must say why money moves (its code).")
    if request.timeout_seconds and request.flags != TransferFlags.PENDING:
        raise TimeoutReservedForPendingTransfer()
    if not 0 <= request.timeout_seconds <= limits.PENDING_TIMEOUT_SECONDS_MAX:
        raise PendingTimeoutInvalid(
            f"timeout {request.timeout_seconds}s; allowed 0 to "
            f"{limits.PENDING_TIMEOUT_SECONDS_MAX}s"
        )
    _check_reference(request.reference)
    amount = request.amount
    if amount is None or amount <= 0:
        raise AmountMustBePositive()
    if amount > limits.AMOUNT_MINOR_MAX:
        raise AmountOverflows()
    return amount


def _resolution_amount(request: TransferRequest, pending: Transfer, now: datetime) -> int:
    """The timing and amount rules of a post, void or expiry; returns the amount it records."""
    expired = pending.expires_at is not None and now >= pending.expires_at
    if request.flags == TransferFlags.EXPIRE_PENDING:
        if not expired:
            raise PendingTransferNotExpired(pending_id=pending.id)
        return pending.amount
    if expired:
        raise PendingTransferExpired(pending_id=pending.id)
    if request.flags == TransferFlags.POST_PENDING and request.amount is not None:
        if request.amount <= 0:
            raise AmountMustBePositive()
        if request.amount > pending.amount:
            raise ExceedsPendingTransferAmount(
                f"{request.amount} to post, {pending.amount} held",
                pending_amount=pending.amount,
            )
        return request.amount
    return pending.amount


def _known(code: TransferCode | None) -> TransferCode:
    assert code is not None, "checked by _checked_new_transfer"
    return code


def _check_kind_flags(flags: TransferFlags) -> None:
    if flags not in _VALID_FLAGS:
        raise TransferFlagsAreMutuallyExclusive(f"flags {int(flags)}")


def _check_reference(reference: str | None) -> None:
    if reference is not None and len(reference) > limits.REFERENCE_LENGTH_MAX:
        raise ReferenceTooLong(
            f"{len(reference)} characters; at most {limits.REFERENCE_LENGTH_MAX}"
        )
