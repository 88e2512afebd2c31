"""A payment's use case alone (no HTTP), beside the raw database's payment writes in the same run.

For each store this fills a fresh database through the use cases (as `api_load.py` does: funded
tier-2 consumers, merchants), then, in one thread:

* calls `payments.send_money` and `payments.pay_merchant` 50/50 from random payers, each with a
  fresh idempotency key, and reports payments per second, CPU per payment and the statements a
  payment sends through SQLAlchemy (the ledger's hot statements, BEGIN and COMMIT go straight to
  the driver and are not counted);
* does a payment's ledger writes in plain SQL on the bare driver (`api_load.raw_payments`: lock
  payer, payee and the fee account, insert two transfers, update three counters, commit), the
  floor under what a payment can cost on that store.

It isolates what the API benchmark's figures are made of: `api_load.py` adds HTTP, JSON, the
thread pool and authentication on top of this. It is a script, not a test: `--quick` runs tiny
sizes so CI can check that it still works.

    python benchmarks/payment_path.py                 # both stores, 5 s per measurement
    python benchmarks/payment_path.py --quick         # CI: 1 s, 200 consumers
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event

from soko import bootstrap
from soko.config import Settings
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api_load  # benchmarks/api_load.py: the population and the raw payment writes


@dataclass
class Measured:
    store: str
    payments_per_second: float
    cpu_us_per_payment: float
    statements_per_payment: float
    raw_per_second: float

    @property
    def ratio(self) -> float:
        return self.payments_per_second / self.raw_per_second


def _use_cases(
    url: str, population: api_load.Population, seconds: float, workdir: Path
) -> tuple[float, float, float]:
    runtime = bootstrap.build(Settings(database_url=url, sms_log_path=str(workdir / "sms.log")))
    ctx, rng = runtime.context, random.Random(7)
    consumers = len(population.consumer_ids)
    p2p, till = api_load.kes(api_load.P2P_AMOUNT), api_load.kes(api_load.MERCHANT_AMOUNT)
    sent = 0

    def count(*_: Any) -> None:
        nonlocal sent
        sent += 1

    def pay() -> None:
        payer = rng.randrange(consumers)
        if rng.random() < 0.5:
            payee = (payer + 1 + rng.randrange(consumers - 1)) % consumers
            payments.send_money(ctx, sender_id=population.consumer_ids[payer], amount=p2p,
                                idempotency_key=uuid.uuid4().hex,
                                to_phone=population.consumer_phones[payee])  # fmt: skip
        else:
            payments.pay_merchant(ctx, payer_id=population.consumer_ids[payer], amount=till,
                                  idempotency_key=uuid.uuid4().hex,
                                  merchant_id=rng.choice(population.merchant_ids))  # fmt: skip

    try:
        for _ in range(200):  # warm: statement caches, the fee buckets opened
            pay()
        event.listen(runtime.engine, "before_cursor_execute", count)
        for _ in range(100):
            pay()
        event.remove(runtime.engine, "before_cursor_execute", count)
        statements = sent / 100
        done, started, cpu = 0, time.perf_counter(), time.process_time()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            pay()
            done += 1
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        runtime.close()
    return done / elapsed, cpu / done * 1e6, statements


def measure(store: str, args: argparse.Namespace) -> Measured:
    with tempfile.TemporaryDirectory(prefix=f"soko-path-{store}-") as directory:
        return _measure_in(store, args, Path(directory))


def _measure_in(store: str, args: argparse.Namespace, workdir: Path) -> Measured:
    url = api_load.fresh_database(store, workdir)
    try:
        population = api_load.populate(url, args.wallets, args.merchants)
        raw = api_load.raw_payments(population, 1, args.seconds)
        rate, cpu_us, statements = _use_cases(url, population, args.seconds, workdir)
        runtime = bootstrap.build(Settings(database_url=url))
        try:
            report = reconcile(runtime.context)
            assert report.passed, [check.name for check in report.checks if not check.passed]
        finally:
            runtime.close()
    finally:
        api_load.drop_database(store)
    return Measured(store, rate, cpu_us, statements, raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--wallets", type=int, default=2_000, help="funded consumers")
    parser.add_argument("--merchants", type=int, default=100)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.wallets, args.merchants = 1.0, 200, 20
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    print(f"benchmarks/payment_path.py on {platform.node()}: Python {platform.python_version()}, "
          f"{args.seconds:g} s per measurement, {args.wallets} consumers, one thread")  # fmt: skip
    print()
    print("| store | use case payments/s | CPU µs per payment | SQLAlchemy statements per payment "
          "| raw SQL payments/s | use case / raw |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for store in stores:
        m = measure(store, args)
        print(
            f"| {m.store} | {m.payments_per_second:,.0f} | {m.cpu_us_per_payment:,.0f} "
            f"| {m.statements_per_payment:.1f} | {m.raw_per_second:,.0f} | {m.ratio:.2f}x |"
        )


if __name__ == "__main__":
    main()
