"""Rate files: the ECB's real XML and CSV and an operator CSV parsed exactly, and every kind of
malformed file refused whole, naming where."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from soko.fx.domain import derive_rate
from soko.fx.errors import FxRateFileInvalid
from soko.fx.rate_files import (
    RATE_FILE_BYTES_MAX,
    RateFileFormat,
    detect_format,
    parse_rate_file,
    read_rate_file,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fx"
ECB_XML = (FIXTURES / "eurofxref-daily.xml").read_bytes()
ECB_CSV = (FIXTURES / "eurofxref.csv").read_bytes()
OPERATOR_CSV = (FIXTURES / "operator-rates.csv").read_bytes()
XML_DAY = datetime(2022, 7, 8, tzinfo=UTC)
CSV_DAY = datetime(2026, 2, 6, tzinfo=UTC)
HOUR = 3600


# --- the real ECB files -------------------------------------------------------------------------


def test_the_real_ecb_xml() -> None:
    parsed = read_rate_file(ECB_XML)
    assert parsed.format is RateFileFormat.ECB_XML
    by_quote = {rate.quote: rate for rate in parsed.rates}
    # Exactly the nine currencies Soko holds among the ECB's 31, each EUR-based and exact.
    assert set(by_quote) == {"USD", "JPY", "GBP", "CHF", "AUD", "CAD", "CNY", "INR", "ZAR"}
    assert by_quote["USD"].value == Fraction("1.0163")
    assert by_quote["GBP"].value == Fraction("0.84585")
    assert by_quote["ZAR"].value == Fraction("17.1922")
    assert {(r.base, r.source, r.as_of) for r in parsed.rates} == {("EUR", "ecb", XML_DAY)}
    assert "THB" in parsed.ignored and "HRK" in parsed.ignored and "USD" not in parsed.ignored
    assert len(parsed.ignored) == 31 - 9


def test_the_real_ecb_csv() -> None:
    parsed = read_rate_file(ECB_CSV)
    assert parsed.format is RateFileFormat.ECB_CSV
    by_quote = {rate.quote: rate.value for rate in parsed.rates}
    assert by_quote == {
        "USD": Fraction("1.1794"),
        "JPY": Fraction("185.27"),
        "GBP": Fraction("0.86790"),
        "CHF": Fraction("0.9175"),
        "AUD": Fraction("1.6880"),
        "CAD": Fraction("1.6118"),
        "CNY": Fraction("8.1838"),
        "INR": Fraction("106.9265"),
        "ZAR": Fraction("19.0170"),
    }
    assert {(r.base, r.as_of) for r in parsed.rates} == {("EUR", CSV_DAY)}


@pytest.mark.parametrize(("data", "day"), [(ECB_XML, XML_DAY), (ECB_CSV, CSV_DAY)])
def test_ecb_cross_rates_are_exact_through_eur_and_the_usd_pivot(
    data: bytes, day: datetime
) -> None:
    rates = parse_rate_file(data)
    eur = {rate.quote: rate.value for rate in rates}
    now = day + timedelta(hours=17)
    # USD->ZAR = (EUR->ZAR) / (EUR->USD): no EUR->USD rate is rounded on the way.
    usd_zar = derive_rate(rates, "USD", "ZAR", now=now, max_age_seconds=24 * HOUR)
    assert usd_zar.value == eur["ZAR"] / eur["USD"]
    assert usd_zar.source == "ecb" and usd_zar.as_of == day
    # ZAR->GBP goes ZAR->USD->GBP, each leg through EUR, and the pivot cancels out exactly.
    zar_gbp = derive_rate(rates, "ZAR", "GBP", now=now, max_age_seconds=24 * HOUR)
    assert zar_gbp.value == eur["GBP"] / eur["ZAR"]
    assert len(zar_gbp.derived_from) == 4
    # EUR itself is a currency: EUR->JPY is the published rate.
    assert derive_rate(rates, "EUR", "JPY", now=now, max_age_seconds=HOUR * 24).value == eur["JPY"]


def test_ecb_and_operator_rates_together() -> None:
    rates = parse_rate_file(ECB_CSV) + parse_rate_file(OPERATOR_CSV)
    now = datetime(2026, 2, 6, 12, tzinfo=UTC)
    # GBP->KES: GBP->USD from the ECB (through EUR), USD->KES from the operator.
    gbp_kes = derive_rate(rates, "GBP", "KES", now=now, max_age_seconds=24 * HOUR)
    assert gbp_kes.value == Fraction("1.1794") / Fraction("0.86790") * Fraction("129.25")
    assert gbp_kes.source == "ecb+treasury"
    # A day later the ECB's rate is stale with a 24-hour maximum age.
    with pytest.raises(Exception, match="older than") as raised:
        derive_rate(rates, "GBP", "KES", now=now + timedelta(days=1), max_age_seconds=24 * HOUR)
    assert raised.value.context["stale_pair"] in {"EUR>USD", "EUR>GBP"}  # type: ignore[attr-defined]


def test_the_operator_csv() -> None:
    parsed = read_rate_file(OPERATOR_CSV)
    assert parsed.format is RateFileFormat.OPERATOR_CSV
    assert parsed.ignored == ()
    table = {(r.base, r.quote): (r.value, r.source, r.as_of) for r in parsed.rates}
    nine_eat = datetime(2026, 2, 6, 6, tzinfo=UTC)  # 09:00 at +03:00
    assert table == {
        ("USD", "KES"): (Fraction("129.25"), "treasury", nine_eat),
        ("USD", "UGX"): (Fraction("3652.40"), "treasury", nine_eat),
        ("USD", "TZS"): (Fraction("2587.50"), "treasury", nine_eat),
        ("USD", "NGN"): (Fraction("1452.75"), "treasury", nine_eat),
        ("KES", "UGX"): (Fraction("28.26"), "treasury", nine_eat),
    }
    rates = list(parsed.rates)
    now = nine_eat + timedelta(minutes=30)
    # The operator's direct KES->UGX rate beats the cross rate through USD.
    assert derive_rate(rates, "UGX", "KES", now=now, max_age_seconds=HOUR).value == 1 / Fraction(
        "28.26"
    )
    tzs_ngn = derive_rate(rates, "TZS", "NGN", now=now, max_age_seconds=HOUR)
    assert tzs_ngn.value == Fraction("1452.75") / Fraction("2587.50")


def test_an_operator_csv_without_a_source_column_takes_the_given_source() -> None:
    rates = parse_rate_file(
        "base,quote,rate,as_of\nUSD,KES,129.25,2026-02-06T06:00:00Z\n", source="desk"
    )
    assert [(r.pair, r.source) for r in rates] == [(("USD", "KES"), "desk")]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (ECB_XML, RateFileFormat.ECB_XML),
        (ECB_CSV, RateFileFormat.ECB_CSV),
        (OPERATOR_CSV, RateFileFormat.OPERATOR_CSV),
        (b"\xef\xbb\xbf" + OPERATOR_CSV, RateFileFormat.OPERATOR_CSV),  # a BOM from a spreadsheet
        ("  \n" + ECB_XML.decode(), RateFileFormat.ECB_XML),
    ],
)
def test_detect_format(data: bytes | str, expected: RateFileFormat) -> None:
    assert detect_format(data) is expected


def test_an_explicit_format_is_not_second_guessed() -> None:
    with pytest.raises(FxRateFileInvalid, match="line 1"):
        read_rate_file(OPERATOR_CSV, file_format=RateFileFormat.ECB_CSV)
    assert len(read_rate_file(ECB_CSV, file_format=RateFileFormat.ECB_CSV).rates) == 9


# --- malformed files: each refused whole, naming where ------------------------------------------

XML_TEXT = ECB_XML.decode()
CSV_TEXT = ECB_CSV.decode()
OPERATOR_TEXT = OPERATOR_CSV.decode()


def xml_with(old: str, new: str) -> str:
    assert old in XML_TEXT, old
    return XML_TEXT.replace(old, new, 1)


def csv_with(old: str, new: str) -> str:
    assert old in CSV_TEXT, old
    return CSV_TEXT.replace(old, new, 1)


def operator_with(old: str, new: str) -> str:
    assert old in OPERATOR_TEXT, old
    return OPERATOR_TEXT.replace(old, new, 1)


@pytest.mark.parametrize(
    ("data", "where", "what"),
    [
        # --- broken XML
        (XML_TEXT[:-20], "line 41", "not well-formed"),
        (
            xml_with("<Cube currency='JPY' rate='138.05'/>", "<Cube currency='JPY'></Cub>"),
            "line 10, column 27",
            "not well-formed",
        ),
        (xml_with("</gesmes:Sender>", "</gesmes:Sender><Cube"), "line 7", "not well-formed"),
        # XML bombs and external entities never reach the parser's expansion.
        (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
            "the XML",
            "forbidden",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://example.com/x.dtd"><x/>',
            "the XML",
            "forbidden",
        ),
        # --- the wrong structure
        ('<?xml version="1.0"?><Envelope/>', "line 1, element <Envelope>", "gesmes:Envelope"),
        (
            xml_with("\t</Cube>\n</gesmes:Envelope>", "\t</Cube><Cube/>\n</gesmes:Envelope>"),
            "line 2, element <Envelope>",
            "exactly one <Cube> of days",
        ),
        (
            xml_with("<Cube time='2022-07-08'>", "<Cube time='2022-07-08'><Other/>"),
            "line 8, element <Other>",
            "a day holds only",
        ),
        (xml_with("<Cube time='2022-07-08'>", "<Cube date='2022-07-08'>"), "line 8", "a day"),
        (xml_with("<Cube time='2022-07-08'>", "<Cube time='08.07.2022'>"), "line 8", "not a date"),
        (xml_with("<Cube time='2022-07-08'>", "<Cube time='2022-02-30'>"), "line 8", "not a date"),
        # --- missing attributes, extra attributes, text
        (
            xml_with("<Cube currency='JPY' rate='138.05'/>", "<Cube currency='JPY'/>"),
            "line 10, element <Cube currency='JPY'>",
            "attribute rate is missing",
        ),
        (
            xml_with("<Cube currency='JPY' rate='138.05'/>", "<Cube rate='138.05'/>"),
            "line 10",
            "attribute currency is missing",
        ),
        (
            xml_with(
                "<Cube currency='JPY' rate='138.05'/>", "<Cube currency='JPY' rate='1' x='1'/>"
            ),
            "line 10",
            "attributes other than",
        ),
        (
            xml_with(
                "<Cube currency='JPY' rate='138.05'/>", "<Cube currency='JPY' rate='1'>2</Cube>"
            ),
            "line 10",
            "text where only elements belong",
        ),
        # --- bad rates
        (
            xml_with("rate='0.84585'", "rate='abc'"),
            "line 14, element <Cube currency='GBP' rate='abc'>",
            "not a plain decimal",
        ),
        (xml_with("rate='0.84585'", "rate='-0.84585'"), "line 14", "negative"),
        (xml_with("rate='0.84585'", "rate='0'"), "line 14", "zero"),
        (xml_with("rate='0.84585'", "rate='8.4585e-1'"), "line 14", "exponent"),
        (xml_with("rate='0.84585'", "rate=' 0.84585'"), "line 14", "not a plain decimal"),
        # A currency Soko holds is never skipped, and a rate Soko skips is still checked.
        (xml_with("rate='15210.73'", "rate='15,210.73'"), "line 29", "not a plain decimal"),
        # --- unknown currencies, EUR to itself, the same pair twice
        (xml_with("currency='JPY'", "currency='XYZ'"), "line 10", "unknown currency 'XYZ'"),
        (xml_with("currency='JPY'", "currency='jpy'"), "line 10", "unknown currency 'jpy'"),
        (xml_with("currency='JPY'", "currency='EUR'"), "line 10", "to itself"),
        (xml_with("currency='JPY'", "currency='USD'"), "line 10", "EUR->USD for 2022-07-08"),
        # --- CSV: ECB
        (csv_with("Date, USD", "Day, USD"), "line 1", "not a rate file"),
        (csv_with("USD, JPY", "USD, XYZ"), "line 1, column 'XYZ'", "unknown currency 'XYZ'"),
        (csv_with("USD, JPY", "USD, USD"), "line 1", "the currency 'USD' twice"),
        (csv_with("06 February 2026", "06 Febrero 2026"), "line 2, column Date", "not a date"),
        (csv_with("06 February 2026", "31 February 2026"), "line 2, column Date", "not a date"),
        (csv_with("06 February 2026", "2026-02-06T00:00"), "line 2, column Date", "not a date"),
        (
            csv_with("1.1794, 185.27", "1.1794, 185,27"),
            "line 2",
            "31 columns where the header has 30",
        ),
        (csv_with("1.1794, 185.27", "1.1794"), "line 2", "29 columns where the header has 30"),
        (csv_with("1.1794,", "1.1794x,"), "line 2, column USD", "not a plain decimal"),
        (csv_with("1.1794,", "-1.1794,"), "line 2, column USD", "negative"),
        (csv_with("1.1794,", "0.0000,"), "line 2, column USD", "zero"),
        (csv_with("1.1794,", ","), "line 2, column USD", "not a plain decimal"),
        (CSV_TEXT + CSV_TEXT.splitlines()[1] + "\n", "line 3", "again (first on line 2)"),
        (CSV_TEXT.splitlines()[0] + "\n", "line 1", "no row of rates"),
        # --- CSV: operator
        (operator_with("USD,KES,129.25", "USD,KES,abc"), "line 2", "not a plain decimal"),
        (operator_with("USD,KES,129.25", "USD,KES,0"), "line 2", "zero"),
        (operator_with("USD,KES,129.25", "USD,KES,-129.25"), "line 2", "negative"),
        (operator_with("USD,KES,129.25", "USD,KES,129.25000000000001"), "line 2", "decimals"),
        (operator_with("USD,KES", "USD,XYZ"), "line 2", "unknown currency 'XYZ'"),
        # The ECB's currencies Soko does not hold are unknown in an operator's file.
        (operator_with("USD,KES", "USD,THB"), "line 2", "unknown currency 'THB'"),
        (operator_with("USD,KES", "USD,USD"), "line 2", "to itself"),
        (operator_with("USD,UGX", "USD,KES"), "line 3", "USD->KES for 2026-02-06T09:00:00+03:00"),
        # A pair and its inverse at the same time are the same pair, twice.
        (operator_with("USD,UGX,3652.40", "KES,USD,0.0077"), "line 3", "again (first at line 2)"),
        (operator_with(",treasury\nUSD,UGX", ",treasury,x\nUSD,UGX"), "line 2", "6 columns"),
        (operator_with(",treasury\nUSD,UGX", "\nUSD,UGX"), "line 2", "4 columns where"),
        (operator_with("2026-02-06T09:00:00+03:00", "2026-02-06 9am"), "line 2, column as_of", ""),
        (operator_with("2026-02-06T09:00:00+03:00", "2026-02-06T09:00:00"), "line 2", "offset"),
        (operator_with("2026-02-06T09:00:00+03:00", "2026-02-30T09:00:00Z"), "line 2", "ISO"),
        (operator_with(",treasury\n", ",Not A Source\n"), "line 2", "source"),
        (operator_with("USD,KES,129.25", 'USD,KES,"129.25'), "line 2", "not CSV"),
        ("base,quote,rate,as_of\n", "line 1", "no rate"),
        # --- not a rate file at all
        ("", "line 1", "not a rate file"),
        ("rate,base,quote,as_of\nUSD,KES,1,2026-02-06T09:00:00Z\n", "line 1", "not a rate file"),
        (b"base,quote,rate,as_of\nUSD,KES,1\xff,2026-02-06T09:00:00Z\n", "byte 32", "not UTF-8"),
    ],
)
def test_a_malformed_file_imports_nothing_and_says_where(
    data: str | bytes, where: str, what: str
) -> None:
    with pytest.raises(FxRateFileInvalid) as raised:
        parse_rate_file(data)
    error = raised.value
    assert error.code == "fx_rate_file_invalid"
    assert error.detail.startswith(where), error.detail
    assert what in error.detail, error.detail
    assert error.detail.endswith("; nothing was imported.")


def test_a_file_too_large_is_refused_before_it_is_read() -> None:
    with pytest.raises(FxRateFileInvalid, match="larger than"):
        parse_rate_file(b" " * (RATE_FILE_BYTES_MAX + 1))


def test_ecb_csv_writes_n_a_for_a_rate_it_does_not_have() -> None:
    rates = parse_rate_file(csv_with("1.1794,", "N/A,"))
    assert "USD" not in {rate.quote for rate in rates}
    assert len(rates) == 8


def test_an_ecb_csv_in_the_history_layout_is_read_too() -> None:
    # eurofxref-hist.csv: ISO dates, no spaces, several days.
    rates = parse_rate_file("Date,USD,ZAR\n2026-02-06,1.1794,19.0170\n2026-02-05,1.18,19.1\n")
    assert {(r.quote, r.as_of.day) for r in rates} == {
        ("USD", 6),
        ("ZAR", 6),
        ("USD", 5),
        ("ZAR", 5),
    }
