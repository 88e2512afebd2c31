"""Confirmation texts fit one SMS whatever the names and amounts (a text that did not would fail
the payment it confirms)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from soko.kernel import limits
from soko.kernel.i18n import LANGUAGES, Wording, wording_for
from soko.kernel.money import Money
from soko.notify.sms import fits, gsm7_septets
from soko.payments.domain import (
    TEXT_NAME_WIDTH,
    held_for_you_text,
    paid_text,
    received_text,
    refunded_text,
    text_name,
)

amounts = st.builds(
    Money.of,
    st.integers(1, limits.AMOUNT_MINOR_MAX),
    st.sampled_from(sorted(limits.KYC_LIMITS)),
)
ids = st.from_regex(r"(pay|rfd)_[0-9A-Z]{26}", fullmatch=True)


readers = st.builds(
    wording_for, st.sampled_from([*LANGUAGES, None]), st.sampled_from(["KE", "TZ", "UG", None])
)
#: Balances up to a billion (tests/unit/test_sms_texts.py's widest): never cut below that.
realistic = st.builds(
    Money.of, st.integers(1, 999_999_999_99), st.sampled_from(sorted(limits.KYC_LIMITS))
)


@given(name=st.text(max_size=200), payment_id=ids, amount=amounts, days=st.integers(1, 366),
       to=readers)  # fmt: skip
def test_every_text_fits_one_sms(
    name: str, payment_id: str, amount: Money, days: int, to: Wording
) -> None:
    fee = Money.of(min(amount.amount_minor, 10**6), amount.currency.code)
    for text in (
        paid_text(to, payment_id, amount, name, fee, balance=amount),
        received_text(to, payment_id, amount, name, amount),
        refunded_text(to, payment_id, amount, name, amount),
        held_for_you_text(to, amount, name, days),
    ):
        assert fits(text) and gsm7_septets(text) is not None, text


@given(name=st.text(max_size=200), payment_id=ids, amount=realistic, to=readers)
def test_a_confirmation_keeps_its_balance_whole(
    name: str, payment_id: str, amount: Money, to: Wording
) -> None:
    fee = Money.of(min(amount.amount_minor, 10**6), amount.currency.code)
    balance = to.money(amount)
    for text in (
        paid_text(to, payment_id, amount, name, fee, balance=amount),
        received_text(to, payment_id, amount, name, amount),
        refunded_text(to, payment_id, amount, name, amount),
    ):
        assert text.endswith(f" {balance}."), text


@given(st.text(max_size=200))
def test_a_name_in_a_text_is_short_and_costs_one_septet_a_character(name: str) -> None:
    shown = text_name(name)
    assert 0 < len(shown) <= TEXT_NAME_WIDTH
    assert fits(shown * (160 // len(shown)))


def test_names_keep_what_they_can() -> None:
    assert text_name("Wanjiru's Kiosk") == "Wanjiru's Kiosk"
    assert text_name("Café Ünïcode") == "Cafe Unicode"
    assert text_name("Sean O`Brien {VIP}") == "Sean O Brien VIP"
    assert text_name("张伟") == "a Soko user"
    assert text_name("Mama Njeri wa Kiambu Road Supermarket") == "Mama Njeri wa Kiambu R.."
