"""Merchant credit's laws: schedules repay exactly, sweeps never take too much, decisions and
scorecard versions are reproducible, features stay in their ranges."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from soko.credit.domain import (
    FEATURES,
    WINDOW_DAYS,
    CreditFeatures,
    Frequency,
    Method,
    Reason,
    RepaymentPolicy,
    SalesDay,
    Scorecard,
    compute_features,
    decide,
    default_scorecard,
    instalment_schedule,
    minimum_due,
    shortfall,
    split_repayment,
    sweep_amount,
)
from soko.kernel import i18n

AS_OF = date(2026, 1, 31)
principals = st.integers(1, 10**12)
counts = st.integers(1, 60)
frequencies = st.sampled_from(list(Frequency))
starts = st.dates(date(2000, 1, 1), date(2100, 1, 1))
#: Per-period rates from 0 to 20 %, as exact fractions.
rates = st.fractions(min_value=0, max_value=Fraction(1, 5), max_denominator=10_000)
bps = st.integers(0, 10_000)


# --- instalment schedules -----------------------------------------------------------------------


@given(principal=principals, fee=st.integers(0, 10**11), count=counts, frequency=frequencies,
       start=starts)  # fmt: skip
def test_flat_instalments_sum_to_principal_and_fee(
    principal: int, fee: int, count: int, frequency: Frequency, start: date
) -> None:
    schedule = instalment_schedule(principal, count=count, method=Method.FLAT,
                                   frequency=frequency, start=start, fee_minor=fee)  # fmt: skip
    assert len(schedule) == count
    assert sum(i.amount_minor for i in schedule) == principal + fee
    assert sum(i.principal_minor for i in schedule) == principal
    assert sum(i.charge_minor for i in schedule) == fee
    # Equal parts rounded down; the last one takes the rest.
    assert {i.amount_minor for i in schedule[:-1]} <= {(principal + fee) // count}
    assert 0 <= schedule[-1].amount_minor - (principal + fee) // count < count
    for instalment in schedule:
        assert instalment.principal_minor >= 0 and instalment.charge_minor >= 0
        assert instalment.amount_minor == instalment.principal_minor + instalment.charge_minor
    assert schedule[-1].balance_after_minor == 0
    assert [i.due_on for i in schedule] == sorted({i.due_on for i in schedule})


def reference_declining(principal: int, rate: Fraction, count: int) -> list[tuple[int, int]]:
    """(principal part, interest) per instalment, written independently of the domain's code.

    The level payment as the principal over the sum of discount factors (not the closed form),
    rounded up; interest is balance x rate rounded down; the last instalment clears the balance.
    """
    discount = sum((Fraction(1) / (1 + rate) ** k for k in range(1, count + 1)), Fraction(0))
    payment = math.ceil(Fraction(principal) / discount)
    balance, rows = principal, []
    for number in range(1, count + 1):
        interest = math.floor(balance * rate)
        part = balance if number == count else min(payment - interest, balance)
        balance -= part
        rows.append((part, interest))
    return rows


@given(principal=principals, rate=rates, count=counts, frequency=frequencies, start=starts)
def test_declining_schedule_matches_an_exact_reference(
    principal: int, rate: Fraction, count: int, frequency: Frequency, start: date
) -> None:
    schedule = instalment_schedule(principal, count=count, method=Method.DECLINING,
                                   frequency=frequency, start=start, rate=rate)  # fmt: skip
    assert [(i.principal_minor, i.charge_minor) for i in schedule] == reference_declining(
        principal, rate, count
    )
    assert sum(i.principal_minor for i in schedule) == principal
    assert schedule[-1].balance_after_minor == 0
    # Never more interest than accrued on the balance, and the last payment never above the
    # exact level payment: the rounding is the lender's only where it costs the borrower nothing.
    exact_payment = (
        Fraction(principal, count) if rate == 0 else principal * rate / (1 - (1 + rate) ** -count)
    )
    balance = principal
    for instalment in schedule:
        assert instalment.charge_minor <= balance * rate
        balance -= instalment.principal_minor
    assert schedule[-1].amount_minor <= exact_payment
    assert sum(i.amount_minor for i in schedule) <= exact_payment * count + count


# --- sweeps and repayments ----------------------------------------------------------------------


@given(payment=st.integers(0, 10**12), withhold=bps, outstanding=st.integers(0, 10**12))
def test_a_sweep_never_exceeds_the_withhold_share_or_what_is_owed(
    payment: int, withhold: int, outstanding: int
) -> None:
    swept = sweep_amount(payment, withhold, outstanding)
    assert 0 <= swept <= outstanding
    assert swept * 10_000 <= payment * withhold
    # ... and takes all of the share it may: one unit more would break a rule.
    assert swept == outstanding or (swept + 1) * 10_000 > payment * withhold


@given(principal=st.integers(0, 10**9), fee=st.integers(0, 10**8),
       shares=st.lists(st.integers(0, 1_000), max_size=20))  # fmt: skip
def test_repayments_split_into_exactly_the_principal_and_the_fee(
    principal: int, fee: int, shares: list[int]
) -> None:
    principal_left, fee_left, principal_paid, fee_paid = principal, fee, 0, 0
    # Repayments of a drawn per-mille of what is left, then one of everything left.
    for share in [*shares, 1_000]:
        amount = (principal_left + fee_left) * share // 1_000
        to_principal, to_fee = split_repayment(amount, principal_left, fee_left)
        assert to_principal + to_fee == amount
        assert 0 <= to_principal <= principal_left and 0 <= to_fee <= fee_left
        principal_left, fee_left = principal_left - to_principal, fee_left - to_fee
        principal_paid, fee_paid = principal_paid + to_principal, fee_paid + to_fee
    assert (principal_paid, fee_paid) == (principal, fee)
    assert principal_left == fee_left == 0


@given(total=st.integers(0, 10**12), share=st.fractions(Fraction(1, 100), 1),
       period=st.integers(1, 90), days=st.lists(st.integers(-10, 1000), min_size=2, max_size=2),
       repaid=st.integers(0, 10**12))  # fmt: skip
def test_minimum_due_grows_with_time_and_never_exceeds_the_total(
    total: int, share: Fraction, period: int, days: list[int], repaid: int
) -> None:
    policy = RepaymentPolicy(minimum_share=share, period_days=period)
    earlier, later = sorted(days)
    start = date(2026, 1, 1)

    def due(after: int) -> int:
        return minimum_due(total, disbursed_on=start, as_of=start + timedelta(days=after),
                           policy=policy)  # fmt: skip

    assert 0 <= due(earlier) <= due(later) <= total
    gap = shortfall(total, repaid, disbursed_on=start, as_of=start + timedelta(days=later),
                    policy=policy)  # fmt: skip
    assert gap == max(0, due(later) - repaid)


# --- features and decisions ---------------------------------------------------------------------


@st.composite
def sales_days(draw: st.DrawFn) -> list[SalesDay]:
    ages = draw(st.lists(st.integers(-5, WINDOW_DAYS + 20), unique=True, max_size=120))
    days = []
    for age in ages:
        count = draw(st.integers(0, 500))
        sales = draw(st.integers(1, 10**10)) if count else 0
        days.append(SalesDay(AS_OF - timedelta(days=age), sales, count,
                             draw(st.integers(0, 10**10)), draw(st.integers(0, 50))))  # fmt: skip
    return days


@st.composite
def features(draw: st.DrawFn) -> CreditFeatures:
    distinct = draw(st.integers(0, 10**6))
    return compute_features(
        draw(sales_days()),
        as_of=AS_OF,
        first_sale_on=draw(st.none() | st.dates(date(2015, 1, 1), AS_OF)),
        distinct_payers=distinct,
        repeat_payers=draw(st.integers(0, distinct)),
        average_balance_minor=draw(st.integers(0, 10**12)),
        zero_balance_days=draw(st.integers(0, WINDOW_DAYS)),
        loans_repaid=draw(st.integers(0, 20)),
        loans_late=draw(st.integers(0, 20)),
        max_days_past_due=draw(st.integers(0, 400)),
        currency=draw(st.sampled_from(["KES", "UGX", "TZS", "NGN"])),
    )


@given(days=sales_days())
def test_features_stay_in_their_ranges(days: list[SalesDay]) -> None:
    f = compute_features(days, as_of=AS_OF, first_sale_on=None, distinct_payers=0,
                         repeat_payers=0, average_balance_minor=0, zero_balance_days=0,
                         loans_repaid=0, loans_late=0, max_days_past_due=0,
                         currency="KES")  # fmt: skip
    inside = [d for d in days if 0 <= (AS_OF - d.day).days < WINDOW_DAYS]
    assert f.volume_minor == sum(f.weekly_volume_minor) == sum(d.sales_minor for d in inside)
    assert f.sales_count == sum(d.sales_count for d in inside)
    assert -1 <= f.trend <= 1
    assert 0 <= f.volatility <= 2
    assert 0 <= f.largest_week_share_bps <= 10_000
    assert 0 <= f.refund_rate_bps <= 10_000 and 0 <= f.dispute_rate_bps <= 10_000
    assert 0 <= f.active_days <= WINDOW_DAYS and 0 <= f.weeks_active <= 13
    assert f.typical_monthly_sales_minor * 3 <= f.median_weekly_volume_minor * 13


@given(f=features())
def test_decide_is_deterministic_and_its_record_is_json(f: CreditFeatures) -> None:
    scorecard = default_scorecard()
    first, again = decide(f, scorecard), decide(f, Scorecard.from_json(scorecard.to_json()))
    assert first == again
    record = first.as_record()
    assert record == again.as_record()
    assert json.loads(json.dumps(record)) == record
    assert first.score == sum(points for _, points in first.points)
    if first.offer is not None:
        limits = scorecard.currency_limits(first.currency)
        assert limits is not None
        assert limits.min_principal_minor <= first.offer.limit_minor
        assert first.offer.limit_minor <= min(limits.max_principal_minor,
                                              f.typical_monthly_sales_minor)  # fmt: skip
        assert not first.refusals
    else:
        assert first.refusals and first.reasons[0].code == first.refusals[0]


#: The figure each history refusal states, by the feature that measures it.
REFUSAL_FEATURES = {
    "tenure_too_short": "tenure_days",
    "too_few_active_days": "active_days",
    "refunds_too_high": "refund_rate_bps",
    "disputes_too_high": "dispute_rate_bps",
    "past_loan_overdue": "max_days_past_due",
}


@given(f=features())
def test_no_figure_is_said_twice(f: CreditFeatures) -> None:
    decision = decide(f, default_scorecard())
    codes = [reason.code for reason in decision.reasons]
    assert len(codes) == len(set(codes))
    assert len({reason.text for reason in decision.reasons}) == len(codes)
    for refusal in decision.refusals:
        assert REFUSAL_FEATURES.get(refusal) not in codes
    # A refusal takes a factor's place, never the factors' count.
    factors = [code for code in codes if code in FEATURES]
    assert len(factors) == min(
        default_scorecard().reasons_shown,
        len(
            {c.feature for c in default_scorecard().characteristics}
            - {REFUSAL_FEATURES.get(r) for r in decision.refusals}
        ),
    )


@given(f=features())
def test_every_reason_is_said_whole_in_every_language_and_survives_its_record(
    f: CreditFeatures,
) -> None:
    decision = decide(f, default_scorecard())
    for reason in (*decision.reasons, *decision.improvements):
        assert Reason.from_record(json.loads(json.dumps(reason.as_record()))) == reason
        for language in i18n.LANGUAGES:
            said = reason.said(i18n.translator(language))
            assert said.strip() and "{" not in said and "}" not in said, (language, said)
            if language != i18n.SOURCE:
                # Each language's own words, with the same facts in them.
                assert said != reason.text, (language, said)
                for _, fact in reason.words.facts:
                    assert fact in said, (language, fact, said)


# --- scorecards ---------------------------------------------------------------------------------


def bound_text(value: Fraction) -> int | str:
    return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


@st.composite
def scorecard_data(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(sorted(FEATURES)), unique=True, min_size=1))
    characteristics = []
    for name in names:
        minimum = FEATURES[name].minimum
        steps = draw(st.lists(st.fractions(Fraction(1, 100), 1_000, max_denominator=100),
                              max_size=6))  # fmt: skip
        lowers, lower = [minimum], minimum
        for step in steps:
            lower += step
            lowers.append(lower)
        points = draw(st.lists(st.integers(-50, 50), min_size=len(lowers), max_size=len(lowers)))
        characteristics.append(
            {
                "feature": name,
                "bands": [[bound_text(b), p] for b, p in zip(lowers, points, strict=True)],
            }
        )
    codes = draw(st.lists(st.sampled_from(["KES", "TZS", "UGX"]), unique=True, min_size=1))
    currencies = {}
    for code in codes:
        low = draw(st.integers(1, 10**9))
        currencies[code] = {"min_principal_minor": low,
                            "max_principal_minor": draw(st.integers(low, 10**12))}  # fmt: skip
    scores = sorted(draw(st.lists(st.integers(-500, 500), unique=True, max_size=4)), reverse=True)
    grades = []
    for index, score in enumerate([*scores, None]):
        grade: dict[str, Any] = {
            "grade": "ABCDE"[index],
            "limit_bps": draw(st.integers(0, 100_000)),
            "fee_bps": draw(bps),
            "withhold_bps": draw(st.integers(1, 10_000)),
            "term_days": draw(st.integers(1, 1_095)),
            "cap_minor": {code: draw(st.integers(0, 10**12))
                          for code in draw(st.lists(st.sampled_from(codes), unique=True))},
        }  # fmt: skip
        if score is not None:
            grade["min_score"] = score
        grades.append(grade)
    data: dict[str, Any] = {
        "characteristics": characteristics,
        "grades": grades,
        "history": {name: draw(st.integers(0, 1_000)) for name in (
            "min_tenure_days", "min_active_days", "max_refund_rate_bps", "max_dispute_rate_bps",
            "max_days_past_due")},
        "currencies": currencies,
        "offer_valid_days": draw(st.integers(1, 90)),
        "reasons_shown": draw(st.integers(0, 20)),
        "improvements_shown": draw(st.integers(0, 20)),
    }  # fmt: skip
    if draw(st.booleans()):
        data["version"] = draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True))
    return data


@given(data=scorecard_data(), indent=st.none() | st.integers(0, 4), sort_keys=st.booleans())
def test_scorecard_json_round_trip_keeps_the_version(
    data: dict[str, Any], indent: int | None, sort_keys: bool
) -> None:
    scorecard = Scorecard.from_json(json.dumps(data))
    assert Scorecard.from_json(scorecard.to_json()) == scorecard
    # The same content written another way is the same version.
    rewritten = Scorecard.from_json(json.dumps(data, indent=indent, sort_keys=sort_keys))
    assert rewritten.version == scorecard.version
    if "version" in data:
        assert scorecard.version == data["version"]
    else:
        assert scorecard.version.startswith("sc-") and len(scorecard.version) == 15


@given(data=scorecard_data(), f=features())
def test_any_valid_scorecard_decides_deterministically(
    data: dict[str, Any], f: CreditFeatures
) -> None:
    scorecard = Scorecard.from_json(json.dumps(data))
    assert decide(f, scorecard) == decide(f, Scorecard.from_json(scorecard.to_json()))
