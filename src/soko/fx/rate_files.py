"""Rate files: the ECB's daily reference rates (XML or CSV) and an operator's CSV, parsed to rates.

Parsing only: the caller fetches or uploads the bytes. A file is all or nothing: the first
malformed part raises ``FxRateFileInvalid`` naming the line (or, in XML, the element and its line)
and what is wrong, and no rate of that file is returned, so a half-read file never prices a
quote. What is checked:

* XML through ``defusedxml`` (no DTD, no entities, no external references): a
  ``gesmes:Envelope`` holding one ``Cube`` of ``Cube time="YYYY-MM-DD"`` days, each holding
  ``Cube currency="XXX" rate="1.2345"`` rates, no other elements or attributes;
* the ECB CSV, ``Date, USD, JPY, ...`` then one row a day (``06 February 2026, 1.1794, ...``
  or ``2026-02-06,1.1794,...``), with the trailing comma and spaces the ECB writes, and ``N/A``
  where it has no rate that day;
* the operator CSV, a header ``base,quote,rate,as_of`` or ``base,quote,rate,as_of,source``,
  then one rate a row, ``as_of`` an ISO 8601 time with its offset;
* every rate by ``soko.fx.domain.parse_rate`` (decimal text, positive, at most 12 decimals);
* every currency: one Soko holds, or, in ECB files, one the ECB publishes (those Soko does not
  hold are left out and listed in ``RateFile.ignored``); any other code is an error;
* no pair twice for the same day or time (a pair and its inverse count as one pair).

ECB rates are EUR->X; a day's rates are dated the start of that day in UTC. The ECB publishes
them in the afternoon, so their age is never understated.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any, Final
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException  # type: ignore[import-untyped, unused-ignore]
from defusedxml.ElementTree import DefusedXMLParser  # type: ignore[import-untyped, unused-ignore]

from soko.fx.domain import Rate, parse_rate
from soko.fx.errors import FxRateFileInvalid
from soko.kernel.errors import DomainError
from soko.kernel.money import CURRENCIES

__all__ = [
    "ECB_BASE",
    "ECB_CURRENCIES",
    "RATE_FILE_BYTES_MAX",
    "RATE_FILE_RATES_MAX",
    "RateFile",
    "RateFileFormat",
    "detect_format",
    "parse_rate_file",
    "read_rate_file",
]

#: A daily or 90-day file is far smaller; the full history (eurofxref-hist) is not imported.
RATE_FILE_BYTES_MAX: Final = 2_000_000
RATE_FILE_RATES_MAX: Final = 20_000

#: The ECB's reference rates are all EUR->X.
ECB_BASE: Final = "EUR"
#: Every currency the ECB publishes or has published a euro reference rate for. A code outside
#: this and Soko's table in an ECB file is an error, not a currency to skip.
ECB_CURRENCIES: Final = frozenset(
    {
        "AUD", "BGN", "BRL", "CAD", "CHF", "CNY", "CYP", "CZK", "DKK", "EEK", "GBP", "HKD",
        "HRK", "HUF", "IDR", "ILS", "INR", "ISK", "JPY", "KRW", "LTL", "LVL", "MTL", "MXN",
        "MYR", "NOK", "NZD", "PHP", "PLN", "ROL", "RON", "RUB", "SEK", "SGD", "SIT", "SKK",
        "THB", "TRL", "TRY", "USD", "ZAR",
    }
)  # fmt: skip

ECB_SOURCE: Final = "ecb"
OPERATOR_SOURCE: Final = "operator"

_GESMES: Final = "{http://www.gesmes.org/xml/2002-08-01}"
_EUROFXREF: Final = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"
_ENVELOPE: Final = _GESMES + "Envelope"
_CUBE: Final = _EUROFXREF + "Cube"
# The envelope's other children, as the ECB writes them; their content is not read.
_ENVELOPE_OTHERS: Final = frozenset({_GESMES + "subject", _GESMES + "Sender"})
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ECB_DATE: Final = re.compile(r"([0-9]{1,2}) ([A-Z][a-z]+) ([0-9]{4})")
# English month names, read without the locale (strptime's %B follows LC_TIME).
_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        (
            "January", "February", "March", "April", "May", "June", "July", "August",
            "September", "October", "November", "December",
        ),
        start=1,
    )
}  # fmt: skip
_OPERATOR_HEADERS: Final = (
    ("base", "quote", "rate", "as_of"),
    ("base", "quote", "rate", "as_of", "source"),
)
_NOT_AVAILABLE: Final = "N/A"
_ECHO_LENGTH_MAX: Final = 24


def _echo(text: str) -> str:
    if len(text) <= _ECHO_LENGTH_MAX:
        return repr(text)
    return repr(text[:_ECHO_LENGTH_MAX]) + "..."


class RateFileFormat(StrEnum):
    ECB_XML = "ecb_xml"
    ECB_CSV = "ecb_csv"
    OPERATOR_CSV = "operator_csv"


@dataclass(frozen=True, slots=True)
class RateFile:
    """A parsed rate file: its rates, and the ECB currencies it quoted that Soko does not hold."""

    format: RateFileFormat
    rates: tuple[Rate, ...]
    ignored: tuple[str, ...]


def _invalid(where: str, what: str, **context: Any) -> FxRateFileInvalid:
    return FxRateFileInvalid(
        f"{where}: {what.rstrip('.')}; nothing was imported.", where=where, **context
    )


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _invalid(f"byte {error.start + 1}", "the file is not UTF-8") from error


def detect_format(data: bytes | str) -> RateFileFormat:
    """Which format ``data`` is, from its first characters: ``<`` is the ECB's XML, a first line
    starting ``Date`` the ECB's CSV, an operator header the operator's CSV."""
    # Only the start is looked at; a character cut in two there is not the file's fault.
    head = (
        data[:4096].decode("utf-8-sig", errors="replace")
        if isinstance(data, bytes)
        else data[:4096].removeprefix("\ufeff")
    ).lstrip()
    if head.startswith("<"):
        return RateFileFormat.ECB_XML
    first = head.splitlines()[0] if head else ""
    if first.split(",")[0].strip() == "Date":
        return RateFileFormat.ECB_CSV
    if tuple(cell.strip() for cell in first.split(",")) in _OPERATOR_HEADERS:
        return RateFileFormat.OPERATOR_CSV
    raise _invalid(
        "line 1",
        "not a rate file Soko reads (the ECB's eurofxref XML or CSV, or an operator CSV "
        "headed base,quote,rate,as_of)",
    )


class _Collected:
    """The rates of one file as they are read, refusing a pair twice for one instant."""

    def __init__(self) -> None:
        self.rates: list[Rate] = []
        self.ignored: set[str] = set()
        self._seen: dict[tuple[frozenset[str], datetime, str], str] = {}

    def add(
        self,
        where: str,
        *,
        base: str,
        quote: str,
        rate_text: str,
        source: str,
        as_of: datetime,
        ecb: bool,
    ) -> None:
        for code in (base, quote):
            if code in CURRENCIES:
                continue
            if ecb and code in ECB_CURRENCIES:
                self.ignored.add(code)
                continue
            raise _invalid(where, f"unknown currency {_echo(code)}", currency=code)
        if base == quote:
            raise _invalid(where, f"a rate from {base} to itself")
        key = (frozenset((base, quote)), as_of, source)
        earlier = self._seen.get(key)
        if earlier is not None:
            raise _invalid(
                where, f"{base}->{quote} for {as_of.isoformat()} again (first at {earlier})"
            )
        self._seen[key] = where
        try:
            value = parse_rate(rate_text)
        except DomainError as error:
            raise _invalid(where, error.detail) from error
        if base in self.ignored or quote in self.ignored:
            return
        if len(self.rates) >= RATE_FILE_RATES_MAX:
            raise _invalid(where, f"more than {RATE_FILE_RATES_MAX} rates")
        try:
            self.rates.append(Rate(base, quote, value, source, as_of))
        except DomainError as error:
            raise _invalid(where, error.detail) from error

    def result(self, file_format: RateFileFormat) -> RateFile:
        return RateFile(file_format, tuple(self.rates), tuple(sorted(self.ignored)))


def _ecb_day(where: str, text: str) -> datetime:
    """An ECB reference day, "2026-02-06" or "06 February 2026", as the start of it in UTC."""
    try:
        if _ISO_DATE.fullmatch(text):
            day = date.fromisoformat(text)
        elif (match := _ECB_DATE.fullmatch(text)) and match.group(2) in _MONTHS:
            day = date(int(match.group(3)), _MONTHS[match.group(2)], int(match.group(1)))
        else:
            raise ValueError(text)
    except ValueError as error:
        raise _invalid(
            where, f'{_echo(text)} is not a date such as "2026-02-06" or "06 February 2026"'
        ) from error
    return datetime.combine(day, time(0), tzinfo=UTC)


# --- the ECB's XML ------------------------------------------------------------------------------


class _LineTreeBuilder(TreeBuilder):
    """A tree builder that notes the line each element starts on, for errors that name it."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[int, int] = {}
        self.parser: Any = None

    def start(self, tag: Any, attrs: Any, /) -> Element:
        element = super().start(tag, attrs)
        self.lines[id(element)] = self.parser.parser.CurrentLineNumber if self.parser else 0
        return element


