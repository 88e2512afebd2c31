"""The ports the use cases need (clock, ids, unit of work, repositories), implemented elsewhere.

Services depend only on these protocols; `storage/` implements them and `bootstrap.py` picks the
implementation. Tests pass a fake clock and the same storage on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self

from soko.domain.chart import AccountCode
from soko.domain.escrow import Deadlines, EscrowAction, EscrowPolicy, EscrowState
from soko.domain.fees import FeeKind, FeeTable, MerchantRate
from soko.domain.kyc import TierLimits
from soko.domain.ledger import Account, LedgerPlan, PendingState, Transfer
from soko.domain.payouts import Destination, Payout, PayoutState, RailStatus
from soko.domain.shipments import Carrier, Shipment, ShipmentStep, TrackingEvent
from soko.domain.users import Merchant, User


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class IdGenerator(Protocol):
    def new(self, prefix: str) -> str:
        """A fresh time-ordered public id such as ``tr_01J…``."""
        ...

    def digits(self, count: int) -> str:
        """A uniformly random string of `count` decimal digits (till numbers, one-time codes)."""
        ...


class TransientConflict(Exception):
    """Storage saw a serialization failure, deadlock or lost race: the whole use case may retry."""


@dataclass(frozen=True, slots=True)
class SystemTotal:
    """A system role's four counters in one currency, summed over its buckets."""

    code: AccountCode
    currency: str
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    @property
    def balance(self) -> int:
        """Posted credits less posted debits (what a credit-normal role such as fees holds)."""
        return self.credits_posted - self.debits_posted


class LedgerRepository(Protocol):
    def insert_account(self, account: Account, created_at: datetime) -> None:
        """Insert an account (counters must be zero)."""
        ...

    def get_account(self, account_id: str) -> Account | None: ...

    def get_account_by_name(self, name: str) -> Account | None: ...

    def account_id_by_name(self, name: str) -> str | None:
        """The id of the account named `name`. A name, once committed, always names the same
        account (accounts are never deleted or renamed), so an implementation may remember it."""
        ...

    def get_accounts_by_name(self, names: Collection[str]) -> list[Account]:
        """The accounts with these names that exist, in no particular order."""
        ...

    def system_totals(self) -> list[SystemTotal]:
        """Every system role per currency, summed over its buckets; by currency, then role."""
        ...

    def lock_accounts(self, account_ids: Collection[str]) -> dict[str, Account]:
        """Read and lock the accounts for writing, in the global lock order (chart.LOCK_RANKS,
        then id). Accounts this transaction already locked come back as it left them.

        Callers keep to that order across calls too: lock the paying customer first, and let
        `ledger.record` lock the merchants and system accounts it pays into (ADR 0011)."""
        ...

    def lock_transfers(
        self, transfer_ids: Collection[str]
    ) -> tuple[dict[str, Transfer], dict[str, PendingState]]:
        """Read transfers about to be resolved, and lock the states of the pending ones."""
        ...

    def apply(self, plan: LedgerPlan, before: dict[str, Account]) -> None:
        """Write a plan: transfers, counter changes from `before`, and pending states."""
        ...

    def get_transfer(self, transfer_id: str) -> Transfer | None: ...

    def pending_state(self, transfer_id: str) -> PendingState | None: ...

    def list_transfers(
        self, account_id: str, *, limit: int, before_id: str | None
    ) -> list[Transfer]:
        """An account's transfers, newest first, strictly older than `before_id` if given."""
        ...

    def due_pending_ids(self, now: datetime, limit: int) -> list[str]:
        """Open pending transfers whose timeout has passed, oldest first, skipping locked ones."""
        ...


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A use case's result kept under its idempotency key: the request's hash and the JSON."""

    fingerprint: str
    result: str


class IdempotencyRepository(Protocol):
    def get(self, scope: str, key: str) -> StoredResult | None: ...

    def put(self, scope: str, key: str, stored: StoredResult, created_at: datetime) -> None:
        """Store the result when the transaction commits (so `get` in the same transaction
        does not see it); the commit raises `TransientConflict` if a concurrent request
        stored the key first."""
        ...

    def delete_older_than(self, cutoff: datetime, limit: int) -> int: ...


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    currency: str
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


@dataclass(frozen=True, slots=True)
class CounterMismatch:
    account_id: str
    counter: str
    stored: int
    from_transfers: int


class ReconcileQueries(Protocol):
    """Whole-ledger aggregates, each one query, for `soko reconcile`."""

    def currency_totals(self) -> list[CurrencyTotals]: ...

    def counter_mismatches(self, limit: int) -> list[CounterMismatch]: ...

    def accounts_breaking_balance_rules(self, limit: int) -> list[Account]: ...

    def pending_inconsistencies(self, limit: int) -> list[str]:
        """Human-readable descriptions of pending transfers whose state and history disagree."""
        ...

    def malformed_transfers(self, limit: int) -> list[str]:
        """Transfers whose currency differs from one of their accounts'."""
        ...

    def wallet_inconsistencies(self, limit: int) -> list[str]:
        """Wallets whose ledger account is not a customer account in the wallet's currency."""
        ...

    def counts(self) -> tuple[int, int]:
        """(accounts, transfers)."""
        ...


