"""API throughput: `soko serve` driven over HTTP, beside the raw database measured in the same run.

For each store (PostgreSQL, the SQLite default) this

* makes a fresh database and fills it through the use cases: 10,000 tier-2 consumers funded by
  an agent's cash-ins, 1,000 merchants (with their KES wallets open), an operator API key;
* measures the raw database first: pgbench's TPC-B-like script at each client count
  (PostgreSQL), and the ledger writes of a payment in plain SQL by as many threads (both);
* starts `soko serve --workers N` as a process group and drives it from a separate process
  (asyncio, one keep-alive connection per client, each looping without think time): P2P transfers
  and merchant payments 50/50 from random payers, at 1, 16 and 64 clients; then merchant payments
  only, 16 clients, all to one merchant (the hot merchant) and spread over every merchant;
* checks after each load that the payments in the database equal the 2xx answers (nothing
  lost, nothing doubled), and after the store's run that `reconcile` passes.

It is a script, not a test: `--quick` runs tiny sizes so CI can check that it still works.

    python benchmarks/api_load.py                     # both stores, 5 s per measurement
    python benchmarks/api_load.py --store postgresql  # one store
    python benchmarks/api_load.py --quick             # CI: SQLite, 200 wallets, 1 s per load
    python benchmarks/api_load.py --quick --store both
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa

from soko import bootstrap
from soko.config import Settings
from soko.context import Context, UnitOfWork
from soko.kernel.errors import DomainError, Rejected
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.payments import tables as payment_tables
from soko.people import access, wallets
from soko.people import service as users
from soko.people import tables as people_tables
from soko.people.domain import UserKind
from soko.people.service import MerchantDetails

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ledger import RawLedger  # benchmarks/ledger.py: the raw baseline's writes

POSTGRES_SERVER = os.environ.get("SOKO_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "soko_bench_api"
PGBENCH_DATABASE = "soko_bench_api_pgbench"
SOKO = Path(sys.executable).with_name("soko")
FUNDS = "20000.00"  # per consumer: hundreds of payments, far below tier 2's caps
P2P_AMOUNT = "150.00"  # KES 7 fee: every P2P transfer credits fees:KES
MERCHANT_AMOUNT = "250.00"  # 0.5 % discount rate: every merchant payment credits fees:KES
SETUP_BATCH = 250  # consumers per setup transaction


def _rejection_codes() -> frozenset[str]:
    found: set[str] = set()
    todo: list[type[DomainError]] = [Rejected]
    while todo:
        cls = todo.pop()
        found.add(cls.code)
        todo.extend(cls.__subclasses__())
    return frozenset(found)


#: 4xx answers that are a business rule saying no (a limit, a balance): counted, not errors.
BUSINESS_REJECTIONS = _rejection_codes()


# --- setup: the people, made through the use cases --------------------------------------------


class _Joined:
    """A service's unit of work inside the batch's open transaction: commit waits for the batch."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._uow, name)

    def commit(self) -> None:
        pass


