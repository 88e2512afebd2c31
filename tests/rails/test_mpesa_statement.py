"""The organisation statement CSV: all-or-nothing parsing with the bad line named, and the
match against ledger entries with differences planted on both sides."""

from __future__ import annotations

from datetime import datetime

import pytest

from soko.rails.mpesa.callbacks import NAIROBI
from soko.rails.mpesa.statement import (
    Direction,
    LedgerEntry,
    StatementInvalid,
    match_statement,
    parse_statement,
)

HEADER = (
    "Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,"
    "Balance,Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,A/C No."
)
ROWS = [
    "SKL1A2B3C4,2024-03-01 10:00:05,2024-03-01 10:00:01,Pay Bill Online from 254708374149 - "
    'JANE Acc. INV1,Completed,"1,500.00",,"101,500.00",true,Pay Bill Online,'
    "254708374149 - JANE,,INV1",
    "SKL1A2B3C5,2024-03-01 11:00:00,2024-03-01 11:00:00,Pay Bill from 254711111111 - JOHN "
    'Acc. SHOP,Completed,200.00,,"101,700.00",true,Pay Bill,254711111111 - JOHN,,SHOP',
    "SKL1A2B3C6,2024-03-01 12:00:00,2024-03-01 12:00:00,Business Payment to 254722222222 - "
    'AMINA,Completed,,-700.00,"101,000.00",true,Business Payment to Customer via API,'
    "254722222222 - AMINA,,",
    "SKL1A2B3C6,2024-03-01 12:00:00,2024-03-01 12:00:00,Business Payment Charge,Completed,,"
    '-15.00,"100,985.00",true,Business Payment to Customer Charge,,,',
    "SKL1A2B3C7,2024-03-01 13:00:00,2024-03-01 13:00:00,Pay Bill Online from 254733333333,"
    "Cancelled,,,,false,Pay Bill Online,254733333333,,INV2",
]
PREAMBLE = [
    "Account Holder:,SOKO SHOP,,,,,,,,,,,",
    "Short Code:,174379,,,,,,,,,,,",
    "Time Period:,01-03-2024 - 01-03-2024,,,,,,,,,,,",
    "",
]


def statement(*rows: str, preamble: bool = True) -> str:
    lines = [*(PREAMBLE if preamble else []), HEADER, *rows, "", ""]
    return "\ufeff" + "\r\n".join(lines)


def test_rows_are_read_exactly_past_the_preamble() -> None:
    rows = parse_statement(statement(*ROWS))
    assert [row.line for row in rows] == [6, 7, 8, 9, 10]
    first, _, payout, charge, cancelled = rows
    assert (first.receipt, first.paid_in_minor, first.withdrawn_minor) == (
        "SKL1A2B3C4",
        150_000,
        None,
    )
    assert first.balance_minor == 10_150_000 and first.balance_confirmed
    assert first.completed_at == datetime(2024, 3, 1, 10, 0, 5, tzinfo=NAIROBI)
    assert (first.direction, first.amount_minor, first.account_number) == (
        Direction.IN,
        150_000,
        "INV1",
    )
    assert (payout.direction, payout.withdrawn_minor) == (Direction.OUT, 70_000)
    assert charge.is_charge and not payout.is_charge
    assert (cancelled.status, cancelled.direction, cancelled.balance_minor) == (
        "Cancelled",
        None,
        None,
    )
    assert parse_statement(statement(*ROWS, preamble=False))[0].line == 2


