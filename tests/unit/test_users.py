"""People's rules as tables: phone numbers, countries, names, merchant categories and PINs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from soko.kernel import limits
from soko.people.domain import (
    HOME_CURRENCY,
    PinState,
    TryWindow,
    address_subject,
    check_merchant_category,
    check_name,
    check_pin,
    count_address_try,
    country_of_phone,
    finish_pin_check,
    home_currency,
    lock_seconds,
    parse_phone,
    pin_refusal,
    settled,
    start_pin_check,
)
from soko.people.errors import (
    CountryUnknown,
    MerchantCategoryInvalid,
    NameInvalid,
    PhoneNumberInvalid,
    PinIncorrect,
    PinLocked,
    PinMalformed,
)

# --- phone numbers ----------------------------------------------------------------------------

#: A valid Kenyan number. Padded with trailing spaces (which the parser ignores) it tests the
#: length limit alone.
KE_NUMBER = "+254712345678"


@pytest.mark.parametrize(
    ("text", "region", "e164"),
    [
        pytest.param("+254712345678", None, "+254712345678", id="KE-e164"),
        pytest.param("+254 712 345 678", None, "+254712345678", id="KE-e164-spaced"),
        pytest.param("+254-712-345-678", None, "+254712345678", id="KE-e164-hyphens"),
        pytest.param("0712345678", "KE", "+254712345678", id="KE-local"),
        pytest.param("712345678", "KE", "+254712345678", id="KE-local-without-trunk-0"),
        pytest.param("0712 345 678", "KE", "+254712345678", id="KE-local-spaced"),
        pytest.param("+256712345678", None, "+256712345678", id="UG-e164"),
        pytest.param("0712345678", "UG", "+256712345678", id="UG-local"),
        pytest.param("+255712345678", None, "+255712345678", id="TZ-e164"),
        pytest.param("0712345678", "TZ", "+255712345678", id="TZ-local"),
        pytest.param("+2348031234567", None, "+2348031234567", id="NG-e164"),
        pytest.param("08031234567", "NG", "+2348031234567", id="NG-local"),
        pytest.param("+233241234567", None, "+233241234567", id="GH-e164"),
        pytest.param("0241234567", "GH", "+233241234567", id="GH-local"),
        # A number written in E.164 names its own country; the default region does not apply.
        pytest.param("+254712345678", "UG", "+254712345678", id="e164-overrides-region"),
        pytest.param(
            KE_NUMBER.ljust(limits.PHONE_TEXT_LENGTH_MAX),
            None,
            KE_NUMBER,
            id="exactly-the-length-limit",
        ),
    ],
)
def test_parse_phone_returns_e164(text: str, region: str | None, e164: str) -> None:
    assert parse_phone(text, region) == e164


@pytest.mark.parametrize(
    ("text", "region"),
    [
        pytest.param("", None, id="empty"),
        pytest.param("", "KE", id="empty-with-region"),
        pytest.param("   ", "KE", id="blank"),
        pytest.param("hello", "KE", id="letters"),
        pytest.param("abcdefghij", "KE", id="ten-letters"),
        pytest.param("0712ABCDEF", "KE", id="letters-after-digits", marks=()),
        pytest.param("+254 7ABCDEFGH", None, id="letters-in-e164", marks=()),
        pytest.param("12", "KE", id="too-short"),
        pytest.param("+25471234567", None, id="one-digit-short"),
        pytest.param("+2547123456789", None, id="one-digit-long"),
        pytest.param("+2547123456780000", None, id="too-long"),
        pytest.param("+254912345678", None, id="valid-looking-but-no-such-range"),
        pytest.param("0912345678", "KE", id="local-valid-looking-but-no-such-range"),
        pytest.param("+254000000000", None, id="zeros"),
        pytest.param("0712345678", None, id="local-without-region"),
        pytest.param("0712345678", "XX", id="local-with-unknown-region"),
        pytest.param("+999712345678", None, id="unassigned-country-code"),
        pytest.param(
            KE_NUMBER.ljust(limits.PHONE_TEXT_LENGTH_MAX + 1),
            None,
            id="one-over-the-length-limit",
        ),
        pytest.param("+" + "2" * 200, None, id="far-over-the-length-limit"),
        pytest.param(254712345678, None, id="int"),
        pytest.param(None, None, id="None"),
        pytest.param(b"+254712345678", None, id="bytes"),
    ],
)
def test_parse_phone_rejects(text: Any, region: str | None) -> None:
    with pytest.raises(PhoneNumberInvalid) as exc:
        parse_phone(text, region)
    assert exc.value.code == "phone_number_invalid"


@pytest.mark.parametrize(
    ("e164", "country"),
    [
        pytest.param("+254712345678", "KE", id="KE"),
        pytest.param("+256712345678", "UG", id="UG"),
        pytest.param("+255712345678", "TZ", id="TZ"),
        pytest.param("+2348031234567", "NG", id="NG"),
        pytest.param("+233241234567", "GH", id="GH"),
        pytest.param("+221771234567", "SN", id="SN"),
        pytest.param(
            "+80012345678",
            None,
            id="non-geographic",
        ),
    ],
)
def test_country_of_phone(e164: str, country: str | None) -> None:
    assert country_of_phone(e164) == country


# --- countries and currencies -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "currency"),
    [
        pytest.param("KE", "KES", id="KE"),
        pytest.param("UG", "UGX", id="UG"),
        pytest.param("TZ", "TZS", id="TZ"),
        pytest.param("NG", "NGN", id="NG"),
        pytest.param("GH", "GHS", id="GH"),
        pytest.param("SN", "XOF", id="SN-west-african-cfa"),
        pytest.param("CI", "XOF", id="CI-west-african-cfa"),
        pytest.param("CM", "XAF", id="CM-central-african-cfa"),
        pytest.param("ZW", "ZWG", id="ZW-zimbabwe-gold"),
        pytest.param("SL", "SLE", id="SL-new-leone"),
    ],
)
def test_home_currency(country: str, currency: str) -> None:
    assert home_currency(country).code == currency


@pytest.mark.parametrize(
    "country",
    [
        pytest.param("XX", id="unknown"),
        pytest.param("ke", id="lowercase"),
        pytest.param("KEN", id="alpha-3"),
        pytest.param("", id="empty"),
        pytest.param("001", id="non-geographic"),
    ],
)
def test_home_currency_rejects_unknown_country(country: str) -> None:
    with pytest.raises(CountryUnknown) as exc:
        home_currency(country)
    assert exc.value.code == "country_unknown"


@pytest.mark.parametrize(("country", "code"), sorted(HOME_CURRENCY.items()))
def test_every_home_currency_is_a_known_currency(country: str, code: str) -> None:
    assert home_currency(country).code == code


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        pytest.param("Amina", "Amina", id="plain"),
        pytest.param("  Amina Wanjiru  ", "Amina Wanjiru", id="trimmed"),
        pytest.param("\tAmina\n", "Amina", id="trimmed-whitespace-controls"),
        pytest.param("Zoë N'Diaye", "Zoë N'Diaye", id="accents-and-apostrophe"),
        pytest.param("Ọlábísí Adébáyọ̀", "Ọlábísí Adébáyọ̀", id="yoruba-combining-marks"),
        pytest.param("x", "x", id="one-character"),
        pytest.param("x" * limits.NAME_LENGTH_MAX, "x" * limits.NAME_LENGTH_MAX, id="at-max"),
        pytest.param(
            " " + "x" * limits.NAME_LENGTH_MAX + " ",
            "x" * limits.NAME_LENGTH_MAX,
            id="at-max-after-trim",
        ),
    ],
)
def test_check_name_accepts_and_trims(name: str, kept: str) -> None:
    assert check_name(name) == kept


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("x" * (limits.NAME_LENGTH_MAX + 1), id="one-over-max"),
        pytest.param("Ali\nBaba", id="newline-inside"),
        pytest.param("Ali\tBaba", id="tab-inside"),
        pytest.param("Ali\x00", id="nul"),
        pytest.param("Ali\x7f", id="delete"),
        pytest.param("Ali\x1b[31m", id="ansi-escape"),
        pytest.param("\u202eilA", id="bidi-override"),
        pytest.param("\u200dAli", id="joiner-first"),
        pytest.param("Ali\u200c", id="non-joiner-last"),
        pytest.param("Ali\ud800", id="lone-surrogate"),
        pytest.param(None, id="None"),
        pytest.param(42, id="int"),
    ],
)
def test_check_name_rejects(name: Any) -> None:
    with pytest.raises(NameInvalid) as exc:
        check_name(name)
    assert exc.value.code == "name_invalid"


# --- merchant categories ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("5411", id="grocery"),
        pytest.param("0742", id="leading-zero"),
    ],
)
def test_check_merchant_category_accepts(code: str) -> None:
    assert check_merchant_category(code) == code


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("541", id="three-digits"),
        pytest.param("54111", id="five-digits"),
        pytest.param("abcd", id="letters"),
        pytest.param("٥٤١١", id="arabic-indic-digits"),
        pytest.param("\uff15\uff14\uff11\uff11", id="fullwidth-digits"),
        pytest.param(" 5411", id="leading-space"),
        pytest.param("5411\n", id="trailing-newline"),
        pytest.param("", id="empty"),
        pytest.param(5411, id="int"),
        pytest.param(None, id="None"),
    ],
)
def test_check_merchant_category_rejects(code: Any) -> None:
    with pytest.raises(MerchantCategoryInvalid) as exc:
        check_merchant_category(code)
    assert exc.value.code == "merchant_category_invalid"


# --- PINs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pin",
    [
        pytest.param("1234", id="four"),
        pytest.param("12345", id="five"),
        pytest.param("123456", id="six"),
        pytest.param("0000", id="zeros"),
    ],
)
def test_check_pin_accepts(pin: str) -> None:
    assert check_pin(pin) == pin


@pytest.mark.parametrize(
    "pin",
    [
        pytest.param("123", id="three-digits"),
        pytest.param("1234567", id="seven-digits"),
        pytest.param("12a4", id="letter"),
        pytest.param("\uff11\uff12\uff13\uff14", id="fullwidth-digits"),
        pytest.param("١٢٣٤", id="arabic-indic-digits"),
        pytest.param(" 1234", id="leading-space"),
        pytest.param("1234 ", id="trailing-space"),
        pytest.param("1234\n", id="trailing-newline"),
        pytest.param("", id="empty"),
        pytest.param(None, id="None"),
        pytest.param(1234, id="int"),
    ],
)
def test_check_pin_rejects(pin: Any) -> None:
    with pytest.raises(PinMalformed) as exc:
        check_pin(pin)
    assert exc.value.code == "pin_malformed"


def test_pin_attempts_max_is_five() -> None:
    """The rows below name the 4th and 5th try; this pins them to the limit they stand for."""
    assert limits.PIN_ATTEMPTS_MAX == 5


T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def _wrong(pin: PinState, now: datetime = T0) -> PinState:
    started = start_pin_check(pin, now)
    assert isinstance(started, PinState), started
    return finish_pin_check(started, correct=False, now=now)


def _right(pin: PinState, now: datetime = T0) -> PinState:
    started = start_pin_check(pin, now)
    assert isinstance(started, PinState), started
    return finish_pin_check(started, correct=True, now=now)


@pytest.mark.parametrize(
    ("lock_count", "seconds"),
    [(1, 15 * 60), (2, 3600), (3, 24 * 3600), (4, 24 * 3600), (50, 24 * 3600)],
)
def test_each_lock_lasts_longer_up_to_a_day(lock_count: int, seconds: int) -> None:
    assert lock_seconds(lock_count) == seconds


def test_the_fifth_wrong_pin_locks_for_15_minutes_and_tells_the_tries_left_before() -> None:
    pin = PinState()
    for left in range(limits.PIN_ATTEMPTS_MAX - 1, 0, -1):
        pin = _wrong(pin)
        refused = pin_refusal(pin, T0)
        assert isinstance(refused, PinIncorrect) and refused.context == {"tries_left": left}
    pin = _wrong(pin)
    assert pin == PinState(failures=0, locked_until=T0 + 15 * MINUTE, lock_count=1)
    locked = pin_refusal(pin, T0)
    assert isinstance(locked, PinLocked)
    until = (T0 + 15 * MINUTE).isoformat()
    assert locked.context == {"locked_until": until, "retry_after": 900, "tries_left": 0}


@pytest.mark.parametrize(
    ("pin", "now", "answer"),
    [
        pytest.param(PinState(locked_until=T0 + MINUTE, lock_count=1), T0, "pin_locked",
                     id="locked"),
        pytest.param(PinState(locked_until=T0, lock_count=1), T0, "counted", id="lock-over"),
        pytest.param(PinState(failures=4, checking=1, checking_until=T0 + MINUTE), T0,
                     "pin_busy", id="last-try-in-flight"),
        pytest.param(PinState(checking=5, checking_until=T0 + MINUTE), T0, "pin_busy",
                     id="five-in-flight"),
        pytest.param(PinState(failures=3, checking=1, checking_until=T0 + MINUTE), T0,
                     "counted", id="room-for-one-more"),
        # Tries never answered by their deadline count as wrong, and may lock.
        pytest.param(PinState(failures=4, checking=1, checking_until=T0), T0, "pin_locked",
                     id="abandoned-try-locks"),
        pytest.param(PinState(failures=1, checking=2, checking_until=T0), T0, "counted",
                     id="abandoned-tries-count"),
    ],
)  # fmt: skip
def test_a_try_starts_or_meets_a_lock_or_tries_in_flight(
    pin: PinState, now: datetime, answer: str
) -> None:
    started = start_pin_check(pin, now)
    assert (started.code if isinstance(started, Exception) else "counted") == answer


def test_abandoned_tries_are_settled_as_wrong() -> None:
    pin = settled(PinState(failures=1, checking=2, checking_until=T0), T0)
    assert pin == PinState(failures=3)


def test_a_right_pin_clears_the_count_the_lock_and_the_series() -> None:
    pin = PinState(failures=3, locked_until=T0 - MINUTE, lock_count=2)
    assert _right(pin) == PinState()
    # Right while others locked it meanwhile: whoever has the PIN has it (ADR 0016).
    locked = PinState(checking=1, checking_until=T0 + MINUTE, locked_until=T0 + HOUR,
                      lock_count=2)  # fmt: skip
    assert finish_pin_check(locked, correct=True, now=T0) == PinState()


def test_locks_in_a_row_last_15_minutes_an_hour_then_a_day() -> None:
    pin, now = PinState(), T0
    for length in (15 * MINUTE, HOUR, DAY, DAY):
        for _ in range(limits.PIN_ATTEMPTS_MAX):
            pin = _wrong(pin, now)
        assert pin.locked_until == now + length
        assert pin.locked_at(now + length - timedelta(seconds=1))
        now += length
        assert not pin.locked_at(now)


@pytest.mark.parametrize(
    ("window", "now", "after"),
    [
        pytest.param(None, T0, TryWindow(T0, 1), id="first"),
        pytest.param(TryWindow(T0, 19), T0 + MINUTE, TryWindow(T0, 20), id="twentieth"),
        pytest.param(TryWindow(T0, 20), T0 + 14 * MINUTE, "pin_tries_exceeded", id="full"),
        pytest.param(TryWindow(T0, 20), T0 + 15 * MINUTE, TryWindow(T0 + 15 * MINUTE, 1),
                     id="next-window"),
    ],
)  # fmt: skip
def test_tries_from_an_address_in_a_window(
    window: TryWindow | None, now: datetime, after: TryWindow | str
) -> None:
    counted = count_address_try(window, now)
    assert (counted.code if isinstance(counted, Exception) else counted) == after
    if isinstance(counted, Exception):
        assert counted.context == {"retry_after": 60}


@pytest.mark.parametrize(
    ("client", "subject"),
    [
        ("192.0.2.7", "address:192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "address:2001:db8:1:2::/64"),
        ("2001:db8:1:2::ffff", "address:2001:db8:1:2::/64"),
        ("testclient", "address:testclient"),
    ],
)
def test_tries_are_counted_by_address_and_ipv6_by_64(client: str, subject: str) -> None:
    assert address_subject(client) == subject
