"""What credit's use cases need from storage: a merchant's sales read off the payments by index,
decisions, offers, loans and their repayments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from soko.credit.domain import Loan, LoanRepayment, LoanStatus, OfferStatus, StoredOffer


@dataclass(frozen=True, slots=True)
class DaySales:
    """A day's merchant payments into one wallet: `day` counts days since 1970-01-01 (UTC)."""

    day: int
    sales_minor: int
    sales_count: int
    refunded_minor: int


@dataclass(frozen=True, slots=True)
class SalesWindow:
    """What the features are computed from, for one merchant and window: read in one statement."""

    #: The wallet's merchant and escrow payments per UTC day in the window, by day.
    days: list[DaySales]
    #: Disputes opened against the seller's escrow orders in the window, per UTC day.
    disputes: dict[int, int]
    #: Payers into the wallet in the window, and those who paid more than once.
    distinct_payers: int
    repeat_payers: int
    #: The UTC day (since 1970-01-01) of the wallet's first sale ever; None before any.
    first_sale_day: int | None
    #: The merchant's record with Soko credit: loans repaid, loans late, most days late.
    loans_repaid: int
    loans_late: int
    max_days_past_due: int


@dataclass(frozen=True, slots=True)
class SweepTerms:
    """What a sale's sweep reads of its locked loan, and no more (it runs in every sale)."""

    currency: str
    status: LoanStatus
    withhold_bps: int
    principal_outstanding_minor: int
    fee_outstanding_minor: int

    @property
    def outstanding_minor(self) -> int:
        return self.principal_outstanding_minor + self.fee_outstanding_minor


@dataclass(frozen=True, slots=True)
class StoredDecision:
    id: str
    merchant_id: str
    currency: str
    scorecard_version: str
    score: int
    grade: str
    offered: bool
    #: Decision.as_record() as JSON: features, points, reasons, improvements.
    record: str
    created_at: datetime


class CreditRepository(Protocol):
    # --- what the features are computed from: each bounded by the 91-day window ---------------

    def window(
        self, wallet_id: str | None, merchant_id: str, since: datetime, until: datetime
    ) -> SalesWindow:
        """The merchant's sales into the wallet (none if None) in [since, until), its disputes
        and its loan record, in one read."""
        ...

    # --- decisions and offers --------------------------------------------------------------

    def insert_decision(self, decision: StoredDecision) -> None: ...

    def get_decision(self, decision_id: str) -> StoredDecision | None: ...

    def latest_decision(self, merchant_id: str) -> StoredDecision | None: ...

    def insert_offer(self, offer: StoredOffer) -> None: ...

    def get_offer(self, offer_id: str, *, lock: bool = False) -> StoredOffer | None: ...

    def open_offers(self, merchant_id: str) -> list[StoredOffer]: ...

    def set_offer_status(self, offer_id: str, old: OfferStatus, new: OfferStatus) -> bool:
        """Move the offer from `old` to `new`; False if it was no longer `old`."""
        ...

    # --- loans and repayments --------------------------------------------------------------

    def insert_loan(self, loan: Loan) -> None:
        """Raises `TransientConflict` if a loan took the same offer meanwhile."""
        ...

    def get_loan(self, loan_id: str, *, lock: bool = False) -> Loan | None: ...

    def lock_sweep_terms(self, loan_id: str) -> SweepTerms | None:
        """Lock the loan (FOR UPDATE on PostgreSQL) and read what a sale's sweep needs of it."""
        ...

    def record_sweep(self, repayment: LoanRepayment) -> None:
        """Add a sweep's parts to its locked loan's repaid amounts, and store the repayment.

        Only for a sweep that leaves the loan open: one that closes it goes through
        `update_loan`, which also stores the status. Both writes may wait for the COMMIT: the
        rest of the transaction must not read them back."""
        ...

    def update_loan(self, loan: Loan) -> None:
        """Store the loan's repaid amounts, fees, lateness and status (it is locked)."""
        ...

    def list_loans(
        self,
        *,
        merchant_id: str | None,
        status: LoanStatus | None,
        limit: int,
        before: str | None = None,
    ) -> list[Loan]:
        """Newest first; `before` is a loan id (the cursor of the previous page)."""
        ...

    def active_loan_ids(self, limit: int, after: str | None = None) -> list[str]:
        """Active loans by id, for the worker's bounded batches."""
        ...

    def insert_repayment(self, repayment: LoanRepayment) -> None: ...

    def list_repayments(self, loan_id: str, limit: int) -> list[LoanRepayment]: ...

    def outstanding_principal_by_currency(self) -> dict[str, int]:
        """Principal lent and not yet repaid over active loans: what loans_receivable holds."""
        ...

    def all_loans(self, limit: int) -> Sequence[Loan]:
        """Every loan, for the portfolio report (bounded)."""
        ...
