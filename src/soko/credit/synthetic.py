"""Synthetic merchant histories with a known default outcome, to measure a scorecard against.

No real merchant data is needed to develop or check the scorecard: `generate(seed, count)` draws
merchants from a seeded `random.Random` (the same seed always gives the same merchants), each
with 26 weeks of `SalesDay` aggregates ending on `as_of`, the counters `compute_features` takes,
a hidden archetype and a ground-truth `defaults` flag. Only integer draws are used
(`randrange`, `randint`), so no float touches an amount or a probability.

The assumptions, which docs/credit.md repeats and which are the whole meaning of any figure the
benchmark prints:

* **Archetypes**, by share of the population: steady 30 %, growing 20 %, seasonal 15 %,
  declining 15 %, erratic 14 %, fraud-like bursts 6 %. The archetype is hidden: the scorecard
  sees only what it leaves in the sales, as a real one would.
* **Sales**: a daily level drawn log-uniformly between about KES 500 and KES 50,000, shaped per
  archetype (a rising or falling line, a 13-week cycle, random weeks, or a quiet start and a
  burst in the last 3 to 5 weeks), open on some days of each week, with day-to-day noise.
* **Default probability** (basis points, clamped to 1 %..95 %): the archetype's base rate
  (steady 4 %, growing 3 %, seasonal 9 %, declining 28 %, erratic 22 %, bursts 65 %: declining
  and erratic merchants keep on the path that makes repaying from sales hard, and bursts are
  built to borrow and vanish) plus 8 bp per point of missing "discipline" below 50 (a hidden
  0..100 trait that also empties wallets and makes past loans late), plus 3 % for a merchant
  younger than 180 days, plus or minus up to 2 % by size (bigger merchants a little safer: the
  only signal the volume baseline can use), plus 15 % for the one merchant in ten hit by a shock
  after the loan (theft, illness, a flood) that no history can foresee.
* The outcome is drawn once per merchant: `randrange(10_000) < probability_bps`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from soko.credit.domain import CreditFeatures, SalesDay, compute_features

__all__ = ["AS_OF", "HISTORY_WEEKS", "Archetype", "SyntheticMerchant", "generate"]

HISTORY_WEEKS: Final = 26
AS_OF: Final = date(2026, 1, 31)


class Archetype(StrEnum):
    STEADY = "steady"
    GROWING = "growing"
    SEASONAL = "seasonal"
    DECLINING = "declining"
    ERRATIC = "erratic"
    FRAUD_BURST = "fraud_burst"


#: (archetype, share of the population in percent, base default probability in bp).
ARCHETYPES: Final = (
    (Archetype.STEADY, 30, 400),
    (Archetype.GROWING, 20, 300),
    (Archetype.SEASONAL, 15, 900),
    (Archetype.DECLINING, 15, 2_800),
    (Archetype.ERRATIC, 14, 2_200),
    (Archetype.FRAUD_BURST, 6, 6_500),
)
assert sum(share for _, share, _ in ARCHETYPES) == 100

#: Per-mille multipliers of a 13-week sales cycle (about 1 + 0.5 sin), written out in integers.
_SEASON: Final = (1000, 1239, 1432, 1497, 1413, 1195, 880, 591, 527, 568, 761, 1068, 1000)
#: Daily sales levels in minor units, log-spaced by a factor of 1.12: KES 500 to about 46,000.
_LEVELS: Final = tuple(50_000 * 112**k // 100**k for k in range(41))
#: Refunds and disputes: chance per open day, per mille.
_REFUND_PER_MILLE: Final = {
    Archetype.STEADY: 20,
    Archetype.GROWING: 25,
    Archetype.SEASONAL: 30,
    Archetype.DECLINING: 45,
    Archetype.ERRATIC: 60,
    Archetype.FRAUD_BURST: 220,
}
_DISPUTE_PER_MILLE: Final = {
    Archetype.STEADY: 2,
    Archetype.GROWING: 2,
    Archetype.SEASONAL: 3,
    Archetype.DECLINING: 5,
    Archetype.ERRATIC: 8,
    Archetype.FRAUD_BURST: 60,
}
#: Share of payers who come back, in percent (low, high).
_REPEAT_PERCENT: Final = {
    Archetype.STEADY: (40, 70),
    Archetype.GROWING: (30, 60),
    Archetype.SEASONAL: (30, 60),
    Archetype.DECLINING: (25, 55),
    Archetype.ERRATIC: (10, 45),
    Archetype.FRAUD_BURST: (3, 20),
}


@dataclass(frozen=True, slots=True)
class SyntheticMerchant:
    """One generated merchant: what storage would hold about it, and what it will do."""

    merchant: str
    archetype: Archetype
    as_of: date
    currency: str
    days: tuple[SalesDay, ...]
    first_sale_on: date
    distinct_payers: int
    repeat_payers: int
    average_balance_minor: int
    zero_balance_days: int
    loans_repaid: int
    loans_late: int
    max_days_past_due: int
    #: The hidden trait behind wallet habits and past lateness, 0..100.
    discipline: int
    #: The documented default probability and the outcome drawn from it.
    default_probability_bps: int
    defaults: bool

    def features(self) -> CreditFeatures:
        window_start = self.as_of - timedelta(days=90)
        return compute_features(
            (day for day in self.days if day.day >= window_start),
            as_of=self.as_of,
            first_sale_on=self.first_sale_on,
            distinct_payers=self.distinct_payers,
            repeat_payers=self.repeat_payers,
            average_balance_minor=self.average_balance_minor,
            zero_balance_days=self.zero_balance_days,
            loans_repaid=self.loans_repaid,
            loans_late=self.loans_late,
            max_days_past_due=self.max_days_past_due,
            currency=self.currency,
        )


def _archetype(rng: random.Random) -> tuple[Archetype, int]:
    draw = rng.randrange(100)
    for archetype, share, base_bps in ARCHETYPES:
        if draw < share:
            return archetype, base_bps
        draw -= share
    raise AssertionError("shares sum to 100")  # pragma: no cover


def _week_level(archetype: Archetype, week: int, shape: int, burst_from: int) -> int:
    """The week's multiplier of the base level, per mille; week 0 the oldest of 26."""
    match archetype:
        case Archetype.STEADY:
            return 1000
        case Archetype.GROWING:
            return 500 + shape * week
        case Archetype.SEASONAL:
            return _SEASON[(week + shape) % len(_SEASON)]
        case Archetype.DECLINING:
            return max(80, 1500 - shape * week)
        case Archetype.ERRATIC:
            return shape  # redrawn every week by the caller
        case Archetype.FRAUD_BURST:
            return 6000 if week >= burst_from else 150
    raise AssertionError(archetype)  # pragma: no cover


