"""Merchant credit: the default scorecard against a volume-only baseline, on synthetic merchants.

Merchants come from `soko.credit.synthetic` (its docstring and docs/credit.md state every
assumption; the figures mean nothing beyond them). Two populations are drawn from two seeds: the
training seed is the one the default scorecard was tuned on, the held-out seed is only ever
scored. For each, this prints the exact rank AUC (Mann-Whitney: the chance that a merchant who
repays ranks above one who defaults, ties counting half) of

* the scorecard: merchants who fail a history rule (tenure, active days, refunds, disputes, a
  past loan far overdue) rank below every other, then by score;
* the baseline: the 13-week sales volume alone, as "lend a share of sales to whoever sells most"
  would rank them;

and, as the ceiling, the generator's own default probabilities (no scorecard can rank better on
average: the rest of the outcome is the drawn luck); then the held-out default rate by grade.

Then the time to decide, on SQLite and on PostgreSQL (the server at SOKO_BENCH_POSTGRES, as the
other benchmarks; skipped with a note when unreachable): `credit.score` (the features read by
index over the 91-day window, then the scorecard: what `credit_offers` does when it must decide
afresh) for a shop with 13 weeks and 20,000 payments of history, p50 and p99 (target: p99 under
50 ms); and the same decision for shops with the same 1,000 payments inside the window and 100
or 100,000 payments before it: the cost should follow the window, not the history. The
histories are written straight into the payments table (merchant payments between real wallets,
with amounts and times; no ledger transfers: the features never read them).
`--bands` prints, on the training seed only, each scored feature's default rate by band: what
the tuning looked at. It is a script, not a test: `--quick` runs a small population so CI can
check that it still works.

    python benchmarks/credit.py                 # 4,000 merchants: 2,000 per seed
    python benchmarks/credit.py --quick         # CI: 400 per seed
    python benchmarks/credit.py --bands         # the training seed's default rate by band
    python benchmarks/credit.py --store sqlite  # decision times on one store only
    python benchmarks/credit.py --decisions-only  # decision times (and statements) only
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import psycopg
import sqlalchemy as sa

from soko import bootstrap
from soko.config import Settings
from soko.credit import service as credit
from soko.credit.domain import (
    FEATURES,
    HISTORY_REFUSALS,
    WINDOW_DAYS,
    Decision,
    Scorecard,
    decide,
    default_scorecard,
)
from soko.credit.synthetic import SyntheticMerchant, generate
from soko.payments.tables import payments
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import UserKind
from soko.people.service import MerchantDetails

#: Added to the score of a merchant who passes the history rules: they rank above all others.
_PASSES_HISTORY = 10**6


def auc(scores: Sequence[int], defaults: Sequence[bool]) -> Fraction:
    """Exact Mann-Whitney AUC: P(a repaying merchant scores above a defaulting one), ties half."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum_twice = 0  # sum of the repaying merchants' ranks (1-based, ties averaged), doubled
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        average_twice = (start + 1) + (end + 1)
        rank_sum_twice += average_twice * sum(1 for i in order[start : end + 1] if not defaults[i])
        start = end + 1
    good = sum(1 for d in defaults if not d)
    bad = len(defaults) - good
    assert good and bad, "AUC needs both outcomes"
    return Fraction(rank_sum_twice - good * (good + 1), 2 * good * bad)


@dataclass(frozen=True)
class Scored:
    merchant: SyntheticMerchant
    decision: Decision

    @property
    def rank(self) -> int:
        passes = not HISTORY_REFUSALS.intersection(self.decision.refusals)
        return self.decision.score + (_PASSES_HISTORY if passes else 0)

    @property
    def volume(self) -> int:
        return self.decision.features.volume_minor


def score(merchants: Sequence[SyntheticMerchant], scorecard: Scorecard) -> list[Scored]:
    return [Scored(m, decide(m.features(), scorecard)) for m in merchants]


def _rate(defaults: int, total: int) -> str:
    return f"{100 * defaults / total:.1f} %" if total else "-"


