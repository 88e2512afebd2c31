"""Refunds and payment requests in SQL, and the refund totals kept on each payment."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from soko.kernel.ports import TransientConflict
from soko.payments.domain import Payment, PaymentRequest, PaymentRequestStatus, Refund
from soko.payments.tables import payment_requests, payments, refunds
from soko.people.storage import payment_from_row


class SqlMerchantPaymentsRepository:
    def __init__(self, connection: Connection, *, row_locks: bool) -> None:
        self._conn = connection
        self._row_locks = row_locks

    # --- refunds ----------------------------------------------------------------------------

    def lock_payment(self, payment_id: str) -> Payment | None:
        query = sa.select(payments).where(payments.c.id == payment_id)
        if self._row_locks:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else payment_from_row(row)

    def add_refund(self, refund: Refund) -> None:
        self._conn.execute(
            refunds.insert(),
            {
                "id": refund.id,
                "payment_id": refund.payment_id,
                "amount": refund.amount,
                "fee_returned": refund.fee_returned,
                "currency": refund.currency,
                "reason": refund.reason,
                "created_at": refund.created_at,
            },
        )
        # The CHECK constraints (refunded <= amount, fee_refunded <= fee) back the code's own
        # arithmetic: an over-refund fails here even if a bug let it through.
        self._conn.execute(
            payments.update()
            .where(payments.c.id == refund.payment_id)
            .values(
                refunded=payments.c.refunded + refund.amount,
                fee_refunded=payments.c.fee_refunded + refund.fee_returned,
            )
        )

    def list_refunds(self, payment_id: str) -> list[Refund]:
        query = (
            sa.select(refunds)
            .where(refunds.c.payment_id == payment_id)
            .order_by(refunds.c.created_at, refunds.c.id)
        )
        return [_refund(row) for row in self._conn.execute(query)]

    # --- payment requests -------------------------------------------------------------------

    def insert_request(self, request: PaymentRequest) -> None:
        self._conn.execute(
            payment_requests.insert(),
            {
                "id": request.id,
                "merchant_id": request.merchant_id,
                "amount": request.amount,
                "currency": request.currency,
                "reference": request.reference,
                "description": request.description,
                "status": request.stored_status.value,
                "expires_at": request.expires_at,
                "payment_id": request.payment_id,
                "created_at": request.created_at,
            },
        )

    def get_request(self, request_id: str, *, lock: bool = False) -> PaymentRequest | None:
        query = sa.select(payment_requests).where(payment_requests.c.id == request_id)
        if lock and self._row_locks:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _request(row)

    def list_requests(
        self, merchant_id: str, *, limit: int, before_id: str | None
    ) -> list[PaymentRequest]:
        query = sa.select(payment_requests).where(payment_requests.c.merchant_id == merchant_id)
        if before_id is not None:
            # Ids are time-ordered: "older than the cursor" is "smaller id".
            query = query.where(payment_requests.c.id < before_id)
        query = query.order_by(payment_requests.c.id.desc()).limit(limit)
        return [_request(row) for row in self._conn.execute(query)]

    def set_request_status(
        self, request_id: str, status: PaymentRequestStatus, payment_id: str | None = None
    ) -> None:
        assert status in (PaymentRequestStatus.PAID, PaymentRequestStatus.CANCELLED), status
        result = self._conn.execute(
            payment_requests.update()
            .where(
                payment_requests.c.id == request_id,
                payment_requests.c.status == PaymentRequestStatus.OPEN.value,
            )
            .values(status=status.value, payment_id=payment_id)
        )
        if result.rowcount != 1:
            raise TransientConflict(f"payment request {request_id} changed concurrently")


def _refund(row: Row[Any]) -> Refund:
    return Refund(
        id=row.id,
        payment_id=row.payment_id,
        currency=row.currency,
        amount=row.amount,
        fee_returned=row.fee_returned,
        reason=row.reason,
        created_at=row.created_at,
    )


def _request(row: Row[Any]) -> PaymentRequest:
    return PaymentRequest(
        id=row.id,
        merchant_id=row.merchant_id,
        currency=row.currency,
        amount=row.amount,
        reference=row.reference,
        description=row.description,
        stored_status=PaymentRequestStatus(row.status),
        expires_at=row.expires_at,
        payment_id=row.payment_id,
        created_at=row.created_at,
    )
