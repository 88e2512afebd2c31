"""Where a single transfer's time goes on SQLite with several writer threads, layer by layer.

`ledger.py` finds the service at about half of raw SQL with one thread and a third with four or
sixteen. This script builds the same transfer up one layer at a time, each measured beside raw
SQL in the same run, so the cost of each layer shows:

* **raw SQL**: `ledger.RawLedger`, no rules (the baseline of `ledger.py`); its connection has
  sqlite3's default 5 s busy timeout, so a writer waits for the lock in SQLite's busy handler,
  asleep with the GIL released;
* **domain on the driver**: the domain's `plan_transfers` and the ledger's hot statements on a
  bare sqlite3 connection, waiting for the lock as raw SQL does;
* **+ pool, polling**: the same on a connection of the engine's pool, which has no busy
  timeout: `begin_immediate` polls for the lock in short naps, as the service does;
* **+ turnstile**: and queued on the engine's writer turnstile (ADR 0006) before polling;
* **+ SQLAlchemy transaction**: `engine.connect()`, `begin()`, `commit()` around it (the
  turnstile then comes from the engine's begin event, as in the service);
* **service**: `soko.services.ledger.transfer` (unit of work, repositories, retries).

    python benchmarks/sqlite_writers.py               # 1, 4 and 16 threads, 3 s each
    python benchmarks/sqlite_writers.py --quick       # CI
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from soko import bootstrap
from soko.config import Settings
from soko.domain.chart import TransferCode
from soko.domain.ledger import move, plan_transfers
from soko.storage.driver import hot_statements
from soko.storage.engine import WAL_AUTOCHECKPOINT_PAGES, begin_immediate
from soko.storage.ledger_repository import _account_from_tuple, _transfer_values
from soko.storage.types import to_epoch_micros

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ledger as bench  # the sibling benchmark: setup, raw SQL, runners

HOT = hot_statements("sqlite")
# Long: polling is unfair, and at 16 threads a writer can wait seconds (the layer "+ pool,
# polling" shows why the service queues on a turnstile); a timeout would end the run.
WAIT_SECONDS = 60.0
Step = Callable[[], int]


def _plan_and_write(connection: sqlite3.Connection, debit: str, credit: str) -> None:
    """The service's work inside the write lock, minus its layers: read, plan, write."""
    request = move(
        "tr_" + os.urandom(10).hex(),
        debit_account_id=debit,
        credit_account_id=credit,
        amount=bench.AMOUNT_MINOR,
        currency="KES",
        code=TransferCode.P2P,
    )
    cursor = connection.cursor()
    cursor.execute(HOT.lock_accounts(2), [debit, credit])
    before = {row[0]: _account_from_tuple(row) for row in cursor.fetchall()}
    plan = plan_transfers(before, {}, {}, [request], datetime.now(UTC))
    cursor.executemany(
        HOT.insert_transfer, [_transfer_values(t, to_epoch_micros) for t in plan.transfers]
    )
    cursor.executemany(
        HOT.update_counters,
        [
            (a.debits_pending - b.debits_pending, a.debits_posted - b.debits_posted,
             a.credits_pending - b.credits_pending, a.credits_posted - b.credits_posted, i)
            for i, a in plan.accounts.items() for b in (before[i],)
        ],
    )  # fmt: skip
    cursor.close()


def _layered(make: Callable[[str], Callable[[], Any]]) -> Callable[[str, list[str], int], Step]:
    """A `ledger.py` target from `make(url) -> transaction`, a context-manager factory."""

    def target(url: str, wallets: list[str], seed: int) -> Step:
        transaction, rng = make(url), random.Random(seed)

        def step() -> int:
            debit, credit = rng.sample(wallets, 2)
            with transaction() as connection:
                _plan_and_write(connection, debit, credit)
            return 1

        return step

    return target


def _on_driver(url: str) -> Callable[[], Any]:
    connection = sqlite3.connect(
        url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                   f"wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}"):  # fmt: skip
        connection.execute(f"PRAGMA {pragma}")

    @contextmanager
    def transaction() -> Iterator[sqlite3.Connection]:
        begin_immediate(connection, WAIT_SECONDS)
        yield connection
        connection.execute("COMMIT")

    return transaction


def _from_pool(url: str, *, turnstile: bool) -> Callable[[], Any]:
    engine = bootstrap.build(Settings(database_url=url)).engine

    @contextmanager
    def transaction() -> Iterator[sqlite3.Connection]:
        pooled = engine.raw_connection()
        try:
            connection: Any = pooled.driver_connection
            if turnstile:
                connection.enter_turnstile(WAIT_SECONDS)
            begin_immediate(connection, WAIT_SECONDS)
            yield connection
            connection.commit()  # leaves the turnstile
        finally:
            pooled.close()

    return transaction


def _sqlalchemy(url: str) -> Callable[[], Any]:
    engine = bootstrap.build(Settings(database_url=url)).engine

    @contextmanager
    def transaction() -> Iterator[sqlite3.Connection]:
        with engine.connect() as connection:
            begun = connection.begin()  # the engine's begin event: turnstile, BEGIN IMMEDIATE
            driver: Any = connection.connection.driver_connection
            yield driver
            begun.commit()

    return transaction


LAYERS: list[tuple[str, Callable[[str, list[str], int], Step]]] = [
    ("raw SQL", bench.raw_single),
    ("domain on the driver", _layered(_on_driver)),
    ("+ pool, polling", _layered(lambda url: _from_pool(url, turnstile=False))),
    ("+ turnstile", _layered(lambda url: _from_pool(url, turnstile=True))),
    ("+ SQLAlchemy transaction", _layered(_sqlalchemy)),
    ("service", bench.service_single),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument(
        "--threads", type=lambda text: [int(n) for n in text.split(",")], default=[1, 4, 16]
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.accounts, args.threads = 0.3, 20, [1, 2]
    print(
        f"benchmarks/sqlite_writers.py on {platform.node()}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{args.seconds:g} s per measurement, {args.accounts} wallets\n"
    )
    with tempfile.TemporaryDirectory(prefix="soko-bench-writers-") as workdir:
        setup = bench.prepare(f"sqlite:///{workdir}/writers.db", args.accounts)
        rates = {
            (name, threads): bench.run_threads(target, setup, threads, args.seconds)
            for threads in args.threads
            for name, target in LAYERS
        }
    header = " | ".join(f"{threads} thread{'s' * (threads > 1)}" for threads in args.threads)
    print(f"| layer | {header} |")
    print("|---|" + "---:|" * len(args.threads))
    for name, _ in LAYERS:
        cells = []
        for threads in args.threads:
            rate, raw = rates[(name, threads)], rates[("raw SQL", threads)]
            cells.append(f"{rate:,.0f}/s ({rate / raw:.2f}x)")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
