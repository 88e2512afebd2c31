"""What every use case receives: a unit of work over each feature's storage, a clock, ids."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from types import TracebackType
from typing import Protocol, Self

from soko.credit.domain import CreditPolicy
from soko.credit.ports import CreditRepository
from soko.deposits.ports import DepositRepository, Mpesa
from soko.escrow.domain import EscrowAction, EscrowPolicy
from soko.escrow.ports import EscrowRepository
from soko.escrow.tracking.ports import ShipmentsRepository
from soko.fx.domain import FxPolicy
from soko.fx.ports import FxRepository
from soko.kernel.ports import Clock, IdempotencyRepository, IdGenerator
from soko.ledger.domain import TransferRequest
from soko.ledger.ports import LedgerRepository, ReconcileQueries
from soko.notify.ports import NotificationsRepository, SmsSender, WebhookSender
from soko.payments.fees import FeeKind, FeeTable, MerchantRate
from soko.payments.ports import MerchantPaymentsRepository
from soko.payouts.ports import PayoutRail, PayoutRepository
from soko.people.kyc import TierLimits
from soko.people.ports import PeopleRepository, PinHasher


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
    credit: CreditRepository
    fx: FxRepository
    deposits: DepositRepository

    def commit(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class SaleSweep(Protocol):
    """Credit's share of a merchant's sale (`soko.credit.service.repay_from_sale`): the
    transfers that repay the merchant's open loan, recorded with the sale's own."""

    def __call__(
        self,
        uow: UnitOfWork,
        ctx: Context,
        *,
        loan_id: str,
        wallet_account_id: str,
        sale_minor: int,
        payment_id: str,
    ) -> list[TransferRequest]: ...


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
    #: The operator's pricing and limits (defaults from payments/fees.py and kernel/limits.py).
    tariff: Mapping[tuple[str, FeeKind], FeeTable]
    #: Merchant discount rates by (currency, merchant category or "*").
    merchant_rates: Mapping[tuple[str, str], MerchantRate]
    kyc_limits: Mapping[str, Mapping[int, TierLimits]]
    #: The countries (ISO 3166) whose numbers the operator serves: registers, and sends to.
    countries: frozenset[str]
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
    #: None: each outbox's default in kernel/limits.py.
    outbox_lease_seconds: int | None
    #: Outbound gateways for the outbox: webhook POSTs and SMS (chosen in bootstrap.py).
    webhook_sender: WebhookSender
    sms_sender: SmsSender
    #: Escrow's answer to a tracking step (`soko.escrow.service.apply_carrier_step_in`): tracking
    #: reports a step and escrow applies it, so tracking never imports escrow's use cases.
    apply_carrier_step: Callable[[UnitOfWork, Context, str, EscrowAction], bool]
    #: The operator's scorecard and repayment rules (SOKO_CREDIT_*).
    credit: CreditPolicy
    #: Credit's sweep of a sale, called by payments only for a merchant with an open loan.
    repay_from_sale: SaleSweep
    #: The operator's FX settings (SOKO_FX_*): pivot, corridors, rate age, quote lifetime. No
    #: corridor by default: no conversion is offered until the operator opens one.
    fx: FxPolicy
    #: The operator's M-Pesa short code and Daraja client (SOKO_MPESA_*); None: M-Pesa is off.
    mpesa: Mpesa | None = None


def noop_backoff(attempt: int) -> None:
    """No wait between retries: for tests and single-threaded tools."""
