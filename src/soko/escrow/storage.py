"""Escrow orders and their disputes in SQL."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from soko.escrow.domain import (
    HOLDING,
    Deadlines,
    EscrowAction,
    EscrowDispute,
    EscrowOrder,
    EscrowState,
    OrderItem,
)
from soko.escrow.tables import escrow_disputes, escrow_orders
from soko.escrow.tracking.tables import shipments
from soko.kernel.ports import TransientConflict

# The order's shipment, if shipped, read with the order: a scalar subquery rather than an outer
# join, which PostgreSQL's FOR UPDATE refuses on the nullable side.
_SHIPMENT_ID = (
    sa.select(shipments.c.id)
    .where(shipments.c.order_id == escrow_orders.c.id)
    .scalar_subquery()
    .label("shipment_id")
)
_ORDERS = sa.select(escrow_orders, _SHIPMENT_ID)


class SqlEscrowRepository:
    def __init__(self, connection: Connection, *, row_locks: bool) -> None:
        self._conn = connection
        self._row_locks = row_locks

    # --- orders -----------------------------------------------------------------------------

    def insert_order(self, order: EscrowOrder) -> None:
        values = _order_values(order) | {
            "id": order.id,
            "seller_id": order.seller_id,
            "buyer_id": order.buyer_id,
            "currency": order.currency,
            "amount": order.amount,
            "description": order.description,
            "items": json.dumps([[item.name, item.quantity] for item in order.items]),
            "created_at": order.created_at,
        }
        self._conn.execute(escrow_orders.insert(), values)

    def get_order(self, order_id: str, *, lock: bool = False) -> EscrowOrder | None:
        query = _ORDERS.where(escrow_orders.c.id == order_id)
        if lock and self._row_locks:
            query = query.with_for_update(of=escrow_orders)
        row = self._conn.execute(query).first()
        return None if row is None else _order(row)

    def update_order(self, order: EscrowOrder, *, expected_state: EscrowState) -> None:
        result = self._conn.execute(
            escrow_orders.update()
            .where(
                escrow_orders.c.id == order.id,
                escrow_orders.c.state == expected_state.value,
            )
            .values(_order_values(order))
        )
        if result.rowcount != 1:
            raise TransientConflict(f"escrow order {order.id} moved on concurrently")

    def set_delivery_code(self, order_id: str, code: str) -> None:
        self._conn.execute(
            escrow_orders.update()
            .where(escrow_orders.c.id == order_id)
            .values(delivery_code=code, code_failures=0)
        )

    def delivery_code(self, order_id: str) -> tuple[str | None, str | None]:
        query = sa.select(escrow_orders.c.delivery_code, escrow_orders.c.delivery_code_hash).where(
            escrow_orders.c.id == order_id
        )
        row = self._conn.execute(query).first()
        return (None, None) if row is None else (row.delivery_code, row.delivery_code_hash)

    def count_code_failure(self, order_id: str) -> int:
        self._conn.execute(
            escrow_orders.update()
            .where(escrow_orders.c.id == order_id)
            .values(code_failures=escrow_orders.c.code_failures + 1)
        )
        query = sa.select(escrow_orders.c.code_failures).where(escrow_orders.c.id == order_id)
        return int(self._conn.execute(query).scalar_one())

    def list_orders(self, user_id: str, *, limit: int, before_id: str | None) -> list[EscrowOrder]:
        query = _ORDERS.where(
            sa.or_(escrow_orders.c.buyer_id == user_id, escrow_orders.c.seller_id == user_id)
        )
        if before_id is not None:
            # Ids are time-ordered: "older than the cursor" is "smaller id".
            query = query.where(escrow_orders.c.id < before_id)
        query = query.order_by(escrow_orders.c.id.desc()).limit(limit)
        return [_order(row) for row in self._conn.execute(query)]

    def due_order_ids(self, now: datetime, limit: int) -> list[str]:
        query = (
            sa.select(escrow_orders.c.id)
            .where(escrow_orders.c.timer_due_at.is_not(None), escrow_orders.c.timer_due_at <= now)
            .order_by(escrow_orders.c.timer_due_at, escrow_orders.c.id)
            .limit(limit)
        )
        if self._row_locks:
            # Another worker's orders are its own this tick; each is re-read under its own
            # lock before it moves, so skipping never skips a due order for long.
            query = query.with_for_update(skip_locked=True)
        return list(self._conn.execute(query).scalars())

    def holding_by_currency(self) -> dict[str, int]:
        query = (
            sa.select(escrow_orders.c.currency, sa.func.sum(escrow_orders.c.amount))
            .where(escrow_orders.c.state.in_([state.value for state in HOLDING]))
            .group_by(escrow_orders.c.currency)
        )
        return {currency: int(total) for currency, total in self._conn.execute(query)}

    # --- disputes ---------------------------------------------------------------------------

    def insert_dispute(self, dispute: EscrowDispute) -> None:
        self._conn.execute(
            escrow_disputes.insert(),
            _dispute_values(dispute)
            | {
                "id": dispute.id,
                "order_id": dispute.order_id,
                "reason": dispute.reason,
                "message": dispute.message,
                "evidence": json.dumps(list(dispute.evidence)),
                "opened_at": dispute.opened_at,
            },
        )

    def open_dispute(self, order_id: str) -> EscrowDispute | None:
        query = sa.select(escrow_disputes).where(
            escrow_disputes.c.order_id == order_id, escrow_disputes.c.outcome.is_(None)
        )
        row = self._conn.execute(query).first()
        return None if row is None else _dispute(row)

    def update_dispute(self, dispute: EscrowDispute) -> None:
        self._conn.execute(
            escrow_disputes.update()
            .where(escrow_disputes.c.id == dispute.id)
            .values(_dispute_values(dispute))
        )

    def list_disputes(self, order_id: str) -> list[EscrowDispute]:
        query = (
            sa.select(escrow_disputes)
            .where(escrow_disputes.c.order_id == order_id)
            .order_by(escrow_disputes.c.opened_at, escrow_disputes.c.id)
        )
        return [_dispute(row) for row in self._conn.execute(query)]


def _order_values(order: EscrowOrder) -> dict[str, Any]:
    """The columns an order's moves change."""
    return {
        "state": order.state.value,
        "disputed_from": None if order.disputed_from is None else order.disputed_from.value,
        "disputed_at": order.disputed_at,
        "ship_by": order.deadlines.ship_by,
        "deliver_by": order.deadlines.deliver_by,
        "inspection_ends_at": order.deadlines.inspection_ends,
        "timer_action": None if order.timer_action is None else order.timer_action.value,
        "timer_due_at": order.timer_due_at,
        "hold_id": order.hold_id,
        "released": order.released,
        "fee": order.fee,
        "refunded": order.refunded,
        "updated_at": order.updated_at,
        "fx_quote_id": order.fx_quote_id,
    }


