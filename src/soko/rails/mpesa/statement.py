"""The M-Pesa organisation statement (the org portal's CSV export): a pure parser, and its
match against our ledger's M-Pesa entries by receipt number.

Parsing is all-or-nothing: one bad line refuses the whole file, with the line named, because a
reconciliation over part of a statement would report money as missing that is merely unread.
The portal puts a few lines about the account before the header; they are skipped. Amounts are
read exactly (text to integer cents, never through floats).
"""

from __future__ import annotations

import csv
import enum
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from soko.kernel import limits
from soko.rails.mpesa.callbacks import MINOR_PER_SHILLING, NAIROBI

COLUMNS: Final = (
    "Receipt No.",
    "Completion Time",
    "Initiation Time",
    "Details",
    "Transaction Status",
    "Paid In",
    "Withdrawn",
    "Balance",
    "Balance Confirmed",
    "Reason Type",
    "Other Party Info",
    "Linked Transaction ID",
    "A/C No.",
)
#: The portal has exported both; either is read as Nairobi time.
TIME_FORMATS: Final = ("%Y-%m-%d %H:%M:%S", "%d-%m-%Y %H:%M:%S")
#: Lines before the header (the portal's account details) and rows, at most.
PREAMBLE_LINES_MAX: Final = 20
ROWS_MAX: Final = 1_000_000
_AMOUNT = re.compile(r"\A(-?)(\d{1,3}(?:,\d{3})*|\d+)(?:\.(\d{1,2}))?\Z")
_RECEIPT = re.compile(r"\A[A-Z0-9]{10}\Z")


class StatementInvalid(ValueError):
    """The statement cannot be read; `line` is its 1-based line number (0: the whole file)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line = line
        self.reason = reason


class Direction(enum.Enum):
    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True)
class StatementRow:
    line: int
    receipt: str
    completed_at: datetime
    initiated_at: datetime | None
    details: str
    status: str
    #: Exactly one of paid in and withdrawn is set on a row that moved money.
    paid_in_minor: int | None
    withdrawn_minor: int | None
    balance_minor: int | None
    balance_confirmed: bool
    reason_type: str
    other_party: str
    linked_transaction_id: str
    account_number: str

    @property
    def direction(self) -> Direction | None:
        if self.paid_in_minor:
            return Direction.IN
        if self.withdrawn_minor:
            return Direction.OUT
        return None

    @property
    def amount_minor(self) -> int:
        return self.paid_in_minor or self.withdrawn_minor or 0

    @property
    def is_charge(self) -> bool:
        """A fee row (it shares the receipt of the transaction it was charged for)."""
        return self.reason_type.rstrip().lower().endswith("charge")


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One M-Pesa movement as our ledger recorded it."""

    receipt: str
    amount_minor: int
    direction: Direction


@dataclass(frozen=True, slots=True)
class Mismatch:
    receipt: str
    statement_amount_minor: int
    statement_direction: Direction | None
    ledger_amount_minor: int
    ledger_direction: Direction


@dataclass(frozen=True, slots=True)
class StatementMatch:
    """What differs between the statement and the ledger; all empty when they agree."""

    missing_in_ledger: tuple[StatementRow, ...]
    missing_in_statement: tuple[LedgerEntry, ...]
    mismatched: tuple[Mismatch, ...]
    #: Receipts that appear more than once on one side (outside fee rows): matched by neither.
    duplicate_receipts: tuple[str, ...]
    #: Fee rows, left to the fee reconciliation.
    charges: tuple[StatementRow, ...]
    #: Rows whose status is not Completed: no money moved.
    not_completed: tuple[StatementRow, ...]

    @property
    def agrees(self) -> bool:
        return not (
            self.missing_in_ledger
            or self.missing_in_statement
            or self.mismatched
            or self.duplicate_receipts
        )


def _amount(text: str, column: str, line: int, *, signed: bool) -> int | None:
    text = text.strip()
    if not text:
        return None
    matched = _AMOUNT.match(text)
    if matched is None:
        raise StatementInvalid(line, f"{column} {text[:40]!r} is not an amount")
    sign, whole, cents = matched.groups()
    if sign and not signed:
        raise StatementInvalid(line, f"{column} {text[:40]!r} is negative")
    minor = int(whole.replace(",", "")) * MINOR_PER_SHILLING + int((cents or "0").ljust(2, "0"))
    if minor > limits.AMOUNT_MINOR_MAX:
        raise StatementInvalid(line, f"{column} {text[:40]!r} is too large")
    return -minor if sign else minor


def _time(text: str, column: str, line: int, *, required: bool) -> datetime | None:
    text = text.strip()
    if not text and not required:
        return None
    for pattern in TIME_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=NAIROBI)
        except ValueError:
            continue
    raise StatementInvalid(line, f"{column} {text[:40]!r} is not a time")


