"""The chart of accounts: the kinds of ledger account and the operator's system accounts."""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from enum import IntFlag, StrEnum
from typing import Final


class AccountFlags(IntFlag):
    """Balance rules an account carries for life (TigerBeetle's account flags)."""

    NONE = 0
    #: A liability, such as a customer's wallet: it may never be spent below zero.
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1
    #: An asset, such as money at the operator's bank: more cannot leave it than came in.
    CREDITS_MUST_NOT_EXCEED_DEBITS = 2


class AccountCode(StrEnum):
    """What an account is for. Customer kinds first, then the operator's system accounts."""

    WALLET = "wallet"
    MERCHANT = "merchant"
    AGENT_FLOAT = "agent_float"
    SETTLEMENT = "settlement"
    FEES = "fees"
    ESCROW = "escrow"
    FX_LIQUIDITY = "fx_liquidity"
    LOANS_RECEIVABLE = "loans_receivable"
    LENDER_CAPITAL = "lender_capital"
    SUSPENSE = "suspense"
    COMMISSION_EXPENSE = "commission_expense"
    MPESA_FLOAT = "mpesa_float"


#: How many accounts share the fee account's role per currency (ADR 0011). Fixed for life: a
#: refund takes its fee share back from the bucket the payment paid it into, found again by
#: the same hash, so changing this would send refunds to buckets that never saw their fees.
FEE_BUCKETS: Final = 32


@dataclass(frozen=True, slots=True)
class SystemAccount:
    """One of the operator's own accounts, opened once per currency on first use.

    A hot role (every payment pays a fee) is split into `buckets` accounts per currency, so
    that payments from different payers never queue for one row; the role's balance is the sum
    of its buckets.
    """

    code: AccountCode
    flags: AccountFlags
    description: str
    buckets: int = 1

    def name(self, currency: str, bucket: int = 0) -> str:
        """A bucket's unique name in the ledger: ``fees:KES`` for the first, ``fees:KES:7``."""
        assert 0 <= bucket < self.buckets, (self.code, bucket)
        base = f"{self.code.value}:{currency}"
        return base if bucket == 0 else f"{base}:{bucket}"

    def qualified_name(self, currency: str, qualifier: str) -> str:
        """The name of one of several accounts of an unbucketed role, told apart by what they
        stand for: ``mpesa_float:KES:174379`` is the float of M-Pesa short code 174379."""
        # Only an unbucketed role: a bucket's name ends in its number, as a short code would.
        assert self.buckets == 1 and qualifier.isalnum(), (self.code, qualifier)
        return f"{self.code.value}:{currency}:{qualifier}"

    def names(self, currency: str) -> list[str]:
        return [self.name(currency, bucket) for bucket in range(self.buckets)]

    def bucket_for(self, spread_by: str) -> int:
        """The bucket that the account `spread_by` (the one paying) always uses: stable across
        processes and releases (CRC-32, not Python's salted hash)."""
        return binascii.crc32(spread_by.encode()) % self.buckets


_LIABILITY: Final = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
_ASSET: Final = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS

#: The system accounts every currency gets. Debit-normal assets may not be credited past their
#: debits; credit-normal liabilities and revenue may not be debited past their credits.
SYSTEM_ACCOUNTS: Final[dict[AccountCode, SystemAccount]] = {
    account.code: account
    for account in (
        SystemAccount(
            AccountCode.SETTLEMENT,
            _ASSET,
            "Money the operator holds for its customers at banks and in cash (asset). Money "
            "enters Soko by a debit here and leaves by a credit, never more than came in.",
        ),
        SystemAccount(
            AccountCode.FEES,
            _LIABILITY,
            "Fees the operator has earned (revenue); paid out to the operator, never below zero.",
            buckets=FEE_BUCKETS,
        ),
        SystemAccount(
            AccountCode.ESCROW,
            _LIABILITY,
            "Buyers' money held until the goods arrive; equals the sum of open escrow orders.",
        ),
        SystemAccount(
            AccountCode.FX_LIQUIDITY,
            AccountFlags.NONE,
            "The operator's position in a currency for cross-border conversions.",
        ),
        SystemAccount(
            AccountCode.LOANS_RECEIVABLE,
            _ASSET,
            "Principal lent to merchants and not yet repaid (asset). Every sale of a merchant "
            "with a loan repays into it, so it is split like the fees (ADR 0011).",
            buckets=FEE_BUCKETS,
        ),
        SystemAccount(
            AccountCode.LENDER_CAPITAL,
            _LIABILITY,
            "The lender's capital put in for merchant loans (funded from settlement). Loans "
            "outstanding never exceed it, so every lent shilling is backed; write-offs reduce it.",
        ),
        SystemAccount(
            AccountCode.SUSPENSE,
            AccountFlags.NONE,
            "Money whose owner is not known yet, such as a transfer to an unregistered number.",
        ),
        SystemAccount(
            AccountCode.COMMISSION_EXPENSE,
            AccountFlags.NONE,
            "Commissions the operator pays agents for deposits: its cost (debit-normal), paid "
            "for out of fee revenue when the operator settles its books.",
        ),
        SystemAccount(
            AccountCode.MPESA_FLOAT,
            _ASSET,
            "Money the operator holds at M-Pesa, one account per short code "
            "(`mpesa_float:KES:<short code>`). Deposits and C2B payments debit it, B2C payouts "
            "and reversals credit it, never more than came in.",
        ),
    )
}

#: Kinds that hold customers' money and so must never go below zero.
CUSTOMER_ACCOUNT_CODES: Final = frozenset(
    {AccountCode.WALLET, AccountCode.MERCHANT, AccountCode.AGENT_FLOAT}
)

#: The order in which every transaction locks accounts (ADR 0011): people's wallets and
#: agents' floats, then merchants, then the operator's system accounts; by id within each. A
#: payment locks its payer first, for the limits, and the busy accounts it pays into last,
#: just before writing: a hot merchant's row is then held for the shortest time, and any two
#: transactions still take their locks in one global order, so they never deadlock.
LOCK_RANKS: Final[dict[AccountCode, int]] = {
    code: 1 if code is AccountCode.MERCHANT else 0 if code in CUSTOMER_ACCOUNT_CODES else 2
    for code in AccountCode
}


class TransferCode(StrEnum):
    """Why money moved. Every transfer carries one; `docs/money-flows.md` draws each flow."""

    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    P2P = "p2p"
    PAYMENT = "payment"
    FEE = "fee"
    REFUND = "refund"
    CASH_IN = "cash_in"
    CASH_OUT = "cash_out"
    COMMISSION = "commission"
    FLOAT_TOPUP = "float_topup"
    PAYOUT = "payout"
    ESCROW_HOLD = "escrow_hold"
    ESCROW_RELEASE = "escrow_release"
    LOAN_DISBURSEMENT = "loan_disbursement"
    LOAN_REPAYMENT = "loan_repayment"
    LOAN_FEE = "loan_fee"
    LOAN_WRITE_OFF = "loan_write_off"
    CAPITAL_INJECTION = "capital_injection"
    FX_CONVERSION = "fx_conversion"
    CORRECTION = "correction"
