"""Webhooks: endpoints, the outbox written with the movement, and delivery to a real receiver.

Deliveries go over real HTTP to a receiver on 127.0.0.1 that verifies every signature with the
`standardwebhooks` package. That package compares the timestamp with the wall clock (5 minutes
either way), so these tests start the fake clock at the real time and move it by seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fakes import FakeClock
from receiver import closed_port_url, serve
from soko import bootstrap
from soko.bootstrap import Runtime
from soko.config import Settings
from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.transactions import in_transaction
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import move
from soko.ledger.errors import ExceedsCredits
from soko.notify import service as webhooks
from soko.notify.domain import WEBHOOK_RETRIES, EventType, WebhookDelivery
from soko.notify.errors import (
    WebhookDeliveryNotDead,
    WebhookDeliveryNotFound,
    WebhookEndpointDisabled,
    WebhookEndpointLimitReached,
    WebhookEndpointNotFound,
    WebhookEventTypesRequired,
    WebhookEventTypeUnknown,
    WebhookUrlInvalid,
)
from soko.notify.ports import WebhookSender
from soko.people import service as users
from soko.people.domain import User, UserKind
from soko.people.errors import UserKindMismatch, UserNotFound
from soko.people.service import MerchantDetails

PAYMENT = EventType.PAYMENT_SUCCEEDED


def build(database_url: str, clock: FakeClock, tmp_path: Path) -> Runtime:
    return bootstrap.build(
        Settings(
            database_url=database_url,
            webhook_allow_private_networks=True,
            sms_log_path=str(tmp_path / "sms.log"),
            pin_hash_time_cost=1,
            pin_hash_memory_kib=8,
        ),
        clock=clock,
    )


@pytest.fixture
def hooks_runtime(database_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Runtime]:
    clock.current = datetime.now(UTC).replace(microsecond=0)
    runtime = build(database_url, clock, tmp_path)
    yield runtime
    runtime.close()


@pytest.fixture
def hctx(hooks_runtime: Runtime) -> Context:
    return hooks_runtime.context


def merchant(ctx: Context, phone: str = "+254722123456") -> User:
    return users.register(
        ctx,
        kind=UserKind.MERCHANT,
        phone=phone,
        name="Wanjiru Kamau",
        merchant=MerchantDetails(trading_name="Wanjiru's kiosk", category_code="5411"),
    )


def emit(ctx: Context, owner: User, type: EventType = PAYMENT, **data: object) -> None:
    def work(uow: UnitOfWork) -> None:
        webhooks.emit(uow, ctx, owner_id=owner.id, type=type, data=data or {"amount": "1.00"})

    in_transaction(ctx, work)


def rows(ctx: Context, table: str) -> int:
    with ctx.unit_of_work(read_only=True) as uow:
        connection = uow.notifications._conn  # type: ignore[attr-defined]
        return int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def only_delivery(ctx: Context, endpoint_id: str) -> WebhookDelivery:
    page = webhooks.list_deliveries(ctx, endpoint_id)
    assert len(page.deliveries) == 1, page
    return page.deliveries[0]


# --- endpoints ----------------------------------------------------------------------------------


def test_an_endpoint_gets_a_standard_webhooks_secret_shown_once(ctx: Context) -> None:
    shop = merchant(ctx)
    new = webhooks.create_endpoint(
        ctx, owner_id=shop.id, url="https://shop.example/hooks", event_types=[PAYMENT, PAYMENT]
    )
    assert new.secret.startswith("whsec_")
    assert new.endpoint.id.startswith("whe_")
    assert new.endpoint.event_types == (PAYMENT,)
    assert not hasattr(webhooks.get_endpoint(ctx, new.endpoint.id), "secret")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "shop.example/hooks",
        "ftp://shop.example/hooks",
        "https://user:pass@shop.example/hooks",
        "https://shop.example/hooks#frag",
        "https://shop.example:99999/",
        "https://shop.example:port/",
        # An unbalanced IPv6 bracket makes urlsplit itself raise (found by a long fuzz run).
        "http://[",
        "https://[::1/hooks",
        "https:///no-host",
        "https://shop.example/hooks with space",
        "https://shöp.example/",
        "https://shop.example/" + "a" * limits.WEBHOOK_URL_LENGTH_MAX,
    ],
)
def test_a_url_must_be_absolute_http_without_credentials(ctx: Context, url: str) -> None:
    shop = merchant(ctx)
    with pytest.raises(WebhookUrlInvalid):
        webhooks.create_endpoint(ctx, owner_id=shop.id, url=url, event_types=[PAYMENT])


INSIDE = [
    "http://127.0.0.1/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0:8000/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://127.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::1]:8000/",
    "http://[64:ff9b::7f00:1]/",
    "http://10.0.0.7/",
    "http://localhost:8000/",
]


@pytest.mark.parametrize("url", INSIDE)
def test_a_url_that_points_inside_is_refused_at_registration(ctx: Context, url: str) -> None:
    shop = merchant(ctx)
    with pytest.raises(WebhookUrlInvalid, match="public"):
        webhooks.create_endpoint(ctx, owner_id=shop.id, url=url, event_types=[PAYMENT])
    assert webhooks.list_endpoints(ctx, shop.id).endpoints == []


def test_an_operator_may_allow_urls_inside_its_network(hctx: Context) -> None:
    shop = merchant(hctx)
    for url in INSIDE[: limits.WEBHOOK_ENDPOINTS_PER_OWNER_MAX]:
        webhooks.create_endpoint(hctx, owner_id=shop.id, url=url, event_types=[PAYMENT])


def test_a_name_that_does_not_resolve_yet_is_taken_and_checked_at_delivery(ctx: Context) -> None:
    # Delivery resolves the name again before every POST: registering it refuses only what is
    # known to point inside.
    shop = merchant(ctx)
    webhooks.create_endpoint(
        ctx, owner_id=shop.id, url="https://shop.invalid/hooks", event_types=[PAYMENT]
    )


def test_event_types_must_be_known_and_given(ctx: Context) -> None:
    shop = merchant(ctx)
    with pytest.raises(WebhookEventTypeUnknown):
        webhooks.create_endpoint(
            ctx, owner_id=shop.id, url="https://a.example/", event_types=["payment.maybe"]
        )
    with pytest.raises(WebhookEventTypesRequired):
        webhooks.create_endpoint(ctx, owner_id=shop.id, url="https://a.example/", event_types=[])


def test_only_merchants_own_endpoints_and_only_so_many(ctx: Context) -> None:
    consumer = users.register(
        ctx, kind=UserKind.CONSUMER, phone="+254712345678", name="Amina Njoroge"
    )
    with pytest.raises(UserKindMismatch):
        webhooks.create_endpoint(
            ctx, owner_id=consumer.id, url="https://a.example/", event_types=[PAYMENT]
        )
    with pytest.raises(UserNotFound):
        webhooks.create_endpoint(
            ctx, owner_id="usr_nobody", url="https://a.example/", event_types=[PAYMENT]
        )
    shop = merchant(ctx)
    made = [
        webhooks.create_endpoint(
            ctx, owner_id=shop.id, url=f"https://a.example/{n}", event_types=[PAYMENT]
        )
        for n in range(limits.WEBHOOK_ENDPOINTS_PER_OWNER_MAX)
    ]
    with pytest.raises(WebhookEndpointLimitReached):
        webhooks.create_endpoint(
            ctx, owner_id=shop.id, url="https://b.example/", event_types=[PAYMENT]
        )
    # A disabled endpoint frees its place.
    webhooks.disable_endpoint(ctx, made[0].endpoint.id)
    webhooks.create_endpoint(ctx, owner_id=shop.id, url="https://b.example/", event_types=[PAYMENT])
    assert len(webhooks.list_endpoints(ctx, shop.id).endpoints) == len(made) + 1


# --- the outbox ---------------------------------------------------------------------------------


def test_emit_writes_nothing_for_an_owner_without_endpoints(any_ctx: Context) -> None:
    shop = merchant(any_ctx)
    emit(any_ctx, shop)
    assert rows(any_ctx, "webhook_events") == rows(any_ctx, "webhook_deliveries") == 0


def test_emit_fans_out_to_enabled_subscribed_endpoints_only(any_ctx: Context) -> None:
    shop, other = merchant(any_ctx), merchant(any_ctx, "+254711223344")

    def endpoint(owner: User, *types: str) -> str:
        new = webhooks.create_endpoint(
            any_ctx, owner_id=owner.id, url="https://a.example/", event_types=list(types)
        )
        return new.endpoint.id

    wants_payments = endpoint(shop, PAYMENT, EventType.REFUND_SUCCEEDED.value)
    also_payments = endpoint(shop, PAYMENT)
    wants_payouts = endpoint(shop, EventType.PAYOUT_PAID.value)
    disabled = endpoint(shop, PAYMENT)
    webhooks.disable_endpoint(any_ctx, disabled)
    others = endpoint(other, PAYMENT)

    emit(any_ctx, shop, amount="10.00")
    assert rows(any_ctx, "webhook_events") == 1
    for endpoint_id, expected in [
        (wants_payments, 1),
        (also_payments, 1),
        (wants_payouts, 0),
        (disabled, 0),
        (others, 0),
    ]:
        assert len(webhooks.list_deliveries(any_ctx, endpoint_id).deliveries) == expected
    delivery = only_delivery(any_ctx, wants_payments)
    assert (delivery.status, delivery.attempts, delivery.event_type) == ("pending", 0, PAYMENT)


def test_an_event_is_written_with_its_movement_or_not_at_all(any_ctx: Context) -> None:
    shop = merchant(any_ctx)
    webhooks.create_endpoint(
        any_ctx, owner_id=shop.id, url="https://a.example/", event_types=[PAYMENT]
    )
    wallet = ledger.open_account(any_ctx, currency="KES", code=AccountCode.WALLET)
    bank = ledger.system_account(any_ctx, AccountCode.SETTLEMENT, "KES")

    def pay(fail: bool) -> None:
        def work(uow: UnitOfWork) -> None:
            request = move(
                any_ctx.ids.new("tr"),
                debit_account_id=bank.id,
                credit_account_id=wallet.id,
                amount=100,
                currency="KES",
                code=TransferCode.DEPOSIT,
            )
            ledger.record(uow, any_ctx, [request])
            webhooks.emit(uow, any_ctx, owner_id=shop.id, type=PAYMENT, data={"amount": "1.00"})
            if fail:
                raise ExceedsCredits("a later rule refused the movement")

        in_transaction(any_ctx, work)

    with pytest.raises(ExceedsCredits):
        pay(fail=True)
    assert rows(any_ctx, "webhook_events") == rows(any_ctx, "webhook_deliveries") == 0
    assert ledger.get_account(any_ctx, wallet.id).credits_posted == 0
    pay(fail=False)
    assert rows(any_ctx, "webhook_events") == rows(any_ctx, "webhook_deliveries") == 1
    assert ledger.get_account(any_ctx, wallet.id).credits_posted == 100


# --- delivery to a real receiver ----------------------------------------------------------------


def test_a_delivery_is_signed_and_verifies_with_standard_webhooks(
    hctx: Context, clock: FakeClock
) -> None:
    shop = merchant(hctx)
    with serve() as receiver:
        new = webhooks.create_endpoint(
            hctx, owner_id=shop.id, url=receiver.url, event_types=[PAYMENT]
        )
        receiver.secret = new.secret
        emit(hctx, shop, amount="1500.50", currency="KES")
        assert webhooks.deliver_due(hctx) == 1
        assert webhooks.deliver_due(hctx) == 0
    [got] = receiver.received
    assert got.verified is True
    body = got.json()
    assert body["type"] == PAYMENT and body["data"] == {"amount": "1500.50", "currency": "KES"}
    assert got.headers["webhook-id"] == body["id"] and body["id"].startswith("evt_")
    assert got.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    assert got.headers["content-type"] == "application/json"
    delivery = only_delivery(hctx, new.endpoint.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    assert delivery.next_attempt_at is None


def test_a_failing_receiver_gets_the_event_again_after_the_backoff(
    hctx: Context, clock: FakeClock
) -> None:
    shop = merchant(hctx)
    with serve() as receiver:
        new = webhooks.create_endpoint(
            hctx, owner_id=shop.id, url=receiver.url, event_types=[PAYMENT]
        )
        receiver.secret = new.secret
        receiver.answer([500, 500])
        emit(hctx, shop)
        endpoint_id = new.endpoint.id

        assert webhooks.deliver_due(hctx) == 1
        first = only_delivery(hctx, endpoint_id)
        assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
        assert first.last_error == "HTTP 500"
        assert first.next_attempt_at is not None
        assert 15 <= (first.next_attempt_at - clock.now()).total_seconds() <= 30
        assert webhooks.deliver_due(hctx) == 0, "not due before its backoff"

        clock.advance(WEBHOOK_RETRIES.ceiling_seconds(1))
        assert webhooks.deliver_due(hctx) == 1
        assert only_delivery(hctx, endpoint_id).attempts == 2
        clock.advance(WEBHOOK_RETRIES.ceiling_seconds(2))
        assert webhooks.deliver_due(hctx) == 1
    done = only_delivery(hctx, endpoint_id)
    assert (done.status, done.attempts, done.last_status_code, done.last_error) == (
        "succeeded",
        3,
        200,
        None,
    )
    assert all(r.verified for r in receiver.received)
    # The same event each time (receivers deduplicate by it), signed anew for each attempt.
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len({r.headers["webhook-timestamp"] for r in receiver.received}) == 3


def test_an_unreachable_endpoint_records_failures_then_dies_and_can_be_retried(
    hctx: Context, clock: FakeClock
) -> None:
    shop = merchant(hctx)
    wallet = ledger.open_account(hctx, currency="KES", code=AccountCode.WALLET)
    new = webhooks.create_endpoint(
        hctx, owner_id=shop.id, url=closed_port_url(), event_types=[PAYMENT]
    )
    emit(hctx, shop)
    for attempt in range(1, limits.WEBHOOK_ATTEMPTS_MAX + 1):
        assert webhooks.deliver_due(hctx) == 1
        delivery = only_delivery(hctx, new.endpoint.id)
        assert delivery.attempts == attempt
        assert delivery.last_status_code is None
        assert delivery.last_error is not None and "ConnectError" in delivery.last_error
        clock.advance(limits.WEBHOOK_RETRY_CAP_SECONDS)
    assert delivery.status == "dead" and delivery.next_attempt_at is None
    assert webhooks.deliver_due(hctx) == 0
    dead = webhooks.list_deliveries(hctx, new.endpoint.id, status="dead").deliveries
    assert [d.id for d in dead] == [delivery.id]
    assert webhooks.list_deliveries(hctx, new.endpoint.id, status="pending").deliveries == []
    # Nothing about money moved or broke.
    assert ledger.get_account(hctx, wallet.id).credits_posted == 0

    revived = webhooks.retry_delivery(hctx, delivery.id)
    assert (revived.status, revived.attempts) == ("pending", 0)
    with pytest.raises(WebhookDeliveryNotDead):
        webhooks.retry_delivery(hctx, delivery.id)
    assert webhooks.deliver_due(hctx) == 1
    assert only_delivery(hctx, new.endpoint.id).attempts == 1


def test_a_redirect_is_not_followed_and_counts_as_a_failure(hctx: Context) -> None:
    shop = merchant(hctx)
    with serve() as receiver:
        new = webhooks.create_endpoint(
            hctx, owner_id=shop.id, url=receiver.url, event_types=[PAYMENT]
        )
        receiver.answer([302])
        emit(hctx, shop)
        webhooks.deliver_due(hctx)
    delivery = only_delivery(hctx, new.endpoint.id)
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)
    assert len(receiver.received) == 1


class PublicAtRegistration:
    """A sender whose names all resolved to public addresses when the endpoint was registered
    (a name can point elsewhere a moment later)."""

    def __init__(self, sender: WebhookSender) -> None:
        self._sender = sender

    def refusal(self, url: str) -> str | None:
        return None

    def post(
        self, url: str, headers: Mapping[str, str], body: bytes, *, timeout_seconds: float
    ) -> int:
        return self._sender.post(url, headers, body, timeout_seconds=timeout_seconds)


def test_private_addresses_are_refused_at_delivery_too(ctx: Context) -> None:
    # The `ctx` fixture keeps the default: webhook URLs may not reach this machine.
    shop = merchant(ctx)
    then = replace(ctx, webhook_sender=PublicAtRegistration(ctx.webhook_sender))
    with serve() as receiver:
        new = webhooks.create_endpoint(
            then, owner_id=shop.id, url=receiver.url, event_types=[PAYMENT]
        )
        emit(ctx, shop)
        assert webhooks.deliver_due(ctx) == 1
    assert receiver.received == []
    delivery = only_delivery(ctx, new.endpoint.id)
    assert delivery.last_error is not None and "non-public address" in delivery.last_error


def test_disabling_an_endpoint_kills_what_waited_for_it(hctx: Context) -> None:
    shop = merchant(hctx)
    new = webhooks.create_endpoint(
        hctx, owner_id=shop.id, url=closed_port_url(), event_types=[PAYMENT]
    )
    emit(hctx, shop)
    disabled = webhooks.disable_endpoint(hctx, new.endpoint.id)
    assert not disabled.enabled
    webhooks.disable_endpoint(hctx, new.endpoint.id)  # twice is once
    delivery = only_delivery(hctx, new.endpoint.id)
    assert (delivery.status, delivery.last_error) == ("dead", "endpoint disabled")
    assert webhooks.deliver_due(hctx) == 0
    with pytest.raises(WebhookEndpointDisabled):
        webhooks.retry_delivery(hctx, delivery.id)
    with pytest.raises(WebhookEndpointNotFound):
        webhooks.disable_endpoint(hctx, "whe_unknown")
    with pytest.raises(WebhookDeliveryNotFound):
        webhooks.retry_delivery(hctx, "whd_unknown")


def test_two_workers_never_deliver_one_event_twice(
    database_url: str, hctx: Context, clock: FakeClock, tmp_path: Path
) -> None:
    shop = merchant(hctx)
    events = 60
    with serve() as receiver:
        new = webhooks.create_endpoint(
            hctx, owner_id=shop.id, url=receiver.url, event_types=[PAYMENT]
        )
        receiver.secret = new.secret
        for n in range(events):
            emit(hctx, shop, n=n)
        workers = [build(database_url, clock, tmp_path) for _ in range(2)]
        start = threading.Barrier(len(workers))
        handled: list[int] = []
        failures: list[BaseException] = []

        def work(runtime: Runtime) -> None:
            total = 0
            try:
                start.wait()
                # Small batches, so the two workers' claims interleave many times.
                while (claimed := webhooks.deliver_due(runtime.context, limit=3)) > 0:
                    total += claimed
            except BaseException as error:  # reported below, in the test's thread
                failures.append(error)
            handled.append(total)

        threads = [threading.Thread(target=work, args=(runtime,)) for runtime in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        for runtime in workers:
            runtime.close()
    assert not failures, failures
    assert sum(handled) == events
    counts = receiver.by_webhook_id()
    assert len(counts) == events and set(counts.values()) == {1}, counts.most_common(3)
    assert all(r.verified for r in receiver.received)
    delivered = webhooks.list_deliveries(hctx, new.endpoint.id, status="succeeded", limit=100)
    assert len(delivered.deliveries) == events