def _row(cells: list[str], line: int) -> StatementRow:
    if len(cells) != len(COLUMNS):
        raise StatementInvalid(line, f"{len(cells)} columns, expected {len(COLUMNS)}")
    field = dict(zip(COLUMNS, (cell.strip() for cell in cells), strict=True))
    receipt = field["Receipt No."]
    if not _RECEIPT.match(receipt):
        raise StatementInvalid(line, f"receipt {receipt[:40]!r} is not an M-Pesa receipt")
    paid_in = _amount(field["Paid In"], "Paid In", line, signed=False)
    # The portal shows withdrawals as negative numbers; some exports drop the sign.
    withdrawn = _amount(field["Withdrawn"], "Withdrawn", line, signed=True)
    if withdrawn is not None:
        withdrawn = abs(withdrawn)
    if paid_in and withdrawn:
        raise StatementInvalid(line, "both Paid In and Withdrawn are set")
    confirmed = field["Balance Confirmed"].lower()
    if confirmed not in ("true", "false", ""):
        raise StatementInvalid(line, f"Balance Confirmed {confirmed[:10]!r} is not true/false")
    status = field["Transaction Status"]
    if not status:
        raise StatementInvalid(line, "Transaction Status is empty")
    completed = _time(field["Completion Time"], "Completion Time", line, required=True)
    assert completed is not None
    return StatementRow(
        line=line,
        receipt=receipt,
        completed_at=completed,
        initiated_at=_time(field["Initiation Time"], "Initiation Time", line, required=False),
        details=field["Details"],
        status=status,
        paid_in_minor=paid_in,
        withdrawn_minor=withdrawn,
        balance_minor=_amount(field["Balance"], "Balance", line, signed=True),
        balance_confirmed=confirmed == "true",
        reason_type=field["Reason Type"],
        other_party=field["Other Party Info"],
        linked_transaction_id=field["Linked Transaction ID"],
        account_number=field["A/C No."],
    )


def parse_statement(text: str) -> list[StatementRow]:
    """Every row of an organisation statement CSV, or StatementInvalid naming the first bad
    line. `text` is the decoded file (the portal writes UTF-8, sometimes with a BOM)."""
    reader = csv.reader(text.removeprefix("\ufeff").splitlines())
    header_line = 0
    rows: list[StatementRow] = []
    try:
        for index, cells in enumerate(reader, start=1):
            if not header_line:
                if tuple(cell.strip() for cell in cells) == COLUMNS:
                    header_line = index
                elif index >= PREAMBLE_LINES_MAX:
                    break
                continue
            if not any(cell.strip() for cell in cells):
                continue  # blank lines (the portal ends with some)
            if len(rows) >= ROWS_MAX:
                raise StatementInvalid(index, f"more than {ROWS_MAX} rows")
            rows.append(_row(cells, index))
    except csv.Error as error:
        raise StatementInvalid(reader.line_num, f"not CSV: {error}") from error
    if not header_line:
        raise StatementInvalid(0, "no header row with the M-Pesa statement columns")
    return rows


def match_statement(
    rows: Iterable[StatementRow], ledger_entries: Iterable[LedgerEntry]
) -> StatementMatch:
    """The statement's completed, non-fee rows against the ledger's entries, by receipt."""
    charges: list[StatementRow] = []
    not_completed: list[StatementRow] = []
    movements: list[StatementRow] = []
    for row in rows:
        if row.status.lower() != "completed":
            not_completed.append(row)
        elif row.is_charge:
            charges.append(row)
        else:
            movements.append(row)
    entries = list(ledger_entries)
    duplicates = sorted(
        {r for r, n in Counter(row.receipt for row in movements).items() if n > 1}
        | {r for r, n in Counter(entry.receipt for entry in entries).items() if n > 1}
    )
    statement = {row.receipt: row for row in movements if row.receipt not in duplicates}
    ledger = {entry.receipt: entry for entry in entries if entry.receipt not in duplicates}
    mismatched = tuple(
        Mismatch(
            receipt=receipt,
            statement_amount_minor=statement[receipt].amount_minor,
            statement_direction=statement[receipt].direction,
            ledger_amount_minor=entry.amount_minor,
            ledger_direction=entry.direction,
        )
        for receipt, entry in sorted(ledger.items())
        if receipt in statement
        and (
            statement[receipt].amount_minor != entry.amount_minor
            or statement[receipt].direction is not entry.direction
        )
    )
    return StatementMatch(
        missing_in_ledger=tuple(row for r, row in statement.items() if r not in ledger),
        missing_in_statement=tuple(
            entry for r, entry in sorted(ledger.items()) if r not in statement
        ),
        mismatched=mismatched,
        duplicate_receipts=tuple(duplicates),
        charges=tuple(charges),
        not_completed=tuple(not_completed),
    )
