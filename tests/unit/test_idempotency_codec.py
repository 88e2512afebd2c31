"""One codec for what idempotency keys store: every record round-trips, and results stored by the
hand-written encoders before it (kept below exactly as they wrote them) still replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from soko.escrow.domain import EscrowOrder, EscrowState
from soko.kernel.idempotency import decode, encode
from soko.payments.domain import Payment, PaymentRequest, PaymentRequestStatus, Refund
from soko.payouts.domain import BankAccount, MobileMoney, Payout

OLD = {  # the old encoders' exact output, one line each
    "Payment": '{"id": "pay_1", "kind": "merchant", "currency": "KES", "amount": 50000, "fee": 125, "commission": 0, "payer_wallet_id": "wal_1", "payee_wallet_id": "wal_2", "payee_phone": null, "message": "Maize", "hold_id": null, "fee_hold_id": null, "created_at": "2026-03-01T09:30:00+00:00", "refunded": 10000, "fee_refunded": 25}',
    "Refund": '{"id": "rfd_1", "payment_id": "pay_1", "currency": "KES", "amount": 10000, "fee_returned": 25, "reason": null, "created_at": "2026-03-01T09:30:00+00:00"}',
    "PaymentRequest": '{"id": "prq_1", "merchant_id": "usr_1", "currency": "KES", "amount": 30000, "reference": "INV-1", "description": null, "stored_status": "open", "expires_at": "2026-03-02T09:30:00+00:00", "payment_id": null, "created_at": "2026-03-01T09:30:00+00:00"}',
    "Payout:mobile": '{"id": "po_1", "merchant_id": "usr_1", "wallet_id": "wal_2", "currency": "KES", "amount": 500000, "fee": 3000, "destination": {"type": "mobile_money", "phone": "+254712345678"}, "state": "requested", "rail": "sandbox", "rail_reference": null, "hold_id": "tr_1", "fee_hold_id": "tr_2", "failure_reason": null, "polls": 0, "rail_errors": 0, "next_attempt_at": "2026-03-01T09:30:00+00:00", "created_at": "2026-03-01T09:30:00+00:00", "updated_at": "2026-03-01T09:30:00+00:00"}',
    "Payout:bank": '{"id": "po_2", "merchant_id": "usr_1", "wallet_id": "wal_2", "currency": "KES", "amount": 500000, "fee": 3000, "destination": {"type": "bank_account", "bank_code": "01", "account_number": "1234567890", "account_name": "WANJIRU KIOSK"}, "state": "failed", "rail": "sandbox", "rail_reference": "sbx_1", "hold_id": "tr_1", "fee_hold_id": null, "failure_reason": "closed", "polls": 2, "rail_errors": 1, "next_attempt_at": null, "created_at": "2026-03-01T09:30:00+00:00", "updated_at": "2026-03-01T09:30:00+00:00"}',
    "EscrowOrder": '{"id": "esc_1", "seller_id": "usr_1", "buyer_id": "usr_2", "currency": "KES", "amount": 250000, "description": "Kitenge", "items": [{"name": "Kitenge", "quantity": 2}], "state": "disputed", "disputed_from": "funded", "disputed_at": "2026-03-01T09:30:00+00:00", "deadlines": {"ship_by": "2026-03-01T09:30:00+00:00", "deliver_by": "2026-03-15T09:30:00+00:00", "inspection_ends": null}, "timer_action": "fund", "timer_due_at": "2026-03-01T09:30:00+00:00", "hold_id": "tr_9", "code_failures": 1, "released": 0, "fee": 0, "refunded": 0, "created_at": "2026-03-01T09:30:00+00:00", "updated_at": "2026-03-01T09:30:00+00:00"}',
}

KINDS: dict[str, type[Any]] = {
    "Payment": Payment,
    "Refund": Refund,
    "PaymentRequest": PaymentRequest,
    "Payout:mobile": Payout,
    "Payout:bank": Payout,
    "EscrowOrder": EscrowOrder,
}
AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("name", sorted(OLD))
def test_results_stored_by_the_old_encoders_still_replay(name: str) -> None:
    kind = KINDS[name]
    record = decode(OLD[name], kind)
    assert isinstance(record, kind)
    assert record.created_at == AT and record.created_at.tzinfo is not None
    # The same record again through the one codec.
    assert decode(encode(record, kind), kind) == record
    # Every plain field kept its value.
    for field, value in json.loads(OLD[name]).items():
        if isinstance(value, int | str) and not field.endswith("_at"):
            assert getattr(record, field) == value or getattr(record, field).value == value


def test_the_old_destinations_decode_to_their_own_kind() -> None:
    assert decode(OLD["Payout:mobile"], Payout).destination == MobileMoney("+254712345678")
    assert decode(OLD["Payout:bank"], Payout).destination == BankAccount(
        "01", "1234567890", "WANJIRU KIOSK"
    )


def test_enums_come_back_as_enums() -> None:
    assert decode(OLD["PaymentRequest"], PaymentRequest).stored_status is PaymentRequestStatus.OPEN
    order = decode(OLD["EscrowOrder"], EscrowOrder)
    assert isinstance(order.state, EscrowState) and isinstance(order.items, tuple)
