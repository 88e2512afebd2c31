"""Merchant credit's pure rules: sales features, the scorecard, the decision, and loan arithmetic.

A merchant's credit is read from its own sales through Soko: one `SalesDay` aggregate per day, of
which the last 91 days (13 weeks, the *window*) are used. `compute_features` turns the window
and a few counters into `CreditFeatures`; `decide` scores them with a `Scorecard` (points per
band of each feature, grade cut-offs, terms per grade) into a `Decision`: a score, a grade, an
offer or a refusal, and the reasons in plain words. The loan arithmetic (what a sale repays, the
minimum due, arrears, instalment schedules) is exact in integer minor units.

Nothing here reads a clock, a random source or a file: `as_of` dates come in as arguments. No
value is a binary float: amounts are ints of minor units, rates are basis points or `Fraction`s,
and each rounding says which way it goes. Where it must round, it rounds in the platform's
favour (a smaller limit, a fee rounded up) but never so that a borrower is asked for more than
the loan owes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from functools import cache
from typing import Any, Final

from soko.credit.errors import ScorecardInvalid
from soko.kernel.money import AMOUNT_MINOR_MAX, CURRENCIES, Currency, Money, allocate
from soko.payments.fees import BASIS_POINTS_WHOLE

__all__ = [
    "DEFAULT_SCORECARD",
    "FEATURES",
    "HISTORY_REFUSALS",
    "INSTALMENTS_MAX",
    "WINDOW_DAYS",
    "WINDOW_WEEKS",
    "Characteristic",
    "CreditFeatures",
    "CurrencyLimits",
    "Decision",
    "Frequency",
    "GradeTerms",
    "HistoryRules",
    "Instalment",
    "Method",
    "Offer",
    "Reason",
    "RepaymentPolicy",
    "SalesDay",
    "Scorecard",
    "Standing",
    "Words",
    "compute_features",
    "days_past_due",
    "decide",
    "default_scorecard",
    "first_unmet_due_date",
    "flat_fee",
    "instalment_schedule",
    "late_fee",
    "minimum_due",
    "said",
    "shortfall",
    "split_repayment",
    "standing",
    "sweep_amount",
]

#: The window every feature is read from: 13 whole weeks ending on (and including) `as_of`.
WINDOW_WEEKS: Final = 13
WINDOW_DAYS: Final = WINDOW_WEEKS * 7
#: The trend compares the last `_TREND_WEEKS` weeks with the `_TREND_WEEKS` before them.
_TREND_WEEKS: Final = 6
#: Mean absolute deviation over the mean is at most 2 (n-1)/n; "no sales at all" is given 2.
_VOLATILITY_NO_SALES: Final = Fraction(2)
_BPS: Final = BASIS_POINTS_WHOLE


def _ceil_div(numerator: int, denominator: int) -> int:
    assert denominator > 0, denominator
    return -(-numerator // denominator)


def _floor(value: Fraction) -> int:
    return value.numerator // value.denominator


def _ceil(value: Fraction) -> int:
    return -(-value.numerator // value.denominator)


# --- the daily aggregate and the features -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SalesDay:
    """One merchant's takings on one day, in the merchant's currency (one row per merchant per
    day, updated with each payment, refund and dispute)."""

    day: date
    #: Gross payments received that day, before fees and refunds.
    sales_minor: int
    #: How many payments made up `sales_minor`.
    sales_count: int
    #: Refunds paid out that day (of sales on any day: refunds are counted when they happen).
    refunds_minor: int
    #: Disputes opened that day against the merchant.
    disputes: int

    def __post_init__(self) -> None:
        for name in ("sales_minor", "sales_count", "refunds_minor", "disputes"):
            value = getattr(self, name)
            assert type(value) is int and value >= 0, (name, value)
        assert (self.sales_count == 0) == (self.sales_minor == 0), self


@dataclass(frozen=True, slots=True)
class CreditFeatures:
    """What the scorecard sees of a merchant on `as_of`; every ratio exact or rounded as noted."""

    as_of: date
    currency: Currency
    #: Sales per week, index 0 the 7 days ending on `as_of`, index 12 the oldest.
    weekly_volume_minor: tuple[int, ...]
    weekly_count: tuple[int, ...]
    volume_minor: int
    sales_count: int
    #: The median of the 13 weekly volumes: one big week or a dead one does not move it.
    median_weekly_volume_minor: int
    #: median week * 13 / 3 (a quarter's weeks over its months), rounded down.
    typical_monthly_sales_minor: int
    #: (last 6 weeks - the 6 before) / the 6 before, kept within -1..1; 1 when sales start from
    #: nothing, 0 when there are none in either.
    trend: Fraction
    #: Mean absolute deviation of the weekly volumes over their mean; 2 when there are no sales.
    volatility: Fraction
    #: The biggest week's share of the window's volume, in basis points, rounded up.
    largest_week_share_bps: int
    #: Days in the window with at least one sale.
    active_days: int
    #: Weeks in the window with at least one sale.
    weeks_active: int
    distinct_payers: int
    #: Payers who paid more than once in the window, as a share of all payers (bps, rounded down).
    repeat_payer_bps: int
    #: Refunds over sales in the window (bps, rounded up, at most 10,000).
    refund_rate_bps: int
    #: Disputes over payments in the window (bps, rounded up, at most 10,000).
    dispute_rate_bps: int
    #: Days from the first sale through Soko to `as_of`; 0 without a sale.
    tenure_days: int
    average_balance_minor: int
    #: Average balance over a median week's sales (bps, rounded down); 0 without sales.
    balance_cover_bps: int
    #: Days in the window that ended with an empty wallet.
    zero_balance_days: int
    #: The merchant's own record with Soko credit.
    loans_repaid: int
    loans_late: int
    max_days_past_due: int

    def as_record(self) -> dict[str, Any]:
        """A JSON-able copy for the decision's audit record (Fractions as "n/d" strings)."""
        record: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, Fraction):
                value = str(value)
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, Currency):
                value = value.code
            elif isinstance(value, tuple):
                value = list(value)
            record[name] = value
        return record


