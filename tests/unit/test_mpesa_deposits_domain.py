"""M-Pesa deposits' pure rules as tables: amounts, numbers, references, outcomes, waits."""

from __future__ import annotations

import pytest

from soko.deposits.domain import (
    DepositOutcome,
    account_reference,
    bill_reference_kind,
    msisdn,
    query_delay_seconds,
    whole_shillings,
)
from soko.deposits.errors import MpesaAmountInvalid, MpesaPhoneInvalid


@pytest.mark.parametrize(
    ("minor", "ok"),
    [(100, True), (25_000_000, True), (0, False), (-100, False), (150, False),
     (25_000_100, False)],
)  # fmt: skip
def test_mpesa_moves_whole_shillings_up_to_its_limit(minor: int, ok: bool) -> None:
    if ok:
        assert whole_shillings(minor) == minor
    else:
        with pytest.raises(MpesaAmountInvalid):
            whole_shillings(minor)


@pytest.mark.parametrize(
    ("phone", "expected"),
    [("+254712345678", "254712345678"), ("254112345678", "254112345678"),
     ("0712 345 678", "254712345678"), ("+256712345678", None), ("+25471234567", None),
     ("+254212345678", None)],
)  # fmt: skip
def test_phone_numbers_as_mpesa_writes_them(phone: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(MpesaPhoneInvalid):
            msisdn(phone)
    else:
        assert msisdn(phone) == expected


@pytest.mark.parametrize(
    ("reference", "expected"),
    [("0722100200", ("phone", "254722100200")), ("254722100200", ("phone", "254722100200")),
     ("+254722100200", ("phone", "254722100200")), ("228300", ("till", "228300")),
     ("INV-1", None), ("", None), ("12", None)],
)  # fmt: skip
def test_what_a_c2b_account_reference_names(
    reference: str, expected: tuple[str, str] | None
) -> None:
    assert bill_reference_kind(reference) == expected


@pytest.mark.parametrize(
    ("code", "outcome"),
    [(0, "paid"), (1, "insufficient_funds"), (1032, "cancelled"), (1037, "unreachable"),
     (1019, "expired"), (2001, "wrong_pin"), (17, "failed"), (1001, "failed")],
)  # fmt: skip
def test_every_result_code_has_an_outcome(code: int, outcome: str) -> None:
    assert DepositOutcome.of_result_code(code) == DepositOutcome(outcome)


def test_queries_space_out_and_stop_growing() -> None:
    assert [query_delay_seconds(60, n) for n in range(4)] == [60, 120, 240, 480]
    assert query_delay_seconds(60, 30) == 3600


def test_the_account_reference_is_twelve_characters_of_the_id() -> None:
    assert account_reference("dep_01JH4Y8R3N9Y6U4W7P0C1D2E3F") == "6U4W7P0C1D2E3F"[-12:]
    assert len(account_reference("dep_01JH4Y8R3N9Y6U4W7P0C1D2E3F")) == 12
