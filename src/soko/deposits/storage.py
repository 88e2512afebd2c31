"""M-Pesa's rows in SQL: deposits with the worker's leased claims, C2B payments, reversals and
receipts, every state change conditional on the state it leaves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from soko.deposits.domain import (
    IN_FLIGHT,
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
from soko.deposits.tables import (
    mpesa_c2b_payments,
    mpesa_deposits,
    mpesa_receipts,
    mpesa_reversals,
    mpesa_statement_credits,
    mpesa_status_checks,
)
from soko.kernel.ports import TransientConflict


class SqlDepositRepository:
    def __init__(self, connection: Connection, *, row_locks: bool) -> None:
        self._conn = connection
        self._row_locks = row_locks

    def _locked(self, query: sa.Select[Any], lock: bool) -> sa.Select[Any]:
        return query.with_for_update() if lock and self._row_locks else query

    def _insert(self, statement: sa.Insert, values: dict[str, Any]) -> None:
        try:
            self._conn.execute(statement, values)
        except sa.exc.IntegrityError as error:
            # The same M-Pesa transaction recorded by another transaction at the same moment
            # (a callback twice at once): retrying the whole use case finds it recorded.
            raise TransientConflict(f"{statement.table} row recorded concurrently") from error

    # --- deposits ---

    def insert_deposit(self, deposit: Deposit) -> None:
        self._conn.execute(mpesa_deposits.insert(), _deposit_values(deposit))

    def get_deposit(self, deposit_id: str, *, lock: bool = False) -> Deposit | None:
        query = sa.select(mpesa_deposits).where(mpesa_deposits.c.id == deposit_id)
        row = self._conn.execute(self._locked(query, lock)).first()
        return None if row is None else _deposit(row)

    def deposit_by_checkout(self, checkout_request_id: str, *, lock: bool) -> Deposit | None:
        query = sa.select(mpesa_deposits).where(
            mpesa_deposits.c.checkout_request_id == checkout_request_id
        )
        row = self._conn.execute(self._locked(query, lock)).first()
        return None if row is None else _deposit(row)

    def claim_due_deposits(self, now: datetime, lease_until: datetime, limit: int) -> list[Deposit]:
        query = (
            sa.select(mpesa_deposits)
            .where(
                mpesa_deposits.c.next_check_at.is_not(None),
                mpesa_deposits.c.next_check_at <= now,
            )
            .order_by(mpesa_deposits.c.next_check_at, mpesa_deposits.c.id)
            .limit(limit)
        )
        if self._row_locks:
            # Two workers take disjoint batches; SQLite's writers run one at a time anyway.
            query = query.with_for_update(skip_locked=True)
        claimed = [_deposit(row) for row in self._conn.execute(query)]
        if claimed:
            self._conn.execute(
                mpesa_deposits.update()
                .where(mpesa_deposits.c.id.in_([deposit.id for deposit in claimed]))
                .values(next_check_at=lease_until)
            )
        assert all(deposit.state in IN_FLIGHT for deposit in claimed), claimed
        return claimed

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
        values: dict[str, Any] = {
            "state": state.value,
            "updated_at": now,
            "next_check_at": next_check_at,
        }
        optional = {
            "checkout_request_id": checkout_request_id,
            "merchant_request_id": merchant_request_id,
            "receipt": receipt,
            "outcome": None if outcome is None else outcome.value,
            "result_code": result_code,
            "result_desc": result_desc,
            "transfer_id": transfer_id,
            "queries": queries,
        }
        values.update({name: value for name, value in optional.items() if value is not None})
        # The state in the WHERE is the guard: of a callback and a worker settling one deposit
        # at once, the second waits for the first's row lock, then matches nothing.
        result = self._conn.execute(
            mpesa_deposits.update()
            .where(mpesa_deposits.c.id == deposit_id, mpesa_deposits.c.state == expected.value)
            .values(values)
        )
        return result.rowcount == 1

    def deposit_by_reference(self, shortcode: str, account_reference: str) -> Deposit | None:
        query = sa.select(mpesa_deposits).where(
            mpesa_deposits.c.shortcode == shortcode,
            mpesa_deposits.c.account_reference == account_reference,
        )
        rows = self._conn.execute(query).all()
        # A reference shared by two deposits (12 random characters: never, in practice) is
        # nobody's: the operator assigns it.
        return _deposit(rows[0]) if len(rows) == 1 else None

    def set_deposit_receipt(self, deposit_id: str, receipt: str, now: datetime) -> bool:
        result = self._conn.execute(
            mpesa_deposits.update()
            .where(
                mpesa_deposits.c.id == deposit_id,
                mpesa_deposits.c.state == DepositState.PAID.value,
                mpesa_deposits.c.receipt.is_(None),
            )
            .values(receipt=receipt, updated_at=now)
        )
        return result.rowcount == 1

    def paid_deposits_without_receipt(self, shortcode: str) -> list[Deposit]:
        query = sa.select(mpesa_deposits).where(
            mpesa_deposits.c.shortcode == shortcode,
            mpesa_deposits.c.state == DepositState.PAID.value,
            mpesa_deposits.c.receipt.is_(None),
        )
        return [_deposit(row) for row in self._conn.execute(query)]

    def unpushed_deposit_for(self, shortcode: str, phone: str, amount: int) -> Deposit | None:
        query = (
            sa.select(mpesa_deposits)
            .where(
                mpesa_deposits.c.shortcode == shortcode,
                mpesa_deposits.c.phone == phone,
                mpesa_deposits.c.amount == amount,
                mpesa_deposits.c.checkout_request_id.is_(None),
                mpesa_deposits.c.state.in_(
                    [DepositState.INITIATED.value, DepositState.UNKNOWN.value]
                ),
            )
            .order_by(mpesa_deposits.c.id)
            .limit(1)
        )
        row = self._conn.execute(query).first()
        return None if row is None else _deposit(row)

    # --- receipts ---

    def insert_receipt(self, receipt: Receipt, now: datetime) -> bool:
        if self.get_receipt(receipt.receipt) is not None:
            return False
        self._insert(
            mpesa_receipts.insert(),
            {
                "receipt": receipt.receipt,
                "kind": receipt.kind,
                "direction": receipt.direction,
                "amount": receipt.amount,
                "shortcode": receipt.shortcode,
                "transfer_id": receipt.transfer_id,
                "source_id": receipt.source_id,
                "created_at": now,
            },
        )
        return True

    def get_receipt(self, receipt: str) -> Receipt | None:
        row = self._conn.execute(
            sa.select(mpesa_receipts).where(mpesa_receipts.c.receipt == receipt)
        ).first()
        return None if row is None else _receipt(row)

    def receipts(self, shortcode: str) -> list[Receipt]:
        query = (
            sa.select(mpesa_receipts)
            .where(mpesa_receipts.c.shortcode == shortcode)
            .order_by(mpesa_receipts.c.receipt)
        )
        return [_receipt(row) for row in self._conn.execute(query)]

    # --- C2B ---

    def insert_c2b(self, payment: C2BPayment) -> None:
        self._insert(
            mpesa_c2b_payments.insert(),
            {
                "trans_id": payment.trans_id,
                "shortcode": payment.shortcode,
                "bill_ref_number": payment.bill_ref_number,
                "msisdn": payment.msisdn,
                "amount": payment.amount,
                "currency": payment.currency,
                "state": payment.state.value,
                "user_id": payment.user_id,
                "transfer_id": payment.transfer_id,
                "paid_at": payment.paid_at,
                "created_at": payment.created_at,
            },
        )

    def get_c2b(self, trans_id: str, *, lock: bool = False) -> C2BPayment | None:
        query = sa.select(mpesa_c2b_payments).where(mpesa_c2b_payments.c.trans_id == trans_id)
        row = self._conn.execute(self._locked(query, lock)).first()
        if row is None:
            return None
        return C2BPayment(
            trans_id=row.trans_id,
            shortcode=row.shortcode,
            bill_ref_number=row.bill_ref_number,
            msisdn=row.msisdn,
            amount=row.amount,
            currency=row.currency,
            state=C2BState(row.state),
            user_id=row.user_id,
            transfer_id=row.transfer_id,
            paid_at=row.paid_at,
            created_at=row.created_at,
        )

    def update_c2b(
        self,
        trans_id: str,
        expected: C2BState,
        *,
        state: C2BState,
        user_id: str | None = None,
    ) -> bool:
        values: dict[str, Any] = {"state": state.value}
        if user_id is not None:
            values["user_id"] = user_id
        result = self._conn.execute(
            mpesa_c2b_payments.update()
            .where(
                mpesa_c2b_payments.c.trans_id == trans_id,
                mpesa_c2b_payments.c.state == expected.value,
            )
            .values(values)
        )
        return result.rowcount == 1

    # --- reversals ---

    def insert_reversal(self, reversal: Reversal) -> None:
        self._conn.execute(mpesa_reversals.insert(), _reversal_values(reversal))

    def get_reversal(self, reversal_id: str, *, lock: bool = False) -> Reversal | None:
        query = sa.select(mpesa_reversals).where(mpesa_reversals.c.id == reversal_id)
        row = self._conn.execute(self._locked(query, lock)).first()
        return None if row is None else _reversal(row)

    def reversal_by_conversation(
        self, originator_conversation_id: str, conversation_id: str, *, lock: bool
    ) -> Reversal | None:
        conditions = [mpesa_reversals.c.originator_conversation_id == originator_conversation_id]
        if conversation_id:
            conditions.append(mpesa_reversals.c.conversation_id == conversation_id)
        query = sa.select(mpesa_reversals).where(sa.or_(*conditions))
        row = self._conn.execute(self._locked(query, lock)).first()
        return None if row is None else _reversal(row)

    def open_reversal_for(self, receipt: str) -> Reversal | None:
        query = sa.select(mpesa_reversals).where(
            mpesa_reversals.c.receipt == receipt,
            mpesa_reversals.c.state.in_(
                [ReversalState.REQUESTED.value, ReversalState.UNKNOWN.value]
            ),
        )
        row = self._conn.execute(query).first()
        return None if row is None else _reversal(row)

    def reversal_done_for(self, receipt: str) -> bool:
        query = sa.select(mpesa_reversals.c.id).where(
            mpesa_reversals.c.receipt == receipt,
            mpesa_reversals.c.state == ReversalState.REVERSED.value,
        )
        return self._conn.execute(query).first() is not None

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
    ) -> bool:
        values: dict[str, Any] = {"state": state.value, "updated_at": now}
        optional = {
            "originator_conversation_id": originator_conversation_id,
            "conversation_id": conversation_id,
            "result_code": result_code,
            "result_desc": result_desc,
            "reversal_receipt": reversal_receipt,
            "transfer_id": transfer_id,
        }
        values.update({name: value for name, value in optional.items() if value is not None})
        result = self._conn.execute(
            mpesa_reversals.update()
            .where(mpesa_reversals.c.id == reversal_id, mpesa_reversals.c.state == expected.value)
            .values(values)
        )
        return result.rowcount == 1

    # --- transaction status checks ---

    def insert_check(self, check: StatusCheck) -> None:
        self._insert(
            mpesa_status_checks.insert(),
            {
                "kind": check.kind.value,
                "subject": check.subject,
                "transaction_id": check.transaction_id,
                "state": check.state.value,
                "query_id": check.query_id,
                "queries": check.queries,
                "next_check_at": check.next_check_at,
                "amount": check.amount,
                "shortcode": check.shortcode,
                "bill_ref_number": check.bill_ref_number,
                "msisdn": check.msisdn,
                "paid_at": check.paid_at,
                "created_at": check.created_at,
                "updated_at": check.updated_at,
            },
        )

    def get_check(self, kind: CheckKind, subject: str, *, lock: bool = False) -> StatusCheck | None:
        query = sa.select(mpesa_status_checks).where(
            mpesa_status_checks.c.kind == kind.value, mpesa_status_checks.c.subject == subject
        )
        row = self._conn.execute(self._locked(query, lock)).first()
        return None if row is None else _check(row)

    def check_by_query(self, kind: CheckKind, query_id: str) -> StatusCheck | None:
        query = sa.select(mpesa_status_checks).where(
            mpesa_status_checks.c.kind == kind.value, mpesa_status_checks.c.query_id == query_id
        )
        row = self._conn.execute(query).first()
        return None if row is None else _check(row)

    def claim_due_checks(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[StatusCheck]:
        query = (
            sa.select(mpesa_status_checks)
            .where(
                mpesa_status_checks.c.next_check_at.is_not(None),
                mpesa_status_checks.c.next_check_at <= now,
            )
            .order_by(mpesa_status_checks.c.next_check_at, mpesa_status_checks.c.subject)
            .limit(limit)
        )
        if self._row_locks:
            query = query.with_for_update(skip_locked=True)
        claimed = [_check(row) for row in self._conn.execute(query)]
        for check in claimed:
            self._conn.execute(
                mpesa_status_checks.update()
                .where(
                    mpesa_status_checks.c.kind == check.kind.value,
                    mpesa_status_checks.c.subject == check.subject,
                )
                .values(next_check_at=lease_until)
            )
        return claimed

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
    ) -> bool:
        """Moves an open check (only an open one: the WHERE is the guard)."""
        values: dict[str, Any] = {
            "state": state.value,
            "updated_at": now,
            "next_check_at": next_check_at,
        }
        if query_id is not None:
            values["query_id"] = query_id
        if queries is not None:
            values["queries"] = queries
        result = self._conn.execute(
            mpesa_status_checks.update()
            .where(
                mpesa_status_checks.c.kind == kind.value,
                mpesa_status_checks.c.subject == subject,
                mpesa_status_checks.c.state == CheckState.OPEN.value,
            )
            .values(values)
        )
        return result.rowcount == 1

    # --- credits from the statement ---

    def insert_statement_credit(self, credit: StatementCredit) -> None:
        self._insert(
            mpesa_statement_credits.insert(),
            {
                "receipt": credit.receipt,
                "kind": credit.kind,
                "source_id": credit.source_id,
                "amount": credit.amount,
                "account_number": credit.account_number,
                "statement_sha256": credit.statement_sha256,
                "credited_by": credit.credited_by,
                "reason": credit.reason,
                "transfer_id": credit.transfer_id,
                "created_at": credit.created_at,
            },
        )

    def get_statement_credit(self, receipt: str) -> StatementCredit | None:
        query = sa.select(mpesa_statement_credits).where(
            mpesa_statement_credits.c.receipt == receipt
        )
        row = self._conn.execute(query).first()
        if row is None:
            return None
        return StatementCredit(
            receipt=row.receipt,
            kind=row.kind,
            source_id=row.source_id,
            amount=row.amount,
            account_number=row.account_number,
            statement_sha256=row.statement_sha256,
            credited_by=row.credited_by,
            reason=row.reason,
            transfer_id=row.transfer_id,
            created_at=row.created_at,
        )


def _check(row: Row[Any]) -> StatusCheck:
    return StatusCheck(
        kind=CheckKind(row.kind),
        subject=row.subject,
        transaction_id=row.transaction_id,
        state=CheckState(row.state),
        query_id=row.query_id,
        queries=row.queries,
        next_check_at=row.next_check_at,
        amount=row.amount,
        shortcode=row.shortcode,
        bill_ref_number=row.bill_ref_number,
        msisdn=row.msisdn,
        paid_at=row.paid_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _deposit_values(deposit: Deposit) -> dict[str, Any]:
    return {
        "id": deposit.id,
        "user_id": deposit.user_id,
        "wallet_id": deposit.wallet_id,
        "shortcode": deposit.shortcode,
        "phone": deposit.phone,
        "amount": deposit.amount,
        "currency": deposit.currency,
        "account_reference": deposit.account_reference,
        "state": deposit.state.value,
        "checkout_request_id": deposit.checkout_request_id,
        "merchant_request_id": deposit.merchant_request_id,
        "receipt": deposit.receipt,
        "outcome": None if deposit.outcome is None else deposit.outcome.value,
        "result_code": deposit.result_code,
        "result_desc": deposit.result_desc,
        "transfer_id": deposit.transfer_id,
        "queries": deposit.queries,
        "next_check_at": deposit.next_check_at,
        "created_at": deposit.created_at,
        "updated_at": deposit.updated_at,
    }


def _deposit(row: Row[Any]) -> Deposit:
    return Deposit(
        id=row.id,
        user_id=row.user_id,
        wallet_id=row.wallet_id,
        shortcode=row.shortcode,
        phone=row.phone,
        amount=row.amount,
        currency=row.currency,
        account_reference=row.account_reference,
        state=DepositState(row.state),
        checkout_request_id=row.checkout_request_id,
        merchant_request_id=row.merchant_request_id,
        receipt=row.receipt,
        outcome=None if row.outcome is None else DepositOutcome(row.outcome),
        result_code=row.result_code,
        result_desc=row.result_desc,
        transfer_id=row.transfer_id,
        queries=row.queries,
        next_check_at=row.next_check_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _receipt(row: Row[Any]) -> Receipt:
    return Receipt(
        receipt=row.receipt,
        kind=row.kind,
        direction=row.direction,
        amount=row.amount,
        shortcode=row.shortcode,
        transfer_id=row.transfer_id,
        source_id=row.source_id,
    )


def _reversal_values(reversal: Reversal) -> dict[str, Any]:
    return {
        "id": reversal.id,
        "receipt": reversal.receipt,
        "amount": reversal.amount,
        "currency": reversal.currency,
        "state": reversal.state.value,
        "originator_conversation_id": reversal.originator_conversation_id,
        "conversation_id": reversal.conversation_id,
        "result_code": reversal.result_code,
        "result_desc": reversal.result_desc,
        "reversal_receipt": reversal.reversal_receipt,
        "hold_id": reversal.hold_id,
        "transfer_id": reversal.transfer_id,
        "created_at": reversal.created_at,
        "updated_at": reversal.updated_at,
    }


def _reversal(row: Row[Any]) -> Reversal:
    return Reversal(
        id=row.id,
        receipt=row.receipt,
        amount=row.amount,
        currency=row.currency,
        state=ReversalState(row.state),
        originator_conversation_id=row.originator_conversation_id,
        conversation_id=row.conversation_id,
        result_code=row.result_code,
        result_desc=row.result_desc,
        reversal_receipt=row.reversal_receipt,
        hold_id=row.hold_id,
        transfer_id=row.transfer_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
