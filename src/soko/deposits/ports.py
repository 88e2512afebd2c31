"""What M-Pesa's use cases need: their storage, Daraja, and the payout rail's callback inbox."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from soko.deposits.domain import (
    C2BPayment,
    C2BState,
    CheckKind,
    CheckState,
    Deposit,
    DepositOutcome,
    DepositState,
    Receipt,
    Reversal,
    ReversalState,
    StatementCredit,
    StatusCheck,
)
from soko.rails.mpesa.callbacks import (
    B2CResult,
    QueueTimeout,
    TransactionStatusResult,
)
from soko.rails.mpesa.daraja import (
    C2BRegistered,
    CallbackKind,
    DarajaOutcomeUnknown,
    DarajaRejected,
    DarajaUnavailable,
    RequestAccepted,
    StkPushAccepted,
    StkQueryResult,
)

__all__ = [
    "B2CInbox",
    "Daraja",
    "DarajaOutcomeUnknown",
    "DarajaRejected",
    "DarajaUnavailable",
    "DepositRepository",
    "Mpesa",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Daraja(Protocol):
    """Safaricom's Daraja API (`soko.rails.mpesa.daraja.DarajaClient`, or its sandbox).

    Money-moving calls raise `DarajaOutcomeUnknown` when the request may have arrived: never
    send those again, settle them by a query. `DarajaUnavailable`: surely not sent, or a read
    that failed. `DarajaRejected`: Daraja said no.
    """

    def stk_push(
        self,
        *,
        amount_minor: int,
        phone: str,
        account_reference: str,
        description: str,
        callback_url: str | None = None,
    ) -> StkPushAccepted: ...

    def stk_query(self, checkout_request_id: str) -> StkQueryResult: ...

    def register_c2b_urls(self) -> C2BRegistered: ...

    def reversal(
        self,
        *,
        transaction_id: str,
        amount_minor: int,
        remarks: str,
        occasion: str = "",
        result_url: str | None = None,
        timeout_url: str | None = None,
    ) -> RequestAccepted: ...

    def transaction_status(
        self,
        *,
        transaction_id: str | None = None,
        originator_conversation_id: str | None = None,
        remarks: str = "status",
        occasion: str = "",
        result_url: str | None = None,
        timeout_url: str | None = None,
    ) -> RequestAccepted:
        """Ask M-Pesa's Transaction Status API; the answer comes to `result_url`."""
        ...

    def callback_url(self, kind: CallbackKind) -> str:
        """Where Daraja reaches Soko for `kind` (with the secret token in the path)."""
        ...


class B2CInbox(Protocol):
    """Where the M-Pesa payout rail hears its asynchronous answers (payouts/rails/mpesa.py):
    the callback routes hand it B2C Results, queue timeouts and transaction status Results, and
    the rail's next `status` call tells the payouts worker."""

    def record_result(self, result: B2CResult) -> bool:
        """True if the Result was for one of the rail's payouts and is now recorded."""
        ...

    def record_timeout(self, timeout: QueueTimeout) -> bool: ...

    def record_status(self, result: TransactionStatusResult) -> bool: ...

    def paid_receipts(self) -> list[tuple[str, int]]:
        """(receipt, amount in cents) of every B2C payout M-Pesa confirmed, for the statement
        reconciliation."""
        ...


@dataclass(frozen=True, slots=True)
class Mpesa:
    """The operator's M-Pesa short code as the use cases see it (SOKO_MPESA_*, bootstrap.py)."""

    daraja: Daraja
    shortcode: str
    #: The secret path segment of every callback URL (compared in constant time).
    callback_token: str = field(repr=False)
    #: Callbacks are believed only from these networks (Safaricom's, or a sandbox's).
    callback_networks: tuple[Network, ...]
    #: A pending deposit with no callback is asked about (STK query) after this long.
    query_after_seconds: int
    #: A C2B confirmation or a reversal with no answer is asked about (transaction status)
    #: this long after, then after doubling waits.
    status_after_seconds: int = 600
    #: Whether the initiator is set up: then each C2B confirmation is credited only once M-Pesa's
    #: Transaction Status API confirms it; without it, on the callback's token and source alone.
    checks_by_status: bool = False
    #: The M-Pesa payout rail, when SOKO_PAYOUT_RAIL=mpesa.
    b2c: B2CInbox | None = None


