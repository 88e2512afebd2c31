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

Then what a loan's sweep adds to a merchant payment (soko.credit: the withhold share of each sale
repays the merchant's open loan in the sale's own batch): merchant payments to a shop with an open
loan and to a shop without one, interleaved one for one in the same run, each timed on its own
(wall and CPU) and their SQLAlchemy statements counted (the sweep's own go straight to the
driver, as the ledger's do; target: under 15 % more for the borrower; a shop
without a loan runs no statement for credit at all, which the counts show: its payment sends as
many statements as a merchant payment did before credit existed).
And, in the same run on the same database, FX (docs/fx.md):

* a same-currency P2P (`send_money`, KES to KES) beside a cross-currency one (`send_converted`,
  KES to a UGX wallet through a quote made beforehand): payments per second each, and how many
  times a cross-currency P2P costs a same-currency one (the target is at most 1.5x);
* quotes per second (`create_quote`: newest rates read, cross rate through USD, priced, stored).

It isolates what the API benchmark's figures are made of: `api_load.py` adds HTTP, JSON, the
thread pool and authentication on top of this. It is a script, not a test: `--quick` runs tiny
sizes so CI can check that it still works.

    python benchmarks/payment_path.py                 # both stores, 5 s per measurement
    python benchmarks/payment_path.py --quick         # CI: 1 s, 200 consumers
    python benchmarks/payment_path.py --sweep-only    # only the sweep's cost, for paired runs
"""

from __future__ import annotations

import argparse
import functools
import os
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
from soko.credit import service as credit
from soko.credit.domain import OfferStatus, StoredOffer
from soko.credit.ports import StoredDecision
from soko.fx import service as fx
from soko.kernel.money import Money
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.people import service as users
from soko.people.domain import UserKind

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api_load  # benchmarks/api_load.py: the population and the raw payment writes


@dataclass
class SweepCost:
    """Merchant payments to a shop without a loan and to one with an open loan, interleaved."""

    no_loan_us: float
    loan_us: float
    no_loan_cpu_us: float
    loan_cpu_us: float
    no_loan_statements: float
    loan_statements: float
    swept_minor: int

    @property
    def wall_ratio(self) -> float:
        return self.loan_us / self.no_loan_us

    @property
    def cpu_ratio(self) -> float:
        return self.loan_cpu_us / self.no_loan_cpu_us


@dataclass
class Measured:
    store: str
    payments_per_second: float
    cpu_us_per_payment: float
    statements_per_payment: float
    raw_per_second: float
    sweep: SweepCost

    same_currency_p2p_per_second: float
    cross_currency_p2p_per_second: float
    quotes_per_second: float

    @property
    def ratio(self) -> float:
        return self.payments_per_second / self.raw_per_second

    @property
    def fx_cost_ratio(self) -> float:
        """How many same-currency P2P transfers' time one cross-currency P2P takes."""
        return self.same_currency_p2p_per_second / self.cross_currency_p2p_per_second


#: KES to UGX at 1.5 %, for anyone (the population is tier 2 anyway).
FX_CORRIDORS = '{"KES>UGX": {"spread_bps": 150, "max": "1000000.00", "kyc_tier": 0}}'
#: Recipients of the cross-currency transfers: Ugandan consumers.
UGX_RECIPIENTS = 50


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


#: The borrower's loan: large enough that no run repays it (a closed loan would stop sweeping).
LOAN = "1000000.00"
WITHHOLD_BPS = 1_000


def _lend(ctx: Any, merchant_id: str) -> str:
    """An open revenue loan for the merchant, from an offer written as `credit_offers` would
    write it (the benchmark's shops have no sales history to score)."""
    credit.fund_capital(ctx, api_load.kes(LOAN))
    now = ctx.clock.now()
    decision = StoredDecision(
        id=ctx.ids.new("cdec"), merchant_id=merchant_id, currency="KES", scorecard_version="bench",
        score=0, grade="A", offered=True, record="{}", created_at=now,
    )  # fmt: skip
    offer = StoredOffer(
        id=ctx.ids.new("off"), decision_id=decision.id, merchant_id=merchant_id, currency="KES",
        limit_minor=api_load.kes(LOAN).amount_minor, fee_bps=500, withhold_bps=WITHHOLD_BPS,
        term_days=180, grade="A", expires_at=now.replace(year=now.year + 1),
        status=OfferStatus.OPEN, created_at=now,
    )  # fmt: skip
    with ctx.unit_of_work() as uow:
        uow.credit.insert_decision(decision)
        uow.credit.insert_offer(offer)
        uow.commit()
    loan = credit.accept_offer(ctx, merchant_id=merchant_id, offer_id=offer.id,
                               amount=api_load.kes(LOAN), idempotency_key="bench-loan")  # fmt: skip
    return loan.id


