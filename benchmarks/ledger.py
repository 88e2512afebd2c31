"""Ledger throughput through the service layer, beside the raw database measured in the same run.

For each database (SQLite file, PostgreSQL) this posts transfers between random funded wallets:

* single transfers, one per transaction, from 1, 4 and 16 concurrent worker processes, through
  `soko.ledger.service.transfer` and through plain SQL doing the same writes (lock both
  accounts in id order, insert the transfer, add to both accounts' counters, commit);
* batches of 100 transfers per transaction, from one process, both ways, on a fresh database
  with the same number of wallets (so the figure does not depend on the rows before it);
* on PostgreSQL, `pgbench`'s TPC-B-like script at the same client counts.

It prints one table per database with the ratios the targets are stated in. It is a script, not a
test: `--quick` runs tiny sizes so CI can check that it still works.

    python benchmarks/ledger.py                  # both databases, 5 s per measurement
    python benchmarks/ledger.py --quick          # CI: seconds, not minutes
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import queue
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from soko import bootstrap
from soko.config import Settings
from soko.db.driver import LOCK_CHUNK, SQLITE_READ_CHUNK
from soko.db.engine import WAL_AUTOCHECKPOINT_PAGES
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import move
from soko.ledger.reconcile import reconcile

POSTGRES_SERVER = os.environ.get("SOKO_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
AMOUNT_MINOR = 100
BATCH_SIZE = 100


@dataclass(frozen=True)
class Setup:
    url: str
    wallets: list[str]


def prepare(url: str, accounts: int) -> Setup:
    runtime = bootstrap.build(Settings(database_url=url), upgrade_schema=True)
    ctx = runtime.context
    settlement = ledger.system_account(ctx, AccountCode.SETTLEMENT, "KES")
    wallets = [
        ledger.open_account(ctx, currency="KES", code=AccountCode.WALLET).id
        for _ in range(accounts)
    ]
    for start in range(0, accounts, 1000):
        ledger.create_transfers(
            ctx,
            [
                move(
                    ctx.ids.new("tr"),
                    debit_account_id=settlement.id,
                    credit_account_id=wallet,
                    amount=10**15,
                    currency="KES",
                    code=TransferCode.DEPOSIT,
                )
                for wallet in wallets[start : start + 1000]
            ],
        )
    runtime.close()
    return Setup(url, wallets)


# --- the workers: each prepares in its own process, then all start together ------------------
#
# A target is `prepare(url, wallets, seed) -> step`, where `step()` posts one transaction and
# returns how many transfers it held. Preparing (imports, connections) happens before the
# start barrier, so slow process start-up on a loaded machine is never counted.

Step = Callable[[], int]


def service_single(url: str, wallets: list[str], seed: int) -> Step:
    runtime = bootstrap.build(Settings(database_url=url))
    ctx, rng, amount = runtime.context, random.Random(seed), Money.of(AMOUNT_MINOR, "KES")

    def step() -> int:
        debit, credit = rng.sample(wallets, 2)
        ledger.transfer(
            ctx,
            debit_account_id=debit,
            credit_account_id=credit,
            amount=amount,
            code=TransferCode.P2P,
        )
        return 1

    return step


def service_batch(url: str, wallets: list[str], seed: int) -> Step:
    runtime = bootstrap.build(Settings(database_url=url))
    ctx, rng = runtime.context, random.Random(seed)

    def step() -> int:
        requests = []
        for _ in range(BATCH_SIZE):
            debit, credit = rng.sample(wallets, 2)
            requests.append(
                move(
                    ctx.ids.new("tr"),
                    debit_account_id=debit,
                    credit_account_id=credit,
                    amount=AMOUNT_MINOR,
                    currency="KES",
                    code=TransferCode.P2P,
                )
            )
        return len(ledger.create_transfers(ctx, requests))

    return step


class RawLedger:
    """The same writes as the service, in plain SQL on the bare driver: the baseline."""

    def __init__(self, url: str, turns: threading.Lock | None = None) -> None:
        #: When set, a lock the writers hold from BEGIN to COMMIT, as Soko's writer threads hold
        #: their process's gate (ADR 0014): raw SQL waiting its turn instead of in SQLite's
        #: unfair busy handler.
        self.turns = turns
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            self.conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            for pragma in (
                "journal_mode=WAL",
                "synchronous=NORMAL",
                "foreign_keys=ON",
                f"wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}",  # the same database settings
            ):
                self.conn.execute(f"PRAGMA {pragma}")
            self.mark = "?"
        else:
            self.conn = psycopg.connect(url)
            self.mark = "%s"
        m = self.mark
        self.lock = "" if self.sqlite else " FOR UPDATE"
        self.insert_sql = (
            "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, currency, "
            f"code, flags, created_at) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m}, {m})"
        )
        self.update_sql = (
            f"UPDATE accounts SET debits_posted = debits_posted + {m}, "
            f"credits_posted = credits_posted + {m} WHERE id = {m}"
        )

    def now(self) -> Any:
        moment = datetime.now(UTC)
        return int(moment.timestamp() * 1_000_000) if self.sqlite else moment

    def begin(self) -> None:
        # The connection keeps sqlite3's default 5 s busy timeout: a writer waits for the lock
        # asleep in SQLite's busy handler, as the service's writers do (ADR 0006).
        if self.sqlite:
            self.conn.execute("BEGIN IMMEDIATE")

    def transaction(self, pairs: list[tuple[str, str]], make_id: Callable[[], str]) -> None:
        if self.turns is None:
            self._transaction(pairs, make_id)
            return
        with self.turns:
            self._transaction(pairs, make_id)

    def _transaction(self, pairs: list[tuple[str, str]], make_id: Callable[[], str]) -> None:
        self.begin()
        cursor = self.conn.cursor()
        ids = sorted({account for pair in pairs for account in pair})
        # Chunks as the service's: on PostgreSQL 64 row locks a statement, on SQLite (already
        # locked whole by BEGIN IMMEDIATE) up to 500 accounts read at once.
        step = SQLITE_READ_CHUNK if self.sqlite else LOCK_CHUNK
        for start in range(0, len(ids), step):
            chunk = ids[start : start + step]
            marks = ", ".join([self.mark] * len(chunk))
            cursor.execute(
                f"SELECT * FROM accounts WHERE id IN ({marks}) ORDER BY id{self.lock}", chunk
            )
            cursor.fetchall()
        now = self.now()
        cursor.executemany(
            self.insert_sql,
            [
                (make_id(), debit, credit, AMOUNT_MINOR, "KES", "p2p", 0, now)
                for debit, credit in pairs
            ],
        )
        deltas: dict[str, list[int]] = {}
        for debit, credit in pairs:
            deltas.setdefault(debit, [0, 0])[0] += AMOUNT_MINOR
            deltas.setdefault(credit, [0, 0])[1] += AMOUNT_MINOR
        cursor.executemany(self.update_sql, [(d, c, account) for account, (d, c) in deltas.items()])
        if self.sqlite:
            cursor.execute("COMMIT")
        else:
            self.conn.commit()
        cursor.close()


def _raw(
    url: str, wallets: list[str], seed: int, *, batch: int, turns: threading.Lock | None = None
) -> Step:
    raw, rng = RawLedger(url, turns), random.Random(seed)
    counter = iter(range(10**12))
    prefix = f"raw{seed}_{os.getpid()}_{os.urandom(4).hex()}_"  # unique per run and thread

    def step() -> int:
        pairs = [
            (debit, credit) for debit, credit in (rng.sample(wallets, 2) for _ in range(batch))
        ]
        raw.transaction(pairs, lambda: f"{prefix}{next(counter)}")
        return batch

    return step


def raw_single(url: str, wallets: list[str], seed: int) -> Step:
    return _raw(url, wallets, seed, batch=1)


#: The lock that `raw_single_in_turn`'s threads share (threads of this process only).
_TURNS = threading.Lock()


def raw_single_in_turn(url: str, wallets: list[str], seed: int) -> Step:
    return _raw(url, wallets, seed, batch=1, turns=_TURNS)


def raw_batch(url: str, wallets: list[str], seed: int) -> Step:
    return _raw(url, wallets, seed, batch=BATCH_SIZE)


@dataclass(frozen=True)
class Run:
    target: Callable[[str, list[str], int], Step]
    setup: Setup
    seconds: float


def _worker(run: Run, seed: int, start: Any, results: Any) -> None:
    step = run.target(run.setup.url, run.setup.wallets, seed)
    start.wait()
    deadline = time.monotonic() + run.seconds
    done = 0
    while time.monotonic() < deadline:
        done += step()
    results.put(done)


def run_threads(
    target: Callable[[str, list[str], int], Step], setup: Setup, workers: int, seconds: float
) -> float:
    """Transfers per second over `seconds`, from `workers` threads of this process."""
    start = threading.Barrier(workers + 1, timeout=300)
    results: queue.Queue[int] = queue.Queue()
    threads = [
        threading.Thread(target=_worker, args=(Run(target, setup, seconds), seed, start, results))
        for seed in range(workers)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    total = sum(results.get(timeout=seconds + 120) for _ in threads)
    for thread in threads:
        thread.join(timeout=60)
    return total / seconds


def run_processes(
    target: Callable[[str, list[str], int], Step], setup: Setup, workers: int, seconds: float
) -> float:
    """Transfers per second over `seconds`, from `workers` processes started together."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(workers + 1, timeout=300)
    results = context.Queue()
    processes = [
        context.Process(target=_worker, args=(Run(target, setup, seconds), seed, start, results))
        for seed in range(workers)
    ]
    for process in processes:
        process.start()
    start.wait()
    total = sum(results.get(timeout=seconds + 120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0, process.exitcode
    return total / seconds


def pgbench_tps(clients: int, seconds: float, scale: int) -> float:
    """pgbench's TPC-B-like tps at `clients`, on a database of its own."""
    database = "soko_bench_pgbench"
    env = os.environ | {"PGHOST": "127.0.0.1", "PGUSER": "postgres"}
    subprocess.run(["dropdb", "--if-exists", database], check=True, env=env)
    subprocess.run(["createdb", database], check=True, env=env)
    subprocess.run(
        ["pgbench", "-i", "-q", "-s", str(scale), database],
        check=True,
        env=env,
        capture_output=True,
    )
    output = subprocess.run(
        [
            "pgbench",
            "-c",
            str(clients),
            "-j",
            str(min(clients, 4)),
            "-T",
            str(max(1, round(seconds))),
            "-b",
            "tpcb-like",
            database,
        ],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    subprocess.run(["dropdb", "--if-exists", database], check=True, env=env)
    match = re.search(r"tps = ([0-9.]+)", output)
    assert match, output
    return float(match.group(1))


# --- the report ---------------------------------------------------------------------------


@dataclass
class Row:
    mode: str
    workers: int
    service_tps: float
    raw_tps: float
    pgbench: float | None = None
    #: SQLite threads: raw SQL whose threads take turns at one lock, as the service's do.
    raw_in_turn_tps: float | None = None


def fresh_database(kind: str, workdir: Path, name: str = "soko_bench_ledger") -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / (name + '.db')}"
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return f"{POSTGRES_SERVER}/{name}"


def measure(kind: str, args: argparse.Namespace) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        url = fresh_database(kind, Path(workdir))
        setup = prepare(url, args.accounts)
        # SQLite serves one process (its writers share one lock; decision 0006), so its
        # concurrent workers are threads, as under `soko serve`; processes are shown too, to
        # show why. PostgreSQL's workers are processes, as several API workers would be.
        runs = (
            [("threads", run_threads), ("processes", run_processes)]
            if kind == "sqlite"
            else [("processes", run_processes)]
        )
        for label, run in runs:
            for workers in args.workers:
                service = run(service_single, setup, workers, args.seconds)
                raw = run(raw_single, setup, workers, args.seconds)
                baseline = (
                    pgbench_tps(workers, args.seconds, scale=max(workers, 1))
                    if kind == "postgresql" and shutil.which("pgbench")
                    else None
                )
                in_turn = (
                    run(raw_single_in_turn, setup, workers, args.seconds)
                    if label == "threads"
                    else None
                )
                rows.append(Row(f"single, {label}", workers, service, raw, baseline, in_turn))
        # Batches on a database of their own, with the same 1,000 funded wallets: otherwise the
        # figure would depend on how many transfers the single-transfer rows left behind (half
        # a million of them cost raw SQL a quarter of its batch rate on SQLite).
        batch_setup = prepare(
            fresh_database(kind, Path(workdir), "soko_bench_batches"), args.accounts
        )
        service = run_processes(service_batch, batch_setup, 1, args.seconds)
        raw = run_processes(raw_batch, batch_setup, 1, args.seconds)
        rows.append(Row(f"batch of {BATCH_SIZE}", 1, service, raw))
        for checked in (setup, batch_setup):
            runtime = bootstrap.build(Settings(database_url=checked.url))
            report = reconcile(runtime.context)
            runtime.close()
            assert report.passed, [check for check in report.checks if not check.passed]
            print(f"  reconcile after the run: passed ({report.transfers} transfers)")
    return rows


def print_table(kind: str, rows: list[Row]) -> None:
    print(f"\n### {kind}\n")
    print(
        "| mode | workers | service transfers/s | raw SQL transfers/s | service / raw "
        "| pgbench tps | service / pgbench | raw SQL taking turns /s | service / raw taking turns |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        ratio = row.service_tps / row.raw_tps if row.raw_tps else float("nan")
        pg = f"{row.pgbench:,.0f}" if row.pgbench else "-"
        pg_ratio = f"{row.service_tps / row.pgbench:.2f}x" if row.pgbench else "-"
        turns = f"{row.raw_in_turn_tps:,.0f}" if row.raw_in_turn_tps else "-"
        turns_ratio = (
            f"{row.service_tps / row.raw_in_turn_tps:.2f}x" if row.raw_in_turn_tps else "-"
        )
        print(
            f"| {row.mode} | {row.workers} | {row.service_tps:,.0f} | {row.raw_tps:,.0f} "
            f"| {ratio:.2f}x | {pg} | {pg_ratio} | {turns} | {turns_ratio} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument(
        "--workers", type=lambda text: [int(n) for n in text.split(",")], default=[1, 4, 16]
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.accounts, args.workers = 0.5, 20, [1, 2]
    print(
        f"benchmarks/ledger.py on {platform.node()}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{args.seconds:g} s per measurement, {args.accounts} wallets"
    )
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        print(f"measuring {kind} ...", file=sys.stderr)
        print_table(kind, measure(kind, args))


if __name__ == "__main__":
    main()
