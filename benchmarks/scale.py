"""The cost of a payment, a balance read and a statement read as the ledger grows.

For each database (SQLite file, PostgreSQL) the ledger is grown in steps, in bulk SQL, to
10^3, 10^4, 10^5 and 10^6 accounts with ten deposits each (up to 10^7 transfers); at each step one
process measures, through the services and through plain SQL doing the same work on the bare
driver:

* a transfer between two random accounts (lock both, insert, add to both counters, commit);
* a balance read (one account by id);
* a statement read (an account's newest 20 transfers, both sides merged).

Every cost should stay flat as the ledger grows (each is a few index lookups): the report gives
microseconds per operation at each size, the service/raw ratio, and the growth from the smallest
size to the largest. It is a script, not a test; `--quick` runs tiny sizes for CI.

    python benchmarks/scale.py                    # both databases, up to 10^6 accounts
    python benchmarks/scale.py --max-accounts 100000
    python benchmarks/scale.py --quick            # CI: seconds
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from soko import bootstrap
from soko.config import Settings
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.reconcile import reconcile

POSTGRES_SERVER = os.environ.get("SOKO_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
DEPOSITS_PER_ACCOUNT = 10
DEPOSIT_MINOR = 100_00
STATEMENT_ROWS = 20

Op = Callable[[], None]


@dataclass
class Store:
    name: str
    url: str
    sqlite: bool
    settlement_id: str = ""
    accounts: int = 0

    def connect(self) -> Any:
        if self.sqlite:
            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        return psycopg.connect(self.url, autocommit=True)

    def account_id(self, n: int) -> str:
        return f"acc_bulk{n:022d}"


def grow(store: Store, to_accounts: int) -> None:
    """Add accounts (each a funded wallet) and their deposits from settlement, in bulk SQL that
    writes exactly what the services would: counters equal the sums of the transfers."""
    first, last = store.accounts + 1, to_accounts
    if last < first:
        return
    added = last - first + 1
    conn = store.connect()
    now_sqlite = int(datetime.now(UTC).timestamp() * 1_000_000)
    credits = DEPOSITS_PER_ACCOUNT * DEPOSIT_MINOR
    if store.sqlite:
        conn.execute("BEGIN IMMEDIATE")
        series = f"WITH RECURSIVE g(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM g WHERE n < {last})"  # noqa: E501
        conn.execute(
            f"{series} INSERT INTO accounts (id, currency, code, flags, name, debits_pending,"
            " debits_posted, credits_pending, credits_posted, created_at)"
            f" SELECT printf('acc_bulk%022d', n), 'KES', 'wallet', 1, NULL, 0, 0, 0, {credits},"
            f" {now_sqlite} FROM g"
        )
        conn.execute(
            f"{series}, d(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM d WHERE k < "
            f"{DEPOSITS_PER_ACCOUNT})"
            " INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, currency,"
            " code, flags, created_at)"
            f" SELECT printf('tr_bulk%020d_%02d', n, k), '{store.settlement_id}',"
            f" printf('acc_bulk%022d', n), {DEPOSIT_MINOR}, 'KES', 'deposit', 0, {now_sqlite}"
            " FROM g, d ORDER BY n, k"
        )
        conn.execute(
            "UPDATE accounts SET debits_posted = debits_posted + ? WHERE id = ?",
            (added * credits, store.settlement_id),
        )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    else:
        with conn.transaction():
            conn.execute(
                "INSERT INTO accounts (id, currency, code, flags, name, debits_pending,"
                " debits_posted, credits_pending, credits_posted, created_at)"
                " SELECT 'acc_bulk' || lpad(n::text, 22, '0'), 'KES', 'wallet', 1, NULL, 0, 0,"
                " 0, %s, now() FROM generate_series(%s::bigint, %s::bigint) n",
                (credits, first, last),
            )
            conn.execute(
                "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount,"
                " currency, code, flags, created_at)"
                " SELECT 'tr_bulk' || lpad(n::text, 20, '0') || '_' || lpad(k::text, 2, '0'),"
                " %s, 'acc_bulk' || lpad(n::text, 22, '0'), %s, 'KES', 'deposit', 0, now()"
                " FROM generate_series(%s::bigint, %s::bigint) n,"
                " generate_series(1, %s) k ORDER BY n, k",
                (store.settlement_id, DEPOSIT_MINOR, first, last, DEPOSITS_PER_ACCOUNT),
            )
            conn.execute(
                "UPDATE accounts SET debits_posted = debits_posted + %s WHERE id = %s",
                (added * credits, store.settlement_id),
            )
        conn.execute("ANALYZE accounts")
        conn.execute("ANALYZE transfers")
    conn.close()
    store.accounts = to_accounts


# --- the operations, through the services and raw ------------------------------------------------


def service_ops(store: Store, ctx: Any, rng: random.Random) -> dict[str, Op]:
    def pick() -> str:
        return store.account_id(rng.randint(1, store.accounts))

    def transfer() -> None:
        debit, credit = pick(), pick()
        while credit == debit:
            credit = pick()
        ledger.transfer(ctx, debit_account_id=debit, credit_account_id=credit,
                        amount=Money.of(1, "KES"), code=TransferCode.P2P)  # fmt: skip

    return {
        "transfer": transfer,
        "balance": lambda: ledger.get_account(ctx, pick()),
        "statement": lambda: ledger.list_transfers(ctx, pick(), limit=STATEMENT_ROWS),
    }


def raw_ops(store: Store, conn: Any, rng: random.Random) -> dict[str, Op]:
    mark = "?" if store.sqlite else "%s"
    lock = "" if store.sqlite else " FOR UPDATE"
    counter = iter(range(10**12))
    prefix = f"raw_{os.urandom(4).hex()}_"

    def pick() -> str:
        return store.account_id(rng.randint(1, store.accounts))

    def transfer() -> None:
        debit, credit = pick(), pick()
        while credit == debit:
            credit = pick()
        now: Any = datetime.now(UTC)
        if store.sqlite:
            now = int(now.timestamp() * 1_000_000)
            conn.execute("BEGIN IMMEDIATE")
        else:
            conn.execute("BEGIN")
        first, second = sorted((debit, credit))
        for account in (first, second):
            conn.execute(f"SELECT * FROM accounts WHERE id = {mark}{lock}", (account,)).fetchall()
        conn.execute(
            "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, currency,"
            f" code, flags, created_at) VALUES ({', '.join([mark] * 8)})",
            (f"{prefix}{next(counter)}", debit, credit, 1, "KES", "p2p", 0, now),
        )
        conn.execute(f"UPDATE accounts SET debits_posted = debits_posted + 1 WHERE id = {mark}",
                     (debit,))  # fmt: skip
        conn.execute(f"UPDATE accounts SET credits_posted = credits_posted + 1 WHERE id = {mark}",
                     (credit,))  # fmt: skip
        conn.execute("COMMIT")

    def balance() -> None:
        conn.execute(f"SELECT * FROM accounts WHERE id = {mark}", (pick(),)).fetchall()

    def statement() -> None:
        account = pick()
        conn.execute(
            f"SELECT * FROM (SELECT * FROM transfers WHERE debit_account_id = {mark}"
            f" UNION ALL SELECT * FROM transfers WHERE credit_account_id = {mark}) t"
            f" ORDER BY seq DESC LIMIT {STATEMENT_ROWS}",
            (account, account),
        ).fetchall()

    return {"transfer": transfer, "balance": balance, "statement": statement}


def cost_us(op: Op, seconds: float) -> float:
    """Mean microseconds per call over about `seconds` (after a short warm-up)."""
    for _ in range(20):
        op()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        op()
        calls += 1
    return (time.perf_counter() - start) / calls * 1e6


# --- runs ---------------------------------------------------------------------------------------


@dataclass
class Row:
    accounts: int
    transfers: int
    costs: dict[str, tuple[float, float]]  # op -> (service us, raw us)


def measure_store(store: Store, sizes: list[int], seconds: float) -> list[Row]:
    runtime = bootstrap.build(
        Settings(database_url=store.url, pin_hash_time_cost=1, pin_hash_memory_kib=8),
        upgrade_schema=True,
    )
    ctx = runtime.context
    store.settlement_id = ledger.system_account(ctx, AccountCode.SETTLEMENT, "KES").id
    rows = []
    rng = random.Random(7)
    raw_conn = store.connect()
    try:
        for size in sizes:
            started = time.perf_counter()
            grow(store, size)
            grown = time.perf_counter() - started
            service, raw = service_ops(store, ctx, rng), raw_ops(store, raw_conn, rng)
            costs = {op: (cost_us(service[op], seconds), cost_us(raw[op], seconds))
                     for op in ("transfer", "balance", "statement")}  # fmt: skip
            rows.append(Row(size, size * DEPOSITS_PER_ACCOUNT, costs))
            print(f"  {store.name}: {size:,} accounts (grown in {grown:.0f} s)", flush=True)
        if sizes[-1] <= 100_000:
            # Whole-ledger sums: worth it at small sizes, minutes at the largest.
            report = reconcile(ctx)
            assert report.passed, report
            print(f"  reconcile: passed ({report.transfers:,} transfers)")
    finally:
        raw_conn.close()
        runtime.close()
    return rows


def table(name: str, rows: list[Row]) -> str:
    lines = [
        f"### {name}",
        "",
        "| accounts | transfers | transfer µs (raw) | balance µs (raw) | statement µs (raw) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        cells = [f"{row.costs[op][0]:,.0f} ({row.costs[op][1]:,.0f})"
                 for op in ("transfer", "balance", "statement")]  # fmt: skip
        lines.append(f"| {row.accounts:,} | {row.transfers:,} | " + " | ".join(cells) + " |")
    first, last = rows[0], rows[-1]
    growth = ", ".join(
        f"{op} {last.costs[op][0] / first.costs[op][0]:.2f}x"
        f" (raw {last.costs[op][1] / first.costs[op][1]:.2f}x),"
        f" service/raw {last.costs[op][0] / last.costs[op][1]:.2f}x"
        for op in ("transfer", "balance", "statement")
    )
    lines += ["", f"From {first.accounts:,} to {last.accounts:,} accounts: {growth}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--max-accounts", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    sizes = [10**n for n in range(3, 7) if 10**n <= args.max_accounts]
    seconds = args.seconds
    if args.quick:
        sizes, seconds = [100, 1_000], 0.2
    print(f"# scale: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    directory = Path(tempfile.mkdtemp(prefix="soko-scale-"))
    try:
        for name in stores:
            if name == "sqlite":
                store = Store(name, f"sqlite:///{directory / 'scale.db'}", sqlite=True)
                print(table(name, measure_store(store, sizes, seconds)))
            else:
                database = f"soko_bench_scale_{os.getpid()}"
                admin = psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True)
                admin.execute(f"DROP DATABASE IF EXISTS {database}")
                admin.execute(f"CREATE DATABASE {database}")
                try:
                    store = Store(name, f"postgresql://{POSTGRES_SERVER.split('://')[1]}/{database}",
                                  sqlite=False)  # fmt: skip
                    print(table(name, measure_store(store, sizes, seconds)))
                finally:
                    admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                    admin.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    version = subprocess.run(["psql", "--version"], capture_output=True, text=True, check=False)
    print(f"({version.stdout.strip()})")


if __name__ == "__main__":
    main()
