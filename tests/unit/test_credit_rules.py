"""Merchant credit's rules as tables: features, bands, grades, reasons, refusals, and the loan
arithmetic (sweeps, minimum due, arrears, standing, fees, schedules)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import pytest

from soko.credit import errors as credit_errors
from soko.credit.domain import (
    DEFAULT_SCORECARD,
    FEATURES,
    Characteristic,
    CreditFeatures,
    Frequency,
    Method,
    RepaymentPolicy,
    SalesDay,
    Scorecard,
    Standing,
    compute_features,
    days_past_due,
    decide,
    default_scorecard,
    first_unmet_due_date,
    flat_fee,
    instalment_schedule,
    late_fee,
    minimum_due,
    shortfall,
    split_repayment,
    standing,
    sweep_amount,
)
from soko.credit.errors import ScorecardInvalid
from soko.kernel.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    Rejected,
    all_error_classes,
)
from soko.kernel.money import Currency

AS_OF = date(2026, 1, 31)
SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def day(
    age: int, sales: int = 10_000, count: int = 1, refunds: int = 0, disputes: int = 0
) -> SalesDay:
    return SalesDay(AS_OF - timedelta(days=age), sales, count, refunds, disputes)


def features_of(days: list[SalesDay], **counters: Any) -> CreditFeatures:
    arguments: dict[str, Any] = {
        "as_of": AS_OF,
        "first_sale_on": AS_OF - timedelta(days=400),
        "distinct_payers": 100,
        "repeat_payers": 50,
        "average_balance_minor": 0,
        "zero_balance_days": 0,
        "loans_repaid": 0,
        "loans_late": 0,
        "max_days_past_due": 0,
        "currency": "KES",
    }
    arguments.update(counters)
    return compute_features(days, **arguments)


#: Every day of the window: KES 1,000 in 10 payments.
EVERY_DAY = [day(age, 100_000, 10) for age in range(91)]


def good(**changes: Any) -> CreditFeatures:
    """A merchant every rule likes, with `changes`."""
    # A quarter more sales in the last 6 weeks: the trend's best band.
    changes = {"trend": Fraction(1, 4), **changes}
    return replace(features_of(EVERY_DAY, repeat_payers=60), **changes)


# --- features -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "field", "expected"),
    [
        pytest.param([], "volume_minor", 0, id="no-sales-volume"),
        pytest.param([], "volatility", Fraction(2), id="no-sales-volatility"),
        pytest.param([], "trend", Fraction(0), id="no-sales-trend"),
        pytest.param([], "largest_week_share_bps", 10_000, id="no-sales-largest-week"),
        pytest.param([], "typical_monthly_sales_minor", 0, id="no-sales-monthly"),
        pytest.param(EVERY_DAY, "active_days", 91, id="every-day-active"),
        pytest.param(EVERY_DAY, "weeks_active", 13, id="every-day-weeks"),
        pytest.param(EVERY_DAY, "volatility", Fraction(0), id="every-day-steady"),
        pytest.param(EVERY_DAY, "trend", Fraction(0), id="every-day-flat"),
        pytest.param(EVERY_DAY, "largest_week_share_bps", 770, id="one-13th-rounded-up"),
        pytest.param(EVERY_DAY, "median_weekly_volume_minor", 700_000, id="median-week"),
        pytest.param(EVERY_DAY, "typical_monthly_sales_minor", 3_033_333, id="week-x-13/3-down"),
        pytest.param([day(0)], "weekly_volume_minor", (10_000,) + (0,) * 12, id="as-of-week-0"),
        pytest.param([day(6)], "weekly_count", (1,) + (0,) * 12, id="day-6-week-0"),
        pytest.param([day(7)], "weekly_count", (0, 1) + (0,) * 11, id="day-7-week-1"),
        pytest.param([day(90)], "weekly_count", (0,) * 12 + (1,), id="day-90-week-12"),
        pytest.param([day(91), day(-1)], "sales_count", 0, id="outside-window-skipped"),
        pytest.param([day(0)], "trend", Fraction(1), id="sales-from-nothing"),
        pytest.param([day(50)], "trend", Fraction(-1), id="sales-to-nothing"),
        pytest.param([day(0, 15_000), day(50, 10_000)], "trend", Fraction(1, 2), id="up-half"),
        pytest.param([day(0, 30_000), day(50, 10_000)], "trend", Fraction(1), id="up-capped"),
        pytest.param([day(0, 5_000), day(50, 10_000)], "trend", Fraction(-1, 2), id="down-half"),
        pytest.param([day(84)], "trend", Fraction(0), id="week-12-not-in-trend"),
        pytest.param([day(0), day(7)], "volatility", Fraction(22, 13), id="two-equal-weeks"),
        pytest.param([day(0, 3, 1, 1)], "refund_rate_bps", 3334, id="refunds-rounded-up"),
        pytest.param([day(0, 3, 1, 9)], "refund_rate_bps", 10_000, id="refunds-capped"),
        pytest.param([day(0, 9, 3, 0, 1)], "dispute_rate_bps", 3334, id="disputes-rounded-up"),
        pytest.param([day(0, 0, 0, 0, 1)], "dispute_rate_bps", 10_000, id="disputes-no-sales"),
    ],
)
def test_features(days: list[SalesDay], field: str, expected: object) -> None:
    assert getattr(features_of(days), field) == expected


@pytest.mark.parametrize(
    ("counters", "field", "expected"),
    [
        ({"distinct_payers": 3, "repeat_payers": 1}, "repeat_payer_bps", 3333),
        ({"distinct_payers": 0, "repeat_payers": 0}, "repeat_payer_bps", 0),
        ({"first_sale_on": None}, "tenure_days", 0),
        ({"first_sale_on": AS_OF}, "tenure_days", 0),
        ({"first_sale_on": AS_OF - timedelta(days=56)}, "tenure_days", 56),
        ({"average_balance_minor": 350_000}, "balance_cover_bps", 5000),
        ({"average_balance_minor": 1}, "balance_cover_bps", 0),
    ],
)
def test_features_from_counters(counters: dict[str, Any], field: str, expected: object) -> None:
    assert getattr(features_of(EVERY_DAY, **counters), field) == expected


def test_two_aggregates_for_one_day_are_a_programmer_error() -> None:
    with pytest.raises(AssertionError):
        features_of([day(3), day(3)])


def test_features_record_is_json() -> None:
    record = features_of(EVERY_DAY).as_record()
    assert json.loads(json.dumps(record)) == record
    assert record["currency"] == "KES"
    assert record["trend"] == "0"


# --- bands, grades, scorecard validation --------------------------------------------------------

TREND = Characteristic(
    "trend",
    ((Fraction(-1), 0), (Fraction(-3, 10), 2), (Fraction(-1, 10), 4), (Fraction(1, 5), 18)),
)


@pytest.mark.parametrize(
    ("value", "points"),
    [
        (Fraction(-1), 0),
        (Fraction(-3, 10) - Fraction(1, 10**9), 0),
        (Fraction(-3, 10), 2),
        (Fraction(-1, 10), 4),
        (Fraction(0), 4),
        (Fraction(1, 5), 18),
        (Fraction(1), 18),
        (Fraction(-2), 0),  # below the floor band: the floor band
    ],
)
def test_band_points(value: Fraction, points: int) -> None:
    assert TREND.points_for(value) == points


@pytest.mark.parametrize(
    ("score", "grade"),
    [(1_000, "A"), (150, "A"), (149, "B"), (140, "B"), (139, "C"), (130, "C"), (129, "D"),
     (120, "D"), (119, "E"), (0, "E"), (-50, "E")],
)  # fmt: skip
def test_grade_cut_offs(score: int, grade: str) -> None:
    assert default_scorecard().grade_for(score).grade == grade


def default_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEFAULT_SCORECARD)
    return data


def mutated(path: str, value: object) -> str:
    """DEFAULT_SCORECARD with the value at a dotted path replaced ("~" deletes the key)."""
    data = default_data()
    *parents, last = path.split(".")
    target: Any = data
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    elif value == "~":
        del target[last]
    else:
        target[last] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"a": 1, "a": 2}', "appears twice"),
        (mutated("offer_valid_days", 0), "offer_valid_days must be an integer from 1"),
        (mutated("offer_valid_days", True), "offer_valid_days must be an integer"),
        (mutated("offer_valid_days", "~"), "lacks offer_valid_days"),
        (mutated("colour", "blue"), "unknown keys: colour"),
        (mutated("version", "has space"), "version must be"),
        (mutated("characteristics", []), "characteristics must be a list of 1"),
        (mutated("characteristics.0.feature", "height"), "is not one of"),
        (mutated("characteristics.1.feature", "active_days"), "more than once"),
        (mutated("characteristics.0.bands", [[1, 0]]), "must start at active_days's lowest"),
        (mutated("characteristics.0.bands", [[0, 0], [40, 1], [40, 2]]), "strictly ascend"),
        (mutated("characteristics.0.bands", [[0, 0], [40, 1.5]]), "must be an integer"),
        (mutated("characteristics.0.bands", [[0, 0], ["4e1", 1]]), "must be a number or"),
        (DEFAULT_SCORECARD.replace('"-0.3"', "NaN"), "NaN is not a number"),
        (mutated("characteristics.2.bands", [["-1", 0], ["0.3.1", 1]]), "must be a number or"),
        (mutated("grades.0.fee_bps", 10_001), "grades[0].fee_bps"),
        (mutated("grades.0.withhold_bps", 0), "grades[0].withhold_bps"),
        (mutated("grades.0.grade", "a"), "short name"),
        (mutated("grades.1.grade", "A"), "repeat a name"),
        (mutated("grades.1.min_score", 150), "strictly descending"),
        (mutated("grades.0.min_score", "~"), "lacks min_score"),
        (mutated("grades.4.min_score", 0), "no min_score"),
        (mutated("grades.0.cap_minor", {"NGN": 1}), "not in currencies"),
        (mutated("currencies", {}), "at least one currency"),
        (mutated("currencies", {"XYZ": {}}), "not a currency Soko knows"),
        (mutated("currencies.KES.min_principal_minor", 0), "min_principal_minor"),
        (mutated("history.min_active_days", -1), "history.min_active_days"),
    ],
)
def test_scorecard_is_validated_strictly(text: str, message: str) -> None:
    with pytest.raises(ScorecardInvalid) as caught:
        Scorecard.from_json(text)
    assert message in str(caught.value)
    assert caught.value.code == "scorecard_invalid"


def test_a_json_number_with_decimals_is_read_exactly() -> None:
    text = mutated("characteristics.2.bands", [["-1", 0], [-0.3, 2], ["-1/10", 4]])
    bands = Scorecard.from_json(text).characteristics[2].bands
    assert bands == ((Fraction(-1), 0), (Fraction(-3, 10), 2), (Fraction(-1, 10), 4))


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        (DEFAULT_SCORECARD, json.dumps(default_data(), indent=8, sort_keys=True), True),
        (DEFAULT_SCORECARD, mutated("characteristics.2.bands.1.0", "-0.30"), True),
        (DEFAULT_SCORECARD, mutated("characteristics.2.bands.1.0", "-3/10"), True),
        (DEFAULT_SCORECARD, mutated("offer_valid_days", 8), False),
        (DEFAULT_SCORECARD, mutated("characteristics.0.bands.1.1", 5), False),
    ],
)
def test_version_follows_the_content(first: str, second: str, same: bool) -> None:
    one, other = Scorecard.from_json(first), Scorecard.from_json(second)
    assert re.fullmatch(r"sc-[0-9a-f]{12}", one.version)
    assert (one.version == other.version) is same


def test_a_named_version_is_kept() -> None:
    assert Scorecard.from_json(mutated("version", "2026-02.kenya")).version == "2026-02.kenya"


def test_every_feature_has_words_and_a_snake_case_code() -> None:
    sample = good()
    for name, spec in FEATURES.items():
        assert SNAKE_CASE.fullmatch(name)
        assert spec.describe(sample).text.endswith(".")
        assert spec.aim_higher(Fraction(1)).text.endswith(".")
        assert spec.aim_lower(Fraction(1)).text.endswith(".")


# --- decisions: reasons, improvements, refusals -------------------------------------------------


def test_a_good_merchant_gets_grade_a_and_an_offer() -> None:
    decision = decide(good(), default_scorecard())
    assert decision.grade == "A"
    assert decision.offer is not None
    # 10,000 bp of KES 30,333.33, rounded down to whole shillings.
    assert decision.offer.limit_minor == 3_033_300
    assert decision.offer.expires_on == AS_OF + timedelta(days=7)
    assert decision.refusals == ()


@pytest.mark.parametrize(
    ("changes", "code", "text"),
    [
        ({"tenure_days": 30}, "tenure_too_short",
         "You have taken payments with Soko for 30 days; an offer needs at least 56."),
        ({"active_days": 19}, "too_few_active_days",
         "You sold on 19 of the last 91 days; an offer needs at least 20."),
        ({"refund_rate_bps": 2001}, "refunds_too_high",
         "You refunded 20.01% of your sales; an offer needs at most 20%."),
        ({"dispute_rate_bps": 501}, "disputes_too_high",
         "5.01% of your payments were disputed; an offer needs at most 5%."),
        ({"max_days_past_due": 61}, "past_loan_overdue",
         "A past Soko loan was 61 days late; an offer needs every loan paid within 60 days of "
         "its due date."),
        ({"currency": Currency.of("NGN")},
         "currency_not_offered", "Soko does not lend in NGN yet."),
        ({"typical_monthly_sales_minor": 99_999}, "limit_too_small",
         "Your limit would be KES 999.00, below the smallest loan of KES 1000.00."),
    ],
)  # fmt: skip
def test_no_offer_says_why_first(changes: dict[str, Any], code: str, text: str) -> None:
    decision = decide(good(**changes), default_scorecard())
    assert decision.offer is None
    assert decision.refusals[0] == code
    assert decision.reasons[0].code == code
    assert decision.reasons[0].text == text


def test_a_low_score_is_refused_by_grade() -> None:
    weak = good(repeat_payer_bps=0, largest_week_share_bps=3000, trend=Fraction(-1, 2))
    decision = decide(weak, default_scorecard())
    assert decision.grade == "E"
    assert decision.refusals == ("grade_not_offered",)
    assert decision.reasons[0].text.startswith(f"Your score of {decision.score} (grade E)")


def test_history_refusals_come_with_their_remedies() -> None:
    decision = decide(good(tenure_days=30, active_days=3), default_scorecard())
    codes = [reason.code for reason in decision.improvements]
    assert codes[:2] == ["tenure_too_short", "too_few_active_days"]
    assert decision.improvements[0].text == (
        "Keep selling with Soko: you can be offered credit from 2026-02-26."
    )


@pytest.mark.parametrize(
    ("changes", "code", "reason", "improvement"),
    [
        ({"active_days": 23}, "active_days", "You sold on 23 of the last 91 days.",
         "Sell on at least 40 days in a quarter to raise your limit."),
        ({"repeat_payer_bps": 1000}, "repeat_payer_bps",
         "10% of your customers paid you more than once.",
         "Have at least 15% of your customers come back to raise your limit."),
        ({"largest_week_share_bps": 3000}, "largest_week_share_bps",
         "Your biggest week brought 30% of your sales in the last 13 weeks.",
         "Spread your sales: keep any one week under 25% of a quarter's sales to raise your "
         "limit."),
        ({"zero_balance_days": 31}, "zero_balance_days",
         "Your wallet was empty at the end of 31 of the last 91 days.",
         "Keep money in your wallet: end fewer than 30 days a quarter empty to raise your limit."),
        ({"trend": Fraction(-12, 100)}, "trend",
         "Your sales in the last 6 weeks were 12% below the 6 weeks before.",
         "Keep your sales from falling more than 10% from one 6 weeks to the next to raise your "
         "limit."),
        ({"trend": Fraction(7, 10)}, "trend",
         "Your sales in the last 6 weeks were 70% above the 6 weeks before.",
         "Grow steadily: a jump of 50% or more in 6 weeks lowers your limit until it lasts."),
        ({"volatility": Fraction(2, 5)}, "volatility",
         "Your weekly sales were 40% away from their average, on average.",
         "Keep your weekly sales within 35% of their average to raise your limit."),
    ],
)  # fmt: skip
def test_the_weakest_factor_leads_the_reasons_and_improvements(
    changes: dict[str, Any], code: str, reason: str, improvement: str
) -> None:
    decision = decide(good(**changes), default_scorecard())
    assert decision.reasons[0].code == code
    assert decision.reasons[0].text == reason
    assert improvement in [r.text for r in decision.improvements if r.code == code]


def test_decision_record_is_json_and_names_the_version() -> None:
    scorecard = default_scorecard()
    decision = decide(good(), scorecard)
    record = decision.as_record()
    assert json.loads(json.dumps(record)) == record
    assert record["scorecard_version"] == scorecard.version
    assert record["offer"]["limit_minor"] == 3_033_300
    assert sum(record["points"].values()) == record["score"]
    assert len(decision.reasons) == scorecard.reasons_shown


def test_every_reason_code_is_snake_case() -> None:
    weak = good(tenure_days=1, active_days=1, refund_rate_bps=9_000, dispute_rate_bps=9_000,
                max_days_past_due=99, repeat_payer_bps=0)  # fmt: skip
    decision = decide(weak, default_scorecard())
    for reason in (*decision.reasons, *decision.improvements):
        assert SNAKE_CASE.fullmatch(reason.code)
        assert reason.text.endswith(".")


# --- loan arithmetic ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payment", "withhold_bps", "outstanding", "swept"),
    [
        (10_000, 1_000, 1_000_000, 1_000),
        (10_009, 1_000, 1_000_000, 1_000),  # the fraction of a unit stays with the merchant
        (9, 1_000, 1_000_000, 0),
        (10_000, 1_000, 300, 300),  # never more than is owed
        (10_000, 1_000, 0, 0),
        (0, 1_000, 500, 0),
        (10_000, 10_000, 1_000_000, 10_000),
        (10_000, 0, 1_000_000, 0),
    ],
)
def test_sweep_amount(payment: int, withhold_bps: int, outstanding: int, swept: int) -> None:
    assert sweep_amount(payment, withhold_bps, outstanding) == swept


@pytest.mark.parametrize(
    ("principal", "fee_bps", "fee"),
    [(100_000, 500, 5_000), (100_001, 500, 5_001), (1, 1, 1), (0, 500, 0), (100_000, 0, 0)],
)
def test_flat_fee_rounds_up(principal: int, fee_bps: int, fee: int) -> None:
    assert flat_fee(principal, fee_bps) == fee


@pytest.mark.parametrize(
    ("amount", "principal_left", "fee_left", "parts"),
    [(105, 100, 5, (100, 5)), (21, 100, 5, (20, 1)), (1, 1, 1, (1, 0)), (0, 10, 1, (0, 0)),
     (3, 0, 5, (0, 3))],
)  # fmt: skip
def test_split_repayment(
    amount: int, principal_left: int, fee_left: int, parts: tuple[int, int]
) -> None:
    assert split_repayment(amount, principal_left, fee_left) == parts


DISBURSED = date(2026, 1, 1)
POLICY = RepaymentPolicy()  # 1/6 every 30 days, written off at 90 days past due
TOTAL = 105_000  # KES 1,000 lent with a 5 % fee


@pytest.mark.parametrize(
    ("days_after", "term_days", "due"),
    [(-1, None, 0), (0, None, 0), (29, None, 0), (30, None, 17_500), (59, None, 17_500),
     (60, None, 35_000), (180, None, 105_000), (400, None, 105_000), (100, 90, 105_000),
     (89, 90, 35_000)],
)  # fmt: skip
def test_minimum_due(days_after: int, term_days: int | None, due: int) -> None:
    as_of = DISBURSED + timedelta(days=days_after)
    assert minimum_due(TOTAL, disbursed_on=DISBURSED, as_of=as_of, policy=POLICY,
                       term_days=term_days) == due  # fmt: skip


def test_minimum_due_rounds_up_but_never_above_the_total() -> None:
    # 1/6 of 100,001 is 16,666.83: the first minimum is 16,667; six periods are exactly the total.
    as_of = DISBURSED + timedelta(days=30)
    assert minimum_due(100_001, disbursed_on=DISBURSED, as_of=as_of, policy=POLICY) == 16_667
    later = DISBURSED + timedelta(days=300)
    assert minimum_due(100_001, disbursed_on=DISBURSED, as_of=later, policy=POLICY) == 100_001


@pytest.mark.parametrize(
    ("days_after", "repaid", "short", "late", "state"),
    [
        (10, 0, 0, 0, Standing.CURRENT),
        (30, 0, 17_500, 0, Standing.CURRENT),  # due today: not yet late
        (31, 0, 17_500, 1, Standing.IN_ARREARS),
        (31, 17_499, 1, 1, Standing.IN_ARREARS),
        (31, 17_500, 0, 0, Standing.CURRENT),
        (61, 17_500, 17_500, 1, Standing.IN_ARREARS),  # the second minimum is the unmet one
        (61, 10_000, 25_000, 31, Standing.IN_ARREARS),  # the oldest unmet due date counts
        (119, 0, 52_500, 89, Standing.IN_ARREARS),
        (120, 0, 70_000, 90, Standing.WRITTEN_OFF),
        (120, 105_000, 0, 0, Standing.REPAID),
        (500, 104_999, 1, 320, Standing.WRITTEN_OFF),
    ],
)
def test_shortfall_days_past_due_and_standing(
    days_after: int, repaid: int, short: int, late: int, state: Standing
) -> None:
    as_of = DISBURSED + timedelta(days=days_after)
    common: dict[str, Any] = {"disbursed_on": DISBURSED, "as_of": as_of, "policy": POLICY}
    assert shortfall(TOTAL, repaid, **common) == short
    assert days_past_due(TOTAL, repaid, **common) == late
    assert standing(TOTAL, repaid, **common) is state


def test_the_end_of_the_term_is_a_due_date() -> None:
    policy = RepaymentPolicy(minimum_share=Fraction(1, 10), period_days=30)
    due_on = first_unmet_due_date(TOTAL, 50_000, disbursed_on=DISBURSED, policy=policy,
                                  term_days=120)  # fmt: skip
    assert due_on == DISBURSED + timedelta(days=120)


@pytest.mark.parametrize(
    ("flat", "bps", "missed", "fee"),
    [(0, 0, 10_000, 0), (500, 0, 10_000, 500), (0, 100, 10_000, 100), (0, 100, 10_001, 101),
     (500, 100, 10_000, 600), (5_000, 0, 1_000, 1_000), (500, 0, 0, 0)],
)  # fmt: skip
def test_late_fee(flat: int, bps: int, missed: int, fee: int) -> None:
    policy = RepaymentPolicy(late_fee_flat_minor=flat, late_fee_bps=bps)
    assert late_fee(missed, policy) == fee


def test_flat_schedule_puts_the_rounding_on_the_last_instalment() -> None:
    schedule = instalment_schedule(100_000, count=6, method=Method.FLAT, frequency=Frequency.WEEKLY,
                                   start=AS_OF, fee_minor=5_001)  # fmt: skip
    assert [i.amount_minor for i in schedule] == [17_500] * 5 + [17_501]
    assert sum(i.principal_minor for i in schedule) == 100_000
    assert sum(i.charge_minor for i in schedule) == 5_001
    assert [i.due_on for i in schedule][:2] == [date(2026, 2, 7), date(2026, 2, 14)]
    assert schedule[-1].balance_after_minor == 0


def test_declining_schedule_example() -> None:
    # KES 1,000 at 3 % a month over 6 months: the level payment 184.5975... rounds up to 184.60.
    schedule = instalment_schedule(100_000, count=6, method=Method.DECLINING,
                                   frequency=Frequency.MONTHLY, start=AS_OF,
                                   rate=Fraction(3, 100))  # fmt: skip
    assert [i.amount_minor for i in schedule] == [18_460] * 5 + [18_456]
    assert [i.charge_minor for i in schedule] == [3_000, 2_536, 2_058, 1_566, 1_059, 537]
    assert sum(i.principal_minor for i in schedule) == 100_000
    # Monthly from 31 January: the month's last day when it is shorter.
    assert [i.due_on for i in schedule] == [
        date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31),
        date(2026, 6, 30), date(2026, 7, 31),
    ]  # fmt: skip


def test_an_interest_free_declining_schedule_is_level() -> None:
    schedule = instalment_schedule(100, count=3, method=Method.DECLINING,
                                   frequency=Frequency.WEEKLY, start=AS_OF)  # fmt: skip
    assert [i.amount_minor for i in schedule] == [34, 34, 32]


# --- errors -------------------------------------------------------------------------------------

CREDIT_ERRORS = [
    value
    for value in vars(credit_errors).values()
    if isinstance(value, type)
    and issubclass(value, DomainError)
    and value.__module__ == credit_errors.__name__
]


@pytest.mark.parametrize("cls", CREDIT_ERRORS, ids=lambda cls: cls.code)
def test_credit_errors_are_well_formed(cls: type[DomainError]) -> None:
    assert "code" in vars(cls)
    assert "title" in vars(cls)
    assert SNAKE_CASE.fullmatch(cls.code)
    assert cls.title.endswith(".")
    assert cls.__name__ in (credit_errors.__doc__ or "")
    kinds = {InvalidInput: "invalid", NotFound: "not_found",
             Conflict: "conflict", Rejected: "rejected"}  # fmt: skip
    base = next(base for base in kinds if issubclass(cls, base))
    assert cls.kind == kinds[base]


def test_credit_error_codes_are_new() -> None:
    codes = [cls.code for cls in CREDIT_ERRORS]
    assert len(set(codes)) == len(codes) == 12
    others = {cls.code for cls in all_error_classes() if cls not in CREDIT_ERRORS}
    assert not set(codes) & others