def _parse_xml(data: bytes | str) -> tuple[Element, dict[int, int]]:
    """The tree of ``data`` and the line each element starts on (by ``id``)."""
    builder = _LineTreeBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True)
    builder.parser = parser
    try:
        parser.feed(data)
        root: Element = parser.close()
    except ParseError as error:
        line, column = error.position
        raise _invalid(f"line {line}, column {column + 1}", "not well-formed XML") from error
    except DefusedXmlException as error:
        raise _invalid("the XML", f"forbidden DTD or entity ({type(error).__name__})") from error
    return root, builder.lines


class _EcbXml:
    """One walk over an ECB envelope, refusing anything that is not where the ECB puts it."""

    def __init__(self, lines: dict[int, int]) -> None:
        self.lines = lines
        self.collected = _Collected()
        self.days: set[datetime] = set()

    def where(self, element: Element, what: str = "") -> str:
        name = element.tag.rpartition("}")[2] if isinstance(element.tag, str) else "?"
        shown = f"<{name} {what}>" if what else f"<{name}>"
        return f"line {self.lines.get(id(element), 0)}, element {shown}"

    def children(self, parent: Element) -> list[Element]:
        # TreeBuilder builds no comments or processing instructions; only text is left to refuse.
        texts = [parent.text, *(child.tail for child in parent)]
        if any(text and text.strip() for text in texts):
            raise _invalid(self.where(parent), "text where only elements belong")
        return list(parent)

    def envelope(self, root: Element) -> RateFile:
        if root.tag != _ENVELOPE:
            raise _invalid(self.where(root), "the root is not the ECB's gesmes:Envelope")
        cubes = [child for child in self.children(root) if child.tag not in _ENVELOPE_OTHERS]
        if len(cubes) != 1 or cubes[0].tag != _CUBE or cubes[0].attrib:
            raise _invalid(self.where(root), "the envelope must hold exactly one <Cube> of days")
        for day_cube in self.children(cubes[0]):
            self.day(day_cube)
        if not self.days:
            raise _invalid(self.where(cubes[0]), "no day of rates")
        return self.collected.result(RateFileFormat.ECB_XML)

    def day(self, cube: Element) -> None:
        time_text = cube.get("time")
        if cube.tag != _CUBE or set(cube.attrib) != {"time"} or time_text is None:
            raise _invalid(self.where(cube), 'a day must be <Cube time="YYYY-MM-DD">')
        where = self.where(cube, f"time={time_text!r}")
        if not _ISO_DATE.fullmatch(time_text):
            raise _invalid(where, f"{_echo(time_text)} is not a date such as 2026-02-06")
        day = _ecb_day(where, time_text)
        if day in self.days:
            raise _invalid(where, f"the day {time_text} again")
        self.days.add(day)
        rates = self.children(cube)
        if not rates:
            raise _invalid(where, "a day with no rates")
        for rate_cube in rates:
            self.rate(rate_cube, day)

    def rate(self, cube: Element, day: datetime) -> None:
        currency, rate = cube.get("currency"), cube.get("rate")
        where = self.where(cube, " ".join(f"{k}={v!r}" for k, v in cube.attrib.items()))
        if cube.tag != _CUBE:
            raise _invalid(where, "a day holds only <Cube currency=... rate=...>")
        if currency is None or rate is None:
            missing = "currency" if currency is None else "rate"
            raise _invalid(where, f"the attribute {missing} is missing")
        if set(cube.attrib) != {"currency", "rate"}:
            raise _invalid(where, "attributes other than currency and rate")
        if self.children(cube):
            raise _invalid(where, "a rate holds no elements")
        self.collected.add(
            where,
            base=ECB_BASE,
            quote=currency,
            rate_text=rate,
            source=ECB_SOURCE,
            as_of=day,
            ecb=True,
        )


