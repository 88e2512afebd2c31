"""Fee tables: what a customer pays to send or withdraw money, what an agent earns, and the
merchant discount rate a business pays on each payment it takes.

A table is a list of bands by amount, as mobile-money operators publish them ("KES 101 to 500:
KES 7"). Fees are whole minor units read off the table; nothing is rounded. A merchant discount
rate is a percentage, so it rounds: up, in the operator's favour, and never above the payment.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class FeeKind(StrEnum):
    #: Paid by the sender of a person-to-person transfer.
    P2P = "p2p"
    #: Paid by a customer withdrawing cash at an agent.
    CASH_OUT = "cash_out"
    #: Earned by the agent for a withdrawal (paid out of the cash-out fee).
    CASH_OUT_COMMISSION = "cash_out_commission"
    #: Earned by the agent for a deposit (an operator cost; customers deposit for free).
    CASH_IN_COMMISSION = "cash_in_commission"
    #: Paid by a merchant on top of a payout to its bank or mobile-money number: the rail charges
    #: the operator for every transfer out.
    PAYOUT = "payout"
    #: Paid by a customer converting money to another currency (soko.fx), on top of the spread,
    #: by the band of what the customer is debited in the source currency. None by default: the
    #: spread is the price of a conversion unless the operator adds a fee.
    FX = "fx"


@dataclass(frozen=True, slots=True)
class FeeTable:
    """Bands as (highest amount in the band, fee), ascending; amounts above the last band pay
    the last band's fee (the KYC limits stop them long before)."""

    bands: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        tops = [top for top, _ in self.bands]
        assert tops, "a fee table has at least one band"
        assert tops == sorted(tops) and len(set(tops)) == len(tops), self.bands
        assert all(fee >= 0 for _, fee in self.bands), self.bands

    def fee_for(self, amount_minor: int) -> int:
        assert amount_minor > 0, amount_minor
        index = bisect_left([top for top, _ in self.bands], amount_minor)
        return self.bands[min(index, len(self.bands) - 1)][1]


FREE: Final = FeeTable(((2**63 - 1, 0),))


def _kes(*bands: tuple[int, int]) -> FeeTable:
    """A table written in whole shillings, stored in cents."""
    return FeeTable(tuple((top * 100, fee * 100) for top, fee in bands))


#: Default tariff by currency and kind, modelled on published Kenyan mobile-money tariffs.
#: Currencies without an entry charge nothing. Operators replace it with SOKO_TARIFF.
DEFAULT_TARIFF: Final[dict[tuple[str, FeeKind], FeeTable]] = {
    ("KES", FeeKind.P2P): _kes(
        (100, 0), (500, 7), (1_000, 13), (1_500, 23), (2_500, 33), (3_500, 53), (5_000, 57),
        (7_500, 78), (10_000, 90), (15_000, 100), (20_000, 105), (250_000, 108),
    ),
    ("KES", FeeKind.CASH_OUT): _kes(
        (100, 11), (2_500, 29), (3_500, 52), (5_000, 69), (7_500, 87), (10_000, 115),
        (15_000, 167), (20_000, 185), (35_000, 197), (50_000, 278), (250_000, 309),
    ),
    ("KES", FeeKind.CASH_OUT_COMMISSION): _kes(
        (100, 5), (2_500, 14), (3_500, 26), (5_000, 34), (7_500, 43), (10_000, 57),
        (15_000, 83), (20_000, 92), (35_000, 98), (50_000, 139), (250_000, 154),
    ),
    ("KES", FeeKind.CASH_IN_COMMISSION): _kes(
        (1_000, 5), (5_000, 15), (20_000, 40), (250_000, 75),
    ),
    ("UGX", FeeKind.P2P): FeeTable(
        ((2_500, 0), (5_000, 100), (15_000, 500), (30_000, 500), (45_000, 700), (60_000, 800),
         (125_000, 1_000), (250_000, 1_000), (500_000, 1_500), (1_000_000, 1_500),
         (7_000_000, 2_000)),
    ),
    ("UGX", FeeKind.CASH_OUT): FeeTable(
        ((5_000, 330), (15_000, 600), (30_000, 700), (45_000, 1_200), (60_000, 1_500),
         (125_000, 2_000), (250_000, 4_000), (500_000, 7_000), (1_000_000, 12_500),
         (7_000_000, 15_000)),
    ),
    ("UGX", FeeKind.CASH_OUT_COMMISSION): FeeTable(
        ((5_000, 150), (15_000, 300), (30_000, 350), (45_000, 600), (60_000, 750),
         (125_000, 1_000), (250_000, 2_000), (500_000, 3_500), (1_000_000, 6_000),
         (7_000_000, 7_500)),
    ),
    ("UGX", FeeKind.CASH_IN_COMMISSION): FeeTable(
        ((50_000, 200), (500_000, 1_000), (7_000_000, 2_500)),
    ),
    # Payouts: about what banks charge for an instant transfer out (PesaLink, mobile money B2C),
    # flat within wide bands, so that a merchant settling its day's takings pays a few
    # shillings; the operator passes the rail's cost on rather than earning on it.
    ("KES", FeeKind.PAYOUT): _kes(
        (1_000, 10), (10_000, 30), (100_000, 50), (999_999, 100),
    ),
    ("UGX", FeeKind.PAYOUT): FeeTable(
        ((500_000, 1_000), (5_000_000, 2_500), (50_000_000, 5_000)),
    ),
}  # fmt: skip