def compute_features(
    days: Iterable[SalesDay],
    *,
    as_of: date,
    first_sale_on: date | None,
    distinct_payers: int,
    repeat_payers: int,
    average_balance_minor: int,
    zero_balance_days: int,
    loans_repaid: int,
    loans_late: int,
    max_days_past_due: int,
    currency: Currency | str,
) -> CreditFeatures:
    """The features of the window of 91 days ending on `as_of`.

    `days` should be the window's rows only (at most 91, one per day; a missing day is a day
    without sales): rows outside the window are skipped, so the cost is bounded by the window
    and never by how many payments the merchant took. The counters are the storage's, over the
    same window: payers who paid at least once and at least twice, the average end-of-day balance
    and the days that ended at zero; the loan record is over all time.
    """
    currency = currency if isinstance(currency, Currency) else Currency.of(currency)
    for name, value in (
        ("distinct_payers", distinct_payers),
        ("repeat_payers", repeat_payers),
        ("average_balance_minor", average_balance_minor),
        ("zero_balance_days", zero_balance_days),
        ("loans_repaid", loans_repaid),
        ("loans_late", loans_late),
        ("max_days_past_due", max_days_past_due),
    ):
        assert type(value) is int and value >= 0, (name, value)
    assert repeat_payers <= distinct_payers, (repeat_payers, distinct_payers)
    assert zero_balance_days <= WINDOW_DAYS, zero_balance_days
    assert first_sale_on is None or first_sale_on <= as_of, (first_sale_on, as_of)

    weekly_volume = [0] * WINDOW_WEEKS
    weekly_count = [0] * WINDOW_WEEKS
    refunds = disputes = active_days = 0
    seen: set[date] = set()
    for row in days:
        age = (as_of - row.day).days
        if not 0 <= age < WINDOW_DAYS:
            continue
        assert row.day not in seen, f"two aggregates for {row.day}"
        seen.add(row.day)
        week = age // 7
        weekly_volume[week] += row.sales_minor
        weekly_count[week] += row.sales_count
        refunds += row.refunds_minor
        disputes += row.disputes
        active_days += row.sales_count > 0

    volume, count = sum(weekly_volume), sum(weekly_count)
    median_week = sorted(weekly_volume)[WINDOW_WEEKS // 2]
    recent = sum(weekly_volume[:_TREND_WEEKS])
    before = sum(weekly_volume[_TREND_WEEKS : 2 * _TREND_WEEKS])
    if before:
        trend = min(Fraction(1), Fraction(recent - before, before))
    else:
        trend = Fraction(1 if recent else 0)
    if volume:
        # Scaled by 13 to stay in integers: |v - S/13| summed, over 13 * (S/13).
        deviation = sum(abs(WINDOW_WEEKS * week - volume) for week in weekly_volume)
        volatility = Fraction(deviation, WINDOW_WEEKS * volume)
        # Rounded up: a burst looks no smaller than it is.
        largest_share = _ceil_div(max(weekly_volume) * _BPS, volume)
    else:
        volatility, largest_share = _VOLATILITY_NO_SALES, _BPS
    return CreditFeatures(
        as_of=as_of,
        currency=currency,
        weekly_volume_minor=tuple(weekly_volume),
        weekly_count=tuple(weekly_count),
        volume_minor=volume,
        sales_count=count,
        median_weekly_volume_minor=median_week,
        # Rounded down: the limit is built on this, and a limit rounds in the lender's favour.
        typical_monthly_sales_minor=median_week * WINDOW_WEEKS // 3,
        trend=trend,
        volatility=volatility,
        largest_week_share_bps=largest_share,
        active_days=active_days,
        weeks_active=sum(1 for week in weekly_count if week),
        distinct_payers=distinct_payers,
        # Rounded down (a good sign is not overstated); risk rates below are rounded up.
        repeat_payer_bps=repeat_payers * _BPS // distinct_payers if distinct_payers else 0,
        refund_rate_bps=_rate_bps(refunds, volume),
        dispute_rate_bps=_rate_bps(disputes, count),
        tenure_days=0 if first_sale_on is None else (as_of - first_sale_on).days,
        average_balance_minor=average_balance_minor,
        balance_cover_bps=average_balance_minor * _BPS // median_week if median_week else 0,
        zero_balance_days=zero_balance_days,
        loans_repaid=loans_repaid,
        loans_late=loans_late,
        max_days_past_due=max_days_past_due,
    )


def _rate_bps(part: int, whole: int) -> int:
    """`part` over `whole` in basis points, rounded up and capped at 100 % (a risk rate is not
    understated; refunds of older sales can exceed the window's sales)."""
    if whole == 0:
        return _BPS if part else 0
    return min(_BPS, _ceil_div(part * _BPS, whole))


# --- the features a scorecard may score, and how each is said in words -------------------------


def _percent(value: Fraction, decimals: int = 1) -> str:
    """`value` as a percentage, truncated toward zero at `decimals` places, trailing zeros
    dropped ("12.5%", "-3%"): a rate shown is never above the rate measured."""
    scaled = value * 100 * 10**decimals
    magnitude = abs(scaled.numerator) // scaled.denominator
    whole, fraction = divmod(magnitude, 10**decimals)
    sign = "-" if scaled < 0 and magnitude else ""
    digits = f"{fraction:0{decimals}d}".rstrip("0") if decimals else ""
    return f"{sign}{whole}{'.' + digits if digits else ''}%"


def bps_percent(bps: int | Fraction) -> str:
    """Basis points as an exact percentage ("12.5%", "4%"): what an offer's terms print."""
    # Two places: a basis point is 0.01 %, so a limit of 2,000 bp and a rate of 2,001 bp differ.
    return _percent(Fraction(bps, _BPS), decimals=2)


def _count(value: Fraction) -> int:
    # Count thresholds are whole numbers; a fractional bound means "the next whole one".
    return _ceil(value)


@dataclass(frozen=True, slots=True)
class Words:
    """A sentence for the merchant: `template` is English with `{named}` facts, and is the
    catalogues' msgid (`soko/channels/locale/*/LC_MESSAGES/credit.po`); `facts` are its values,
    already written out (counts, percentages, amounts, dates), so that a channel says it in the
    reader's language with `translate(template).format(**facts)`."""

    template: str
    facts: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        """The sentence in English."""
        return self.said(str)

    def said(self, translate: Callable[[str], str]) -> str:
        """The sentence in the language of `translate` (a catalogue lookup: msgid -> msgstr)."""
        if not self.facts:  # also a decision stored before templates were: its text as it is
            return translate(self.template)
        return translate(self.template).format(**dict(self.facts))


def said(template: str, **facts: object) -> Words:
    """`template` with its facts: the one way credit writes a sentence (the i18n tests extract
    every `said("...")` text and check that each language has it)."""
    return Words(template, tuple((name, str(value)) for name, value in sorted(facts.items())))


def _trend_words(trend: Fraction) -> Words:
    if trend == 0:
        return said("Your sales in the last 6 weeks were the same as in the 6 weeks before.")
    if trend > 0:
        return said(
            "Your sales in the last 6 weeks were {percent} above the 6 weeks before.",
            percent=_percent(trend),
        )
    return said(
        "Your sales in the last 6 weeks were {percent} below the 6 weeks before.",
        percent=_percent(-trend),
    )


def _trend_aim_higher(bound: Fraction) -> Words:
    if bound <= 0:
        return said(
            "Keep your sales from falling more than {percent} from one 6 weeks to the next to "
            "raise your limit.",
            percent=_percent(-bound),
        )
    return said(
        "Grow your sales by at least {percent} over 6 weeks to raise your limit.",
        percent=_percent(bound),
    )


def _trend_aim_lower(bound: Fraction) -> Words:
    return said(
        "Grow steadily: a jump of {percent} or more in 6 weeks lowers your limit until it lasts.",
        percent=_percent(bound),
    )


def _loans_repaid(features: CreditFeatures) -> Words:
    if features.loans_repaid == 1:
        return said("You have repaid 1 Soko loan in full.")
    return said("You have repaid {count} Soko loans in full.", count=features.loans_repaid)


def _loans_late(features: CreditFeatures) -> Words:
    if features.loans_late == 1:
        return said("1 Soko loan of yours fell behind the minimum payment.")
    return said(
        "{count} Soko loans of yours fell behind the minimum payment.", count=features.loans_late
    )


def _repay_more(bound: Fraction) -> Words:
    if _count(bound) == 1:
        return said("Repay 1 Soko loan in full to raise your next limit.")
    return said("Repay {count} Soko loans in full to raise your next limit.", count=_count(bound))


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """A feature a scorecard may score: its lowest value, and its words for reasons."""

    name: str
    minimum: Fraction
    value: Callable[[CreditFeatures], Fraction]
    #: A plain sentence stating the merchant's value ("You sold on 23 of the last 91 days.").
    describe: Callable[[CreditFeatures], Words]
    #: What to do to reach a band starting at the bound (from below) ...
    aim_higher: Callable[[Fraction], Words]
    #: ... or to get under a bound (from above).
    aim_lower: Callable[[Fraction], Words]


def _spec(
    name: str,
    describe: Callable[[CreditFeatures], Words],
    aim_higher: Callable[[Fraction], Words],
    aim_lower: Callable[[Fraction], Words],
    minimum: int = 0,
) -> FeatureSpec:
    def value(features: CreditFeatures) -> Fraction:
        return Fraction(getattr(features, name))

    return FeatureSpec(name, Fraction(minimum), value, describe, aim_higher, aim_lower)


#: Every feature a scorecard may score, by name (the name is also the reason code). Each
#: sentence is whole, facts apart, so that a language can order it its own way.
FEATURES: Final[Mapping[str, FeatureSpec]] = {
    spec.name: spec
    for spec in (
        _spec(
            "active_days",
            lambda f: said(
                "You sold on {days} of the last {window} days.",
                days=f.active_days,
                window=WINDOW_DAYS,
            ),
            lambda b: said(
                "Sell on at least {count} days in a quarter to raise your limit.", count=_count(b)
            ),
            lambda b: said(
                "Sell on fewer than {count} days in a quarter to raise your limit.",
                count=_count(b),
            ),
        ),
        _spec(
            "weeks_active",
            lambda f: said(
                "You had sales in {weeks} of the last {window} weeks.",
                weeks=f.weeks_active,
                window=WINDOW_WEEKS,
            ),
            lambda b: said(
                "Have sales in at least {count} of every 13 weeks to raise your limit.",
                count=_count(b),
            ),
            lambda b: said(
                "Have sales in fewer than {count} of every 13 weeks to raise your limit.",
                count=_count(b),
            ),
        ),
        _spec("trend", lambda f: _trend_words(f.trend), _trend_aim_higher, _trend_aim_lower, -1),
        _spec(
            "volatility",
            lambda f: said(
                "Your weekly sales were {percent} away from their average, on average.",
                percent=_percent(f.volatility),
            ),
            lambda b: said(
                "Vary your weekly sales by at least {percent} to raise your limit.",
                percent=_percent(b),
            ),
            lambda b: said(
                "Keep your weekly sales within {percent} of their average to raise your limit.",
                percent=_percent(b),
            ),
        ),
        _spec(
            "largest_week_share_bps",
            lambda f: said(
                "Your biggest week brought {percent} of your sales in the last 13 weeks.",
                percent=bps_percent(f.largest_week_share_bps),
            ),
            lambda b: said(
                "Bring at least {percent} of a quarter's sales in one week.",
                percent=bps_percent(b),
            ),
            lambda b: said(
                "Spread your sales: keep any one week under {percent} of a quarter's sales to "
                "raise your limit.",
                percent=bps_percent(b),
            ),
        ),
        _spec(
            "distinct_payers",
            lambda f: said(
                "{count} different customers paid you in the last {window} days.",
                count=f.distinct_payers,
                window=WINDOW_DAYS,
            ),
            lambda b: said(
                "Serve at least {count} different paying customers a quarter to raise your limit.",
                count=_count(b),
            ),
            lambda b: said(
                "Serve fewer than {count} different paying customers a quarter.", count=_count(b)
            ),
        ),
        _spec(
            "repeat_payer_bps",
            lambda f: said(
                "{percent} of your customers paid you more than once.",
                percent=bps_percent(f.repeat_payer_bps),
            ),
            lambda b: said(
                "Have at least {percent} of your customers come back to raise your limit.",
                percent=bps_percent(b),
            ),
            lambda b: said(
                "Have fewer than {percent} of your customers come back.", percent=bps_percent(b)
            ),
        ),
        _spec(
            "refund_rate_bps",
            lambda f: said(
                "You refunded {percent} of your sales.", percent=bps_percent(f.refund_rate_bps)
            ),
            lambda b: said("Refund at least {percent} of your sales.", percent=bps_percent(b)),
            lambda b: said(
                "Keep refunds below {percent} of your sales to raise your limit.",
                percent=bps_percent(b),
            ),
        ),
        _spec(
            "dispute_rate_bps",
            lambda f: said(
                "{percent} of your payments were disputed.",
                percent=bps_percent(f.dispute_rate_bps),
            ),
            lambda b: said(
                "Have at least {percent} of your payments disputed.", percent=bps_percent(b)
            ),
            lambda b: said(
                "Keep disputes below {percent} of your payments to raise your limit.",
                percent=bps_percent(b),
            ),
        ),
        _spec(
            "tenure_days",
            lambda f: said(
                "You have taken payments with Soko for {days} days.", days=f.tenure_days
            ),
            lambda b: said(
                "Your limit can grow once you have sold with Soko for {count} days.",
                count=_count(b),
            ),
            lambda b: said("Have sold with Soko for fewer than {count} days.", count=_count(b)),
        ),
        _spec(
            "balance_cover_bps",
            lambda f: said(
                "Your average balance was {percent} of a typical week's sales.",
                percent=bps_percent(f.balance_cover_bps),
            ),
            lambda b: said(
                "Keep an average balance of at least {percent} of a week's sales to raise your "
                "limit.",
                percent=bps_percent(b),
            ),
            lambda b: said(
                "Keep your average balance below {percent} of a week's sales.",
                percent=bps_percent(b),
            ),
        ),
        _spec(
            "zero_balance_days",
            lambda f: said(
                "Your wallet was empty at the end of {days} of the last {window} days.",
                days=f.zero_balance_days,
                window=WINDOW_DAYS,
            ),
            lambda b: said(
                "Empty your wallet on at least {count} days a quarter.", count=_count(b)
            ),
            lambda b: said(
                "Keep money in your wallet: end fewer than {count} days a quarter empty to raise "
                "your limit.",
                count=_count(b),
            ),
        ),
        _spec(
            "loans_repaid",
            _loans_repaid,
            _repay_more,
            lambda b: said("Have repaid fewer than {count} loans.", count=_count(b)),
        ),
        _spec(
            "loans_late",
            _loans_late,
            lambda b: said("Have at least {count} loans fall behind.", count=_count(b)),
            lambda b: said("Pay every minimum on time: loans that fall behind lower your limit."),
        ),
        _spec(
            "max_days_past_due",
            lambda f: said(
                "Your longest late payment on a Soko loan was {days} days.",
                days=f.max_days_past_due,
            ),
            lambda b: said("Be at least {count} days late.", count=_count(b)),
            lambda b: said(
                "Keep any late payment under {count} days to raise your limit.", count=_count(b)
            ),
        ),
    )
}


# --- the scorecard -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Characteristic:
    """Points for one feature, by band: (lower bound, points), ascending. A value scores the
    points of the last band whose lower bound it reaches; the first band starts at the feature's
    lowest value, so every value has a band."""

    feature: str
    bands: tuple[tuple[Fraction, int], ...]

    def band_of(self, value: Fraction) -> int:
        return max(0, bisect_right([lower for lower, _ in self.bands], value) - 1)

    def points_for(self, value: Fraction) -> int:
        return self.bands[self.band_of(value)][1]

    @property
    def max_points(self) -> int:
        return max(points for _, points in self.bands)


@dataclass(frozen=True, slots=True)
class GradeTerms:
    """A grade: the scores it takes and the terms of its offers."""

    grade: str
    #: The lowest score of the grade; None for the floor grade, which takes every lower score.
    min_score: int | None
    #: The limit, in basis points of typical monthly sales; 0 = no offer in this grade.
    limit_bps: int
    #: The flat fee, in basis points of the principal, charged once.
    fee_bps: int
    #: The share of each sale swept to repay the loan, in basis points.
    withhold_bps: int
    #: Days from disbursement by which everything is due.
    term_days: int
    #: The grade's largest loan per currency code (minor units), sorted by code.
    caps: tuple[tuple[str, int], ...]

    def cap_for(self, code: str) -> int | None:
        return dict(self.caps).get(code)


@dataclass(frozen=True, slots=True)
class HistoryRules:
    """Below these there is no offer, whatever the score: too little to judge, or a red flag."""

    min_tenure_days: int
    min_active_days: int
    max_refund_rate_bps: int
    max_dispute_rate_bps: int
    max_days_past_due: int


@dataclass(frozen=True, slots=True)
class CurrencyLimits:
    """The smallest loan worth making and the largest Soko makes, in one currency."""

    code: str
    min_principal_minor: int
    max_principal_minor: int


_VERSION_SYNTAX: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_GRADE_SYNTAX: Final = re.compile(r"[A-Z][A-Za-z0-9+-]{0,7}")
_BOUND_SYNTAX: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+|/[0-9]+)?")
_POINTS_MAX: Final = 1_000
_TOP_KEYS: Final = (
    "characteristics",
    "grades",
    "history",
    "currencies",
    "offer_valid_days",
    "reasons_shown",
    "improvements_shown",
)