def print_aucs(populations: Sequence[tuple[str, int, list[Scored]]]) -> None:
    print("| population | seed | merchants | default rate | scorecard AUC | volume baseline AUC "
          "| ceiling AUC |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, seed, scored in populations:
        defaults = [s.merchant.defaults for s in scored]
        ours = auc([s.rank for s in scored], defaults)
        baseline = auc([s.volume for s in scored], defaults)
        # The generator's own probabilities: the best any ranking of these merchants can do.
        ceiling = auc([-s.merchant.default_probability_bps for s in scored], defaults)
        print(
            f"| {name} | {seed} | {len(scored):,} | {_rate(sum(defaults), len(scored))} "
            f"| {float(ours):.4f} | {float(baseline):.4f} | {float(ceiling):.4f} |"
        )


def print_grades(scored: Sequence[Scored], scorecard: Scorecard) -> None:
    print("| grade | merchants | default rate | offers | median limit (KES) |")
    print("|---|---:|---:|---:|---:|")
    passed = [s for s in scored if s.rank >= _PASSES_HISTORY]
    groups = [
        (g.grade, [s for s in passed if s.decision.grade == g.grade]) for g in scorecard.grades
    ]
    groups.append(("refused by history", [s for s in scored if s.rank < _PASSES_HISTORY]))
    for name, group in groups:
        offers = sorted(s.decision.offer.limit_minor for s in group if s.decision.offer)
        median = f"{offers[len(offers) // 2] // 100:,}" if offers else "-"
        defaults = sum(1 for s in group if s.merchant.defaults)
        print(f"| {name} | {len(group):,} | {_rate(defaults, len(group))} | {len(offers):,} "
              f"| {median} |")  # fmt: skip


def print_archetypes(scored: Sequence[Scored]) -> None:
    print("| archetype | merchants | default rate | offered | mean score |")
    print("|---|---:|---:|---:|---:|")
    for archetype in sorted({s.merchant.archetype for s in scored}):
        group = [s for s in scored if s.merchant.archetype == archetype]
        defaults = sum(1 for s in group if s.merchant.defaults)
        offered = sum(1 for s in group if s.decision.offered)
        mean = sum(s.decision.score for s in group) / len(group)
        print(f"| {archetype} | {len(group):,} | {_rate(defaults, len(group))} | {offered:,} "
              f"| {mean:.1f} |")  # fmt: skip


def print_bands(scored: Sequence[Scored], scorecard: Scorecard) -> None:
    """Training seed only: each characteristic's bands, merchants and default rate in each."""
    for characteristic in scorecard.characteristics:
        spec = FEATURES[characteristic.feature]
        counts = [[0, 0] for _ in characteristic.bands]
        for s in scored:
            band = characteristic.band_of(spec.value(s.decision.features))
            counts[band][0] += 1
            counts[band][1] += s.merchant.defaults
        cells = ", ".join(
            f"≥{lower}: {points} pts, {n} merchants, {_rate(bad, n)}"
            for (lower, points), (n, bad) in zip(characteristic.bands, counts, strict=True)
        )
        print(f"- {characteristic.feature}: {cells}")


# --- the time to decide -------------------------------------------------------------------------

POSTGRES_SERVER = os.environ.get("SOKO_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
#: A database of this run's own: two checkouts timing at once (old code against new) would
#: otherwise drop each other's.
DATABASE = f"soko_bench_credit_{os.getpid()}"
INSERT_BATCH = 5_000
_payment_numbers = itertools.count()


@dataclass(frozen=True)
class Sizes:
    payers: int
    busy: int  # the 13-week shop's payments, all inside the window
    inside: int  # the window's payments of the two shops that differ only in their past
    past: tuple[int, int]  # their payments before the window: few, many
    calls: int  # decisions timed per shop


FULL = Sizes(payers=500, busy=20_000, inside=1_000, past=(100, 100_000), calls=300)
QUICK = Sizes(payers=10, busy=1_000, inside=500, past=(100, 5_000), calls=10)


@dataclass(frozen=True)
class Timing:
    label: str
    payments: int
    p50_ms: float
    p99_ms: float
    #: CPU per decision (this process: Python and, on SQLite, the query engine): unlike the
    #: wall times, not inflated by other processes on a shared machine.
    cpu_ms: float
    offered: bool
    #: Statements a decision sends through SQLAlchemy (round trips, on PostgreSQL).
    statements: float


@contextmanager
def fresh_database(store: str, workdir: Path) -> Iterator[str | None]:
    """A new, empty database on `store`; None when PostgreSQL is unreachable."""
    if store == "sqlite":
        yield f"sqlite:///{workdir / 'credit.db'}"
        return
    try:
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DATABASE}")
    except psycopg.OperationalError as error:
        print(f"PostgreSQL unreachable at {POSTGRES_SERVER}, skipped: {error}", file=sys.stderr)
        yield None
        return
    try:
        yield f"{POSTGRES_SERVER}/{DATABASE}"
    finally:
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def _history(
    engine: sa.Engine,
    payee: str,
    payers: Sequence[str],
    times: Iterator[datetime],
    count: int,
    *,
    rng: random.Random,
) -> None:
    """`count` merchant payments into `payee`'s wallet, written in bulk: what `pay_merchant`
    leaves in the payments table (amount, fee, payer and payee wallets, time)."""
    made = 0
    with engine.begin() as connection:
        while made < count:
            rows = []
            for _ in range(min(INSERT_BATCH, count - made)):
                amount = rng.randrange(5_000, 200_000)
                rows.append({
                    "id": f"pay_bench_{next(_payment_numbers)}", "kind": "merchant",
                    "payer_wallet_id": rng.choice(payers), "payee_wallet_id": payee,
                    "amount": amount, "fee": amount // 200, "commission": 0, "currency": "KES",
                    "created_at": next(times), "refunded": 0, "fee_refunded": 0,
                })  # fmt: skip
                made += 1
            connection.execute(payments.insert(), rows)


def _spread(start: datetime, end: datetime, count: int) -> Iterator[datetime]:
    """`count` times evenly from `start` to `end` (trading hours or not: the features count
    days, and every day of the span gets its share)."""
    step = (end - start) / max(count, 1)
    return (start + step * i for i in range(count))


def time_decisions(store: str, sizes: Sizes) -> list[Timing] | None:
    with (
        tempfile.TemporaryDirectory(prefix="soko-bench-credit-") as workdir,
        fresh_database(store, Path(workdir)) as url,
    ):
        return None if url is None else _time_decisions_in(url, sizes)


def _time_decisions_in(url: str, sizes: Sizes) -> list[Timing]:
    runtime = bootstrap.build(
        Settings(database_url=url, pin_hash_time_cost=1, pin_hash_memory_kib=8),
        upgrade_schema=True,
    )
    ctx, rng = runtime.context, random.Random(5)
    now = ctx.clock.now().astimezone(UTC)
    window_start = now - timedelta(days=WINDOW_DAYS - 1)
    window_start = window_start.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        payer_wallets = []
        for i in range(sizes.payers):
            user = users.register(ctx, kind=UserKind.CONSUMER, phone=f"+2547{30_000_000 + i:08d}",
                                  name=f"Payer {i}")  # fmt: skip
            payer_wallets.append(wallets.open_wallet(ctx, user.id, "KES").wallet.id)

        def merchant(n: int) -> tuple[str, str]:
            user = users.register(
                ctx, kind=UserKind.MERCHANT, phone=f"+2547{40_000_000 + n:08d}", name=f"Shop {n}",
                merchant=MerchantDetails(f"Shop {n}", "5411"),
            )  # fmt: skip
            return user.id, wallets.open_wallet(ctx, user.id, "KES").wallet.id

        shops: list[tuple[str, str, int]] = []
        # 13 weeks of trading, its first sale a year ago (tenure), 20,000 payments.
        busy, wallet = merchant(0)
        _history(runtime.engine, wallet, payer_wallets,
                 iter([now - timedelta(days=365)]), 1, rng=rng)  # fmt: skip
        _history(runtime.engine, wallet, payer_wallets,
                 _spread(window_start, now, sizes.busy), sizes.busy, rng=rng)  # fmt: skip
        shops.append((f"13 weeks, {sizes.busy:,} payments", busy, sizes.busy + 1))
        for n, past in enumerate(sizes.past, start=1):
            shop, wallet = merchant(n)
            # The past: the two years before the window.
            _history(runtime.engine, wallet, payer_wallets,
                     _spread(window_start - timedelta(days=730), window_start - timedelta(days=1),
                             past), past, rng=rng)  # fmt: skip
            _history(runtime.engine, wallet, payer_wallets,
                     _spread(window_start, now, sizes.inside), sizes.inside, rng=rng)  # fmt: skip
            shops.append((f"{sizes.inside:,} in the window, {past:,} before", shop,
                          past + sizes.inside))  # fmt: skip
        if runtime.engine.dialect.name == "postgresql":
            # What autovacuum does to a table after bulk inserts (PostgreSQL 13 on: also after
            # inserts alone): statistics, and the visibility map that lets an index-only scan
            # skip the table's pages. Without it a fresh table reads every row's page.
            with runtime.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
        results = []
        for label, merchant_id, count in shops:
            results.append(_time(label, count, lambda m=merchant_id: credit.score(ctx, m),
                                 sizes.calls, runtime.engine))  # fmt: skip
    finally:
        runtime.close()
    return results


def _time(
    label: str,
    payments_count: int,
    decide_now: Callable[[], Decision],
    calls: int,
    engine: sa.Engine,
) -> Timing:
    for _ in range(5):  # warm: statement caches, the pages of the index
        decision = decide_now()
    sent = 0

    def count(*_: object) -> None:
        nonlocal sent
        sent += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    for _ in range(5):
        decide_now()
    sa.event.remove(engine, "before_cursor_execute", count)
    spent = []
    cpu = time.process_time()
    for _ in range(calls):
        started = time.perf_counter()
        decide_now()
        spent.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu
    spent.sort()

    def at(share: float) -> float:
        return spent[min(len(spent) - 1, int(share * len(spent)))] * 1000

    return Timing(label, payments_count, at(0.50), at(0.99), cpu / calls * 1000, decision.offered,
                  sent / 5)  # fmt: skip


def print_decision_times(store: str, timings: list[Timing]) -> None:
    print("| store | merchant | payments | p50 ms | p99 ms | CPU ms | statements | offered |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for t in timings:
        offered = "yes" if t.offered else "no"
        print(f"| {store} | {t.label} | {t.payments:,} | {t.p50_ms:.1f} | {t.p99_ms:.1f} "
              f"| {t.cpu_ms:.1f} | {t.statements:.1f} | {offered} |")  # fmt: skip
    few, many = timings[1], timings[2]
    print()
    print(f"{store}: {many.payments - many.payments % 1000:,}+ payments of history cost "
          f"{many.p50_ms / few.p50_ms:.2f}x the p50 and {many.cpu_ms / few.cpu_ms:.2f}x the CPU "
          f"of {few.payments:,} (same window)")  # fmt: skip


def evaluate(args: argparse.Namespace, scorecard: Scorecard) -> None:
    """The scorecard against the naive baseline on the synthetic population."""
    each = args.merchants // 2
    started = time.perf_counter()
    train = score(generate(args.train_seed, each), scorecard)
    heldout = score(generate(args.heldout_seed, each), scorecard)
    elapsed = time.perf_counter() - started
    print(f"benchmarks/credit.py on {platform.node()}: Python {platform.python_version()}, "
          f"scorecard {scorecard.version}, {2 * each:,} synthetic merchants "
          f"({each:,} per seed), generated and scored in {elapsed:.1f} s")  # fmt: skip
    print()
    print_aucs([("train", args.train_seed, train), ("held-out", args.heldout_seed, heldout)])
    print()
    print("Held-out default rate by grade (merchants who pass the history rules), and refusals:")
    print()
    print_grades(heldout, scorecard)
    print()
    print("Held-out, by hidden archetype:")
    print()
    print_archetypes(heldout)
    if args.bands:
        print()
        print(f"Training seed {args.train_seed}, default rate by band:")
        print()
        print_bands(train, scorecard)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small population, for CI")
    parser.add_argument("--merchants", type=int, default=4_000, help="both seeds together")
    parser.add_argument("--train-seed", type=int, default=1)
    parser.add_argument("--heldout-seed", type=int, default=2)
    parser.add_argument(
        "--scorecard", type=Path, help="a scorecard JSON file instead of the default"
    )
    parser.add_argument("--bands", action="store_true", help="training default rates by band")
    parser.add_argument(
        "--decisions-only", action="store_true",
        help="skip the synthetic population (AUC, grades): only time decisions",
    )  # fmt: skip
    parser.add_argument(
        "--store", choices=["sqlite", "postgresql", "both", "none"], default="both",
        help="where to time decisions",
    )  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.merchants = 800
    assert args.train_seed != args.heldout_seed, "the held-out population needs its own seed"
    scorecard = (
        Scorecard.from_json(args.scorecard.read_text(encoding="utf-8"))
        if args.scorecard
        else default_scorecard()
    )
    if not args.decisions_only:
        evaluate(args, scorecard)
    stores = {"both": ["sqlite", "postgresql"], "none": []}.get(args.store, [args.store])
    sizes = QUICK if args.quick else FULL
    for store in stores:
        print()
        print(f"Time to decide (`credit.score`), {store}, {sizes.calls} decisions per merchant, "
              f"{os.cpu_count()} cores:")  # fmt: skip
        print()
        timings = time_decisions(store, sizes)
        if timings is None:
            print(f"{store}: skipped (unreachable)")
            continue
        print_decision_times(store, timings)


if __name__ == "__main__":
    main()