def fee_table(
    tariff: Mapping[tuple[str, FeeKind], FeeTable], currency: str, kind: FeeKind
) -> FeeTable:
    return tariff.get((currency, kind), FREE)


#: Basis points in one whole: 10,000 bp = 100 %.
BASIS_POINTS_WHOLE: Final = 10_000
#: The category key that applies to every merchant category without a rate of its own.
ANY_CATEGORY: Final = "*"


@dataclass(frozen=True, slots=True)
class MerchantRate:
    """A merchant discount rate (MDR): `basis_points` of the amount plus `fixed`, kept between
    `minimum` and `maximum` (all in minor units), and never more than the payment itself."""

    basis_points: int
    fixed: int = 0
    minimum: int = 0
    maximum: int = 2**63 - 1

    def __post_init__(self) -> None:
        assert 0 <= self.basis_points <= BASIS_POINTS_WHOLE, self
        assert self.fixed >= 0 and 0 <= self.minimum <= self.maximum, self

    def fee_for(self, amount_minor: int) -> int:
        assert amount_minor > 0, amount_minor
        # Ceiling division: a fraction of a minor unit is charged as a whole one (the operator's
        # books, never a fraction owed to no one).
        percentage = -(-amount_minor * self.basis_points // BASIS_POINTS_WHOLE)
        fee = min(max(percentage + self.fixed, self.minimum), self.maximum)
        return min(fee, amount_minor)


FREE_RATE: Final = MerchantRate(0)

#: Default merchant discount rates by (currency, ISO 18245 category or "*"), modelled on
#: published till tariffs (about 0.5 % with a cap). Operators replace them with SOKO_MDR.
DEFAULT_MERCHANT_RATES: Final[dict[tuple[str, str], MerchantRate]] = {
    ("KES", ANY_CATEGORY): MerchantRate(basis_points=50, maximum=200_00),
    # Groceries and pharmacies live on thin margins: a lower rate, as many schemes give them.
    ("KES", "5411"): MerchantRate(basis_points=25, maximum=100_00),
    ("KES", "5912"): MerchantRate(basis_points=25, maximum=100_00),
    ("UGX", ANY_CATEGORY): MerchantRate(basis_points=50, maximum=10_000),
}


def merchant_rate(
    rates: Mapping[tuple[str, str], MerchantRate], currency: str, category_code: str
) -> MerchantRate:
    """The category's own rate in the currency, else the currency's general one, else free."""
    return rates.get((currency, category_code)) or rates.get((currency, ANY_CATEGORY), FREE_RATE)
