"""Fuzzing the parsers that read untrusted text: any input gives a value or a DomainError,
never another exception (which the API would turn into a 500)."""

from __future__ import annotations

import contextlib
import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from soko.kernel.errors import DomainError
from soko.kernel.money import CURRENCIES, Currency, Money
from soko.payments.qr.domain import MerchantQr, crc16, parse_qr, read_merchant_qr

#: SOKO_FUZZ_SCALE=N multiplies the examples for a longer run (README, "Longer fuzzing").
FUZZ = settings(
    max_examples=400 * int(os.environ.get("SOKO_FUZZ_SCALE", "1")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

VALID = MerchantQr(
    guid="dev.soko", merchant_id="123456", category_code="5411", currency=Currency.of("KES"),
    country="KE", merchant_name="Wanjiru's Kiosk", merchant_city="Nairobi",
    amount=Money.parse("250.00", "KES"), reference="INV-1",
).payload()  # fmt: skip

#: Text that looks like EMVCo TLV: digit pairs, lengths, the CRC tag, and anything else.
tlv_like = st.lists(
    st.one_of(
        st.from_regex(r"[0-9]{2}[0-9]{2}", fullmatch=True),
        st.sampled_from(["000201", "010212", "26", "6304", "5303404", "5406250.00", "62"]),
        st.text(max_size=12),
    ),
    max_size=20,
).map("".join)


@FUZZ
@given(st.one_of(st.text(max_size=300), tlv_like, st.binary(max_size=64).map(repr)))
@example("")
@example("6304")
@example("00020101021163040000")
def test_parse_qr_gives_a_code_or_a_domain_error(text: str) -> None:
    for candidate in (text, text + "6304" + crc16(text + "6304")):
        try:
            parse_qr(candidate)
            read_merchant_qr(candidate, guid="dev.soko")
        except DomainError:
            pass


@FUZZ
@given(
    position=st.integers(0, len(VALID)),
    cut=st.integers(0, 8),
    insert=st.text(max_size=8),
    fix_crc=st.booleans(),
)
def test_a_mangled_real_payload_gives_a_code_or_a_domain_error(
    position: int, cut: int, insert: str, fix_crc: bool
) -> None:
    mangled = VALID[:position] + insert + VALID[position + cut :]
    if fix_crc and len(mangled) >= 4:
        # Re-sign the damage, so the structure rules (not the checksum) must catch it.
        mangled = mangled[:-4] + crc16(mangled[:-4])
    with contextlib.suppress(DomainError):
        read_merchant_qr(mangled, guid="dev.soko")


@FUZZ
@given(
    text=st.one_of(
        st.text(max_size=40),
        st.from_regex(r"-?[0-9]{0,25}(\.[0-9]{0,6})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
        st.sampled_from(["NaN", "inf", "-0", "1_000", "١٢٣", "1e309", "0x10", " 1", "1.", ".5"]),
    ),
    currency=st.one_of(st.sampled_from(sorted(CURRENCIES)), st.text(max_size=4)),
)
def test_money_parse_gives_an_amount_or_a_domain_error(text: str, currency: str) -> None:
    try:
        parsed = Money.parse(text, currency)
    except DomainError:
        return
    # Whatever parses prints back to the same number.
    assert Money.parse(parsed.to_decimal_string(), currency) == parsed