class DepositRepository(Protocol):
    """Deposits, C2B payments, reversals and the receipts of each movement."""

    def insert_deposit(self, deposit: Deposit) -> None: ...

    def get_deposit(self, deposit_id: str, *, lock: bool = False) -> Deposit | None: ...

    def deposit_by_checkout(self, checkout_request_id: str, *, lock: bool) -> Deposit | None: ...

    def claim_due_deposits(self, now: datetime, lease_until: datetime, limit: int) -> list[Deposit]:
        """In-flight deposits due at `now`, oldest first; hidden from other claims until
        `lease_until`."""
        ...

    def update_deposit(
        self,
        deposit_id: str,
        expected: DepositState,
        *,
        state: DepositState,
        now: datetime,
        next_check_at: datetime | None,
        checkout_request_id: str | None = None,
        merchant_request_id: str | None = None,
        receipt: str | None = None,
        outcome: DepositOutcome | None = None,
        result_code: int | None = None,
        result_desc: str | None = None,
        transfer_id: str | None = None,
        queries: int | None = None,
    ) -> bool:
        """Update only if still in `expected`; False if another got there first."""
        ...

    def deposit_by_reference(self, shortcode: str, account_reference: str) -> Deposit | None:
        """The one deposit whose STK push carried `account_reference`."""
        ...

    def set_deposit_receipt(self, deposit_id: str, receipt: str, now: datetime) -> bool:
        """Record the receipt of a deposit paid without one (settled by a query)."""
        ...

    def insert_receipt(self, receipt: Receipt, now: datetime) -> bool:
        """False, writing nothing, if the receipt is recorded already."""
        ...

    def get_receipt(self, receipt: str) -> Receipt | None: ...

    def receipts(self, shortcode: str) -> list[Receipt]: ...

    def paid_deposits_without_receipt(self, shortcode: str) -> list[Deposit]: ...

    def unpushed_deposit_for(self, shortcode: str, phone: str, amount: int) -> Deposit | None:
        """The oldest deposit for `phone` and `amount` whose push answer is not recorded
        (`initiated` or `unknown`, no CheckoutRequestID)."""
        ...

    def insert_c2b(self, payment: C2BPayment) -> None: ...

    def get_c2b(self, trans_id: str, *, lock: bool = False) -> C2BPayment | None: ...

    def update_c2b(
        self,
        trans_id: str,
        expected: C2BState,
        *,
        state: C2BState,
        user_id: str | None = None,
    ) -> bool: ...

    def insert_reversal(self, reversal: Reversal) -> None: ...

    def get_reversal(self, reversal_id: str, *, lock: bool = False) -> Reversal | None: ...

    def reversal_by_conversation(
        self, originator_conversation_id: str, conversation_id: str, *, lock: bool
    ) -> Reversal | None: ...

    def open_reversal_for(self, receipt: str) -> Reversal | None: ...

    def reversal_done_for(self, receipt: str) -> bool: ...

    def update_reversal(
        self,
        reversal_id: str,
        expected: ReversalState,
        *,
        state: ReversalState,
        now: datetime,
        originator_conversation_id: str | None = None,
        conversation_id: str | None = None,
        result_code: str | None = None,
        result_desc: str | None = None,
        reversal_receipt: str | None = None,
        transfer_id: str | None = None,
    ) -> bool: ...

    def insert_check(self, check: StatusCheck) -> None: ...

    def get_check(
        self, kind: CheckKind, subject: str, *, lock: bool = False
    ) -> StatusCheck | None: ...

    def check_by_query(self, kind: CheckKind, query_id: str) -> StatusCheck | None:
        """The check whose last query Daraja answered with this OriginatorConversationID."""
        ...

    def claim_due_checks(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[StatusCheck]: ...

    def update_check(
        self,
        kind: CheckKind,
        subject: str,
        *,
        state: CheckState,
        now: datetime,
        next_check_at: datetime | None,
        query_id: str | None = None,
        queries: int | None = None,
    ) -> bool: ...

    def insert_statement_credit(self, credit: StatementCredit) -> None: ...

    def get_statement_credit(self, receipt: str) -> StatementCredit | None: ...
