"""EMVCo QR codes as tables: published payloads, what Soko writes, each refusal and its code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from soko.kernel.errors import DomainError
from soko.kernel.money import Currency, Money
from soko.payments.qr.domain import (
    MerchantQr,
    crc16,
    fit_text,
    parse_qr,
    read_merchant_qr,
    tag_name,
)

ROOT = Path(__file__).resolve().parents[2]
KES = Currency.of("KES")


def signed(body: str) -> str:
    """`body` with its CRC appended, as an encoder would."""
    return body + "6304" + crc16(body + "6304")


def shop(**changes: object) -> MerchantQr:
    fields: dict[str, object] = {
        "guid": "dev.soko",
        "merchant_id": "123456",
        "category_code": "5411",
        "currency": KES,
        "country": "KE",
        "merchant_name": "Wanjiru's kiosk",
        "merchant_city": "Nairobi",
    }
    return MerchantQr(**{**fields, **changes})  # type: ignore[arg-type]


# --- published payloads from other schemes ----------------------------------------------------

# Each parses, its CRC verifies, and the fields named are what its publisher says they are.
PUBLISHED = [
    pytest.param(
        # EMV QRCPS Merchant-Presented Mode v1.1, the worked example of its Annex (two merchant
        # templates with AIDs, Chinese in the language template 64, an unreserved template 91),
        # as quoted in the cemacqr package's documentation (PyPI, cemacqr/__init__.py).
        "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802"
        "CN5914BEST TRANSPORT6007BEIJING64200002ZH0104\u6700\u4f73\u8fd0\u8f930202\u5317\u4eac5405"
        "23.7253031565502016233030412340603***0708A60086670902ME91320016A011223344998877070812345678"
        "6304A13A",
        {"59": "BEST TRANSPORT", "60": "BEIJING", "53": "156", "54": "23.72", "01": "12"},
        "CNY",
        id="emvco-annex-example",
    ),
    pytest.param(
        # Brazil Pix "BR Code" (EMV MPM): the static example of the Banco Central do Brasil's
        # "Manual de Padrões para Iniciação do Pix", quoted in many integrations.
        "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR"
        "5913Fulano de Tal6008BRASILIA62070503***63041D3D",
        {"59": "Fulano de Tal", "60": "BRASILIA", "53": "986"},
        None,  # BRL is not in Soko's table: the code can be shown, not paid
        id="pix-bcb-manual",
    ),
    pytest.param(
        # Singapore PayNow (SGQR family): example in a public EMVCo parsing script on GitHub.
        "00020101021126380009SG.PAYNOW010100211+6584554295030115204000053037025802SG5902NA6009"
        "SINGAPORE630416D8",
        {"59": "NA", "60": "SINGAPORE", "53": "702"},
        None,
        id="sg-paynow",
    ),
    pytest.param(
        # SGQR with six merchant account templates (REMOPAY, DASH, WeChat Pay, EZ-Link, SGQR's
        # own 51): same source as the PayNow example.
        "0002010102111531480007024800070280007025499435326590011COM.REMOPAY011020000003380204000003"
        "0400010404000099020127330015SG.COM.DASH.WWW0110100210041328650017COM.QQ.WEIXIN.PAY011010000"
        "0033702040000030400010404000099020129720013sg.com.ezlink0114FMP-10000003380204SGQR0317NPL-"
        "0001-0000000004046AF951800007SG.SGQR01121809072DDA29020701.0001030605860204020005020006040"
        "0000708201809155204000053037025802SG5909hisenyuan6009Singapore63044F90",
        {"59": "hisenyuan", "60": "Singapore", "15": "4800070248000702800070254994353"},
        None,
        id="sgqr-multi-network",
    ),
    pytest.param(
        # Indonesia QRIS (GoPay merchant), a static code published in a PHP storefront's config.
        "00020101021126610014COM.GO-JEK.WWW01189360091432677368700210G2677368700303UMI51440014ID.CO"
        ".QRIS.WWW0215ID10254671641540303UMI5204899953033605802ID5918K Project, Digital6005METRO61"
        "053411462070703A01630477A1",
        {"59": "K Project, Digital", "60": "METRO", "61": "34114", "53": "360"},
        None,
        id="qris-gopay",
    ),
    pytest.param(
        # Kenya KE-QR (CBK standard 2023): a merchant code of Equity Bank with the ke.go.qr GUID,
        # from a Kenyan QR SDK's regression cases ("Equity Bank P2M Merchant").
        "00020101021129230008ke.go.qr680722266655204541153034045802KE5919Thika Vivian Stores6002"
        "KE61020082310008ke.go.qr011511062025T1259066304AA94",
        {"59": "Thika Vivian Stores", "52": "5411", "53": "404"},
        "KES",
        id="ke-qr-equity",
    ),
    pytest.param(
        # Kenya, dynamic: an iPay checkout integration's sample dynamicQR (KES 200.00).
        "00020101021202134729202421897041553263210106426952045416530340454032005802KE5912IPAY "
        "LIMITED6007NAIROBI62250308725288450509ECDYwe009630488BF",
        {"54": "200", "59": "IPAY LIMITED", "02": "4729202421897"},
        "KES",
        id="ke-ipay-dynamic",
    ),
]


@pytest.mark.parametrize(("payload", "expected", "currency"), PUBLISHED)
def test_published_payloads_parse_and_their_crc_verifies(
    payload: str, expected: dict[str, str], currency: str | None
) -> None:
    assert payload[-4:] == crc16(payload[:-4])
    code = parse_qr(payload)
    for tag, value in expected.items():
        assert code.value(tag) == value, tag
    assert (None if code.currency is None else code.currency.code) == currency
    # The tree re-encodes to the very same payload: nothing was normalised on the way.
    assert _encode(code.tree()) == payload


def _encode(tree: object) -> str:
    assert isinstance(tree, tuple)
    out = []
    for tag, value in tree:
        text = value if isinstance(value, str) else _encode(value)
        out.append(f"{tag}{len(text):02d}{text}")
    return "".join(out)


def test_the_annex_example_shows_its_nested_templates() -> None:
    code = parse_qr(PUBLISHED[0].values[0])  # type: ignore[index]
    language = code.get("64")
    assert language is not None and language.children is not None
    assert [(c.tag, c.value) for c in language.children] == [
        ("00", "ZH"),
        ("01", "最佳运输"),
        ("02", "北京"),
    ]
    assert code.reference() is None
    additional = code.get("62")
    assert additional is not None and additional.child_value("06") == "***"
    assert [f.guid for f in code.merchant_accounts] == ["D15600000000", "D15600000001"]
    assert code.amount == Money.parse("23.72", "CNY")
    assert tag_name(("62", "07")) == "Terminal Label"
    assert tag_name(("91", "00")) == "Globally Unique Identifier"


# Published payloads whose CRC is right but which break a mandatory rule of the spec: Soko
# refuses them, precisely, rather than bending the reader.
PUBLISHED_BUT_NOT_CONFORMING = [
    pytest.param(
        # PromptPay, the test vectors of dtinth/promptpay-qr (index.test.js): widely scanned,
        # but they omit the mandatory merchant category (52), name (59) and city (60).
        "00020101021129370016A000000677010111011300668012345675802TH530376463046197",
        "Tag 52 (Merchant Category Code) is required",
        id="promptpay-phone",
    ),
    pytest.param(
        "00020101021229370016A000000677010111011300660000000005802TH530376454044.226304E469",
        "Tag 52 (Merchant Category Code) is required",
        id="promptpay-amount",
    ),
    pytest.param(
        # Kenya, the example in Rotse4/KE-QR's README: template 28 without a GUID.
        "00020101021128184614460120002574375303404540597.005802KE5914KONNECT WALLET6007NAIROBI61"
        "020082262024-06-12 17:28:40.7381586304ED73",
        "must hold its globally unique identifier",
        id="ke-qr-readme",
    ),
]


@pytest.mark.parametrize(("payload", "rule"), PUBLISHED_BUT_NOT_CONFORMING)
def test_published_payloads_that_break_a_mandatory_rule_are_refused(
    payload: str, rule: str
) -> None:
    assert payload[-4:] == crc16(payload[:-4])
    with pytest.raises(DomainError) as refused:
        parse_qr(payload)
    assert refused.value.code == "qr_malformed"
    assert rule in refused.value.detail


# --- what Soko writes -------------------------------------------------------------------------

ENCODED = [
    pytest.param(
        shop(),
        "00020101021126220008dev.soko01061234565204541153034045802KE5915Wanjiru's kiosk6007Nairobi"
        "6304",
        id="static",
    ),
    pytest.param(
        shop(amount=Money.parse("1500.50", "KES"), reference="INV-0042"),
        "00020101021226220008dev.soko010612345652045411530340454071500.505802KE5915Wanjiru's kiosk"
        "6007Nairobi62120508INV-00426304",
        id="dynamic-with-reference",
    ),
    pytest.param(
        shop(currency=Currency.of("UGX"), country="UG", amount=Money.parse("25000", "UGX")),
        "00020101021226220008dev.soko0106123456520454115303800540525000",
        id="dynamic-zero-exponent",
    ),
    pytest.param(
        shop(currency=Currency.of("KWD"), amount=Money.parse("0.125", "KWD")),
        "00020101021226220008dev.soko010612345652045411530341454050.125",
        id="dynamic-three-decimals",
    ),
]


@pytest.mark.parametrize(("qr", "prefix"), ENCODED)
def test_encoder_writes_the_spec_order_and_reads_back(qr: MerchantQr, prefix: str) -> None:
    payload = qr.payload()
    assert payload.startswith(prefix)
    assert payload[-4:] == crc16(payload[:-4])
    scanned = read_merchant_qr(payload, guid="dev.soko")
    assert scanned.merchant == qr
    assert scanned.static is qr.static is (qr.amount is None)
    assert scanned.template_tag == "26"
    order = [tag for tag, _ in parse_qr(payload).tree()]
    assert order == sorted(order)


@pytest.mark.parametrize(
    ("text", "length_max", "fitted"),
    [
        ("Wanjiru's kiosk", 25, "Wanjiru's kiosk"),
        ("Café Ñandú", 25, "Cafe Nandu"),
        ("Straße Œuvre Łódź Ørsted", 25, "Strasse OEuvre Lodz Orste"),
        ("  Mama   Mboga\tstores\n", 25, "Mama Mboga stores"),
        ("ＡＢＣ　Shop", 25, "ABC Shop"),  # noqa: RUF001  # full-width
        ("Baraka ‘best’ – hardware", 25, "Baraka 'best' - hardware"),  # noqa: RUF001
        ("A very long trading name for a shop", 25, "A very long trading name"),
        ("Nairobi Central Business District", 15, "Nairobi Central"),
        ("ሱቅ", 25, ""),  # Ge'ez: nothing survives; the caller chooses a fallback
        ("مطعم Shop", 25, "Shop"),
    ],
)
def test_fit_text(text: str, length_max: int, fitted: str) -> None:
    assert fit_text(text, length_max) == fitted


def test_fitted_falls_back_from_trading_name_to_person_to_till() -> None:
    def fitted(*names: str) -> str:
        return MerchantQr.fitted(
            guid="dev.soko",
            merchant_id="123456",
            category_code="5411",
            currency=KES,
            country="ET",
            names=names,
            city="Addis Ababa",
        ).merchant_name

    assert fitted("Café Abebe", "Abebe") == "Cafe Abebe"
    assert fitted("ቡና ቤት", "Abebe Bikila") == "Abebe Bikila"
    assert fitted("ቡና ቤት", "አበበ") == "Till 123456"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"guid": ""}, "qr_field_invalid"),
        ({"guid": "x" * 33}, "qr_field_invalid"),
        ({"merchant_id": "12345"}, "qr_field_invalid"),
        ({"merchant_id": "１２３４５６"}, "qr_field_invalid"),  # noqa: RUF001
        ({"category_code": "541"}, "merchant_category_invalid"),
        ({"country": "ke"}, "qr_field_invalid"),
        ({"merchant_name": "x" * 26}, "qr_field_invalid"),
        ({"merchant_name": "Café"}, "qr_field_invalid"),
        ({"merchant_name": "   "}, "qr_field_invalid"),
        ({"merchant_city": "x" * 16}, "qr_field_invalid"),
        ({"reference": "r" * 26}, "qr_field_invalid"),
        ({"reference": ""}, "qr_field_invalid"),
        ({"amount": Money.parse("0.00", "KES")}, "amount_must_be_positive"),
        ({"amount": Money.parse("5", "UGX")}, "currency_mismatch"),
        # 14 characters written with two decimals: over tag 54's 13.
        ({"amount": Money.parse("12345678901.00", "KES")}, "qr_field_invalid"),
    ],
)
def test_merchant_qr_refuses_what_does_not_fit(changes: dict[str, object], code: str) -> None:
    with pytest.raises(DomainError) as refused:
        shop(**changes)
    assert refused.value.code == code


def test_largest_amount_that_fits() -> None:
    qr = shop(amount=Money.parse("1234567890.00", "KES"))
    assert read_merchant_qr(qr.payload(), guid="dev.soko").merchant == qr


# --- refusals ---------------------------------------------------------------------------------

GOOD = "00020101021126220008dev.soko01061234565204541153034045802KE5905Duka16007Nairobi"

# The documented dynamic example: its CRC (FF8E) has hex letters to lower-case.
DYNAMIC = shop(amount=Money.parse("1500.50", "KES"), reference="INV-0042").payload()

REFUSED = [
    # (payload, code, tag, where the rule is stated)
    pytest.param(GOOD + "6304FFFF", "qr_checksum_invalid", "63", id="bad-crc"),
    pytest.param(signed(GOOD)[:-1] + "0", "qr_checksum_invalid", "63", id="crc-digit"),
    pytest.param(signed(GOOD).replace("Duka1", "Duka2"), "qr_checksum_invalid", "63", id="altered"),
    pytest.param(DYNAMIC[:-4] + DYNAMIC[-4:].lower(), "qr_malformed", "63", id="lower-hex-crc"),
    pytest.param(GOOD, "qr_malformed", "60", id="no-crc"),
    pytest.param("", "qr_malformed", None, id="empty"),
    pytest.param("x" * 513, "qr_malformed", None, id="too-long"),
    pytest.param("hello world", "qr_malformed", None, id="not-tlv"),
    pytest.param(signed("000202" + GOOD[6:]), "qr_malformed", "00", id="format-02"),
    pytest.param(signed(GOOD[6:] + "000201"), "qr_malformed", "01", id="format-not-first"),
    pytest.param(signed(GOOD.replace("010211", "010213")), "qr_malformed", "01", id="poi-13"),
    pytest.param(signed(GOOD.replace("5802KE", "5802ke")), "qr_malformed", "58", id="country"),
    pytest.param(signed(GOOD.replace("52045411", "5204541A")), "qr_malformed", "52", id="mcc"),
    pytest.param(signed(GOOD.replace("5303404", "530340A")), "qr_malformed", "53", id="ccy"),
    pytest.param(signed(GOOD.replace("52045411", "5200")), "qr_malformed", "52", id="length-00"),
    pytest.param(
        signed(GOOD.replace("5303404", "5303404" + "5407100.001")),
        "qr_malformed",
        "54",
        id="amount-too-precise",
    ),
    pytest.param(
        signed(GOOD.replace("5303404", "5303404" + "54040.00")), "qr_malformed", "54", id="zero"
    ),
    pytest.param(
        signed(GOOD.replace("5303404", "5303404" + "54041,00")), "qr_malformed", "54", id="comma"
    ),
    pytest.param(
        signed(GOOD.replace("5303404", "5303404" + "5414" + "1" * 14)),
        "qr_malformed",
        "54",
        id="amount-14",
    ),
    pytest.param(signed(GOOD.replace("5905Duka1", "5905Dukaá")), "qr_malformed", "59", id="ans"),
    pytest.param(
        signed(GOOD.replace("5905Duka1", "5926" + "d" * 26)), "qr_malformed", "59", id="name-26"
    ),
    pytest.param(signed(GOOD.replace("5905Duka1", "")), "qr_malformed", "59", id="no-name"),
    pytest.param(
        signed(GOOD.replace("26220008dev.soko0106123456", "")), "qr_malformed", "02-51", id="no-mai"
    ),
    pytest.param(
        signed(GOOD.replace("26220008dev.soko0106123456", "26100106123456")),
        "qr_malformed",
        "26",
        id="template-without-guid",
    ),
    pytest.param(
        signed(GOOD.replace("26220008dev.soko0106123456", "26220008dev.soko0107123456")),
        "qr_malformed",
        "26.01",
        id="template-overruns",
    ),
    pytest.param(
        signed(GOOD.replace("26220008dev.soko0106123456", "26220008dev.soko0006123456")),
        "qr_malformed",
        "26.00",
        id="template-repeats-a-tag",
    ),
    pytest.param(signed(GOOD + "5802KE"), "qr_malformed", "58", id="repeated-root-tag"),
    pytest.param(signed(GOOD + "62070503ab\x01"), "qr_malformed", "62.05", id="control-char"),
    pytest.param(signed(GOOD + "6206090AMA"), "qr_malformed", "62.09", id="consumer-data"),
    pytest.param(signed(GOOD + "64060002SW"), "qr_malformed", "64", id="language-no-name"),
    pytest.param(signed(GOOD + "550202"), "qr_malformed", "55", id="tip-without-fee"),
    pytest.param(signed(GOOD + "56031.5"), "qr_malformed", "56", id="fee-without-tip"),
]


@pytest.mark.parametrize(("payload", "code", "tag"), REFUSED)
def test_each_refusal_has_its_code_and_names_the_tag(
    payload: str, code: str, tag: str | None
) -> None:
    with pytest.raises(DomainError) as refused:
        parse_qr(payload)
    assert refused.value.code == code, refused.value
    assert refused.value.context.get("tag") == tag, refused.value
    if "offset" in refused.value.context:
        assert 0 <= refused.value.context["offset"] <= len(payload)


def test_a_checksum_refusal_says_both_values() -> None:
    with pytest.raises(DomainError) as refused:
        parse_qr(GOOD + "6304FFFF")
    assert refused.value.context["stated"] == "FFFF"
    assert refused.value.context["computed"] == crc16(GOOD + "6304")


def test_a_payload_that_is_not_text_is_malformed() -> None:
    with pytest.raises(DomainError) as refused:
        parse_qr(b"000201")
    assert refused.value.code == "qr_malformed"


def test_reading_needs_our_guid() -> None:
    foreign = PUBLISHED[5].values[0]  # type: ignore[index]
    with pytest.raises(DomainError) as refused:
        read_merchant_qr(foreign, guid="dev.soko")
    assert refused.value.code == "qr_not_payable"
    assert refused.value.context["guids"] == "ke.go.qr"


def test_our_guid_is_compared_ignoring_case() -> None:
    payload = signed(GOOD.replace("dev.soko", "DEV.SOKO"))
    assert read_merchant_qr(payload, guid="dev.soko").merchant.guid == "DEV.SOKO"


def test_reading_needs_a_known_currency() -> None:
    # Well-formed, ours, in Thai baht: shown by parse_qr, refused for payment.
    payload = signed(GOOD.replace("5303404", "5303764"))
    assert parse_qr(payload).currency is None
    with pytest.raises(DomainError) as refused:
        read_merchant_qr(payload, guid="dev.soko")
    assert refused.value.code == "qr_currency_unknown"
    assert refused.value.context["numeric"] == "764"


def test_reading_needs_a_till_under_our_guid() -> None:
    payload = signed(GOOD.replace("26220008dev.soko0106123456", "26220008dev.soko0106ABCDEF"))
    with pytest.raises(DomainError) as refused:
        read_merchant_qr(payload, guid="dev.soko")
    assert refused.value.code == "qr_malformed"
    assert refused.value.context["tag"] == "26.01"


def test_a_code_without_point_of_initiation_reads_as_static() -> None:
    payload = signed(GOOD.replace("010211", ""))
    assert parse_qr(payload).static is None
    assert read_merchant_qr(payload, guid="dev.soko").static is True


@pytest.mark.parametrize(
    ("amount", "read"), [("98.", "98.00"), ("98", "98.00"), (".5", "0.50"), ("98.7", "98.70")]
)
def test_amounts_are_read_as_the_spec_writes_them(amount: str, read: str) -> None:
    payload = signed(GOOD.replace("5303404", f"5303404540{len(amount)}{amount}"))
    assert parse_qr(payload).amount == Money.parse(read, "KES")


# --- the documentation's example --------------------------------------------------------------


def test_the_documented_example_is_what_the_encoder_writes() -> None:
    doc = (ROOT / "docs" / "qr.md").read_text(encoding="utf-8")
    example = shop(amount=Money.parse("1500.50", "KES"), reference="INV-0042").payload()
    blocks = re.findall(r"```text\n(.+?)\n```", doc, flags=re.DOTALL)
    assert example in blocks
    assert parse_qr(example).merchant_name == "Wanjiru's kiosk"
