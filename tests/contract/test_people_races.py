"""Races on people's money, on SQLite and PostgreSQL: limits and wallets hold under concurrency."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from soko.bootstrap import Runtime
from soko.context import Context
from soko.kernel.errors import DomainError
from soko.kernel.money import Money
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import UserKind

THREADS = 8
RACE_TIMEOUT = 60


@pytest.fixture
def any_runtime(race_runtime: Runtime) -> Runtime:
    """Every race here runs on SQLite, PostgreSQL, and PostgreSQL in SERIALIZABLE."""
    return race_runtime


def test_one_wallet_per_user_and_currency_however_many_open_it_at_once(any_ctx: Context) -> None:
    user = users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254711222333", name="Amina")
    start = threading.Barrier(THREADS, timeout=RACE_TIMEOUT)

    def open_it(_: int) -> str:
        start.wait()
        return wallets.open_wallet(any_ctx, user.id, "KES").wallet.id

    with ThreadPoolExecutor(THREADS) as pool:
        opened = set(pool.map(open_it, range(THREADS), timeout=RACE_TIMEOUT))
    assert len(opened) == 1
    assert [w.wallet.id for w in wallets.list_wallets(any_ctx, user.id)] == list(opened)
    assert reconcile(any_ctx).passed


def test_concurrent_sends_never_pass_the_daily_limit(any_ctx: Context) -> None:
    """Tier 0 in KES: KES 20,000 a day. 8 senders of KES 3,000 each, 3 times: at most 6 pass."""
    ctx = any_ctx
    sender = users.register(ctx, kind=UserKind.CONSUMER, phone="+254711222334", name="Sender")
    receivers = [
        users.register(ctx, kind=UserKind.CONSUMER, phone=f"+25471122240{i}", name=f"R{i}")
        for i in range(4)
    ]
    agent = users.register(ctx, kind=UserKind.AGENT, phone="+254711222499", name="Agent")
    payments.top_up_float(ctx, agent_id=agent.id, amount=Money.parse("20000.00", "KES"),
                          idempotency_key="float")  # fmt: skip
    payments.cash_in(ctx, agent_id=agent.id, customer_phone=sender.phone,
                     amount=Money.parse("20000.00", "KES"), idempotency_key="in")  # fmt: skip
    start = threading.Barrier(THREADS, timeout=RACE_TIMEOUT)

    def spend(thread: int) -> Counter[str]:
        outcomes: Counter[str] = Counter()
        start.wait()
        for attempt in range(3):
            try:
                payments.send_money(
                    ctx,
                    sender_id=sender.id,
                    to_phone=receivers[(thread + attempt) % 4].phone,
                    amount=Money.parse("3000.00", "KES"),
                    idempotency_key=f"t{thread}-{attempt}",
                )
            except DomainError as refused:
                outcomes[refused.code] += 1
            else:
                outcomes["ok"] += 1
        return outcomes

    with ThreadPoolExecutor(THREADS) as pool:
        total = sum(pool.map(spend, range(THREADS), timeout=RACE_TIMEOUT), Counter())
    # KES 20,000 buys six sends of 3,000 (+ KES 53 fee each = 18,318); the seventh breaks
    # the daily limit (18,000 sent, 2,000 left) before the balance.
    assert total["ok"] == 6
    assert total["exceeds_daily_limit"] == THREADS * 3 - 6
    [wallet] = wallets.list_wallets(ctx, sender.id)
    assert wallet.balance == Money.parse("1682.00", "KES")
    assert reconcile(ctx).passed