@dataclass(frozen=True, slots=True)
class Wallet:
    id: str
    user_id: str
    currency: str
    account_id: str


@dataclass(frozen=True, slots=True)
class Payment:
    """The business record of a movement between people: who, how much, what fee, why."""

    id: str
    kind: str
    currency: str
    amount: int
    fee: int
    commission: int
    payer_wallet_id: str | None
    payee_wallet_id: str | None
    payee_phone: str | None
    message: str | None
    hold_id: str | None
    fee_hold_id: str | None
    created_at: datetime
    #: Merchant payments: refunded so far, and the part of the merchant's fee given back.
    refunded: int = 0
    fee_refunded: int = 0

    @property
    def refundable(self) -> int:
        return self.amount - self.refunded if self.kind == "merchant" else 0


@dataclass(frozen=True, slots=True)
class Refund:
    """Money a merchant gave back from a payment, with its share of the merchant fee."""

    id: str
    payment_id: str
    currency: str
    amount: int
    fee_returned: int
    reason: str | None
    created_at: datetime


class PaymentRequestStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"
    #: Never stored: an open request past its expiry reads as expired.
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """An invoice a merchant sends: pay this amount, with this reference, before this time."""

    id: str
    merchant_id: str
    currency: str
    amount: int
    reference: str
    description: str | None
    #: As stored: open, paid or cancelled (see `status_at` for what a reader sees).
    stored_status: PaymentRequestStatus
    expires_at: datetime
    payment_id: str | None
    created_at: datetime

    def status_at(self, now: datetime) -> PaymentRequestStatus:
        if self.stored_status is PaymentRequestStatus.OPEN and now >= self.expires_at:
            return PaymentRequestStatus.EXPIRED
        return self.stored_status


class MerchantPaymentsRepository(Protocol):
    """Refunds and payment requests, and the refund totals kept on payments."""

    def lock_payment(self, payment_id: str) -> Payment | None:
        """The payment, locked against concurrent refunds (PostgreSQL; SQLite's write lock)."""
        ...

    def add_refund(self, refund: Refund) -> None:
        """Insert the refund and add it to its payment's totals (CHECKs bound both)."""
        ...

    def list_refunds(self, payment_id: str) -> list[Refund]: ...

    def insert_request(self, request: PaymentRequest) -> None: ...

    def get_request(self, request_id: str, *, lock: bool = False) -> PaymentRequest | None: ...

    def list_requests(
        self, merchant_id: str, *, limit: int, before_id: str | None
    ) -> list[PaymentRequest]:
        """The merchant's requests, newest first, strictly older than `before_id` if given."""
        ...

    def set_request_status(
        self, request_id: str, status: PaymentRequestStatus, payment_id: str | None = None
    ) -> None:
        """Move an open request to paid or cancelled; raises `TransientConflict` if it was not
        open any more (another transaction got there first)."""
        ...


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    role: str
    merchant_id: str | None
    name: str
    revoked: bool