@dataclass(frozen=True, slots=True)
class Scorecard:
    """An operator's credit policy: characteristics, grades and their terms, history rules.

    Read from JSON (`from_json`, strict); `version` is the JSON's own "version" if it names one,
    else "sc-" and the first 12 hex digits of the SHA-256 of the canonical content, so the same
    rules always carry the same version and every decision records which rules made it.
    """

    version: str
    characteristics: tuple[Characteristic, ...]
    #: Descending by min_score; the last is the floor grade.
    grades: tuple[GradeTerms, ...]
    history: HistoryRules
    currencies: tuple[CurrencyLimits, ...]
    offer_valid_days: int
    reasons_shown: int
    improvements_shown: int

    def currency_limits(self, code: str) -> CurrencyLimits | None:
        return next((limits for limits in self.currencies if limits.code == code), None)

    def grade_for(self, score: int) -> GradeTerms:
        for terms in self.grades:
            if terms.min_score is None or score >= terms.min_score:
                return terms
        raise AssertionError("the floor grade takes every score")  # pragma: no cover

    def content(self) -> dict[str, Any]:
        """The rules as JSON-able data, without the version: what the version hashes."""
        return {
            "characteristics": [
                {"feature": c.feature, "bands": [[_bound_json(b), p] for b, p in c.bands]}
                for c in self.characteristics
            ],
            "grades": [
                {
                    "grade": g.grade,
                    **({} if g.min_score is None else {"min_score": g.min_score}),
                    "limit_bps": g.limit_bps,
                    "fee_bps": g.fee_bps,
                    "withhold_bps": g.withhold_bps,
                    "term_days": g.term_days,
                    "cap_minor": dict(g.caps),
                }
                for g in self.grades
            ],
            "history": {
                "min_tenure_days": self.history.min_tenure_days,
                "min_active_days": self.history.min_active_days,
                "max_refund_rate_bps": self.history.max_refund_rate_bps,
                "max_dispute_rate_bps": self.history.max_dispute_rate_bps,
                "max_days_past_due": self.history.max_days_past_due,
            },
            "currencies": {
                c.code: {
                    "min_principal_minor": c.min_principal_minor,
                    "max_principal_minor": c.max_principal_minor,
                }
                for c in self.currencies
            },
            "offer_valid_days": self.offer_valid_days,
            "reasons_shown": self.reasons_shown,
            "improvements_shown": self.improvements_shown,
        }

    def to_json(self) -> str:
        """Canonical JSON with the version named: `from_json` of it is this scorecard again."""
        return _canonical({"version": self.version, **self.content()})

    @classmethod
    def from_json(cls, text: str) -> Scorecard:
        """Parse and check a scorecard; any deviation from the documented shape is
        `ScorecardInvalid` naming where. Decimal numbers are read exactly (never as floats)."""
        if not isinstance(text, str):
            raise ScorecardInvalid(f"A scorecard is JSON text, not {type(text).__name__}.")
        try:
            data = json.loads(
                text,
                parse_float=Fraction,
                parse_constant=_refuse_constant,
                object_pairs_hook=_refuse_duplicate_keys,
            )
        except ValueError as error:  # JSONDecodeError, and the hooks' refusals
            raise ScorecardInvalid(f"The scorecard is not valid JSON: {error}") from None
        return _read_scorecard(data)


