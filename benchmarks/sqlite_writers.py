"""Where a single transfer's time goes on SQLite with several writer threads, layer by layer.

`ledger.py` compares the service with raw SQL. This script builds the same transfer up one layer
at a time, each measured beside raw SQL in the same run, so the cost of each layer shows. Every
layer waits for SQLite's write lock the same way, asleep in SQLite's busy handler (ADR 0006):

* **raw SQL**: `ledger.RawLedger`, no rules (the baseline of `ledger.py`);
* **domain on the driver**: the domain's `plan_transfers` and the ledger's hot statements on a
  bare sqlite3 connection;
* **+ SQLAlchemy transaction**: on a SQLAlchemy connection kept open between transactions,
  `begin()` (the engine's begin event: `BEGIN IMMEDIATE`) and `commit()`, as the unit of work
  does since ADR 0013;
* **service**: `soko.ledger.service.transfer` (unit of work, repositories, retries);
* **(a connection per transaction)**: the SQLAlchemy layer again, but opening a connection from
  the pool for each transaction and closing it after, as the unit of work did before ADR 0013.

    python benchmarks/sqlite_writers.py               # 1, 4 and 16 threads, 3 s each
    python benchmarks/sqlite_writers.py --quick       # CI
"""

from __future__ import annotations

import argparse
import contextlib
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
from soko.db.driver import hot_statements
from soko.db.engine import WAL_AUTOCHECKPOINT_PAGES
from soko.db.types import to_epoch_micros
from soko.ledger.chart import TransferCode
from soko.ledger.domain import move, plan_transfers
from soko.ledger.storage import _account_from_tuple, _transfer_values

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ledger as bench  # the sibling benchmark: setup, raw SQL, runners

HOT = hot_statements("sqlite")
# Long: SQLite's busy handler is not fair, and at 16 threads a writer can wait seconds; a
# timeout would end the run.
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
        url.removeprefix("sqlite:///"),
        isolation_level=None,
        check_same_thread=False,
        timeout=WAIT_SECONDS,
    )
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                   f"wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}"):  # fmt: skip
        connection.execute(f"PRAGMA {pragma}")

    @contextmanager
    def transaction() -> Iterator[sqlite3.Connection]:
        connection.execute("BEGIN IMMEDIATE")
        yield connection
        connection.execute("COMMIT")

    return transaction


def _sqlalchemy(url: str, *, kept: bool) -> Callable[[], Any]:
    settings = Settings(database_url=url, sqlite_busy_timeout_ms=int(WAIT_SECONDS * 1000))
    engine = bootstrap.build(settings).engine
    kept_connection = engine.connect() if kept else None

    @contextmanager
    def transaction() -> Iterator[sqlite3.Connection]:
        with contextlib.ExitStack() as stack:
            connection = kept_connection or stack.enter_context(engine.connect())
            begun = connection.begin()  # the engine's begin event: BEGIN IMMEDIATE
            driver: Any = connection.connection.driver_connection
            yield driver
            begun.commit()

    return transaction


LAYERS: list[tuple[str, Callable[[str, list[str], int], Step]]] = [
    ("raw SQL", bench.raw_single),
    ("domain on the driver", _layered(_on_driver)),
    ("+ SQLAlchemy transaction", _layered(lambda url: _sqlalchemy(url, kept=True))),
    ("service", bench.service_single),
    ("(a connection per transaction)", _layered(lambda url: _sqlalchemy(url, kept=False))),
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
