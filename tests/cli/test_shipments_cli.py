"""The carriers and shipments commands, on a real database: the secret printed last and alone,
operators' tracking events, and refusals as `code: detail` with exit code 2."""

from __future__ import annotations

from datetime import timedelta

from typer.testing import CliRunner

from fakes import FakeClock
from merchants import consumer, kes, key, shop
from soko.channels.cli.main import EXIT_REFUSED, app
from soko.context import Context
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowState, OrderItem
from soko.escrow.tracking import service as shipments

runner = CliRunner()


def test_carriers_and_operator_events(
    any_ctx: Context, clock: FakeClock, database_url: str
) -> None:
    env = {"SOKO_DATABASE_URL": database_url}
    added = runner.invoke(app, ["carriers", "add", "sendy", "--name", "Sendy Logistics"], env=env)
    assert added.exit_code == 0, added.output
    secret = added.output.splitlines()[-1]
    assert secret.startswith("whsec_") and " " not in secret
    again = runner.invoke(app, ["carriers", "add", "sendy", "--name", "Sendy"], env=env)
    assert again.exit_code == EXIT_REFUSED
    assert "carrier_exists" in again.output
    listed = runner.invoke(app, ["carriers", "list"], env=env)
    assert "sendy" in listed.output and "Sendy Logistics" in listed.output

    buyer, seller = consumer(any_ctx, funds="1000.00"), shop(any_ctx)
    made = escrow.create_order(
        any_ctx, seller_id=seller.user_id, buyer_id=buyer.id, amount=kes("100.00"),
        items=[OrderItem("Kiondo basket", 1)], ship_by=clock.now() + timedelta(days=1),
        idempotency_key=key(),
    )  # fmt: skip
    escrow.fund(any_ctx, buyer_id=buyer.id, order_id=made.id, idempotency_key=key())
    escrow.ship(
        any_ctx, seller_id=seller.user_id, order_id=made.id, carrier_code="sendy",
        tracking_number="SND-9", idempotency_key=key(),
    )  # fmt: skip
    shipment = shipments.shipment_for_order(any_ctx, made.id)
    assert shipment is not None

    event = ["shipments", "event", shipment.id, "delivered", "--event-id", "ops-1"]
    recorded = runner.invoke(app, event, env=env)
    assert recorded.exit_code == 0, recorded.output
    assert "Recorded delivered as event ops-1" in recorded.output
    assert escrow.get_order(any_ctx, made.id).state is EscrowState.DELIVERED
    repeated = runner.invoke(app, event, env=env)
    assert "Already recorded" in repeated.output
    refused = runner.invoke(app, [*event[:3], "lost"], env=env)
    assert refused.exit_code == EXIT_REFUSED
    assert "tracking_event_kind_unknown" in refused.output
    naive = runner.invoke(app, [*event[:4], "--at", "2026-01-01T10:00"], env=env)
    assert naive.exit_code == EXIT_REFUSED
    assert "tracking_event_time_invalid" in naive.output

    disabled = runner.invoke(app, ["carriers", "disable", "sendy"], env=env)
    assert disabled.exit_code == 0
    assert not shipments.get_carrier(any_ctx, "sendy").enabled