def _ecb_xml(data: bytes | str) -> RateFile:
    root, lines = _parse_xml(data)
    return _EcbXml(lines).envelope(root)


# --- CSV ----------------------------------------------------------------------------------------


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank row; a quoted cell may not span lines."""
    reader = csv.reader(text.splitlines(), strict=True)
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _invalid(f"line {line}", f"not CSV ({error})") from error
        if reader.line_num != line:
            raise _invalid(f"line {line}", "a quoted cell runs over more than one line")
        if any(cell.strip() for cell in cells):
            yield line, cells


def _ecb_csv_header(line: int, cells: list[str]) -> tuple[list[str], bool]:
    """The header's cells, "Date" first, and whether its lines end with a comma: the daily file
    ends every line with ", ", one empty cell at the end that is not a column."""
    header = [cell.strip() for cell in cells]
    trailing = bool(header) and header[-1] == ""
    if trailing:
        header.pop()
    if not header or header[0] != "Date":
        raise _invalid(f"line {line}", 'the header must start with "Date"')
    currencies = header[1:]
    if not currencies:
        raise _invalid(f"line {line}", "no currency columns")
    for code in currencies:
        if code not in CURRENCIES and code not in ECB_CURRENCIES:
            raise _invalid(
                f"line {line}, column {_echo(code)}",
                f"unknown currency {_echo(code)}",
                currency=code,
            )
        if currencies.count(code) > 1:
            raise _invalid(f"line {line}", f"the currency {_echo(code)} twice")
    return header, trailing


def _ecb_csv(text: str) -> RateFile:
    rows = _rows(text)
    first = next(rows, None)
    if first is None:
        raise _invalid("line 1", "the file is empty")
    header_line = first[0]
    header, trailing = _ecb_csv_header(*first)
    currencies = header[1:]
    collected = _Collected()
    days: dict[datetime, int] = {}
    for line, raw in rows:
        cells = [cell.strip() for cell in raw]
        if trailing and cells[-1] == "":
            cells.pop()
        if len(cells) != len(header):
            raise _invalid(
                f"line {line}", f"{len(cells)} columns where the header has {len(header)}"
            )
        day = _ecb_day(f"line {line}, column Date", cells[0])
        if day in days:
            raise _invalid(f"line {line}", f"the day {cells[0]} again (first on line {days[day]})")
        days[day] = line
        for code, rate in zip(currencies, cells[1:], strict=True):
            if rate == _NOT_AVAILABLE:
                continue
            where = f"line {line}, column {code}"
            collected.add(
                where,
                base=ECB_BASE,
                quote=code,
                rate_text=rate,
                source=ECB_SOURCE,
                as_of=day,
                ecb=True,
            )
    if not days:
        raise _invalid(f"line {header_line}", "a header with no row of rates")
    return collected.result(RateFileFormat.ECB_CSV)


def _operator_as_of(where: str, text: str) -> datetime:
    try:
        as_of = datetime.fromisoformat(text)
    except ValueError as error:
        raise _invalid(where, f"{_echo(text)} is not an ISO 8601 time") from error
    if as_of.utcoffset() is None:
        raise _invalid(where, f"{_echo(text)} has no UTC offset (add Z or +03:00)")
    return as_of


def _operator_csv(text: str, source: str) -> RateFile:
    rows = _rows(text)
    first = next(rows, None)
    if first is None:
        raise _invalid("line 1", "the file is empty")
    header_line, raw_header = first
    header = tuple(cell.strip() for cell in raw_header)
    if header not in _OPERATOR_HEADERS:
        raise _invalid(
            f"line {header_line}", "the header must be base,quote,rate,as_of with ,source optional"
        )
    collected = _Collected()
    count = 0
    for line, raw in rows:
        cells = [cell.strip() for cell in raw]
        if len(cells) != len(header):
            raise _invalid(
                f"line {line}", f"{len(cells)} columns where the header has {len(header)}"
            )
        base, quote, rate, as_of_text = cells[:4]
        row_source = cells[4] if len(cells) == 5 else source
        as_of = _operator_as_of(f"line {line}, column as_of", as_of_text)
        collected.add(
            f"line {line}",
            base=base,
            quote=quote,
            rate_text=rate,
            source=row_source,
            as_of=as_of,
            ecb=False,
        )
        count += 1
    if not count:
        raise _invalid(f"line {header_line}", "a header with no rate")
    return collected.result(RateFileFormat.OPERATOR_CSV)


def read_rate_file(
    data: bytes | str,
    *,
    file_format: RateFileFormat | None = None,
    source: str = OPERATOR_SOURCE,
) -> RateFile:
    """Parse a whole rate file, or raise ``FxRateFileInvalid`` and return nothing of it.

    ``file_format`` is detected from the content when not given. ``source`` names the rates of an
    operator CSV without a source column; ECB rates are always "ecb".
    """
    if len(data) > RATE_FILE_BYTES_MAX:
        raise _invalid("the file", f"larger than {RATE_FILE_BYTES_MAX} bytes")
    chosen = file_format or detect_format(data)
    if chosen is RateFileFormat.ECB_XML:
        return _ecb_xml(data)
    if chosen is RateFileFormat.ECB_CSV:
        return _ecb_csv(_text(data))
    return _operator_csv(_text(data), source)


def parse_rate_file(
    data: bytes | str,
    *,
    file_format: RateFileFormat | None = None,
    source: str = OPERATOR_SOURCE,
) -> list[Rate]:
    """The rates of a whole rate file (see ``read_rate_file``), all or none."""
    return list(read_rate_file(data, file_format=file_format, source=source).rates)