def _sweep_cost(
    url: str, population: api_load.Population, seconds: float, workdir: Path
) -> SweepCost:
    runtime = bootstrap.build(Settings(database_url=url, sms_log_path=str(workdir / "sms.log")))
    ctx, rng = runtime.context, random.Random(11)
    borrower, other = population.merchant_ids[0], population.merchant_ids[1]
    sale = api_load.kes(api_load.MERCHANT_AMOUNT)
    sent = 0

    def count(*_: Any) -> None:
        nonlocal sent
        sent += 1

    def pay(merchant_id: str) -> None:
        payer = population.consumer_ids[rng.randrange(len(population.consumer_ids))]
        payments.pay_merchant(ctx, payer_id=payer, merchant_id=merchant_id, amount=sale,
                              idempotency_key=uuid.uuid4().hex)  # fmt: skip

    def statements(merchant_id: str) -> float:
        nonlocal sent
        sent = 0
        event.listen(runtime.engine, "before_cursor_execute", count)
        for _ in range(50):
            pay(merchant_id)
        event.remove(runtime.engine, "before_cursor_execute", count)
        return sent / 50

    try:
        loan_id = _lend(ctx, borrower)
        repaid_before = credit.get_loan(ctx, loan_id).repaid_minor
        for _ in range(100):  # warm both paths
            pay(borrower)
            pay(other)
        counted = (statements(other), statements(borrower))
        spent: dict[str, list[float]] = {borrower: [0.0, 0.0, 0], other: [0.0, 0.0, 0]}
        deadline = time.perf_counter() + seconds
        turn = 0
        while time.perf_counter() < deadline:
            merchant_id = (borrower, other)[turn % 2]
            turn += 1
            started, cpu = time.perf_counter(), time.process_time()
            pay(merchant_id)
            spent[merchant_id][0] += time.perf_counter() - started
            spent[merchant_id][1] += time.process_time() - cpu
            spent[merchant_id][2] += 1
        swept = credit.get_loan(ctx, loan_id).repaid_minor - repaid_before
    finally:
        runtime.close()
    (loan_wall, loan_cpu, loans), (free_wall, free_cpu, frees) = spent[borrower], spent[other]
    return SweepCost(
        no_loan_us=free_wall / frees * 1e6, loan_us=loan_wall / loans * 1e6,
        no_loan_cpu_us=free_cpu / frees * 1e6, loan_cpu_us=loan_cpu / loans * 1e6,
        no_loan_statements=counted[0], loan_statements=counted[1], swept_minor=swept,
    )  # fmt: skip


def _fx(
    url: str, population: api_load.Population, seconds: float, workdir: Path
) -> tuple[float, float, float]:
    """(same-currency P2P/s, cross-currency P2P/s, quotes/s) on one database, interleaved: a
    quote, a same-currency P2P, then a cross-currency P2P accepting that quote, over and over;
    the same payers and amount. A rate is calls per second of the time spent in that call."""
    runtime = bootstrap.build(
        Settings(  # type: ignore[call-arg]
            database_url=url, sms_log_path=str(workdir / "sms.log"), fx_corridors=FX_CORRIDORS
        )
    )
    ctx, rng = runtime.context, random.Random(11)
    consumers = len(population.consumer_ids)
    amount = api_load.kes(api_load.P2P_AMOUNT)
    try:
        fx.set_rate(ctx, base="USD", quote="KES", rate="129.25")
        fx.set_rate(ctx, base="USD", quote="UGX", rate="3652.40")
        fx.fund_liquidity(ctx, amount=Money.parse("900000000", "UGX"), idempotency_key="bench")
        ugandans = [
            users.register(ctx, kind=UserKind.CONSUMER, phone=f"+25678{5_000_000 + i:07d}",
                           name=f"Recipient {i}").phone
            for i in range(UGX_RECIPIENTS)
        ]  # fmt: skip

        def same() -> None:
            payer = rng.randrange(consumers)
            payee = (payer + 1 + rng.randrange(consumers - 1)) % consumers
            payments.send_money(ctx, sender_id=population.consumer_ids[payer], amount=amount,
                                idempotency_key=uuid.uuid4().hex,
                                to_phone=population.consumer_phones[payee])  # fmt: skip

        def quote() -> tuple[str, str]:
            payer = population.consumer_ids[rng.randrange(consumers)]
            made = fx.create_quote(ctx, owner_id=payer, source="KES", target="UGX",
                                   source_amount=amount)  # fmt: skip
            return payer, made.id

        def cross(payer: str, quote_id: str) -> None:
            fx.send_converted(ctx, sender_id=payer, quote_id=quote_id,
                              idempotency_key=uuid.uuid4().hex,
                              to_phone=rng.choice(ugandans))  # fmt: skip

        for _ in range(100):  # warm: caches, fee buckets, the recipients' UGX wallets
            same()
            cross(*quote())
        # Interleaved, each call timed on its own: the machine's load (other processes, the
        # WAL's checkpoints) falls on all three alike, so the ratio holds under noise.
        wall = {"same": 0.0, "quote": 0.0, "cross": 0.0}
        cpu = dict(wall)
        done = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            payer, quote_id = _timed(quote, wall, cpu, "quote")
            _timed(same, wall, cpu, "same")
            _timed(functools.partial(cross, payer, quote_id), wall, cpu, "cross")
            done += 1
    finally:
        runtime.close()
    same_rate, cross_rate, quote_rate = (done / wall[k] for k in ("same", "cross", "quote"))
    same_us, cross_us = cpu["same"] / done * 1e6, cpu["cross"] / done * 1e6
    print(f"  {done} of each; CPU per call: same-currency P2P {same_us:,.0f} µs, cross-currency "
          f"{cross_us:,.0f} µs ({cross_us / same_us:.2f}x), "
          f"quote {cpu['quote'] / done * 1e6:,.0f} µs")  # fmt: skip
    return same_rate, cross_rate, quote_rate


