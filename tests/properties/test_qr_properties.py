"""QR codes' laws: every code Soko writes reads back identically, by Soko, by an independent EMVCo
parser (cemacqr) and, from its PNG, by an independent QR decoder (zxing-cpp); and every
single-character corruption of a payload is refused."""

from __future__ import annotations

import io

import cemacqr
import pytest
import zxingcpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from soko.kernel.errors import DomainError
from soko.kernel.money import CURRENCIES, Currency, Money
from soko.payments.qr.domain import AMOUNT_LENGTH_MAX, MerchantQr, parse_qr, read_merchant_qr
from soko.payments.qr.images import qr_png, qr_svg

#: The spec's "ans" set: printable ASCII, 0x20-0x7E.
ANS = "".join(chr(code) for code in range(0x20, 0x7F))


def ans_text(length_max: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=ANS, min_size=1, max_size=length_max).filter(str.strip)


currencies = st.sampled_from(sorted(CURRENCIES.values(), key=lambda c: c.code))


@st.composite
def amounts(draw: st.DrawFn, currency: Currency) -> Money:
    # The longest amount that fits tag 54's 13 characters, written with the currency's decimals.
    whole_digits = AMOUNT_LENGTH_MAX - (currency.exponent + 1 if currency.exponent else 0)
    largest = 10 ** (whole_digits + currency.exponent) - 1
    minor = draw(st.one_of(st.integers(1, 1000), st.integers(1, largest), st.just(largest)))
    return Money(minor, currency)


@st.composite
def merchant_qrs(draw: st.DrawFn) -> MerchantQr:
    currency = draw(currencies)
    return MerchantQr(
        guid=draw(st.from_regex(r"[a-z]{1,8}(\.[a-z0-9-]{1,8}){1,2}", fullmatch=True)),
        merchant_id=draw(st.from_regex(r"[0-9]{6}", fullmatch=True)),
        category_code=draw(st.from_regex(r"[0-9]{4}", fullmatch=True)),
        currency=currency,
        country=draw(st.from_regex(r"[A-Z]{2}", fullmatch=True)),
        merchant_name=draw(ans_text(25)),
        merchant_city=draw(ans_text(15)),
        amount=draw(st.none() | amounts(currency)),
        reference=draw(st.none() | ans_text(25)),
    )


@given(qr=merchant_qrs())
def test_every_code_reads_back_identically(qr: MerchantQr) -> None:
    scanned = read_merchant_qr(qr.payload(), guid=qr.guid)
    assert scanned.merchant == qr
    assert scanned.static is (qr.amount is None)


@given(qr=merchant_qrs())
def test_an_independent_emvco_parser_agrees(qr: MerchantQr) -> None:
    payload = qr.payload()
    theirs = cemacqr.parse_payload(payload)
    report = cemacqr.validate(theirs)
    assert report.ok, str(report)
    assert theirs.crc_ok
    assert theirs.is_static is (qr.amount is None)
    assert theirs.merchant_accounts == {"26": {"00": qr.guid, "01": qr.merchant_id}}
    assert theirs.merchant_category_code == qr.category_code
    assert theirs.currency == qr.currency.numeric
    assert theirs.amount == (None if qr.amount is None else qr.amount.to_decimal_string())
    assert theirs.country_code == qr.country
    assert theirs.merchant_name == qr.merchant_name
    assert theirs.merchant_city == qr.merchant_city
    assert theirs.get_in("62", "05") == qr.reference


# Rendering and decoding an image takes tens of milliseconds: a modest number of examples, with
# the longest fields among them.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(qr=merchant_qrs())
def test_zxing_decodes_the_exact_payload_from_the_png(qr: MerchantQr) -> None:
    payload = qr.payload()
    image = Image.open(io.BytesIO(qr_png(payload)))
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [barcode.text for barcode in found] == [payload]
    assert found[0].ec_level == "M"


def test_the_svg_is_a_standalone_document() -> None:
    payload = MerchantQr(
        guid="dev.soko",
        merchant_id="123456",
        category_code="5411",
        currency=Currency.of("KES"),
        country="KE",
        merchant_name="Duka",
        merchant_city="Nairobi",
    ).payload()
    svg = qr_svg(payload)
    assert svg.startswith("<?xml") and "<svg" in svg and svg.rstrip().endswith("</svg>")


# Every printable ASCII character, and non-ASCII ones of one, two and three UTF-8 bytes wide.
REPLACEMENTS = ANS + "éß€中\x00\n"


@settings(max_examples=8, deadline=None)
@given(qr=merchant_qrs())
def test_every_single_character_substitution_is_refused(qr: MerchantQr) -> None:
    payload = qr.payload()
    for position, original in enumerate(payload):
        for replacement in REPLACEMENTS:
            if replacement == original:
                continue
            corrupted = payload[:position] + replacement + payload[position + 1 :]
            with pytest.raises(DomainError) as refused:
                parse_qr(corrupted)
            assert refused.value.code in {"qr_checksum_invalid", "qr_malformed"}, (
                position,
                replacement,
            )
