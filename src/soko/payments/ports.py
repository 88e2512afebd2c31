"""What merchant payments' use cases need from storage."""

from __future__ import annotations

from typing import Protocol

from soko.payments.domain import Payment, PaymentRequest, PaymentRequestStatus, Refund


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
