"""An operator's own tariff and KYC limits, read from SOKO_* settings at start-up."""

from __future__ import annotations

import pytest

from soko import bootstrap
from soko.config import Settings
from soko.payments.fees import FeeKind, fee_table
from soko.people.kyc import TierLimits


def test_the_operators_tariff_replaces_the_default_per_currency_and_kind() -> None:
    settings = Settings(tariff={"KES": {"p2p": [[10000, 0], [25000000, 500]]}})
    tariff = bootstrap.tariff(settings)
    p2p = fee_table(tariff, "KES", FeeKind.P2P)
    assert (p2p.fee_for(10000), p2p.fee_for(10001)) == (0, 500)
    # Other kinds and currencies keep the defaults.
    assert fee_table(tariff, "KES", FeeKind.CASH_OUT).fee_for(100000) == 2900
    assert fee_table(tariff, "UGX", FeeKind.P2P).fee_for(5000) == 100


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"KES": {"p2p": []}}, "bands must ascend"),
        ({"KES": {"p2p": [[500, 1], [100, 2]]}}, "bands must ascend"),
        ({"KES": {"p2p": [[100, -1]]}}, "bands must ascend"),
        ({"KES": {"cash_out_commission": [[25000000, 100000]]}}, "commission above the fee"),
    ],
)
def test_a_tariff_that_makes_no_sense_stops_start_up(
    tables: dict[str, dict[str, list[tuple[int, int]]]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        bootstrap.tariff(Settings(tariff=tables))


def test_the_tariff_and_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOKO_TARIFF", '{"KES": {"p2p": [[25000000, 1500]]}}')
    monkeypatch.setenv("SOKO_KYC_LIMITS", '{"KES": {"0": [500000, 1000000, 3000000, 1000000]}}')
    settings = Settings()
    assert fee_table(bootstrap.tariff(settings), "KES", FeeKind.P2P).fee_for(1) == 1500
    limits = bootstrap.kyc_limits(settings)
    assert limits["KES"][0] == TierLimits(500000, 1000000, 3000000, 1000000)
    assert limits["KES"][1].per_transaction == 7000000  # tier 1 keeps the default


def test_unclaimed_money_waits_as_long_as_the_operator_says(sqlite_url: str) -> None:
    from fakes import FakeClock
    from soko.kernel.money import Money
    from soko.ledger import service as ledger
    from soko.payments import service as payments
    from soko.people import service as users
    from soko.people import wallets
    from soko.people.domain import UserKind

    clock = FakeClock()
    runtime = bootstrap.build(
        Settings(database_url=sqlite_url, unclaimed_transfer_seconds=3600,
                 pin_hash_time_cost=1, pin_hash_memory_kib=8),
        clock=clock,
    )  # fmt: skip
    ctx = runtime.context
    try:
        agent = users.register(ctx, kind=UserKind.AGENT, phone="+254733000001", name="Agent")
        amina = users.register(ctx, kind=UserKind.CONSUMER, phone="+254712000001", name="Amina")
        kes = Money.parse("500.00", "KES")
        payments.top_up_float(ctx, agent_id=agent.id, amount=kes, idempotency_key="f")
        payments.cash_in(ctx, agent_id=agent.id, customer_phone=amina.phone, amount=kes,
                         idempotency_key="i")  # fmt: skip
        payments.send_money(ctx, sender_id=amina.id, to_phone="+254799000001",
                            amount=Money.parse("200.00", "KES"), idempotency_key="s")  # fmt: skip
        clock.advance(3599)
        assert ledger.expire_due(ctx) == []
        clock.advance(1)
        assert len(ledger.expire_due(ctx)) == 2  # the amount and its fee
        [wallet] = wallets.list_wallets(ctx, amina.id)
        assert wallet.available == kes
    finally:
        runtime.close()
