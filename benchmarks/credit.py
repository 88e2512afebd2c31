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
`--bands` prints, on the training seed only, each scored feature's default rate by band: what
the tuning looked at. It is a script, not a test: `--quick` runs a small population so CI can
check that it still works.

    python benchmarks/credit.py                 # 4,000 merchants: 2,000 per seed
    python benchmarks/credit.py --quick         # CI: 400 per seed
    python benchmarks/credit.py --bands         # the training seed's default rate by band
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from soko.credit.domain import (
    FEATURES,
    HISTORY_REFUSALS,
    Decision,
    Scorecard,
    decide,
    default_scorecard,
)
from soko.credit.synthetic import SyntheticMerchant, generate

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
    args = parser.parse_args()
    if args.quick:
        args.merchants = 800
    assert args.train_seed != args.heldout_seed, "the held-out population needs its own seed"
    scorecard = (
        Scorecard.from_json(args.scorecard.read_text(encoding="utf-8"))
        if args.scorecard
        else default_scorecard()
    )
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


if __name__ == "__main__":
    main()
