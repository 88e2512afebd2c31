"""Shipment rules: ranks, the furthest step in any order of events, what moves the order,
tracking numbers, carrier codes, event times, and carriers' Standard Webhooks signatures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from soko.escrow.domain import EscrowAction
from soko.escrow.tracking.domain import (
    RANK,
    ShipmentStep,
    TrackingEventKind,
    advance,
    check_carrier_code,
    check_event_id,
    check_kind,
    check_occurred_when,
    check_tracking_number,
    furthest,
    order_action,
    parse_occurred_at,
    verify_signature,
)
from soko.escrow.tracking.errors import (
    CarrierCodeInvalid,
    CarrierEventIdInvalid,
    CarrierSignatureInvalid,
    CarrierTimestampInvalid,
    TrackingEventKindUnknown,
    TrackingEventTimeInvalid,
    TrackingNumberInvalid,
)
from soko.kernel import limits
from soko.notify.domain import format_secret

K, S = TrackingEventKind, ShipmentStep
SECRET = format_secret(bytes(range(32)))
NOW = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
BODY = (
    b'{"tracking_number": "SND-1", "kind": "delivered", "occurred_at": "2026-03-01T14:00:00+03:00"}'
)


# --- ranks and the furthest step ----------------------------------------------------------------


def test_the_steps_rank_in_the_order_a_parcel_travels() -> None:
    order = [S.REGISTERED, S.PICKED_UP, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.RETURNED]
    assert sorted(S, key=RANK.__getitem__) == order


@pytest.mark.parametrize(
    ("step", "kind", "expected"),
    [
        (S.REGISTERED, K.PICKED_UP, S.PICKED_UP),
        (S.REGISTERED, K.DELIVERED, S.DELIVERED),
        (S.PICKED_UP, K.IN_TRANSIT, S.IN_TRANSIT),
        (S.IN_TRANSIT, K.PICKED_UP, S.IN_TRANSIT),  # late: never back
        (S.DELIVERED, K.IN_TRANSIT, S.DELIVERED),  # out of order
        (S.OUT_FOR_DELIVERY, K.FAILED_DELIVERY, S.OUT_FOR_DELIVERY),  # moves nothing
        (S.REGISTERED, K.FAILED_DELIVERY, S.REGISTERED),
        (S.DELIVERED, K.RETURNED, S.RETURNED),  # refused at the door, sent back
        (S.IN_TRANSIT, K.RETURNED, S.RETURNED),
        (S.RETURNED, K.DELIVERED, S.RETURNED),  # returned is final
        (S.RETURNED, K.PICKED_UP, S.RETURNED),
        (S.DELIVERED, K.DELIVERED, S.DELIVERED),
    ],
)
def test_advance(step: ShipmentStep, kind: TrackingEventKind, expected: ShipmentStep) -> None:
    assert advance(step, kind) is expected


@pytest.mark.parametrize(
    ("before", "after", "action"),
    [
        (S.OUT_FOR_DELIVERY, S.DELIVERED, EscrowAction.DELIVER),
        (S.REGISTERED, S.DELIVERED, EscrowAction.DELIVER),
        (S.IN_TRANSIT, S.RETURNED, EscrowAction.RETURN),
        (S.DELIVERED, S.RETURNED, EscrowAction.RETURN),  # a return after delivery refunds too
        (S.DELIVERED, S.DELIVERED, None),  # a second delivered event: the order moved already
        (S.RETURNED, S.RETURNED, None),
        (S.REGISTERED, S.PICKED_UP, None),
        (S.PICKED_UP, S.OUT_FOR_DELIVERY, None),
    ],
)
def test_order_action(
    before: ShipmentStep, after: ShipmentStep, action: EscrowAction | None
) -> None:
    assert order_action(before, after) == action


def test_no_events_leave_a_shipment_registered() -> None:
    assert furthest([]) is S.REGISTERED


@st.composite
def shuffled_with_repeats(
    draw: st.DrawFn,
) -> tuple[set[TrackingEventKind], list[TrackingEventKind]]:
    """A set of kinds, and the same kinds in any order with any repeats (each at least once)."""
    kinds = draw(st.sets(st.sampled_from(TrackingEventKind)))
    repeats = draw(st.lists(st.sampled_from(sorted(kinds)), max_size=12)) if kinds else []
    return kinds, draw(st.permutations([*kinds, *repeats]))


@given(shuffled_with_repeats())
def test_any_order_and_any_repeats_give_the_furthest_step_of_the_set(
    drawn: tuple[set[TrackingEventKind], list[TrackingEventKind]],
) -> None:
    kinds, arrived = drawn
    assert furthest(arrived) is furthest(sorted(kinds, key=list(K).index))


@given(shuffled_with_repeats())
def test_the_order_is_moved_at_most_once_per_action(
    drawn: tuple[set[TrackingEventKind], list[TrackingEventKind]],
) -> None:
    kinds, arrived = drawn
    step, actions = S.REGISTERED, []
    for kind in arrived:
        after = advance(step, kind)
        if (action := order_action(step, after)) is not None:
            actions.append(action)
        step = after
    assert len(actions) == len(set(actions))
    # A return always reaches the order, last; a delivery only if it came before any return.
    if K.RETURNED in kinds:
        assert actions[-1] is EscrowAction.RETURN
    delivered_first = K.DELIVERED in kinds and (
        K.RETURNED not in kinds or arrived.index(K.DELIVERED) < arrived.index(K.RETURNED)
    )
    assert (EscrowAction.DELIVER in actions) == delivered_first


# --- names, numbers, times ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "stored"),
    [
        ("SND-1", "SND-1"),
        ("1Z999AA10123456784", "1Z999AA10123456784"),
        ("ab-12", "AB-12"),  # carriers ignore case: one parcel, one spelling
        ("7", "7"),
        ("A" * 40, "A" * 40),
    ],
)
def test_tracking_numbers(number: str, stored: str) -> None:
    assert check_tracking_number(number) == stored


@pytest.mark.parametrize(
    "number", ["", "A" * 41, "SND 1", "SND_1", "SND/1", "ñ12", "١٢٣", "SND-1\n", None, 12]
)
def test_malformed_tracking_numbers(number: object) -> None:
    with pytest.raises(TrackingNumberInvalid):
        check_tracking_number(number)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["sendy", "g4s", "dhl-express", "ab", "a" * 32])
def test_carrier_codes(code: str) -> None:
    assert check_carrier_code(code) == code


@pytest.mark.parametrize("code", ["", "a", "Sendy", "4sendy", "-sendy", "sen dy", "a" * 33, None])
def test_malformed_carrier_codes(code: object) -> None:
    with pytest.raises(CarrierCodeInvalid):
        check_carrier_code(code)  # type: ignore[arg-type]


def test_kinds() -> None:
    assert check_kind("delivered") is K.DELIVERED
    with pytest.raises(TrackingEventKindUnknown):
        check_kind("lost")


@pytest.mark.parametrize("event_id", ["", "a b", "x" * 129, "é"])
def test_malformed_event_ids(event_id: str) -> None:
    with pytest.raises(CarrierEventIdInvalid):
        check_event_id(event_id)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-03-01T14:05:00+03:00", datetime(2026, 3, 1, 11, 5, tzinfo=UTC)),
        ("2026-03-01T11:05:00Z", datetime(2026, 3, 1, 11, 5, tzinfo=UTC)),
        ("2026-03-01t11:05:00z", datetime(2026, 3, 1, 11, 5, tzinfo=UTC)),  # RFC 3339 allows it
        ("2026-03-01T11:05:00.123456789Z", datetime(2026, 3, 1, 11, 5, 0, 123456, tzinfo=UTC)),
    ],
)
def test_event_times(text: str, utc: datetime) -> None:
    parsed = parse_occurred_at(text)
    assert parsed == utc
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["2026-03-01T11:05:00", "2026-03-01", "yesterday", "", "9999-12-31T23:59:59-23:59"]
)
def test_event_times_need_an_offset_and_a_time(text: str) -> None:
    with pytest.raises(TrackingEventTimeInvalid):
        parse_occurred_at(text)


def test_events_are_neither_in_the_future_nor_long_ago() -> None:
    tolerance = timedelta(seconds=limits.CARRIER_CLOCK_TOLERANCE_SECONDS)
    assert check_occurred_when(NOW + tolerance, NOW) == NOW + tolerance
    with pytest.raises(TrackingEventTimeInvalid):
        check_occurred_when(NOW + tolerance + timedelta(seconds=1), NOW)
    with pytest.raises(TrackingEventTimeInvalid):
        check_occurred_when(NOW - timedelta(days=367), NOW)


# --- signatures ---------------------------------------------------------------------------------


def signed(
    secret: str = SECRET, at: datetime = NOW, msg_id: str = "msg_1", body: bytes = BODY
) -> dict[str, str]:
    """Headers as a carrier using the `standardwebhooks` package would send them."""
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def test_a_signature_made_with_the_standardwebhooks_package_verifies() -> None:
    verified = verify_signature(SECRET, signed(), BODY, NOW)
    assert verified.msg_id == "msg_1"
    assert verified.timestamp == int(NOW.timestamp())


def test_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in signed().items()}
    assert verify_signature(SECRET, headers, BODY, NOW).msg_id == "msg_1"


def test_one_good_signature_among_several_is_enough() -> None:
    """A carrier rotating its secret signs with the old and the new one."""
    other = format_secret(bytes(range(1, 33)))
    headers = signed()
    theirs = signed(secret=other)["webhook-signature"]
    headers["webhook-signature"] = f"v2,abc {theirs} {headers['webhook-signature']}"
    assert verify_signature(SECRET, headers, BODY, NOW).msg_id == "msg_1"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h: {
            **h,
            "webhook-signature": signed(secret=format_secret(b"x" * 32))["webhook-signature"],
        },
        lambda h: {**h, "webhook-id": "msg_2"},
        lambda h: {**h, "webhook-signature": "v2," + h["webhook-signature"][3:]},
        lambda h: {**h, "webhook-signature": h["webhook-signature"][:-4] + "AAA="},
        lambda h: {key: value for key, value in h.items() if key != "webhook-signature"},
        lambda h: {key: value for key, value in h.items() if key != "webhook-id"},
        lambda h: {**h, "webhook-id": "msg 2"},
    ],
    ids=["wrong secret", "other id", "other version", "altered", "unsigned", "no id", "bad id"],
)
def test_bad_signatures_are_refused(tamper: object) -> None:
    headers = tamper(signed())  # type: ignore[operator]
    with pytest.raises(CarrierSignatureInvalid):
        verify_signature(SECRET, headers, BODY, NOW)


def test_a_tampered_body_is_refused() -> None:
    with pytest.raises(CarrierSignatureInvalid):
        verify_signature(SECRET, signed(), BODY.replace(b"delivered", b"returned"), NOW)


@pytest.mark.parametrize("skew", [-301, 301, 3600])
def test_timestamps_more_than_five_minutes_off_are_refused(skew: int) -> None:
    headers = signed(at=NOW + timedelta(seconds=skew))
    with pytest.raises(CarrierTimestampInvalid):
        verify_signature(SECRET, headers, BODY, NOW)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_timestamps_within_five_minutes_pass(skew: int) -> None:
    headers = signed(at=NOW + timedelta(seconds=skew))
    assert verify_signature(SECRET, headers, BODY, NOW).msg_id == "msg_1"


@pytest.mark.parametrize("stamp", ["", "-1", "1.5", "١٢٣", "9" * 13, "soon"])
def test_malformed_timestamps_are_refused(stamp: str) -> None:
    headers = {**signed(), "webhook-timestamp": stamp}
    with pytest.raises((CarrierTimestampInvalid, CarrierSignatureInvalid)):
        verify_signature(SECRET, headers, BODY, NOW)