class PeopleRepository(Protocol):
    """Users, merchants, wallets, payments, API keys and sessions."""

    def insert_user(self, user: User, pin_hash: str | None, created_at: datetime) -> None:
        """Raises `PhoneNumberTaken` if the phone number is registered already."""
        ...

    def get_user(self, user_id: str, *, lock: bool = False) -> User | None: ...

    def get_user_by_phone(self, phone: str) -> User | None: ...

    def pin_hash(self, user_id: str) -> str | None: ...

    def update_user(self, user: User, *, pin_hash: str | None = None) -> None:
        """Store the user's mutable fields (tier, national id, PIN state, and a new PIN hash)."""
        ...

    def insert_merchant(self, merchant: Merchant) -> None:
        """Raises `TransientConflict` if the till number was taken meanwhile."""
        ...

    def get_merchant(self, user_id: str) -> Merchant | None: ...

    def get_merchant_by_till(self, till_number: str) -> Merchant | None: ...

    def insert_wallet(self, wallet: Wallet, created_at: datetime) -> None:
        """Raises `TransientConflict` if the user's wallet in that currency was opened meanwhile."""
        ...

    def get_wallet(self, wallet_id: str) -> Wallet | None: ...

    def find_wallet(self, user_id: str, currency: str) -> Wallet | None: ...

    def list_wallets(self, user_id: str) -> list[Wallet]: ...

    def outgoing_since(self, wallet_id: str, kinds: Collection[str], since: datetime) -> int:
        """Minor units the wallet paid out in payments of `kinds` since `since` (not counting
        held payments that expired back)."""
        ...

    def outgoing_totals(
        self, wallet_id: str, kinds: Collection[str], day: datetime, month: datetime
    ) -> tuple[int, int]:
        """`outgoing_since` from `day` and from `month`, in one query."""
        ...

    def net_after(self, account_id: str, transfer_id: str) -> int:
        """Posted credits less posted debits of the account's transfers newer than this one."""
        ...

    def insert_payment(self, payment: Payment) -> None: ...

    def get_payment(self, payment_id: str) -> Payment | None: ...

    def unclaimed_payments(self, phone: str, limit: int) -> list[Payment]:
        """Payments to `phone` still held for it, oldest first."""
        ...

    def claim_payment(self, payment_id: str, payee_wallet_id: str) -> None: ...

    def insert_api_key(self, key: ApiKey, secret_hash: str, created_at: datetime) -> None: ...

    def get_api_key_by_hash(self, secret_hash: str) -> ApiKey | None: ...

    def revoke_api_key(self, key_id: str, revoked_at: datetime) -> bool: ...

    def insert_session(
        self, token_hash: str, user_id: str, expires_at: datetime, created_at: datetime
    ) -> None: ...

    def end_session(self, token_hash: str, now: datetime) -> None:
        """Expire the session now (kept, as a record of when it was used)."""
        ...

    def session_user(self, token_hash: str, now: datetime) -> str | None:
        """The user of an unexpired session, if any."""
        ...


# --- notifications: webhooks and SMS (the outbox) ----------------------------------------------


class GatewayFailed(Exception):
    """An outside system gave no usable answer: refused, timed out, unreachable, or (for SMS) an
    error reply. The attempt is recorded as failed and retried later; nothing else is undone."""


class PayoutRailUnavailable(GatewayFailed):
    """The payout rail did not answer, or answered with an error: ask again later, with the same
    payout id. Not a DomainError: nothing is wrong with the payout, and no caller sees it."""


