"""Payouts: where a merchant's money goes out (bank account, mobile money), and a payout's life.

A payout is `requested` (funds held in the ledger), `submitted` once the payout rail has accepted
it, and ends `paid` (the holds are posted) or `failed` (the holds are voided: the money is back
in the wallet). It leaves `requested` and `submitted` only forwards, and each end state once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from soko.kernel import limits
from soko.notify.sms import N_
from soko.payouts.errors import (
    BankAccountNameInvalid,
    BankAccountNumberInvalid,
    BankCodeInvalid,
    MobileMoneyCurrencyMismatch,
)
from soko.people.domain import HOME_CURRENCY, country_of_phone, parse_phone


class PayoutState(StrEnum):
    #: Funds held; not yet accepted by the rail (or accepted, but we have not recorded it).
    REQUESTED = "requested"
    #: The rail has it and gave us its reference; we poll the rail for the outcome.
    SUBMITTED = "submitted"
    PAID = "paid"
    FAILED = "failed"


#: States the worker still has to move on; the others are final.
IN_FLIGHT: Final = frozenset({PayoutState.REQUESTED, PayoutState.SUBMITTED})


class RailOutcome(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RailStatus:
    """What the rail says about a payout it holds; a failure says why."""

    outcome: RailOutcome
    reason: str | None = None

    def __post_init__(self) -> None:
        assert (self.outcome is RailOutcome.FAILED) == (self.reason is not None), self


#: A destination as messages name it: never the whole number (Kiswahili in sms.po).
BANK_WORDS: Final = N_("bank {bank} a/c ...{digits}")
MOBILE_WORDS: Final = N_("mobile ...{digits}")


#: A catalogue lookup (msgid -> the reader's text), as `Reader._` is.
Translate = Callable[[str], str]


def _as_written(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class BankAccount:
    bank_code: str
    account_number: str
    account_name: str

    @property
    def kind(self) -> str:
        return "bank_account"

    def masked(self, translate: Translate = _as_written) -> str:
        """For messages, in the reader's language: the bank and the last four digits only."""
        return translate(BANK_WORDS).format(bank=self.bank_code, digits=self.account_number[-4:])


@dataclass(frozen=True, slots=True)
class MobileMoney:
    phone: str

    @property
    def kind(self) -> str:
        return "mobile_money"

    def masked(self, translate: Translate = _as_written) -> str:
        return translate(MOBILE_WORDS).format(digits=self.phone[-4:])


Destination = BankAccount | MobileMoney

# Bank codes: national clearing codes ("01", "0110") or SWIFT BICs ("KCBLKENX", 11 with branch).
_BANK_CODE: Final = re.compile(
    rf"[A-Z0-9]{{{limits.BANK_CODE_LENGTH_MIN},{limits.BANK_CODE_LENGTH_MAX}}}"
)
# Account numbers: digits and capital letters (an IBAN is at most 34), no spaces once trimmed.
_ACCOUNT_NUMBER: Final = re.compile(
    rf"[A-Z0-9]{{{limits.BANK_ACCOUNT_NUMBER_LENGTH_MIN},{limits.BANK_ACCOUNT_NUMBER_LENGTH_MAX}}}"
)


def check_destination(destination: Destination, currency: str) -> Destination:
    """The destination as stored (trimmed, upper-cased, E.164), or the first broken rule."""
    if isinstance(destination, MobileMoney):
        # E.164 only: a payout names a number on another network, with no region to assume.
        phone = parse_phone(destination.phone, None)
        country = country_of_phone(phone)
        if country is None or HOME_CURRENCY.get(country) != currency:
            # Mobile money wallets hold their country's currency only; a network cannot take
            # KES into a Ugandan wallet.
            raise MobileMoneyCurrencyMismatch(
                f"a {country or 'non-geographic'} number cannot receive {currency}",
                currency=currency,
            )
        return MobileMoney(phone)
    bank_code = _clean(destination.bank_code)
    if _BANK_CODE.fullmatch(bank_code) is None:
        raise BankCodeInvalid(
            f"{limits.BANK_CODE_LENGTH_MIN} to {limits.BANK_CODE_LENGTH_MAX} letters and digits"
        )
    account_number = _clean(destination.account_number).replace(" ", "").replace("-", "")
    if _ACCOUNT_NUMBER.fullmatch(account_number) is None:
        raise BankAccountNumberInvalid(
            f"{limits.BANK_ACCOUNT_NUMBER_LENGTH_MIN} to {limits.BANK_ACCOUNT_NUMBER_LENGTH_MAX}"
            " letters and digits (spaces and dashes are ignored)"
        )
    name = destination.account_name.strip() if isinstance(destination.account_name, str) else ""
    if not 1 <= len(name) <= limits.NAME_LENGTH_MAX or not name.isprintable():
        raise BankAccountNameInvalid(f"1 to {limits.NAME_LENGTH_MAX} printable characters")
    return BankAccount(bank_code, account_number, name)


def destination_fields(destination: Destination) -> dict[str, str]:
    """The destination as plain fields, with its `type`: for JSON (requests, results, events)."""
    if isinstance(destination, BankAccount):
        return {
            "type": destination.kind,
            "bank_code": destination.bank_code,
            "account_number": destination.account_number,
            "account_name": destination.account_name,
        }
    return {"type": destination.kind, "phone": destination.phone}


def _clean(text: object) -> str:
    return text.strip().upper() if isinstance(text, str) else ""


@dataclass(frozen=True, slots=True)
class Payout:
    """Money a merchant moves out of its wallet to a destination through a payout rail."""

    id: str
    merchant_id: str
    wallet_id: str
    currency: str
    amount: int
    fee: int
    destination: Destination
    state: PayoutState
    #: The rail the payout goes through (its name), and the rail's reference once submitted.
    rail: str
    rail_reference: str | None
    #: The pending transfers holding the amount (to settlement) and the fee (to fees).
    hold_id: str
    fee_hold_id: str | None
    failure_reason: str | None
    #: Status polls so far (they space out), and rail errors in a row (retries back off).
    polls: int
    rail_errors: int
    #: When the worker should next look at it; None once final.
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime


def poll_delay_seconds(polls: int) -> int:
    """Wait before the next status poll: 1 s, 2 s, 4 s ... up to the cap.

    Most rails finish in seconds; a slow one is asked less and less often.
    """
    return min(limits.PAYOUT_POLL_SECONDS_MIN << min(polls, 32), limits.PAYOUT_POLL_SECONDS_MAX)


def retry_delay_seconds(errors_in_a_row: int) -> int:
    """Wait after the rail errored: doubling from the minimum up to the cap.

    A payout is never given up on while it may be at the rail: only the rail's word voids it.
    """
    return min(
        limits.PAYOUT_RETRY_SECONDS_MIN << min(max(errors_in_a_row - 1, 0), 32),
        limits.PAYOUT_RETRY_SECONDS_MAX,
    )


def failure_reason(text: str) -> str:
    """A rail's reason as we keep it: printable ASCII, bounded (it goes into an SMS too)."""
    kept = "".join(c if c.isascii() and c.isprintable() else "?" for c in text).strip()
    return kept[: limits.PAYOUT_FAILURE_REASON_LENGTH_MAX] or "no reason given"