class BatchedTransactions:
    """A unit-of-work factory that runs many use cases in one database transaction.

    The services run unchanged, so they write exactly the rows they write one by one; only
    the commits are grouped (one fsync per batch, not per use case). Setup only: a refusal
    inside a batch would leave the batch half done, so any exception aborts the setup.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.uow: Any = None

    def __call__(self, *, read_only: bool = False) -> Any:
        assert self.uow is not None, "outside a batch"
        return _Joined(self.uow)

    @contextmanager
    def batch(self) -> Iterator[Context]:
        self.uow = self.ctx.unit_of_work()
        self.uow.__enter__()
        try:
            yield replace(self.ctx, unit_of_work=self)
            self.uow.commit()
        finally:
            self.uow.__exit__(None, None, None)
            self.uow = None


@dataclass
class Population:
    url: str
    operator_key: str
    consumer_ids: list[str]
    consumer_phones: list[str]
    merchant_ids: list[str]
    # Ledger account ids, for the raw SQL baseline.
    consumer_accounts: list[str]
    merchant_accounts: list[str]
    fees_account: str


def kes(text: str) -> Money:
    return Money.parse(text, "KES")


def populate(url: str, consumers: int, merchants: int) -> Population:
    """Consumers (tier 2, funded by cash-ins), merchants and an operator key, via the services."""
    runtime = bootstrap.build(
        Settings(database_url=url, pin_hash_time_cost=1, pin_hash_memory_kib=8),
        upgrade_schema=True,
    )
    ctx = runtime.context
    try:
        agent = users.register(ctx, kind=UserKind.AGENT, phone="+254733000001", name="Float agent")
        total = kes(FUNDS).amount_minor * consumers
        payments.top_up_float(
            ctx, agent_id=agent.id, amount=Money.of(total, "KES"), idempotency_key="bench-float"
        )
        phones = [f"+2547{10_000_000 + i:08d}" for i in range(consumers)]
        ids: list[str] = []
        batched = BatchedTransactions(ctx)
        for start in range(0, consumers, SETUP_BATCH):
            with batched.batch() as bctx:
                for i in range(start, min(start + SETUP_BATCH, consumers)):
                    user = users.register(
                        bctx, kind=UserKind.CONSUMER, phone=phones[i], name=f"Payer {i}", pin="2468"
                    )
                    # Tier 2: the benchmark is about throughput, not the caps of small wallets.
                    users.set_kyc_tier(bctx, user.id, 2, national_id=f"{30_000_000 + i}")
                    payments.cash_in(
                        bctx, agent_id=agent.id, customer_phone=phones[i], amount=kes(FUNDS),
                        idempotency_key=f"bench-cash-in-{i}",
                    )  # fmt: skip
                    ids.append(user.id)
        # Merchants one transaction each: a random till may clash, and its retry needs a
        # transaction of its own. Their wallets are opened now, not by the first payment.
        merchant_ids, merchant_accounts = [], []
        for i in range(merchants):
            user = users.register(
                ctx, kind=UserKind.MERCHANT, phone=f"+2547{20_000_000 + i:08d}", name=f"Shop {i}",
                merchant=MerchantDetails(f"Shop {i}", "5999"),
            )  # fmt: skip
            merchant_ids.append(user.id)
            merchant_accounts.append(wallets.open_wallet(ctx, user.id, "KES").wallet.account_id)
        fees = ledger.system_account(ctx, AccountCode.FEES, "KES").id
        operator = access.create_api_key(ctx, role="operator", name="api load benchmark")
        with runtime.engine.connect() as connection:
            rows = connection.execute(
                sa.select(people_tables.wallets.c.user_id, people_tables.wallets.c.account_id)
            ).all()
            account_of: dict[str, str] = dict(rows)
        report = reconcile(ctx)
        assert report.passed, [check.name for check in report.checks if not check.passed]
    finally:
        runtime.close()
    return Population(
        url=url,
        operator_key=operator.secret,
        consumer_ids=ids,
        consumer_phones=phones,
        merchant_ids=merchant_ids,
        consumer_accounts=[account_of[user_id] for user_id in ids],
        merchant_accounts=merchant_accounts,
        fees_account=fees,
    )


def payment_counts(url: str) -> Counter[str]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(payment_tables.payments.c.kind, sa.func.count()).group_by(
                    payment_tables.payments.c.kind
                )
            ).all()
            return Counter(dict(rows))
    finally:
        engine.dispose()


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(url: str, workers: int, workdir: Path) -> Iterator[tuple[str, int]]:
    """`soko serve` as a process group of its own; stopped (the whole group) whatever happens."""
    port = free_port()
    env = os.environ | {
        "SOKO_DATABASE_URL": url,
        "SOKO_PIN_HASH_TIME_COST": "1",
        "SOKO_PIN_HASH_MEMORY_KIB": "8",
        "SOKO_SMS_LOG_PATH": str(workdir / "sms.log"),
    }
    log_path = workdir / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(SOKO), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=workdir,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"soko serve exited {process.returncode}:\n{log_path.read_text()}"
                )
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"soko serve did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        time.sleep(1.0 if workers > 1 else 0.2)  # let every worker finish starting
        yield base, process.pid
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group, if any
    process.wait(timeout=15)


# --- the load generator: a separate process ----------------------------------------------------


@dataclass
class Load:
    base: str
    operator_key: str
    consumer_ids: list[str]
    consumer_phones: list[str]
    merchant_ids: list[str]
    clients: int
    seconds: float
    warmup: float
    #: "mixed" (P2P and merchant payments 50/50) or "merchant" (merchant payments only).
    mix: str
    #: Merchant payments all go to this merchant (the hot merchant), or to a random one.
    hot_merchant: str | None
    seed: int
    server_pgid: int


@dataclass
class Result:
    created: dict[str, int] = field(default_factory=dict)  # 2xx by kind, whole run
    rejected: dict[str, int] = field(default_factory=dict)  # business rejections by code
    errors: dict[str, int] = field(default_factory=dict)  # anything else, by status or kind
    window_created: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    # CPU over the measured window, in cores (1.0 = one core busy all the time).
    cpu_machine: float = 0.0
    cpu_generator: float = 0.0
    cpu_server: float = 0.0
    cpu_postgres: float = 0.0

    def rate(self, seconds: float) -> float:
        return self.window_created / seconds

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def _cpu_ticks(server_pgid: int) -> dict[str, float]:
    """Seconds of CPU so far: the machine, the server's process group, PostgreSQL's processes."""
    hz = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as stat:
        fields = [int(n) for n in stat.readline().split()[1:]]
    busy = sum(fields) - fields[3] - fields[4]  # less idle and iowait
    server = postgres = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        rest = text[text.rindex(")") + 2 :].split()
        ticks = int(rest[11]) + int(rest[12])  # utime, stime
        if int(rest[2]) == server_pgid:  # pgrp
            server += ticks
        elif comm == "postgres":
            postgres += ticks
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "machine": busy / hz,
        "server": server / hz,
        "postgres": postgres / hz,
        "generator": own.ru_utime + own.ru_stime,
    }


def _host_port(base: str) -> tuple[str, int]:
    host, _, port = base.removeprefix("http://").partition(":")
    return host, int(port)


class _Connection:
    """One keep-alive HTTP/1.1 connection to `soko serve`, as light as a client can be.

    The generator shares the machine's two cores with the server: httpx cost it a third of a
    core at 16 clients and a whole one at 64, time the server did not get. This speaks just
    what uvicorn answers a POST with (a status line, headers, a Content-Length body).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(
        self, path: str, body: bytes, authorization: str, idempotency_key: str
    ) -> tuple[int, str, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: soko\r\nAuthorization: {authorization}\r\n"
            f"Content-Type: application/json\r\nIdempotency-Key: {idempotency_key}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise asyncio.IncompleteReadError(b"", None)
        status = int(status_line.split(b" ", 2)[1])
        length, content_type = 0, ""
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "content-type":
                content_type = value.strip()
        return status, content_type, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def _close(connection: _Connection | None) -> None:
    if connection is not None:
        connection.close()


async def drive(load: Load) -> Result:
    result = Result()
    latencies: list[float] = []
    created: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    loop_start = time.perf_counter()
    window_start = loop_start + load.warmup
    window_end = window_start + load.seconds
    window_created = 0
    amount_p2p = {"amount": P2P_AMOUNT, "currency": "KES"}
    amount_merchant = {"amount": MERCHANT_AMOUNT, "currency": "KES"}
    payers = len(load.consumer_ids)
    cpu: list[dict[str, float]] = []

    host, port = _host_port(load.base)
    authorization = f"Bearer {load.operator_key}"

    async def client(rng: random.Random) -> None:
        nonlocal window_created
        connection: _Connection | None = None
        while time.perf_counter() < window_end:
            payer = rng.randrange(payers)
            if load.mix == "mixed" and rng.random() < 0.5:
                payee = rng.randrange(payers - 1)
                payee += payee >= payer  # anyone but the payer
                kind, path = "p2p", "/v1/transfers"
                body: dict[str, Any] = {
                    "amount": amount_p2p,
                    "to_phone": load.consumer_phones[payee],
                    "sender_id": load.consumer_ids[payer],
                }
            else:
                kind, path = "merchant", "/v1/merchant-payments"
                body = {
                    "amount": amount_merchant,
                    "merchant_id": load.hot_merchant or rng.choice(load.merchant_ids),
                    "payer_id": load.consumer_ids[payer],
                }
            began = time.perf_counter()
            try:
                if connection is None:
                    connection = await _Connection.open(host, port)
                async with asyncio.timeout(10.0):
                    status, content_type, payload = await connection.post(
                        path, json.dumps(body).encode(), authorization, uuid.uuid4().hex
                    )
            except TimeoutError:
                failed["timeout"] += 1
                connection = _close(connection)
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                failed[type(error).__name__] += 1
                connection = _close(connection)
                continue
            ended = time.perf_counter()
            if status // 100 == 2:
                created[kind] += 1
                if window_start <= began and ended <= window_end:
                    window_created += 1
                    latencies.append(ended - began)
                continue
            code = ""
            if content_type.startswith("application/problem+json"):
                code = json.loads(payload).get("code", "")
            if status // 100 == 4 and code in BUSINESS_REJECTIONS:
                rejected[code] += 1
            else:
                failed[f"{status} {code}".strip()] += 1
        _close(connection)

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
        cpu.append(_cpu_ticks(load.server_pgid))
        await asyncio.sleep(max(0.0, window_end - time.perf_counter()))
        cpu.append(_cpu_ticks(load.server_pgid))

    await asyncio.gather(
        sample_cpu(), *(client(random.Random(load.seed * 1000 + i)) for i in range(load.clients))
    )
    latencies.sort()
    if latencies:
        result.p50_ms = latencies[len(latencies) // 2] * 1000
        result.p99_ms = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
        result.max_ms = latencies[-1] * 1000
    result.created, result.rejected, result.errors = dict(created), dict(rejected), dict(failed)
    result.window_created = window_created
    before, after = cpu
    for name in ("machine", "generator", "server", "postgres"):
        # A process that exits in the window takes its ticks with it: never below zero.
        setattr(result, f"cpu_{name}", max(0.0, after[name] - before[name]) / load.seconds)
    return result


def generate(config: Path) -> None:
    """The load generator's process: read the load, drive the server, print the result."""
    load = Load(**json.loads(config.read_text()))
    print(json.dumps(asdict(asyncio.run(drive(load)))))


def run_load(load: Load, workdir: Path) -> Result:
    config = workdir / "load.json"
    config.write_text(json.dumps(asdict(load)))
    done = subprocess.run(
        [sys.executable, __file__, "--generate", str(config)],
        capture_output=True,
        text=True,
        timeout=load.warmup + load.seconds + 120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr}")
    return Result(**json.loads(done.stdout))


# --- the raw baselines -------------------------------------------------------------------------


def pgbench(clients: list[int], seconds: float) -> dict[int, float]:
    """pgbench's TPC-B-like tps at each client count, on a throwaway database of its own."""
    if not shutil.which("pgbench"):
        return {}
    env = os.environ | {"PGHOST": "127.0.0.1", "PGUSER": "postgres"}
    subprocess.run(["dropdb", "--if-exists", PGBENCH_DATABASE], check=True, env=env)
    subprocess.run(["createdb", PGBENCH_DATABASE], check=True, env=env)
    tps = {}
    try:
        # Scale = the most clients, so no run waits on the few branch rows of a small scale.
        subprocess.run(
            ["pgbench", "-i", "-q", "-s", str(max(clients)), PGBENCH_DATABASE],
            check=True, env=env, capture_output=True,
        )  # fmt: skip
        for count in clients:
            output = subprocess.run(
                ["pgbench", "-b", "tpcb-like", "-c", str(count), "-j", "2",
                 "-T", str(max(1, round(seconds))), PGBENCH_DATABASE],
                check=True, env=env, capture_output=True, text=True,
            ).stdout  # fmt: skip
            match = re.search(r"tps = ([0-9.]+)", output)
            assert match, output
            tps[count] = float(match.group(1))
    finally:
        subprocess.run(["dropdb", "--if-exists", PGBENCH_DATABASE], check=True, env=env)
    return tps


def raw_payments(population: Population, threads: int, seconds: float) -> float:
    """A payment's ledger writes in plain SQL (benchmarks/ledger.py's `RawLedger`), by `threads`.

    Each transaction is what a payment moves: lock payer, payee and fees:KES in id order, insert
    two transfers (the amount; the fee), add to the three accounts' counters, commit; half of
    them P2P (fee from the payer), half to a merchant (fee from the merchant). No rules, no
    payment row, texts or idempotency key: the floor under what the API's payment writes.
    """
    start = threading.Barrier(threads + 1, timeout=120)
    counts: list[int] = []
    starved: list[int] = []

    def worker(seed: int) -> None:
        raw, rng = RawLedger(population.url), random.Random(seed)
        prefix = f"rawapi{seed}_{uuid.uuid4().hex[:8]}_"
        serial = iter(range(10**12))
        consumers, fees = population.consumer_accounts, population.fees_account
        start.wait()
        done, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            payer = rng.choice(consumers)
            if rng.random() < 0.5:
                payee = rng.choice(consumers)
                if payee == payer:
                    continue
                pairs = [(payer, payee), (payer, fees)]
            else:
                payee = rng.choice(population.merchant_accounts)
                pairs = [(payer, payee), (payee, fees)]
            try:
                raw.transaction(pairs, lambda: f"{prefix}{next(serial)}")
            except sqlite3.OperationalError as error:
                # SQLite's busy handler is unfair: with many threads one can wait out its 5 s
                # busy timeout at BEGIN IMMEDIATE (seen at 64). Nothing was written; go on.
                if "locked" not in str(error):
                    raise
                starved.append(1)
                continue
            done += 1
        raw.conn.close()
        counts.append(done)

    workers = [threading.Thread(target=worker, args=(seed,)) for seed in range(threads)]
    for thread in workers:
        thread.start()
    start.wait()
    for thread in workers:
        thread.join(timeout=seconds + 120)
    if starved:
        print(f"  raw SQL, {threads} threads: {len(starved)} BEGIN IMMEDIATE ran out of the "
              "busy timeout", file=sys.stderr)  # fmt: skip
    return sum(counts) / seconds


# --- one store's run ---------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    clients: int
    result: Result
    seconds: float
    pgbench: float | None = None
    raw: float | None = None


def fresh_database(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'soko.db'}"
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return f"{POSTGRES_SERVER}/{DATABASE}"


def drop_database(kind: str) -> None:
    if kind == "postgresql":
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def measure(kind: str, args: argparse.Namespace) -> list[Row]:
    workers = args.workers if args.workers else (2 if kind == "postgresql" else 1)
    log = logger(kind)
    with tempfile.TemporaryDirectory(prefix="soko-api-load-") as tmp:
        workdir = Path(tmp)
        url = fresh_database(kind, workdir)
        try:
            began = time.perf_counter()
            population = populate(url, args.wallets, args.merchants)
            log(
                f"setup: {args.wallets:,} consumers, {args.merchants:,} merchants in "
                f"{time.perf_counter() - began:.1f} s; reconcile passed"
            )
            clients = sorted(set(args.clients))
            tps = pgbench(clients, args.seconds) if kind == "postgresql" else {}
            raw = {count: raw_payments(population, count, args.seconds) for count in clients}
            log(f"pgbench tps {tps}; raw SQL payments/s { {k: round(v) for k, v in raw.items()} }")
            hot_clients = args.hot_clients
            scenarios: list[tuple[str, int, str, str | None]] = [
                *(("P2P + merchant, 50/50", count, "mixed", None) for count in clients),
                ("merchant only, spread over all", hot_clients, "merchant", None),
                ("merchant only, one hot merchant", hot_clients, "merchant",
                 population.merchant_ids[0]),
            ]  # fmt: skip
            rows = []
            with serve(url, workers, workdir) as (base, pgid):
                log(f"soko serve --workers {workers} on {base}")
                for seed, (name, count, mix, hot) in enumerate(scenarios, start=1):
                    before = payment_counts(url)
                    load = Load(
                        base=base, operator_key=population.operator_key,
                        consumer_ids=population.consumer_ids,
                        consumer_phones=population.consumer_phones,
                        merchant_ids=population.merchant_ids, clients=count,
                        seconds=args.seconds, warmup=args.warmup, mix=mix, hot_merchant=hot,
                        seed=seed, server_pgid=pgid,
                    )  # fmt: skip
                    result = run_load(load, workdir)
                    after = payment_counts(url)
                    stored = {k: after[k] - before[k] for k in ("p2p", "merchant")}
                    answered = {k: result.created.get(k, 0) for k in ("p2p", "merchant")}
                    # Nothing lost, nothing doubled: a payment per 2xx answer, and no other.
                    assert stored == answered, (name, stored, answered, result.errors)
                    log(
                        f"{name}, {count} clients: {result.rate(args.seconds):,.0f} payments/s, "
                        f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
                        f"errors {result.errors or 0}, rejections {result.rejected or 0}, "
                        f"stored = answered ({sum(stored.values()):,})"
                    )
                    rows.append(
                        Row(name, count, result, args.seconds, tps.get(count), raw.get(count))
                    )
            runtime = bootstrap.build(Settings(database_url=url))
            try:
                report = reconcile(runtime.context)
            finally:
                runtime.close()
            assert report.passed, [check.name for check in report.checks if not check.passed]
            log(f"reconcile after the run: passed ({report.transfers:,} transfers)")
        finally:
            drop_database(kind)
    return rows


def logger(kind: str) -> Callable[[str], None]:
    def log(text: str) -> None:
        print(f"  [{kind}] {text}", file=sys.stderr, flush=True)

    return log


def print_table(kind: str, workers: int, rows: list[Row]) -> None:
    print(f"\n### {kind}, soko serve --workers {workers}\n")
    print(
        "| load | clients | payments/s | p50 ms | p99 ms | errors | rejections "
        "| raw SQL payments/s | API / raw | pgbench tps | API / pgbench "
        "| CPU cores: machine, generator, API, PostgreSQL |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        r = row.result
        rate = r.rate(row.seconds)
        raw = f"{row.raw:,.0f} | {rate / row.raw:.2f}x" if row.raw else "- | -"
        pg = f"{row.pgbench:,.0f} | {rate / row.pgbench:.2f}x" if row.pgbench else "- | -"
        cpu = (
            f"{r.cpu_machine:.2f}, {r.cpu_generator:.2f}, {r.cpu_server:.2f}, {r.cpu_postgres:.2f}"
        )
        print(
            f"| {row.scenario} | {row.clients} | {rate:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
            f"| {r.error_count} | {sum(r.rejected.values())} | {raw} | {pg} | {cpu} |"
        )
    spread, hot = rows[-2].result.rate(rows[-2].seconds), rows[-1].result.rate(rows[-1].seconds)
    if spread:
        print(f"\nhot merchant / spread over all merchants: {hot / spread:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument(
        "--store", choices=["sqlite", "postgresql", "both"], help="default: both (quick: sqlite)"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measured, per load")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured, before each load")
    parser.add_argument("--wallets", type=int, default=10_000, help="funded consumers")
    parser.add_argument("--merchants", type=int, default=1_000)
    parser.add_argument(
        "--clients", type=lambda text: [int(n) for n in text.split(",")], default=[1, 16, 64]
    )
    parser.add_argument("--hot-clients", type=int, default=16)
    parser.add_argument(
        "--workers", type=int, default=0, help="API processes (default: 2 PostgreSQL, 1 SQLite)"
    )
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate)
        return
    if args.quick:
        args.seconds, args.warmup, args.wallets, args.merchants = 1.0, 0.3, 200, 20
        args.clients, args.hot_clients = [4], 4
        args.store = args.store or "sqlite"  # PostgreSQL's setup and pgbench take half a minute
    args.store = args.store or "both"
    # A SIGTERM unwinds like Ctrl-C, so the servers and databases are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(
        f"benchmarks/api_load.py on {platform.node()}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{args.seconds:g} s per load after {args.warmup:g} s of warm-up, "
        f"{args.wallets:,} consumers, {args.merchants:,} merchants"
    )
    kinds = ["postgresql", "sqlite"] if args.store == "both" else [args.store]
    for kind in kinds:
        print(f"measuring {kind} ...", file=sys.stderr, flush=True)
        workers = args.workers if args.workers else (2 if kind == "postgresql" else 1)
        print_table(kind, workers, measure(kind, args))


if __name__ == "__main__":
    main()
