"""What escrow's use cases need from storage."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from soko.escrow.domain import (
    EscrowDispute,
    EscrowOrder,
    EscrowState,
)


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
