"""Payouts in SQL: insert, read, page, and the worker's leased claims and conditional updates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from soko.payouts.domain import (
    IN_FLIGHT,
    BankAccount,
    Destination,
    MobileMoney,
    Payout,
    PayoutState,
)
from soko.payouts.tables import payouts


class SqlPayoutRepository:
    def __init__(self, connection: Connection, *, row_locks: bool) -> None:
        self._conn = connection
        self._row_locks = row_locks

    def insert(self, payout: Payout) -> None:
        self._conn.execute(payouts.insert(), _values(payout))

    def get(self, payout_id: str) -> Payout | None:
        row = self._conn.execute(sa.select(payouts).where(payouts.c.id == payout_id)).first()
        return None if row is None else _payout(row)

    def list_for(
        self, merchant_id: str | None, *, limit: int, before_id: str | None
    ) -> list[Payout]:
        query = sa.select(payouts).order_by(payouts.c.id.desc()).limit(limit)
        if merchant_id is not None:
            query = query.where(payouts.c.merchant_id == merchant_id)
        if before_id is not None:
            query = query.where(payouts.c.id < before_id)
        return [_payout(row) for row in self._conn.execute(query)]

    def claim_due(
        self, rail: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Payout]:
        query = (
            sa.select(payouts)
            .where(
                payouts.c.next_attempt_at.is_not(None),
                payouts.c.next_attempt_at <= now,
                payouts.c.rail == rail,
            )
            .order_by(payouts.c.next_attempt_at, payouts.c.id)
            .limit(limit)
        )
        if self._row_locks:
            # Two workers claiming at once take disjoint batches and never wait on each other.
            # SQLite needs nothing: its writers run one at a time (BEGIN IMMEDIATE).
            query = query.with_for_update(skip_locked=True)
        claimed = [_payout(row) for row in self._conn.execute(query)]
        if claimed:
            self._conn.execute(
                payouts.update()
                .where(payouts.c.id.in_([payout.id for payout in claimed]))
                .values(next_attempt_at=lease_until)
            )
        assert all(payout.state in IN_FLIGHT for payout in claimed), claimed
        return claimed

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
        values: dict[str, Any] = {
            "state": state.value,
            "updated_at": now,
            "next_attempt_at": next_attempt_at,
        }
        if rail_reference is not None:
            values["rail_reference"] = rail_reference
        if polls is not None:
            values["polls"] = polls
        if rail_errors is not None:
            values["rail_errors"] = rail_errors
        if failure_reason is not None:
            values["failure_reason"] = failure_reason
        # The state in the WHERE is the guard: of two workers settling one payout, the second
        # waits for the first's row lock (PostgreSQL) or write lock (SQLite), then matches
        # nothing.
        result = self._conn.execute(
            payouts.update()
            .where(payouts.c.id == payout_id, payouts.c.state == expected.value)
            .values(values)
        )
        return result.rowcount == 1


def _values(payout: Payout) -> dict[str, Any]:
    destination = payout.destination
    bank = destination if isinstance(destination, BankAccount) else None
    return {
        "id": payout.id,
        "merchant_id": payout.merchant_id,
        "wallet_id": payout.wallet_id,
        "currency": payout.currency,
        "amount": payout.amount,
        "fee": payout.fee,
        "destination_kind": destination.kind,
        "bank_code": None if bank is None else bank.bank_code,
        "account_number": None if bank is None else bank.account_number,
        "account_name": None if bank is None else bank.account_name,
        "phone": destination.phone if isinstance(destination, MobileMoney) else None,
        "state": payout.state.value,
        "rail": payout.rail,
        "rail_reference": payout.rail_reference,
        "hold_id": payout.hold_id,
        "fee_hold_id": payout.fee_hold_id,
        "failure_reason": payout.failure_reason,
        "polls": payout.polls,
        "rail_errors": payout.rail_errors,
        "next_attempt_at": payout.next_attempt_at,
        "created_at": payout.created_at,
        "updated_at": payout.updated_at,
    }


def _payout(row: Row[Any]) -> Payout:
    destination: Destination
    if row.destination_kind == "bank_account":
        destination = BankAccount(row.bank_code, row.account_number, row.account_name)
    else:
        destination = MobileMoney(row.phone)
    return Payout(
        id=row.id,
        merchant_id=row.merchant_id,
        wallet_id=row.wallet_id,
        currency=row.currency,
        amount=row.amount,
        fee=row.fee,
        destination=destination,
        state=PayoutState(row.state),
        rail=row.rail,
        rail_reference=row.rail_reference,
        hold_id=row.hold_id,
        fee_hold_id=row.fee_hold_id,
        failure_reason=row.failure_reason,
        polls=row.polls,
        rail_errors=row.rail_errors,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