class WebhookSender(Protocol):
    def post(
        self, url: str, headers: Mapping[str, str], body: bytes, *, timeout_seconds: float
    ) -> int:
        """POST `body` to `url` (no redirects followed) and return the HTTP status; raises
        `GatewayFailed` when no status came back."""
        ...


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> str:
        """Hand one text to the SMS provider; return its message id. Raises `GatewayFailed`."""
        ...


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    owner_id: str
    url: str
    event_types: tuple[str, ...]
    enabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event to one endpoint, and how its attempts went."""

    id: str
    event_id: str
    event_type: str
    endpoint_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DueWebhook:
    """A claimed delivery with what it takes to send it."""

    delivery_id: str
    attempts: int
    url: str
    secret: str
    event_id: str
    body: str


@dataclass(frozen=True, slots=True)
class DueSms:
    sms_id: str
    attempts: int
    phone: str
    text: str


@dataclass(frozen=True, slots=True)
class SmsMessage:
    id: str
    phone: str
    text: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    provider_message_id: str | None
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Attempted:
    """The outcome of one attempt to record: only if the row still stands where it was claimed
    (`attempts_before`, pending), so a late worker never counts an attempt twice."""

    status: str
    attempts_before: int
    attempts: int
    next_attempt_at: datetime | None
    now: datetime
    error: str | None = None
    status_code: int | None = None
    provider_message_id: str | None = None


class NotificationsRepository(Protocol):
    """Webhook endpoints, events and deliveries, and SMS messages: the outbox."""

    def insert_endpoint(self, endpoint: WebhookEndpoint, secret: str) -> None: ...

    def get_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None: ...

    def count_endpoints(self, owner_id: str) -> int:
        """Enabled endpoints of the owner."""
        ...

    def list_endpoints(
        self, owner_id: str | None, *, limit: int, before_id: str | None
    ) -> list[WebhookEndpoint]:
        """Newest first, strictly older than `before_id` if given; all owners if None."""
        ...

    def disable_endpoint(self, endpoint_id: str, now: datetime) -> None:
        """Disable it, and give up its pending deliveries (dead, "endpoint disabled")."""
        ...

    def subscribed_endpoint_ids(self, owner_id: str, event_type: str) -> list[str]:
        """Enabled endpoints of the owner subscribed to the type."""
        ...

    def insert_event(
        self,
        event_id: str,
        owner_id: str,
        event_type: str,
        body: str,
        *,
        deliveries: Sequence[tuple[str, str]],
        now: datetime,
    ) -> None:
        """The event and one pending delivery, due now, per (delivery id, endpoint id)."""
        ...

    def get_delivery(self, delivery_id: str) -> WebhookDelivery | None: ...

    def list_deliveries(
        self, endpoint_id: str, status: str | None, *, limit: int, before_id: str | None
    ) -> list[WebhookDelivery]:
        """Newest first, strictly older than `before_id` if given."""
        ...

    def claim_due_deliveries(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[DueWebhook]:
        """Lease up to `limit` pending deliveries due by `now` that no one holds: hidden from
        every other claim until `lease_until` (PostgreSQL: skipping rows being claimed)."""
        ...

    def record_delivery(self, delivery_id: str, attempted: Attempted) -> bool:
        """Store an attempt's outcome and drop the lease; False if the row moved on meanwhile."""
        ...

    def revive_delivery(self, delivery_id: str, now: datetime) -> bool:
        """A dead delivery back to pending, due now, with a fresh count of attempts."""
        ...

    def insert_sms(self, messages: Sequence[tuple[str, str, str]], now: datetime) -> None:
        """Queue texts, each (id, phone, text), in one statement sent with the commit: reads
        in the same transaction do not see them."""
        ...

    def get_sms(self, sms_id: str) -> SmsMessage | None: ...

    def list_sms_to(self, phone: str, limit: int) -> list[SmsMessage]:
        """Texts to `phone`, oldest first."""
        ...

    def claim_due_sms(self, now: datetime, lease_until: datetime, limit: int) -> list[DueSms]: ...

    def record_sms(self, sms_id: str, attempted: Attempted) -> bool: ...


class PayoutRepository(Protocol):
    """Payouts, and the worker's claims on them."""

    def insert(self, payout: Payout) -> None: ...

    def get(self, payout_id: str) -> Payout | None: ...

    def list_for(
        self, merchant_id: str | None, *, limit: int, before_id: str | None
    ) -> list[Payout]:
        """A merchant's payouts (everyone's for None), newest first, older than `before_id`."""
        ...

    def claim_due(
        self, rail: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Payout]:
        """In-flight payouts of `rail` due at `now`, oldest first, skipping ones other
        transactions hold; each is hidden from other claims until `lease_until`."""
        ...

    def advance(
        self,
        payout_id: str,
        expected: PayoutState,
        *,
        state: PayoutState,
        now: datetime,
        next_attempt_at: datetime | None,
        rail_reference: str | None = None,
        polls: int | None = None,
        rail_errors: int | None = None,
        failure_reason: str | None = None,
    ) -> bool:
        """Update the payout only if it is still in `expected`; False if another got there first."""
        ...


