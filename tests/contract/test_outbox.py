"""The outbox's storage contract, on SQLite and PostgreSQL: claims, leases, records, CHECKs."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from fakes import FakeClock
from soko.bootstrap import Runtime
from soko.context import Context, UnitOfWork
from soko.kernel.transactions import in_transaction
from soko.notify import service as webhooks
from soko.notify.domain import Attempted, EventType
from soko.notify.tables import sms_messages, webhook_deliveries
from soko.people import service as users
from soko.people.domain import UserKind
from soko.people.service import MerchantDetails

LEASE = timedelta(minutes=5)


def queue_events(ctx: Context, count: int) -> str:
    shop = users.register(
        ctx,
        kind=UserKind.MERCHANT,
        phone="+254722123456",
        name="Wanjiru Kamau",
        merchant=MerchantDetails(trading_name="Wanjiru's kiosk", category_code="5411"),
    )
    new = webhooks.create_endpoint(
        ctx, owner_id=shop.id, url="https://shop.example/", event_types=["payment.succeeded"]
    )

    def work(uow: UnitOfWork) -> None:
        for n in range(count):
            webhooks.emit(
                uow, ctx, owner_id=shop.id, type=EventType.PAYMENT_SUCCEEDED, data={"n": n}
            )

    in_transaction(ctx, work)
    return new.endpoint.id


def claim(ctx: Context, now: datetime, limit: int = 10) -> list[str]:
    def work(uow: UnitOfWork) -> list[str]:
        due = uow.notifications.claim_due_deliveries(now, now + LEASE, limit)
        return [d.delivery_id for d in due]

    return in_transaction(ctx, work)


def test_a_claimed_delivery_is_hidden_until_its_lease_runs_out(
    any_ctx: Context, clock: FakeClock
) -> None:
    queue_events(any_ctx, 3)
    now = clock.now()
    first = claim(any_ctx, now, limit=2)
    assert len(first) == 2
    second = claim(any_ctx, now)
    assert len(second) == 1 and not set(first) & set(second)
    assert claim(any_ctx, now + LEASE - timedelta(seconds=1)) == []
    # A worker that died holding them: the lease runs out and another worker takes them.
    assert sorted(claim(any_ctx, now + LEASE)) == sorted(first + second)


def test_an_attempt_is_recorded_once(any_ctx: Context, clock: FakeClock) -> None:
    queue_events(any_ctx, 1)
    now = clock.now()
    [delivery_id] = claim(any_ctx, now)
    outcome = Attempted(
        status="pending",
        attempts_before=0,
        attempts=1,
        next_attempt_at=now + timedelta(seconds=30),
        now=now,
        error="HTTP 500",
        status_code=500,
    )

    def record(uow: UnitOfWork) -> bool:
        return uow.notifications.record_delivery(delivery_id, outcome)

    assert in_transaction(any_ctx, record) is True
    # A second worker whose lease ran out reports the same attempt: it no longer counts.
    assert in_transaction(any_ctx, record) is False
    delivery = webhooks.get_delivery(any_ctx, delivery_id)
    assert (delivery.attempts, delivery.last_status_code) == (1, 500)
    assert claim(any_ctx, now) == []
    assert claim(any_ctx, now + timedelta(seconds=30)) == [delivery_id]


def test_postgresql_claims_skip_rows_another_worker_is_claiming(
    any_runtime: Runtime, any_ctx: Context, clock: FakeClock, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: a second claim waits for the lock")
    queue_events(any_ctx, 4)
    now = clock.now()
    with any_ctx.unit_of_work() as holding:
        held = holding.notifications.claim_due_deliveries(now, now + LEASE, 2)
        assert len(held) == 2
        # Not committed yet: its rows are locked, and a second claim passes them by at once.
        other = claim(any_ctx, now)
        assert len(other) == 2
        assert not {d.delivery_id for d in held} & set(other)
    # The first claim rolled back: its rows are due again.
    assert sorted(claim(any_ctx, now)) == sorted(d.delivery_id for d in held)


@pytest.mark.parametrize(
    ("table", "values"),
    [
        (webhook_deliveries, {"status": "lost"}),
        (webhook_deliveries, {"attempts": -1}),
        (webhook_deliveries, {"next_attempt_at": None}),
        (webhook_deliveries, {"status": "dead"}),  # dead yet still due
        (sms_messages, {"status": "delivered"}),
        (sms_messages, {"attempts": -1}),
        (sms_messages, {"next_attempt_at": None}),
    ],
)
def test_the_database_refuses_impossible_outbox_rows(
    any_runtime: Runtime,
    any_ctx: Context,
    clock: FakeClock,
    table: sa.Table,
    values: dict[str, object],
) -> None:
    queue_events(any_ctx, 1)

    def work(uow: UnitOfWork) -> None:
        uow.notifications.insert_sms([("sms_1", "+254712345678", "hi")], clock.now())

    in_transaction(any_ctx, work)
    with pytest.raises(sa.exc.IntegrityError), any_runtime.engine.begin() as connection:
        connection.execute(table.update().values(values))
