"""Fee tables as tables: every band edge of every default tariff, and the tariff's own sanity."""

from __future__ import annotations

import itertools

import pytest

from soko.kernel import limits
from soko.payments.fees import DEFAULT_TARIFF, FREE, FeeKind, FeeTable, fee_table

TABLES = [
    pytest.param(table, id=f"{currency}-{kind}")
    for (currency, kind), table in sorted(DEFAULT_TARIFF.items())
]

#: One row per band of every default table: its top, the fee at the top, and the fee one minor
#: unit above it (the next band's, or the last band's own above the last top).
BAND_EDGES = [
    pytest.param(
        table,
        top,
        fee,
        table.bands[index + 1][1] if index + 1 < len(table.bands) else fee,
        id=f"{currency}-{kind}-band{index}-top{top}",
    )
    for (currency, kind), table in sorted(DEFAULT_TARIFF.items())
    for index, (top, fee) in enumerate(table.bands)
]


@pytest.mark.parametrize(("table", "top", "fee_at_top", "fee_above"), BAND_EDGES)
def test_fee_at_band_edges(table: FeeTable, top: int, fee_at_top: int, fee_above: int) -> None:
    assert table.fee_for(top) == fee_at_top
    assert table.fee_for(top + 1) == fee_above


@pytest.mark.parametrize("table", TABLES)
def test_the_first_band_starts_at_one_minor_unit(table: FeeTable) -> None:
    assert table.fee_for(1) == table.bands[0][1]


@pytest.mark.parametrize("table", TABLES)
def test_the_last_band_applies_above_it(table: FeeTable) -> None:
    last_top, last_fee = table.bands[-1]
    for amount in (last_top + 1, last_top * 10, limits.AMOUNT_MINOR_MAX):
        assert table.fee_for(amount) == last_fee


@pytest.mark.parametrize("table", TABLES)
def test_default_tables_have_ascending_tops_and_non_negative_fees(table: FeeTable) -> None:
    tops = [top for top, _ in table.bands]
    assert table.bands
    assert tops[0] > 0
    assert all(lower < higher for lower, higher in itertools.pairwise(tops))
    assert all(fee >= 0 for _, fee in table.bands)


@pytest.mark.parametrize(
    ("currency", "kind"),
    sorted(DEFAULT_TARIFF),
    ids=[f"{currency}-{kind}" for currency, kind in sorted(DEFAULT_TARIFF)],
)
def test_the_last_band_covers_the_highest_kyc_transaction(currency: str, kind: FeeKind) -> None:
    """The docstring's promise: amounts above the last band are stopped by KYC long before."""
    highest = max(row[0] for row in limits.KYC_LIMITS[currency].values())
    assert DEFAULT_TARIFF[currency, kind].bands[-1][0] >= highest


@pytest.mark.parametrize(
    "amount",
    [1, 100, 10_000_00, 250_000_00, limits.AMOUNT_MINOR_MAX],
    ids=["1", "100", "10k-major", "250k-major", "max"],
)
def test_free_is_zero_for_any_amount(amount: int) -> None:
    assert FREE.fee_for(amount) == 0


@pytest.mark.parametrize(
    ("currency", "kind"),
    [
        pytest.param("TZS", FeeKind.P2P, id="TZS-p2p"),
        pytest.param("USD", FeeKind.CASH_OUT, id="USD-cash-out"),
        pytest.param("XOF", FeeKind.CASH_IN_COMMISSION, id="XOF-cash-in-commission"),
        pytest.param("kes", FeeKind.P2P, id="lowercase-is-another-currency"),
    ],
)
def test_fee_table_falls_back_to_free(currency: str, kind: FeeKind) -> None:
    assert fee_table(DEFAULT_TARIFF, currency, kind) is FREE


@pytest.mark.parametrize("kind", list(FeeKind), ids=[kind.value for kind in FeeKind])
def test_fee_table_of_an_empty_tariff_is_free(kind: FeeKind) -> None:
    assert fee_table({}, "KES", kind) is FREE


@pytest.mark.parametrize(
    ("currency", "kind"),
    sorted(DEFAULT_TARIFF),
    ids=[f"{currency}-{kind}" for currency, kind in sorted(DEFAULT_TARIFF)],
)
def test_fee_table_finds_the_tariff_entry(currency: str, kind: FeeKind) -> None:
    assert fee_table(DEFAULT_TARIFF, currency, kind) is DEFAULT_TARIFF[currency, kind]


@pytest.mark.parametrize(
    "bands",
    [
        pytest.param(((500, 7), (100, 0)), id="descending"),
        pytest.param(((100, 0), (100, 7)), id="repeated-top"),
        pytest.param(((100, -1),), id="negative-fee"),
    ],
)
def test_a_malformed_table_is_a_programmer_error(bands: tuple[tuple[int, int], ...]) -> None:
    with pytest.raises(AssertionError):
        FeeTable(bands)


# --- the agent's commission comes out of the customer's fee -----------------------------------

COMMISSION_CURRENCIES = sorted(
    currency for currency, kind in DEFAULT_TARIFF if kind is FeeKind.CASH_OUT_COMMISSION
)


def _edges(*tables: FeeTable) -> list[int]:
    """Every amount where a fee can change: 1, each top, and one above each top."""
    return sorted({1} | {amount for t in tables for top, _ in t.bands for amount in (top, top + 1)})


@pytest.mark.parametrize("currency", COMMISSION_CURRENCIES)
def test_cash_out_commission_never_exceeds_the_cash_out_fee(currency: str) -> None:
    fee = fee_table(DEFAULT_TARIFF, currency, FeeKind.CASH_OUT)
    commission = fee_table(DEFAULT_TARIFF, currency, FeeKind.CASH_OUT_COMMISSION)
    assert fee is not FREE, f"{currency} pays a commission out of no fee"
    for amount in _edges(fee, commission):
        assert commission.fee_for(amount) <= fee.fee_for(amount), amount


def test_some_currency_pays_a_cash_out_commission() -> None:
    """Guards the test above against an empty parametrization."""
    assert {"KES", "UGX"} <= set(COMMISSION_CURRENCIES)