def test_the_other_date_format_and_unsigned_withdrawals_are_read() -> None:
    row = ROWS[2].replace("2024-03-01 12:00:00", "01-03-2024 12:00:00").replace("-700.00", "700.00")
    [parsed] = parse_statement(statement(row))
    assert parsed.completed_at == datetime(2024, 3, 1, 12, 0, tzinfo=NAIROBI)
    assert parsed.withdrawn_minor == 70_000


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        (ROWS[0].replace('"1,500.00"', "1500.505"), "Paid In"),
        (ROWS[0].replace('"1,500.00"', "-1500.00"), "negative"),
        (ROWS[0].replace('"1,500.00"', '"1,50,0.00"'), "Paid In"),
        (ROWS[0].replace('"101,500.00"', "lots"), "Balance"),
        (ROWS[0].replace("2024-03-01 10:00:05", "yesterday"), "Completion Time"),
        (ROWS[0].replace("SKL1A2B3C4", "skl1a2b3c4"), "receipt"),
        (ROWS[0].replace("SKL1A2B3C4", "SKL1A2B3"), "receipt"),
        (ROWS[0].replace(",,INV1", ",INV1"), "12 columns"),
        (ROWS[0].replace(',,"101,500.00"', ',"5.00","101,500.00"'), "both"),
        (ROWS[0].replace(",true,", ",maybe,"), "Balance Confirmed"),
        (ROWS[0].replace(",Completed,", ",,"), "Transaction Status"),
    ],
)
def test_one_bad_line_refuses_the_whole_statement_and_is_named(bad_row: str, reason: str) -> None:
    with pytest.raises(StatementInvalid, match=reason) as refused:
        parse_statement(statement(ROWS[1], bad_row, ROWS[2]))
    assert refused.value.line == 7
    assert str(refused.value).startswith("line 7: ")


def test_a_file_without_the_header_is_refused() -> None:
    with pytest.raises(StatementInvalid, match="no header") as refused:
        parse_statement("Receipt,Amount\r\nSKL1A2B3C4,100\r\n")
    assert refused.value.line == 0


def test_a_statement_that_agrees_with_the_ledger() -> None:
    rows = parse_statement(statement(*ROWS))
    ledger = [
        LedgerEntry("SKL1A2B3C4", 150_000, Direction.IN),
        LedgerEntry("SKL1A2B3C5", 20_000, Direction.IN),
        LedgerEntry("SKL1A2B3C6", 70_000, Direction.OUT),
    ]
    match = match_statement(rows, ledger)
    assert match.agrees
    assert [row.receipt for row in match.charges] == ["SKL1A2B3C6"]
    assert [row.receipt for row in match.not_completed] == ["SKL1A2B3C7"]


def test_planted_differences_are_all_reported() -> None:
    rows = parse_statement(statement(*ROWS))
    ledger = [
        # SKL1A2B3C4 is missing from the ledger (a lost callback never credited).
        LedgerEntry("SKL1A2B3C5", 2_000, Direction.IN),  # the wrong amount
        LedgerEntry("SKL1A2B3C6", 70_000, Direction.IN),  # the wrong direction
        LedgerEntry("SKL9Z9Z9Z9", 5_000, Direction.IN),  # credited, never paid
        LedgerEntry("SKL1A2B3C7", 1_000, Direction.IN),  # cancelled on M-Pesa, credited here
    ]
    match = match_statement(rows, ledger)
    assert not match.agrees
    assert [row.receipt for row in match.missing_in_ledger] == ["SKL1A2B3C4"]
    assert [entry.receipt for entry in match.missing_in_statement] == ["SKL1A2B3C7", "SKL9Z9Z9Z9"]
    assert [
        (m.receipt, m.statement_amount_minor, m.ledger_amount_minor) for m in match.mismatched
    ] == [
        ("SKL1A2B3C5", 20_000, 2_000),
        ("SKL1A2B3C6", 70_000, 70_000),
    ]
    assert match.mismatched[1].statement_direction is Direction.OUT


def test_duplicate_receipts_are_reported_not_matched() -> None:
    rows = parse_statement(statement(ROWS[0], ROWS[0].replace("10:00:05", "10:00:06"), ROWS[1]))
    ledger = [
        LedgerEntry("SKL1A2B3C5", 20_000, Direction.IN),
        LedgerEntry("SKL1A2B3C5", 20_000, Direction.IN),
    ]
    match = match_statement(rows, ledger)
    assert match.duplicate_receipts == ("SKL1A2B3C4", "SKL1A2B3C5")
    assert not (match.missing_in_ledger or match.missing_in_statement or match.mismatched)
    assert not match.agrees
