"""Payout rails: the sandbox stand-in for a bank or mobile-money API, and the crash injector.

The sandbox keeps its own books in its own table (`sandbox_rail_payouts`), written in short
transactions of its own and never inside ours: like a real bank, it remembers what it was sent
even when the worker that sent it is killed before recording the answer. Its rules, for demos
and tests:

- A payout completes `seconds` after it was first submitted, by the injected clock.
- It fails when the bank account number or the phone number ends in ``0000``, and is paid
  otherwise.
- Submitting the same payout id again returns the first reference and pays nothing more (it
  counts the submissions, so tests can see a resubmission).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from soko.db.engine import READ_ONLY_OPTION
from soko.kernel.ports import Clock, IdGenerator
from soko.ledger.chart import AccountCode
from soko.payouts.domain import BankAccount, Destination, RailOutcome, RailStatus
from soko.payouts.ports import PayoutRail, PayoutRailUnavailable
from soko.payouts.tables import sandbox_rail_payouts as books

#: Destinations ending in this fail in the sandbox.
FAILING_SUFFIX: Final = "0000"
#: The exit status of a process killed with SIGKILL, which a fault imitates.
KILLED_EXIT_STATUS: Final = 137


class SandboxPayoutRail:
    """A payout rail that pays (or fails) by its documented rules, a set time after submission."""

    name = "sandbox"
    ledger_account: tuple[AccountCode, str | None] = (AccountCode.SETTLEMENT, None)

    def __init__(self, engine: Engine, clock: Clock, ids: IdGenerator, *, seconds: int) -> None:
        assert seconds >= 0, seconds
        self._engine = engine
        self._clock = clock
        self._ids = ids
        self._delay = timedelta(seconds=seconds)

    def submit(self, payout_id: str, amount: int, currency: str, destination: Destination) -> str:
        described = _describe(destination)
        try:
            return self._submit(payout_id, amount, currency, destination, described)
        except sa.exc.IntegrityError:
            # Two submissions of one payout raced and the other inserted first: it is ours too.
            return self._submit(payout_id, amount, currency, destination, described)
        except sa.exc.DBAPIError as error:
            raise PayoutRailUnavailable(f"sandbox rail: {error.orig}") from error

    def _submit(
        self, payout_id: str, amount: int, currency: str, destination: Destination, described: str
    ) -> str:
        now = self._clock.now()
        with self._engine.begin() as connection:
            found = connection.execute(
                sa.select(books).where(books.c.payout_id == payout_id)
            ).first()
            if found is not None:
                # A real rail refuses a reused idempotency key with another body; ours never
                # sends one, because a payout never changes.
                assert (found.amount, found.currency, found.destination) == (
                    amount,
                    currency,
                    described,
                ), (payout_id, found)
                connection.execute(
                    books.update()
                    .where(books.c.reference == found.reference)
                    .values(submissions=books.c.submissions + 1)
                )
                reference: str = found.reference
                return reference
            fails = _number(destination).endswith(FAILING_SUFFIX)
            reference = self._ids.new("sbx")
            connection.execute(
                books.insert(),
                {
                    "reference": reference,
                    "payout_id": payout_id,
                    "amount": amount,
                    "currency": currency,
                    "destination": described,
                    "outcome": RailOutcome.FAILED.value if fails else RailOutcome.PAID.value,
                    "reason": _failure_reason(destination) if fails else None,
                    "submissions": 1,
                    "submitted_at": now,
                    "completes_at": now + self._delay,
                },
            )
            return reference

    def status(self, reference: str) -> RailStatus:
        try:
            with self._engine.connect() as connection:
                connection.execution_options(**{READ_ONLY_OPTION: True})
                with connection.begin():
                    found = connection.execute(
                        sa.select(books).where(books.c.reference == reference)
                    ).first()
        except sa.exc.DBAPIError as error:
            raise PayoutRailUnavailable(f"sandbox rail: {error.orig}") from error
        # We only ask about references the rail gave us: an unknown one is a bug, not a status.
        assert found is not None, f"sandbox rail has no payout {reference}"
        if self._clock.now() < found.completes_at:
            return RailStatus(RailOutcome.PENDING)
        return RailStatus(RailOutcome(found.outcome), found.reason)


class CrashingPayoutRail:
    """Tests only (SOKO_FAULT): kills the process right after the rail answered, before the
    worker can record the answer, as a power cut or an OOM kill would."""

    def __init__(self, inner: PayoutRail, fault: str) -> None:
        assert fault in ("payout_after_submit", "payout_after_outcome"), fault
        self._inner = inner
        self._fault = fault
        self.name = inner.name
        self.ledger_account = inner.ledger_account

    def submit(self, payout_id: str, amount: int, currency: str, destination: Destination) -> str:
        reference = self._inner.submit(payout_id, amount, currency, destination)
        if self._fault == "payout_after_submit":
            os._exit(KILLED_EXIT_STATUS)
        return reference

    def status(self, reference: str) -> RailStatus:
        status = self._inner.status(reference)
        if self._fault == "payout_after_outcome" and status.outcome is not RailOutcome.PENDING:
            os._exit(KILLED_EXIT_STATUS)
        return status


def _number(destination: Destination) -> str:
    if isinstance(destination, BankAccount):
        return destination.account_number
    return destination.phone


def _describe(destination: Destination) -> str:
    if isinstance(destination, BankAccount):
        return f"bank:{destination.bank_code}:{destination.account_number}"
    return f"mobile:{destination.phone}"


def _failure_reason(destination: Destination) -> str:
    if isinstance(destination, BankAccount):
        return "account closed (sandbox: account numbers ending 0000 fail)"
    return "number not registered for mobile money (sandbox: numbers ending 0000 fail)"