def _bound_json(bound: Fraction) -> int | str:
    return bound.numerator if bound.denominator == 1 else str(bound)


def _canonical(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a scorecard may hold")


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {key!r} appears twice in one object")
        found[key] = value
    return found


def _object(value: Any, where: str, required: Sequence[str], optional: Sequence[str] = ()) -> Any:
    if not isinstance(value, dict):
        raise ScorecardInvalid(f"{where} must be a JSON object.")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        raise ScorecardInvalid(f"{where} has unknown keys: {', '.join(unknown)}.")
    missing = [key for key in required if key not in value]
    if missing:
        raise ScorecardInvalid(f"{where} lacks {', '.join(missing)}.")
    return value


def _mapping(value: Any, where: str) -> dict[str, Any]:
    """An object keyed by the operator's choice (currency codes), checked by the caller."""
    if not isinstance(value, dict):
        raise ScorecardInvalid(f"{where} must be a JSON object.")
    return value


def _int(value: Any, where: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ScorecardInvalid(f"{where} must be an integer from {low} to {high}, got {value!r}.")
    return value


def _list(value: Any, where: str, low: int, high: int) -> list[Any]:
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise ScorecardInvalid(f"{where} must be a list of {low} to {high} items.")
    return value


def _bound(value: Any, where: str) -> Fraction:
    # A decimal number arrives as a Fraction (parse_float), exactly as written; a string may
    # write a fraction ("1/3") or a decimal ("-0.25").
    if type(value) is int or isinstance(value, Fraction):
        return Fraction(value)
    if isinstance(value, str) and _BOUND_SYNTAX.fullmatch(value):
        return Fraction(value)
    raise ScorecardInvalid(
        f'{where} must be a number or a string such as "-0.25" or "1/3", got {value!r}.'
    )


def _read_scorecard(data: Any) -> Scorecard:
    _object(data, "the scorecard", _TOP_KEYS, ("version",))
    characteristics = tuple(
        _read_characteristic(item, f"characteristics[{index}]")
        for index, item in enumerate(_list(data["characteristics"], "characteristics", 1, 40))
    )
    features = [c.feature for c in characteristics]
    if len(set(features)) != len(features):
        raise ScorecardInvalid("characteristics name a feature more than once.")

    currencies_data = _mapping(data["currencies"], "currencies")
    currencies: list[CurrencyLimits] = []
    for code in sorted(currencies_data):
        where = f"currencies.{code}"
        if code not in CURRENCIES:
            raise ScorecardInvalid(f"{where}: {code!r} is not a currency Soko knows.")
        limits = _object(
            currencies_data[code], where, ("min_principal_minor", "max_principal_minor")
        )
        low = _int(limits["min_principal_minor"], f"{where}.min_principal_minor", 1,
                   AMOUNT_MINOR_MAX)  # fmt: skip
        high = _int(limits["max_principal_minor"], f"{where}.max_principal_minor", low,
                    AMOUNT_MINOR_MAX)  # fmt: skip
        currencies.append(CurrencyLimits(code, low, high))
    if not currencies:
        raise ScorecardInvalid("currencies must name at least one currency.")
    codes = {c.code for c in currencies}

    grades_data = _list(data["grades"], "grades", 1, 20)
    grades = tuple(
        _read_grade(item, f"grades[{index}]", codes, floor=index == len(grades_data) - 1)
        for index, item in enumerate(grades_data)
    )
    names = [g.grade for g in grades]
    if len(set(names)) != len(names):
        raise ScorecardInvalid("grades repeat a name.")
    scores = [g.min_score for g in grades[:-1]]
    if any(high is None or low is None or high <= low for high, low in itertools.pairwise(scores)):
        raise ScorecardInvalid("grades must be in strictly descending min_score.")

    history = _object(data["history"], "history", tuple(HistoryRules.__dataclass_fields__))
    version_text = data.get("version")
    scorecard = Scorecard(
        version="",
        characteristics=characteristics,
        grades=grades,
        history=HistoryRules(
            **{
                name: _int(history[name], f"history.{name}", 0, 100_000)
                for name in HistoryRules.__dataclass_fields__
            }
        ),
        currencies=tuple(currencies),
        offer_valid_days=_int(data["offer_valid_days"], "offer_valid_days", 1, 90),
        reasons_shown=_int(data["reasons_shown"], "reasons_shown", 0, 20),
        improvements_shown=_int(data["improvements_shown"], "improvements_shown", 0, 20),
    )
    if version_text is None:
        digest = hashlib.sha256(_canonical(scorecard.content()).encode("ascii")).hexdigest()
        version_text = f"sc-{digest[:12]}"
    elif not isinstance(version_text, str) or not _VERSION_SYNTAX.fullmatch(version_text):
        raise ScorecardInvalid(
            "version must be 1 to 64 letters, digits, dots, dashes or underscores, "
            f"got {version_text!r}."
        )
    return replace(scorecard, version=version_text)


def _read_characteristic(item: Any, where: str) -> Characteristic:
    _object(item, where, ("feature", "bands"))
    feature = item["feature"]
    spec = FEATURES.get(feature) if isinstance(feature, str) else None
    if spec is None:
        raise ScorecardInvalid(
            f"{where}.feature {feature!r} is not one of: {', '.join(sorted(FEATURES))}."
        )
    bands: list[tuple[Fraction, int]] = []
    for index, band in enumerate(_list(item["bands"], f"{where}.bands", 1, 30)):
        band_where = f"{where}.bands[{index}]"
        pair = _list(band, band_where, 2, 2)
        bands.append((
            _bound(pair[0], f"{band_where}[0]"),
            _int(pair[1], f"{band_where}[1]", -_POINTS_MAX, _POINTS_MAX),
        ))  # fmt: skip
    if bands[0][0] != spec.minimum:
        raise ScorecardInvalid(
            f"{where}: the first band must start at {feature}'s lowest value, {spec.minimum}."
        )
    lowers = [lower for lower, _ in bands]
    if any(low >= high for low, high in itertools.pairwise(lowers)):
        raise ScorecardInvalid(f"{where}: band lower bounds must strictly ascend.")
    return Characteristic(feature, tuple(bands))


def _read_grade(item: Any, where: str, codes: set[str], *, floor: bool) -> GradeTerms:
    keys = ("grade", "limit_bps", "fee_bps", "withhold_bps", "term_days", "cap_minor")
    _object(item, where, keys if floor else (*keys, "min_score"), ("min_score",) if floor else ())
    name = item["grade"]
    if not isinstance(name, str) or not _GRADE_SYNTAX.fullmatch(name):
        raise ScorecardInvalid(f"{where}.grade must be a short name such as 'A', got {name!r}.")
    if floor and item.get("min_score") is not None:
        raise ScorecardInvalid(f"{where}: the last grade takes every lower score: no min_score.")
    caps_data = _mapping(item["cap_minor"], f"{where}.cap_minor")
    unknown = sorted(set(caps_data) - codes)
    if unknown:
        raise ScorecardInvalid(f"{where}.cap_minor names currencies not in currencies: {unknown}.")
    caps = tuple(
        (code, _int(caps_data[code], f"{where}.cap_minor.{code}", 0, AMOUNT_MINOR_MAX))
        for code in sorted(caps_data)
    )
    return GradeTerms(
        grade=name,
        min_score=None if floor else _int(item["min_score"], f"{where}.min_score", -(10**6), 10**6),
        limit_bps=_int(item["limit_bps"], f"{where}.limit_bps", 0, 10 * _BPS),
        fee_bps=_int(item["fee_bps"], f"{where}.fee_bps", 0, _BPS),
        withhold_bps=_int(item["withhold_bps"], f"{where}.withhold_bps", 1, _BPS),
        term_days=_int(item["term_days"], f"{where}.term_days", 1, 1_095),
        caps=caps,
    )


#: The scorecard Soko ships; `SOKO_CREDIT_SCORECARD` replaces this text. Tuned on the synthetic
#: population's training seed (benchmarks/credit.py), see docs/credit.md.
DEFAULT_SCORECARD: Final = """\
{
  "characteristics": [
    {"feature": "active_days", "bands": [[0, 0], [40, 4], [50, 10], [60, 16]]},
    {"feature": "weeks_active", "bands": [[0, 0], [13, 2]]},
    {"feature": "trend", "bands": [["-1", 0], ["-0.3", 2], ["-0.1", 4], ["0.2", 18], ["0.5", 10]]},
    {"feature": "volatility", "bands": [[0, 8], ["0.35", 2], ["0.5", 0]]},
    {"feature": "largest_week_share_bps", "bands": [[0, 26], [1200, 16], [2500, 8]]},
    {"feature": "repeat_payer_bps", "bands": [[0, 0], [1500, 36], [2500, 44]]},
    {"feature": "refund_rate_bps", "bands": [[0, 4], [300, 0]]},
    {"feature": "dispute_rate_bps", "bands": [[0, 8], [200, 0]]},
    {"feature": "tenure_days", "bands": [[0, 0], [180, 16]]},
    {"feature": "zero_balance_days", "bands": [[0, 16], [15, 14], [30, 0]]},
    {"feature": "loans_repaid", "bands": [[0, 0], [1, 2], [3, 6]]},
    {"feature": "loans_late", "bands": [[0, 10], [2, 2]]},
    {"feature": "max_days_past_due", "bands": [[0, 2], [1, 0]]}
  ],
  "grades": [
    {"grade": "A", "min_score": 150, "limit_bps": 10000, "fee_bps": 400, "withhold_bps": 1000,
     "term_days": 180, "cap_minor": {"KES": 100000000, "TZS": 2000000000, "UGX": 30000000}},
    {"grade": "B", "min_score": 140, "limit_bps": 7500, "fee_bps": 500, "withhold_bps": 1200,
     "term_days": 180, "cap_minor": {"KES": 50000000, "TZS": 1000000000, "UGX": 15000000}},
    {"grade": "C", "min_score": 130, "limit_bps": 5000, "fee_bps": 600, "withhold_bps": 1500,
     "term_days": 150, "cap_minor": {"KES": 25000000, "TZS": 500000000, "UGX": 7500000}},
    {"grade": "D", "min_score": 120, "limit_bps": 2500, "fee_bps": 800, "withhold_bps": 1500,
     "term_days": 120, "cap_minor": {"KES": 10000000, "TZS": 200000000, "UGX": 3000000}},
    {"grade": "E", "limit_bps": 0, "fee_bps": 0, "withhold_bps": 1000, "term_days": 90,
     "cap_minor": {}}
  ],
  "history": {"min_tenure_days": 56, "min_active_days": 20, "max_refund_rate_bps": 2000,
              "max_dispute_rate_bps": 500, "max_days_past_due": 60},
  "currencies": {
    "KES": {"min_principal_minor": 100000, "max_principal_minor": 100000000},
    "TZS": {"min_principal_minor": 2000000, "max_principal_minor": 2000000000},
    "UGX": {"min_principal_minor": 30000, "max_principal_minor": 30000000}
  },
  "offer_valid_days": 7,
  "reasons_shown": 4,
  "improvements_shown": 3
}
"""


@cache
def default_scorecard() -> Scorecard:
    """`DEFAULT_SCORECARD`, parsed once."""
    return Scorecard.from_json(DEFAULT_SCORECARD)


# --- the decision -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason: `code` is stable snake_case (what a program branches on), `words` the
    sentence with its facts, which each channel says in the reader's language."""

    code: str
    words: Words

    @property
    def text(self) -> str:
        """The sentence in English: what the API and the audit record give."""
        return self.words.text

    def said(self, translate: Callable[[str], str]) -> str:
        return self.words.said(translate)

    def as_record(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "text": self.text,
            "template": self.words.template,
            "facts": dict(self.words.facts),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Reason:
        """A stored reason; one stored before templates were keeps its English text whole."""
        if "template" not in record:
            return cls(record["code"], Words(record["text"]))
        facts = tuple(sorted((str(k), str(v)) for k, v in record["facts"].items()))
        return cls(record["code"], Words(record["template"], facts))


@dataclass(frozen=True, slots=True)
class Offer:
    """What the merchant may borrow, on which terms, until `expires_on` (inclusive)."""

    currency: str
    limit_minor: int
    fee_bps: int
    withhold_bps: int
    term_days: int
    expires_on: date

    def fee_for(self, principal_minor: int) -> int:
        return flat_fee(principal_minor, self.fee_bps)


@dataclass(frozen=True, slots=True)
class Decision:
    """A scorecard's verdict on features: the same features and scorecard version always give an
    equal Decision, so it can be recomputed from its audit record."""

    scorecard_version: str
    as_of: date
    currency: str
    score: int
    grade: str
    #: Points per characteristic, in the scorecard's order.
    points: tuple[tuple[str, int], ...]
    #: None when there is no offer; `reasons` then start with why, whose codes are `refusals`.
    offer: Offer | None
    refusals: tuple[str, ...]
    reasons: tuple[Reason, ...]
    improvements: tuple[Reason, ...]
    features: CreditFeatures = field(repr=False)

    @property
    def offered(self) -> bool:
        return self.offer is not None

    def as_record(self) -> dict[str, Any]:
        """A JSON-able dict for the audit store: everything needed to explain or replay it."""
        offer = self.offer
        return {
            "scorecard_version": self.scorecard_version,
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "score": self.score,
            "grade": self.grade,
            "points": dict(self.points),
            "offer": None
            if offer is None
            else {
                "currency": offer.currency,
                "limit_minor": offer.limit_minor,
                "fee_bps": offer.fee_bps,
                "withhold_bps": offer.withhold_bps,
                "term_days": offer.term_days,
                "expires_on": offer.expires_on.isoformat(),
            },
            "refusals": list(self.refusals),
            "reasons": [r.as_record() for r in self.reasons],
            "improvements": [r.as_record() for r in self.improvements],
            "features": self.features.as_record(),
        }


#: The refusals that come from the history rules, before any score is looked at.
HISTORY_REFUSALS: Final = frozenset(
    {
        "tenure_too_short",
        "too_few_active_days",
        "refunds_too_high",
        "disputes_too_high",
        "past_loan_overdue",
    }
)


#: The feature whose figure each history refusal states.
_REFUSAL_FEATURES: Final[Mapping[str, str]] = {
    "tenure_too_short": "tenure_days",
    "too_few_active_days": "active_days",
    "refunds_too_high": "refund_rate_bps",
    "disputes_too_high": "dispute_rate_bps",
    "past_loan_overdue": "max_days_past_due",
}


def _history_refusals(
    features: CreditFeatures, rules: HistoryRules
) -> tuple[list[Reason], list[Reason]]:
    """The history rules the merchant misses, and what would meet each."""
    refusals: list[Reason] = []
    remedies: list[Reason] = []
    if features.tenure_days < rules.min_tenure_days:
        ready_on = features.as_of + timedelta(days=rules.min_tenure_days - features.tenure_days)
        refusals.append(Reason("tenure_too_short", said(
            "You have taken payments with Soko for {days} days; an offer needs at least "
            "{needed}.",
            days=features.tenure_days, needed=rules.min_tenure_days,
        )))  # fmt: skip
        remedies.append(Reason("tenure_too_short", said(
            "Keep selling with Soko: you can be offered credit from {date}.",
            date=ready_on.isoformat(),
        )))  # fmt: skip
    if features.active_days < rules.min_active_days:
        refusals.append(Reason("too_few_active_days", said(
            "You sold on {days} of the last {window} days; an offer needs at least {needed}.",
            days=features.active_days, window=WINDOW_DAYS, needed=rules.min_active_days,
        )))  # fmt: skip
        remedies.append(Reason("too_few_active_days", said(
            "Sell on at least {count} days in a quarter to get an offer.",
            count=rules.min_active_days,
        )))  # fmt: skip
    if features.refund_rate_bps > rules.max_refund_rate_bps:
        limit = bps_percent(rules.max_refund_rate_bps)
        refusals.append(Reason("refunds_too_high", said(
            "You refunded {percent} of your sales; an offer needs at most {limit}.",
            percent=bps_percent(features.refund_rate_bps), limit=limit,
        )))  # fmt: skip
        remedies.append(Reason("refunds_too_high", said(
            "Keep refunds to {limit} of your sales or less to get an offer.", limit=limit
        )))  # fmt: skip
    if features.dispute_rate_bps > rules.max_dispute_rate_bps:
        limit = bps_percent(rules.max_dispute_rate_bps)
        refusals.append(Reason("disputes_too_high", said(
            "{percent} of your payments were disputed; an offer needs at most {limit}.",
            percent=bps_percent(features.dispute_rate_bps), limit=limit,
        )))  # fmt: skip
        remedies.append(Reason("disputes_too_high", said(
            "Keep disputes to {limit} of your payments or less.", limit=limit
        )))  # fmt: skip
    if features.max_days_past_due > rules.max_days_past_due:
        refusals.append(Reason("past_loan_overdue", said(
            "A past Soko loan was {days} days late; an offer needs every loan paid within "
            "{allowed} days of its due date.",
            days=features.max_days_past_due, allowed=rules.max_days_past_due,
        )))  # fmt: skip
    return refusals, remedies


def _improvements(
    features: CreditFeatures, scorecard: Scorecard, values: Sequence[Fraction]
) -> list[Reason]:
    """For each characteristic, the nearest band worth more points, best gains first."""
    found: list[tuple[int, int, Reason]] = []
    for order, (characteristic, value) in enumerate(
        zip(scorecard.characteristics, values, strict=True)
    ):
        spec, bands = FEATURES[characteristic.feature], characteristic.bands
        here = characteristic.band_of(value)
        better = [i for i, (_, points) in enumerate(bands) if points > bands[here][1]]
        if not better:
            continue
        # Nearest first (the smallest change of behaviour); between two as near, more points.
        target = min(better, key=lambda i: (abs(i - here), -bands[i][1]))
        if target > here:
            words = spec.aim_higher(bands[target][0])
        else:
            words = spec.aim_lower(bands[target + 1][0])
        found.append((bands[target][1] - bands[here][1], order, Reason(spec.name, words)))
    found.sort(key=lambda item: (-item[0], item[1]))
    return [reason for _, _, reason in found]


def decide(features: CreditFeatures, scorecard: Scorecard) -> Decision:
    """Score `features` and make the offer the grade allows, or say why there is none."""
    values = [FEATURES[c.feature].value(features) for c in scorecard.characteristics]
    points = tuple(
        (c.feature, c.points_for(value))
        for c, value in zip(scorecard.characteristics, values, strict=True)
    )
    score = sum(p for _, p in points)
    terms = scorecard.grade_for(score)
    refusals, remedies = _history_refusals(features, scorecard.history)

    code = features.currency.code
    limits, cap = scorecard.currency_limits(code), terms.cap_for(code)
    offer: Offer | None = None
    if limits is None:
        refusals.append(Reason(
            "currency_not_offered", said("Soko does not lend in {currency} yet.", currency=code)
        ))  # fmt: skip
    elif terms.limit_bps == 0 or cap is None:
        refusals.append(Reason("grade_not_offered", said(
            "Your score of {score} (grade {grade}) is below the grades Soko lends to.",
            score=score, grade=terms.grade,
        )))  # fmt: skip
    elif not refusals:
        # Rounded down, then down again to a whole major unit ("KES 12,400", not "12,437.18"):
        # the limit is a ceiling on lending, and a ceiling rounds in the lender's favour.
        limit = features.typical_monthly_sales_minor * terms.limit_bps // _BPS
        limit = min(limit, cap, limits.max_principal_minor)
        limit -= limit % 10**features.currency.exponent
        if limit < limits.min_principal_minor:
            refusals.append(Reason("limit_too_small", said(
                "Your limit would be {limit}, below the smallest loan of {smallest}.",
                limit=Money(limit, features.currency),
                smallest=Money(limits.min_principal_minor, features.currency),
            )))  # fmt: skip
        else:
            offer = Offer(
                currency=code,
                limit_minor=limit,
                fee_bps=terms.fee_bps,
                withhold_bps=terms.withhold_bps,
                term_days=terms.term_days,
                expires_on=features.as_of + timedelta(days=scorecard.offer_valid_days),
            )

    # Factors that cost the most points first: they explain the grade.
    factors = sorted(
        range(len(points)),
        key=lambda i: (points[i][1] - scorecard.characteristics[i].max_points, i),
    )
    # A refusal already says its feature's figure ("You sold on 1 of the last 91 days; an offer
    # needs at least 20."): that factor is not said a second time.
    stated = {_REFUSAL_FEATURES.get(reason.code) for reason in refusals}
    factor_reasons = [
        Reason(points[i][0], FEATURES[points[i][0]].describe(features))
        for i in factors
        if points[i][0] not in stated
    ]
    improvements = [*remedies, *_improvements(features, scorecard, values)]
    return Decision(
        scorecard_version=scorecard.version,
        as_of=features.as_of,
        currency=code,
        score=score,
        grade=terms.grade,
        points=points,
        offer=offer,
        refusals=tuple(reason.code for reason in refusals),
        reasons=(*refusals, *factor_reasons[: scorecard.reasons_shown]),
        improvements=tuple(improvements[: max(scorecard.improvements_shown, len(remedies))]),
        features=features,
    )


# --- loan arithmetic ----------------------------------------------------------------------------


def flat_fee(principal_minor: int, fee_bps: int) -> int:
    """The one-off fee on a principal: rounded up (the lender's books), so at most one minor
    unit above the exact share and never a fraction owed to no one."""
    assert principal_minor >= 0 and 0 <= fee_bps <= _BPS, (principal_minor, fee_bps)
    return _ceil_div(principal_minor * fee_bps, _BPS)


def sweep_amount(payment_minor: int, withhold_bps: int, outstanding_minor: int) -> int:
    """What a sale of `payment_minor` repays: the withhold share, rounded down (the merchant keeps
    the fraction), and never more than the loan still owes."""
    assert payment_minor >= 0 and outstanding_minor >= 0, (payment_minor, outstanding_minor)
    assert 0 <= withhold_bps <= _BPS, withhold_bps
    return min(payment_minor * withhold_bps // _BPS, outstanding_minor)


def split_repayment(
    amount_minor: int, principal_outstanding_minor: int, fee_outstanding_minor: int
) -> tuple[int, int]:
    """A repayment's (principal, fee) parts, in proportion to what is outstanding of each.

    Through `allocate` (largest remainder): principal is listed first, so a contested unit goes
    to principal, the part the lender would lose. A repayment of everything outstanding is split
    exactly, so the parts of a loan's repayments always sum to its principal and its fee.
    """
    outstanding = principal_outstanding_minor + fee_outstanding_minor
    assert principal_outstanding_minor >= 0 and fee_outstanding_minor >= 0
    assert 0 <= amount_minor <= outstanding, (amount_minor, outstanding)
    if amount_minor == 0:
        return 0, 0
    principal, fee = allocate(amount_minor, [principal_outstanding_minor, fee_outstanding_minor])
    return principal, fee


class Standing(StrEnum):
    CURRENT = "current"
    IN_ARREARS = "in_arrears"
    WRITTEN_OFF = "written_off"
    REPAID = "repaid"


@dataclass(frozen=True, slots=True)
class RepaymentPolicy:
    """The minimum a revenue-based loan must repay, and what missing it costs (per operator)."""

    #: Share of the total repayable due by the end of each period, cumulatively.
    minimum_share: Fraction = Fraction(1, 6)
    period_days: int = 30
    #: On a missed minimum: a flat amount plus basis points of what was missed, at most the
    #: missed amount. None by default: revenue-based lenders rarely charge one.
    late_fee_flat_minor: int = 0
    late_fee_bps: int = 0
    #: Days past due at which the loan is written off.
    write_off_after_days: int = 90

    def __post_init__(self) -> None:
        assert 0 < self.minimum_share <= 1, self.minimum_share
        assert self.period_days > 0 and self.write_off_after_days > 0, self
        assert self.late_fee_flat_minor >= 0 and 0 <= self.late_fee_bps <= _BPS, self


def minimum_due(
    total_repayable_minor: int,
    *,
    disbursed_on: date,
    as_of: date,
    policy: RepaymentPolicy,
    term_days: int | None = None,
) -> int:
    """What must have been repaid by `as_of`, cumulatively: `minimum_share` of the total for each
    whole period since disbursement, and everything once the term (if any) has ended.

    Each period's cumulative minimum is rounded up (the lender's favour, at most one unit) and
    capped at the total: the minimum is never more than the loan owes.
    """
    assert total_repayable_minor >= 0, total_repayable_minor
    elapsed = (as_of - disbursed_on).days
    if elapsed < 0:
        return 0
    if term_days is not None and elapsed >= term_days:
        return total_repayable_minor
    periods = elapsed // policy.period_days
    return min(total_repayable_minor, _ceil(policy.minimum_share * periods * total_repayable_minor))


def shortfall(
    total_repayable_minor: int,
    repaid_minor: int,
    *,
    disbursed_on: date,
    as_of: date,
    policy: RepaymentPolicy,
    term_days: int | None = None,
) -> int:
    """How far repayments are behind the minimum due by `as_of` (0 when on track)."""
    due = minimum_due(
        total_repayable_minor,
        disbursed_on=disbursed_on,
        as_of=as_of,
        policy=policy,
        term_days=term_days,
    )
    return max(0, due - repaid_minor)


def first_unmet_due_date(
    total_repayable_minor: int,
    repaid_minor: int,
    *,
    disbursed_on: date,
    policy: RepaymentPolicy,
    term_days: int | None = None,
) -> date | None:
    """The earliest due date whose cumulative minimum `repaid_minor` does not cover; None once
    the loan is repaid."""
    if repaid_minor >= total_repayable_minor:
        return None
    # The smallest k with ceil(share * k * total) > repaid, i.e. share * k * total > repaid.
    per_period = policy.minimum_share * total_repayable_minor
    k = repaid_minor * per_period.denominator // per_period.numerator + 1
    due_on = disbursed_on + timedelta(days=k * policy.period_days)
    if term_days is not None:
        due_on = min(due_on, disbursed_on + timedelta(days=term_days))
    return due_on


def days_past_due(
    total_repayable_minor: int,
    repaid_minor: int,
    *,
    disbursed_on: date,
    as_of: date,
    policy: RepaymentPolicy,
    term_days: int | None = None,
) -> int:
    """Days since the oldest unmet due date; 0 on the due date itself and while on track."""
    due_on = first_unmet_due_date(
        total_repayable_minor,
        repaid_minor,
        disbursed_on=disbursed_on,
        policy=policy,
        term_days=term_days,
    )
    return 0 if due_on is None else max(0, (as_of - due_on).days)


def late_fee(missed_minor: int, policy: RepaymentPolicy) -> int:
    """The fee on one missed minimum: flat plus basis points rounded up (the lender's favour),
    and never more than the amount missed."""
    if missed_minor <= 0:
        return 0
    fee = policy.late_fee_flat_minor + _ceil_div(missed_minor * policy.late_fee_bps, _BPS)
    return min(fee, missed_minor)


def standing(
    total_repayable_minor: int,
    repaid_minor: int,
    *,
    disbursed_on: date,
    as_of: date,
    policy: RepaymentPolicy,
    term_days: int | None = None,
) -> Standing:
    """Repaid, current, in arrears (a minimum unmet after its due date) or written off."""
    if repaid_minor >= total_repayable_minor:
        return Standing.REPAID
    late = days_past_due(
        total_repayable_minor,
        repaid_minor,
        disbursed_on=disbursed_on,
        as_of=as_of,
        policy=policy,
        term_days=term_days,
    )
    if late >= policy.write_off_after_days:
        return Standing.WRITTEN_OFF
    return Standing.IN_ARREARS if late > 0 else Standing.CURRENT


# --- instalment loans ---------------------------------------------------------------------------


class Method(StrEnum):
    #: (principal + fee) in equal instalments.
    FLAT = "flat"
    #: Equal instalments of an amortising loan, interest on the declining balance.
    DECLINING = "declining"


class Frequency(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"


#: A bound on every schedule: ten years of weekly instalments.
INSTALMENTS_MAX: Final = 520


@dataclass(frozen=True, slots=True)
class Instalment:
    number: int
    due_on: date
    amount_minor: int
    principal_minor: int
    #: The fee's part (flat) or the period's interest (declining).
    charge_minor: int
    #: Principal still owed after this instalment.
    balance_after_minor: int


def _add_months(start: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter (Jan 31 + 1 =
    Feb 28 or 29)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    following = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(start.day, (following - timedelta(days=1)).day))


def _due_date(start: date, number: int, frequency: Frequency) -> date:
    if frequency is Frequency.WEEKLY:
        return start + timedelta(weeks=number)
    return _add_months(start, number)


def instalment_schedule(
    principal_minor: int,
    *,
    count: int,
    method: Method,
    frequency: Frequency,
    start: date,
    fee_minor: int = 0,
    rate: Fraction = Fraction(0),
) -> tuple[Instalment, ...]:
    """Instalments due one period, two periods ... `count` periods after `start`.

    Flat (`fee_minor`, no rate): principal + fee in `count` equal instalments rounded down, the
    last taking what rounding left; each instalment is split into principal and fee in proportion
    to what remains of each (`split_repayment`).

    Declining (`rate` per period, no fee): the level payment of an amortising loan, rounded up to
    a minor unit (the lender's favour: the balance falls at least as fast as the exact schedule);
    each period's interest is the balance times the rate rounded down (never more interest than
    accrued); the last instalment pays whatever principal remains, so the principal parts sum to
    the principal exactly and the last payment is never more than the exact one. On a tiny
    principal the rounded-up payment can clear the balance early: later instalments are then 0.
    """
    assert principal_minor > 0, principal_minor
    assert 1 <= count <= INSTALMENTS_MAX, count
    method, frequency = Method(method), Frequency(frequency)
    if method is Method.FLAT:
        assert rate == 0 and fee_minor >= 0, (rate, fee_minor)
        return _flat_schedule(principal_minor, fee_minor, count, frequency, start)
    assert fee_minor == 0 and rate >= 0, (rate, fee_minor)
    return _declining_schedule(principal_minor, Fraction(rate), count, frequency, start)


def _flat_schedule(
    principal: int, fee: int, count: int, frequency: Frequency, start: date
) -> tuple[Instalment, ...]:
    total = principal + fee
    # Rounded down: the borrower pays no part of the rounding before the last instalment.
    each = total // count
    principal_left, fee_left = principal, fee
    schedule: list[Instalment] = []
    for number in range(1, count + 1):
        amount = each if number < count else principal_left + fee_left
        principal_part, fee_part = split_repayment(amount, principal_left, fee_left)
        principal_left -= principal_part
        fee_left -= fee_part
        schedule.append(Instalment(
            number, _due_date(start, number, frequency), amount, principal_part, fee_part,
            principal_left,
        ))  # fmt: skip
    return tuple(schedule)


def _declining_schedule(
    principal: int, rate: Fraction, count: int, frequency: Frequency, start: date
) -> tuple[Instalment, ...]:
    if rate == 0:
        exact_payment = Fraction(principal, count)
    else:
        growth = (1 + rate) ** count
        exact_payment = Fraction(principal * rate * growth, growth - 1)
    payment = _ceil(exact_payment)
    balance = principal
    schedule: list[Instalment] = []
    for number in range(1, count + 1):
        interest = _floor(balance * rate)
        # The last instalment takes whatever principal is left: the rounding ends there.
        principal_part = min(payment - interest, balance) if number < count else balance
        balance -= principal_part
        schedule.append(Instalment(
            number, _due_date(start, number, frequency), principal_part + interest,
            principal_part, interest, balance,
        ))  # fmt: skip
    return tuple(schedule)


# --- records: what the service stores ----------------------------------------------------------


class OfferStatus(StrEnum):
    OPEN = "open"
    USED = "used"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class StoredOffer:
    """An offer as made to one merchant: the decision's terms, valid until `expires_at`."""

    id: str
    decision_id: str
    merchant_id: str
    currency: str
    limit_minor: int
    fee_bps: int
    withhold_bps: int
    term_days: int
    grade: str
    expires_at: datetime
    status: OfferStatus
    created_at: datetime


class LoanStatus(StrEnum):
    ACTIVE = "active"
    REPAID = "repaid"
    WRITTEN_OFF = "written_off"


class Repayment(StrEnum):
    #: A share of each incoming sale, and a minimum per period.
    REVENUE = "revenue"
    #: A fixed schedule of instalments.
    INSTALMENTS = "instalments"


@dataclass(frozen=True, slots=True)
class Loan:
    """A merchant's loan: what was lent and agreed, and what has been repaid so far."""

    id: str
    merchant_id: str
    offer_id: str
    currency: str
    principal_minor: int
    fee_minor: int
    late_fees_minor: int
    #: The offer's fee rate: the flat fee's basis points, or, on a declining-balance schedule,
    #: spread over its periods as the interest rate on what is still owed.
    fee_bps: int
    withhold_bps: int
    term_days: int
    repayment: Repayment
    method: Method | None
    frequency: Frequency | None
    instalments: int | None
    repaid_principal_minor: int
    repaid_fee_minor: int
    missed_periods: int
    max_days_past_due: int
    status: LoanStatus
    scorecard_version: str
    grade: str
    disbursed_at: datetime
    closed_at: datetime | None

    @property
    def total_repayable_minor(self) -> int:
        return self.principal_minor + self.fee_minor + self.late_fees_minor

    @property
    def repaid_minor(self) -> int:
        return self.repaid_principal_minor + self.repaid_fee_minor

    @property
    def outstanding_minor(self) -> int:
        return self.total_repayable_minor - self.repaid_minor

    @property
    def principal_outstanding_minor(self) -> int:
        return self.principal_minor - self.repaid_principal_minor

    @property
    def fee_outstanding_minor(self) -> int:
        return self.fee_minor + self.late_fees_minor - self.repaid_fee_minor

    def schedule(self, start: date) -> tuple[Instalment, ...]:
        """The instalment loan's schedule from its disbursement day (empty for revenue loans)."""
        if self.repayment is not Repayment.INSTALMENTS:
            return ()
        assert self.method and self.frequency and self.instalments, self
        return instalment_schedule(
            self.principal_minor,
            count=self.instalments,
            method=self.method,
            frequency=self.frequency,
            start=start,
            fee_minor=self.fee_minor if self.method is Method.FLAT else 0,
            rate=declining_rate(self.fee_bps, self.instalments)
            if self.method is Method.DECLINING
            else Fraction(0),
        )


def declining_rate(fee_bps: int, count: int) -> Fraction:
    """The per-period interest rate of a declining-balance schedule: the offer's fee rate spread
    evenly over the periods, so interest falls as the balance does (less than the flat fee)."""
    assert count > 0 and 0 <= fee_bps <= _BPS, (fee_bps, count)
    return Fraction(fee_bps, _BPS * count)


class RepaymentKind(StrEnum):
    SWEEP = "sweep"
    MANUAL = "manual"
    MINIMUM = "minimum"


@dataclass(frozen=True, slots=True)
class LoanRepayment:
    id: str
    loan_id: str
    kind: RepaymentKind
    amount_minor: int
    principal_part_minor: int
    fee_part_minor: int
    payment_id: str | None
    created_at: datetime


def due_by(loan: Loan, *, disbursed_on: date, as_of: date, policy: RepaymentPolicy) -> int:
    """What the loan must have repaid by `as_of`: the revenue loan's cumulative minimum, or the
    instalments fallen due (everything once the term has ended)."""
    if loan.repayment is Repayment.REVENUE:
        return minimum_due(
            loan.total_repayable_minor,
            disbursed_on=disbursed_on,
            as_of=as_of,
            policy=policy,
            term_days=loan.term_days,
        )
    due = sum(i.amount_minor for i in loan.schedule(disbursed_on) if i.due_on <= as_of)
    # Late fees fall due at once: they are charged for a minimum already missed.
    return min(loan.total_repayable_minor, due + loan.late_fees_minor)


def unmet_due_dates(loan: Loan, *, as_of: date, policy: RepaymentPolicy) -> list[date]:
    """The due dates up to `as_of` whose cumulative amount what was repaid does not cover, oldest
    first: their count is the minimums missed, the first gives the days past due."""
    disbursed_on = loan.disbursed_at.date()
    if loan.repayment is Repayment.INSTALMENTS:
        dates = [i.due_on for i in loan.schedule(disbursed_on) if i.due_on <= as_of]
    else:
        end = disbursed_on + timedelta(days=loan.term_days)
        dates = []
        number = 1
        while True:
            on = min(disbursed_on + timedelta(days=number * policy.period_days), end)
            if on > as_of:
                break
            dates.append(on)
            if on >= end:
                break
            number += 1
    return [
        on
        for on in dates
        if due_by(loan, disbursed_on=disbursed_on, as_of=on, policy=policy) > loan.repaid_minor
    ]


@dataclass(frozen=True, slots=True)
class CreditPolicy:
    """The operator's lending settings: the scorecard and the repayment rules."""

    scorecard: Scorecard
    repayment: RepaymentPolicy