def _timed(step: Any, wall: dict[str, float], cpu: dict[str, float], name: str) -> Any:
    started, cpu_started = time.perf_counter(), time.process_time()
    result = step()
    wall[name] += time.perf_counter() - started
    cpu[name] += time.process_time() - cpu_started
    return result


def measure(store: str, args: argparse.Namespace) -> Measured:
    with tempfile.TemporaryDirectory(prefix=f"soko-path-{store}-") as directory:
        return _measure_in(store, args, Path(directory))


def _measure_in(store: str, args: argparse.Namespace, workdir: Path) -> Measured:
    url = api_load.fresh_database(store, workdir)
    try:
        population = api_load.populate(url, args.wallets, args.merchants)
        nan = float("nan")
        raw = rate = cpu_us = statements = same = cross = quotes = nan
        if not args.sweep_only:
            raw = api_load.raw_payments(population, 1, args.seconds)
            rate, cpu_us, statements = _use_cases(url, population, args.seconds, workdir)
        sweep = _sweep_cost(url, population, args.seconds, workdir)
        if not args.sweep_only:
            same, cross, quotes = _fx(url, population, args.seconds, workdir)
        runtime = bootstrap.build(Settings(database_url=url))
        try:
            report = reconcile(runtime.context)
            assert report.passed, [check.name for check in report.checks if not check.passed]
        finally:
            runtime.close()
    finally:
        api_load.drop_database(store)
    return Measured(store, rate, cpu_us, statements, raw, sweep, same, cross, quotes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--wallets", type=int, default=2_000, help="funded consumers")
    parser.add_argument("--merchants", type=int, default=100)
    parser.add_argument(
        "--sweep-only", action="store_true",
        help="only what a loan's sweep adds to a merchant payment (for paired runs)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.wallets, args.merchants = 1.0, 200, 20
    # A database of this run's own: two checkouts benchmarking on one server at once would
    # otherwise drop each other's (fresh_database drops it WITH (FORCE)).
    api_load.DATABASE = f"soko_bench_path_{os.getpid()}"
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    print(f"benchmarks/payment_path.py on {platform.node()}: Python {platform.python_version()}, "
          f"{args.seconds:g} s per measurement, {args.wallets} consumers, one thread")  # fmt: skip
    print()
    measured = [measure(store, args) for store in stores]
    if not args.sweep_only:
        print_payments(measured)
    print_sweeps(measured)
    if not args.sweep_only:
        print_fx(measured)


def print_payments(measured: list[Measured]) -> None:
    print("| store | use case payments/s | CPU µs per payment | SQLAlchemy statements per payment "
          "| raw SQL payments/s | use case / raw |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for m in measured:
        print(
            f"| {m.store} | {m.payments_per_second:,.0f} | {m.cpu_us_per_payment:,.0f} "
            f"| {m.statements_per_payment:.1f} | {m.raw_per_second:,.0f} | {m.ratio:.2f}x |"
        )
    print()


def print_sweeps(measured: list[Measured]) -> None:
    print(f"A loan's sweep: merchant payments of {api_load.MERCHANT_AMOUNT} to a shop with an open "
          f"loan ({WITHHOLD_BPS / 100:g} % withheld) and to one without, interleaved "
          "(target: under 15 % more):")  # fmt: skip
    print()
    print("| store | no loan µs | with loan µs | wall ratio | no loan CPU µs | with loan CPU µs "
          "| CPU ratio | statements, no loan | statements, with loan | swept |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in measured:
        w = m.sweep
        print(
            f"| {m.store} | {w.no_loan_us:,.0f} | {w.loan_us:,.0f} | {w.wall_ratio:.2f}x "
            f"| {w.no_loan_cpu_us:,.0f} | {w.loan_cpu_us:,.0f} | {w.cpu_ratio:.2f}x "
            f"| {w.no_loan_statements:.1f} | {w.loan_statements:.1f} "
            f"| {Money.of(w.swept_minor, 'KES')} |"
        )
    print()


def print_fx(measured: list[Measured]) -> None:
    print("FX: a same-currency P2P beside a cross-currency one, and quotes:")
    print()
    print("| store | same-currency P2P/s | cross-currency P2P/s (quote made before) "
          "| cross / same cost (target <= 1.5x) | quotes/s |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for m in measured:
        print(
            f"| {m.store} | {m.same_currency_p2p_per_second:,.0f} "
            f"| {m.cross_currency_p2p_per_second:,.0f} | {m.fx_cost_ratio:.2f}x "
            f"| {m.quotes_per_second:,.0f} |"
        )


if __name__ == "__main__":
    main()