def _order(row: Row[Any]) -> EscrowOrder:
    return EscrowOrder(
        id=row.id,
        seller_id=row.seller_id,
        buyer_id=row.buyer_id,
        currency=row.currency,
        amount=row.amount,
        description=row.description,
        items=tuple(OrderItem(name, quantity) for name, quantity in json.loads(row.items)),
        state=EscrowState(row.state),
        disputed_from=None if row.disputed_from is None else EscrowState(row.disputed_from),
        disputed_at=row.disputed_at,
        deadlines=Deadlines(
            ship_by=row.ship_by, deliver_by=row.deliver_by, inspection_ends=row.inspection_ends_at
        ),
        timer_action=None if row.timer_action is None else EscrowAction(row.timer_action),
        timer_due_at=row.timer_due_at,
        hold_id=row.hold_id,
        code_failures=row.code_failures,
        released=row.released,
        fee=row.fee,
        refunded=row.refunded,
        created_at=row.created_at,
        updated_at=row.updated_at,
        shipment_id=row.shipment_id,
        fx_quote_id=row.fx_quote_id,
    )


def _dispute_values(dispute: EscrowDispute) -> dict[str, Any]:
    return {
        "seller_answer": dispute.seller_answer,
        "answered_at": dispute.answered_at,
        "outcome": dispute.outcome,
        "to_buyer": dispute.to_buyer,
        "to_seller": dispute.to_seller,
        "note": dispute.note,
        "closed_at": dispute.closed_at,
    }


def _dispute(row: Row[Any]) -> EscrowDispute:
    return EscrowDispute(
        id=row.id,
        order_id=row.order_id,
        reason=row.reason,
        message=row.message,
        evidence=tuple(json.loads(row.evidence)),
        seller_answer=row.seller_answer,
        answered_at=row.answered_at,
        outcome=row.outcome,
        to_buyer=row.to_buyer,
        to_seller=row.to_seller,
        note=row.note,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
    )
