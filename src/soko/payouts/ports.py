"""What payouts need from storage and from a payout rail."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from soko.kernel.ports import GatewayFailed
from soko.ledger.chart import AccountCode
from soko.payouts.domain import Destination, Payout, PayoutState, RailStatus


class PayoutRailUnavailable(GatewayFailed):
    """The payout rail did not answer, or answered with an error: ask again later, with the same
    payout id. Not a DomainError: nothing is wrong with the payout, and no caller sees it."""


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
    """A bank or mobile-money network that pays money out (payouts/rails/sandbox.py)."""

    #: Stored on each payout: a payout is always finished by the rail that took it.
    name: str
    #: The system account a payout's hold credits, as the money leaves it: settlement for a
    #: bank, the M-Pesa float of its short code (code, qualifier) for M-Pesa.
    ledger_account: tuple[AccountCode, str | None]

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