class PayoutRail(Protocol):
    """A bank or mobile-money network that pays money out (gateways/payout_rails.py)."""

    #: Stored on each payout: a payout is always finished by the rail that took it.
    name: str

    def submit(self, payout_id: str, amount: int, currency: str, destination: Destination) -> str:
        """Hand the payout to the rail; returns the rail's reference.

        Idempotent by `payout_id`: submitting it again returns the same reference and pays
        once. This is what makes a crash between the rail's acceptance and our record safe.
        Raises `PayoutRailUnavailable` when the rail cannot be reached.
        """
        ...

    def status(self, reference: str) -> RailStatus:
        """Pending, paid, or failed with a reason. Raises `PayoutRailUnavailable`."""
        ...


class PinHasher(Protocol):
    def hash(self, pin: str) -> str: ...

    def verify(self, pin_hash: str, pin: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class OrderItem:
    name: str
    quantity: int


@dataclass(frozen=True, slots=True)
class EscrowOrder:
    """A guaranteed trade: what the buyer pays for, where the money is, which clock runs."""

    id: str
    seller_id: str
    buyer_id: str
    currency: str
    amount: int
    description: str | None
    items: tuple[OrderItem, ...]
    state: EscrowState
    disputed_from: EscrowState | None
    disputed_at: datetime | None
    deadlines: Deadlines
    timer_action: EscrowAction | None
    timer_due_at: datetime | None
    hold_id: str | None
    code_failures: int
    #: Where the money went once closed: the seller's part, the fee on it, the buyer's part.
    released: int
    fee: int
    refunded: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EscrowDispute:
    id: str
    order_id: str
    reason: str
    message: str
    evidence: tuple[str, ...]
    seller_answer: str | None
    answered_at: datetime | None
    #: withdrawn, release, refund or split; None while open.
    outcome: str | None
    to_buyer: int | None
    to_seller: int | None
    note: str | None
    opened_at: datetime
    closed_at: datetime | None


class EscrowRepository(Protocol):
    def insert_order(self, order: EscrowOrder) -> None: ...

    def get_order(self, order_id: str, *, lock: bool = False) -> EscrowOrder | None: ...

    def update_order(self, order: EscrowOrder, *, expected_state: EscrowState) -> None:
        """Store the order's mutable fields if it is still in `expected_state`; else raise
        `TransientConflict` (another transaction moved it first)."""
        ...

    def set_delivery_code(self, order_id: str, code: str) -> None: ...

    def delivery_code(self, order_id: str) -> tuple[str | None, str | None]:
        """The order's delivery code, and the argon2 hash that an order funded before
        migration 0008 holds instead."""
        ...

    def count_code_failure(self, order_id: str) -> int:
        """Add one wrong delivery code; returns the count."""
        ...

    def list_orders(self, user_id: str, *, limit: int, before_id: str | None) -> list[EscrowOrder]:
        """Orders the user buys or sells, newest first, strictly older than `before_id`."""
        ...

    def due_order_ids(self, now: datetime, limit: int) -> list[str]:
        """Orders whose timer is due, oldest deadline first, skipping rows others hold."""
        ...

    def insert_dispute(self, dispute: EscrowDispute) -> None: ...

    def open_dispute(self, order_id: str) -> EscrowDispute | None: ...

    def update_dispute(self, dispute: EscrowDispute) -> None: ...

    def list_disputes(self, order_id: str) -> list[EscrowDispute]: ...

    def holding_by_currency(self) -> dict[str, int]:
        """The sum of the amounts of orders whose money is held, per currency (reconcile)."""
        ...


class ShipmentsRepository(Protocol):
    """Carriers, the shipments of escrow orders, and their tracking events."""

    def insert_carrier(self, carrier: Carrier, secret: str) -> None:
        """Raises `TransientConflict` if the code was taken meanwhile."""
        ...

    def get_carrier(self, code: str) -> Carrier | None: ...

    def carrier_secret(self, code: str) -> str | None: ...

    def list_carriers(self, *, limit: int, after_code: str | None) -> list[Carrier]:
        """By code, strictly after `after_code` if given."""
        ...

    def disable_carrier(self, code: str, now: datetime) -> None: ...

    def insert_shipment(self, shipment: Shipment) -> None:
        """Raises `TransientConflict` if the order or the tracking number was taken meanwhile."""
        ...

    def get_shipment(self, shipment_id: str, *, lock: bool = False) -> Shipment | None: ...

    def find_shipment(
        self, carrier_code: str, tracking_number: str, *, lock: bool = False
    ) -> Shipment | None: ...

    def shipment_for_order(self, order_id: str) -> Shipment | None: ...

    def set_step(self, shipment_id: str, step: ShipmentStep, now: datetime) -> None: ...

    def find_event(self, carrier_code: str, carrier_event_id: str) -> TrackingEvent | None: ...

    def insert_event(self, event: TrackingEvent) -> None:
        """Raises `TransientConflict` if the carrier's event id was stored meanwhile."""
        ...

    def list_events(self, shipment_id: str, limit: int) -> list[TrackingEvent]:
        """The shipment's latest `limit` events, oldest first (by when they happened)."""
        ...


class UnitOfWork(Protocol):
    """One database transaction. Rolls back on exit unless `commit` was called."""

    ledger: LedgerRepository
    idempotency: IdempotencyRepository
    reconcile: ReconcileQueries
    people: PeopleRepository
    notifications: NotificationsRepository
    merchant_payments: MerchantPaymentsRepository
    payouts: PayoutRepository
    escrow: EscrowRepository
    shipments: ShipmentsRepository

    def commit(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...


@dataclass(frozen=True, slots=True)
class Context:
    """What every use case receives: where to store, what time it is, how to name things."""

    unit_of_work: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    #: Sleeps between retries of a conflicting transaction (a no-op in tests).
    backoff: Callable[[int], None]
    pins: PinHasher
    #: The operator's pricing and limits (defaults from domain/fees.py and limits.py).
    tariff: Mapping[tuple[str, FeeKind], FeeTable]
    #: Merchant discount rates by (currency, merchant category or "*").
    merchant_rates: Mapping[tuple[str, str], MerchantRate]
    kyc_limits: Mapping[str, Mapping[int, TierLimits]]
    #: The operator's time zone: days and months for the KYC limits start at its midnight.
    timezone: tzinfo
    #: How long money sent to an unregistered number is held for it.
    unclaimed_transfer_seconds: int
    #: The operator's identifier in EMVCo QR codes, and the city its merchants' codes print.
    qr_guid: str
    qr_merchant_city: str
    #: The operator's escrow timers (inspection period, delivery window, the undelivered rule).
    escrow: EscrowPolicy
    #: Where payouts go, and how long a worker's claim on one lasts.
    payout_rail: PayoutRail
    payout_lease_seconds: int
    #: How long a claim on webhook deliveries and texts lasts (SOKO_OUTBOX_LEASE_SECONDS);
    #: None: each outbox's default in limits.py.
    outbox_lease_seconds: int | None
    #: Outbound gateways for the outbox: webhook POSTs and SMS (chosen in bootstrap.py).
    webhook_sender: WebhookSender
    sms_sender: SmsSender


def noop_backoff(attempt: int) -> None:
    """No wait between retries: for tests and single-threaded tools."""


__all__: Sequence[str] = (
    "ApiKey",
    "Attempted",
    "Clock",
    "Context",
    "CounterMismatch",
    "CurrencyTotals",
    "DueSms",
    "DueWebhook",
    "EscrowDispute",
    "EscrowOrder",
    "EscrowRepository",
    "GatewayFailed",
    "IdGenerator",
    "IdempotencyRepository",
    "LedgerRepository",
    "MerchantPaymentsRepository",
    "NotificationsRepository",
    "OrderItem",
    "Payment",
    "PaymentRequest",
    "PaymentRequestStatus",
    "PayoutRail",
    "PayoutRailUnavailable",
    "PayoutRepository",
    "PeopleRepository",
    "PinHasher",
    "ReconcileQueries",
    "Refund",
    "ShipmentsRepository",
    "SmsMessage",
    "SmsSender",
    "StoredResult",
    "SystemTotal",
    "TransientConflict",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "Wallet",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookSender",
    "noop_backoff",
)