def _open_per_seven(archetype: Archetype, week: int, rng: random.Random, burst_from: int) -> int:
    """Of every 7 days, how many the merchant trades on this week."""
    match archetype:
        case Archetype.STEADY:
            return rng.randint(5, 7)
        case Archetype.GROWING:
            return min(7, 4 + week // 8)
        case Archetype.SEASONAL:
            return rng.randint(4, 6)
        case Archetype.DECLINING:
            return max(1, 6 - week // 6)
        case Archetype.ERRATIC:
            return rng.randint(1, 4)
        case Archetype.FRAUD_BURST:
            return 7 if week >= burst_from else rng.randint(1, 2)
    raise AssertionError(archetype)  # pragma: no cover


def _tenure(rng: random.Random, archetype: Archetype) -> int:
    if archetype is Archetype.FRAUD_BURST:
        return rng.randint(63, 140)
    if rng.randrange(10) < 3:
        return rng.randint(40, 179)
    return rng.randint(182, 1_500)


def _sales(
    rng: random.Random,
    archetype: Archetype,
    *,
    level: int,
    ticket: int,
    first_sale_on: date,
    as_of: date,
) -> list[SalesDay]:
    """26 weeks of days ending on `as_of`, from the first sale on; closed days have no row."""
    shape = {
        Archetype.GROWING: rng.randint(20, 70),
        Archetype.SEASONAL: rng.randrange(len(_SEASON)),
        Archetype.DECLINING: rng.randint(30, 55),
    }.get(archetype, 0)
    burst_from = HISTORY_WEEKS - rng.randint(3, 5)
    days: list[SalesDay] = []
    oldest = as_of - timedelta(days=HISTORY_WEEKS * 7 - 1)
    for week in range(HISTORY_WEEKS):
        if archetype is Archetype.ERRATIC:
            shape = rng.randint(100, 2000)
        week_level = _week_level(archetype, week, shape, burst_from)
        open_days = _open_per_seven(archetype, week, rng, burst_from)
        for weekday in range(7):
            day = oldest + timedelta(days=week * 7 + weekday)
            if day < first_sale_on or (rng.randrange(7) >= open_days and day != first_sale_on):
                continue
            erratic = archetype is Archetype.ERRATIC
            noise = rng.randint(0, 3000) if erratic else rng.randint(700, 1300)
            sales = max(100, level * week_level // 1000 * noise // 1000)
            refunds = 0
            if rng.randrange(1000) < _REFUND_PER_MILLE[archetype]:
                refunds = min(sales, ticket * rng.randint(1, 3))
            disputes = 1 if rng.randrange(1000) < _DISPUTE_PER_MILLE[archetype] else 0
            days.append(SalesDay(day, sales, max(1, sales // ticket), refunds, disputes))
    return days


def _merchant(rng: random.Random, index: int, as_of: date, currency: str) -> SyntheticMerchant:
    archetype, base_bps = _archetype(rng)
    size = rng.randrange(len(_LEVELS))
    ticket = rng.randint(5_000, 150_000)  # KES 50 to 1,500 a sale
    discipline = rng.randint(0, 100)
    tenure = _tenure(rng, archetype)
    first_sale_on = as_of - timedelta(days=tenure)
    days = _sales(
        rng, archetype, level=_LEVELS[size], ticket=ticket, first_sale_on=first_sale_on, as_of=as_of
    )

    window = [day for day in days if (as_of - day.day).days < 91]
    window_count = sum(day.sales_count for day in window)
    if archetype is Archetype.FRAUD_BURST:
        distinct = min(window_count, rng.randint(3, 15))
    else:
        distinct = max(1, window_count * rng.randint(15, 60) // 100) if window_count else 0
    low, high = _REPEAT_PERCENT[archetype]
    repeat = distinct * rng.randint(low, high) // 100
    daily = sum(day.sales_minor for day in window) // 91
    average_balance = daily * rng.randint(0, 4 + discipline // 10) // 4
    empty_days = rng.randint(0, (100 - discipline) * 45 // 100)
    if archetype in (Archetype.ERRATIC, Archetype.FRAUD_BURST):
        empty_days += rng.randint(5, 25)
    loans_taken = rng.randint(0, min(4, tenure // 150))
    loans_late = sum(1 for _ in range(loans_taken) if rng.randrange(200) < 100 - discipline)

    probability = base_bps + 8 * max(0, 50 - discipline) + (300 if tenure < 180 else 0)
    probability += (20 - size) * 10
    if rng.randrange(10) == 0:  # a shock after the loan that no history foresees
        probability += 1_500
    probability = min(9_500, max(100, probability))
    return SyntheticMerchant(
        merchant=f"m{index:05d}",
        archetype=archetype,
        as_of=as_of,
        currency=currency,
        days=tuple(days),
        first_sale_on=first_sale_on,
        distinct_payers=distinct,
        repeat_payers=repeat,
        average_balance_minor=average_balance,
        zero_balance_days=min(91, empty_days),
        loans_repaid=loans_taken,
        loans_late=loans_late,
        max_days_past_due=rng.randint(1, 45) if loans_late else 0,
        discipline=discipline,
        default_probability_bps=probability,
        defaults=rng.randrange(10_000) < probability,
    )


def generate(
    seed: int, count: int, *, as_of: date = AS_OF, currency: str = "KES"
) -> list[SyntheticMerchant]:
    """`count` merchants drawn from `seed`: the same arguments always give the same merchants."""
    # A seeded simulation, not a secret: the standard generator is the point (reproducible).
    rng = random.Random(seed)  # noqa: S311
    return [_merchant(rng, index, as_of, currency) for index in range(count)]
