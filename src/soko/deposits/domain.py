"""M-Pesa money in: a deposit by STK push, a C2B payment, a reversal, and their pure rules.

A deposit is `initiated` (recorded, the push not answered yet), then `pending` once Daraja took
the push and gave its CheckoutRequestID, and ends `paid` (the wallet credited once) or `failed`
with the outcome M-Pesa reported. A push whose answer was lost ends `unknown`: Soko never
pushes again (the phone may already show the first prompt), and nothing is credited unless an
operator assigns the payment. A C2B payment is `credited` to the wallet its account reference
names, or held in `suspense` until an operator assigns or returns it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from soko.deposits.errors import MpesaAmountInvalid, MpesaPhoneInvalid

#: M-Pesa moves Kenyan shillings only, in whole shillings.
CURRENCY: Final = "KES"
MINOR_PER_SHILLING: Final = 100
#: The largest single M-Pesa transaction (Safaricom's limit), in shillings.
SHILLINGS_MAX: Final = 250_000
#: Daraja's AccountReference is at most 12 characters: a deposit's own short reference.
ACCOUNT_REFERENCE_LENGTH: Final = 12
#: What Soko keeps of M-Pesa's free texts (result descriptions, reasons).
TEXT_LENGTH_MAX: Final = 200
#: Stk queries space out: the first after the configured wait, then doubling up to this.
QUERY_SECONDS_MAX: Final = 3600

_KENYAN_MOBILE: Final = re.compile(r"\+?254([17][0-9]{8})")


class DepositState(StrEnum):
    INITIATED = "initiated"
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    UNKNOWN = "unknown"


#: States the worker still moves on.
IN_FLIGHT: Final = frozenset({DepositState.INITIATED, DepositState.PENDING})


class DepositOutcome(StrEnum):
    """What became of an STK push, from M-Pesa's ResultCode."""

    PAID = "paid"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    CANCELLED = "cancelled"
    UNREACHABLE = "unreachable"
    EXPIRED = "expired"
    WRONG_PIN = "wrong_pin"
    FAILED = "failed"
    #: Not M-Pesa's word: Daraja refused the push, or was unreachable, before any prompt.
    REFUSED = "refused"
    #: Not M-Pesa's word: the push's answer was lost, so whether a prompt went out is unknown.
    OUTCOME_UNKNOWN = "outcome_unknown"

    @classmethod
    def of_result_code(cls, code: int) -> DepositOutcome:
        return _OUTCOMES.get(code, cls.FAILED)


_OUTCOMES: Final = {
    0: DepositOutcome.PAID,
    1: DepositOutcome.INSUFFICIENT_FUNDS,
    1032: DepositOutcome.CANCELLED,
    1037: DepositOutcome.UNREACHABLE,
    1019: DepositOutcome.EXPIRED,
    2001: DepositOutcome.WRONG_PIN,
}


@dataclass(frozen=True, slots=True)
class Deposit:
    """Money a person asked to bring in from M-Pesa by an STK push to their phone."""

    id: str
    user_id: str
    wallet_id: str
    shortcode: str
    #: The number prompted, as M-Pesa writes it (2547XXXXXXXX).
    phone: str
    amount: int
    currency: str
    account_reference: str
    state: DepositState
    checkout_request_id: str | None
    merchant_request_id: str | None
    #: M-Pesa's receipt; None until a callback carries it (a query does not).
    receipt: str | None
    outcome: DepositOutcome | None
    result_code: int | None
    result_desc: str | None
    transfer_id: str | None
    queries: int
    next_check_at: datetime | None
    created_at: datetime
    updated_at: datetime


class C2BState(StrEnum):
    CREDITED = "credited"
    SUSPENSE = "suspense"
    #: Taken out of suspense and given to its owner by an operator.
    ASSIGNED = "assigned"
    #: Sent back to the payer (a reversal M-Pesa confirmed).
    REVERSED = "reversed"


@dataclass(frozen=True, slots=True)
class C2BPayment:
    """A payment a customer made at the operator's paybill or a merchant's till, by TransID."""

    trans_id: str
    shortcode: str
    bill_ref_number: str
    msisdn: str
    amount: int
    currency: str
    state: C2BState
    #: Whose wallet it went to (None while in suspense).
    user_id: str | None
    transfer_id: str
    paid_at: datetime
    created_at: datetime


class ReversalState(StrEnum):
    REQUESTED = "requested"
    REVERSED = "reversed"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Reversal:
    """An operator's request that M-Pesa send a received payment back to its payer."""

    id: str
    #: The M-Pesa receipt of the payment reversed.
    receipt: str
    amount: int
    currency: str
    state: ReversalState
    #: Daraja's ids for the request, by which its Result is found.
    originator_conversation_id: str | None
    conversation_id: str | None
    result_code: str | None
    result_desc: str | None
    #: The reversal's own receipt, once M-Pesa confirmed it.
    reversal_receipt: str | None
    #: The hold on the money reversed, and the post or void that resolved it.
    hold_id: str
    transfer_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Receipt:
    """One ledger movement per M-Pesa transaction: the ledger side of statement matching."""

    receipt: str
    kind: str
    #: "in" when money came into the float, "out" when it left.
    direction: str
    amount: int
    shortcode: str
    transfer_id: str | None
    source_id: str


def whole_shillings(amount_minor: int) -> int:
    """`amount_minor` if M-Pesa can move it: a whole number of shillings up to its limit."""
    shillings, cents = divmod(amount_minor, MINOR_PER_SHILLING)
    if amount_minor <= 0 or cents or shillings > SHILLINGS_MAX:
        raise MpesaAmountInvalid(
            f"KES 1 to {SHILLINGS_MAX:,} in whole shillings; got {amount_minor} cents",
            amount_minor=amount_minor,
        )
    return amount_minor


def msisdn(phone: str) -> str:
    """A Kenyan mobile number (+2547…, 2547…, 07…) as M-Pesa writes it: 2547XXXXXXXX or
    2541XXXXXXXX."""
    cleaned = phone.replace(" ", "")
    if cleaned.startswith("0"):  # as Kenyans write it: 0712 345 678
        cleaned = "254" + cleaned[1:]
    matched = _KENYAN_MOBILE.fullmatch(cleaned)
    if matched is None:
        raise MpesaPhoneInvalid("a Kenyan mobile number, +2547XXXXXXXX or +2541XXXXXXXX")
    return "254" + matched.group(1)


def e164(msisdn_: str) -> str:
    return "+" + msisdn_


def matches_request(deposit: Deposit, *, amount_minor: int, phone: str) -> bool:
    """Whether a paid callback is for what Soko asked: the very amount, from the very phone.

    Daraja signs nothing; a callback that names a real CheckoutRequestID but another amount or
    phone is forged or broken, and moves nothing.
    """
    return amount_minor == deposit.amount and phone.strip() == deposit.phone


def query_delay_seconds(first_seconds: int, queries: int) -> int:
    """Wait before asking M-Pesa about a deposit again: the configured wait, then doubling."""
    return min(first_seconds << min(queries, 16), max(QUERY_SECONDS_MAX, first_seconds))


def bounded_text(text: str) -> str:
    """M-Pesa's free text as Soko keeps it: printable, bounded."""
    kept = "".join(c if c.isprintable() else "?" for c in text).strip()
    return kept[:TEXT_LENGTH_MAX]


def account_reference(deposit_id: str) -> str:
    """The deposit's reference on the customer's prompt and on the organisation statement:
    the last 12 characters of its id (the random part, upper case), unique enough to tell a
    deposit from the others of its day and short enough for Daraja."""
    return deposit_id.rsplit("_", 1)[-1][-ACCOUNT_REFERENCE_LENGTH:].upper()


def bill_reference_kind(reference: str) -> tuple[str, str] | None:
    """What a C2B account reference names: ("phone", 2547…) or ("till", digits); None if it
    names nothing Soko knows how to read."""
    cleaned = reference.strip().replace(" ", "")
    matched = _KENYAN_MOBILE.fullmatch(cleaned) or _KENYAN_MOBILE.fullmatch(
        "254" + cleaned[1:] if cleaned.startswith("0") else cleaned
    )
    if matched is not None:
        return ("phone", "254" + matched.group(1))
    if cleaned.isdecimal() and 5 <= len(cleaned) <= 8:
        return ("till", cleaned)
    return None


class CheckKind(StrEnum):
    """What a transaction status query is asked for."""

    #: A C2B confirmation, credited only once M-Pesa's own status query confirms it.
    C2B = "c2b"
    #: A reversal whose request answer or Result was lost: the original receipt's status says.
    REVERSAL = "reversal"


class CheckState(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class StatusCheck:
    """A transaction Soko asks M-Pesa's Transaction Status API about until it has an answer.

    Its Result is believed only when it answers the very query Soko sent: its
    OriginatorConversationID is the one Daraja's synchronous answer (over TLS, to Soko's own
    request) gave, which a forger on the callback path cannot know.
    """

    kind: CheckKind
    #: The C2B TransID, or the reversal's id.
    subject: str
    #: The M-Pesa receipt asked about (the C2B TransID, or the payment being reversed).
    transaction_id: str
    state: CheckState
    #: OriginatorConversationID of the last query sent (None before the first).
    query_id: str | None
    queries: int
    next_check_at: datetime | None
    amount: int
    #: What the C2B confirmation said (empty for a reversal).
    shortcode: str
    bill_ref_number: str
    msisdn: str
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime


#: M-Pesa's words for a transaction's state in a status Result.
STATUS_COMPLETED: Final = "Completed"
STATUS_REVERSED: Final = "Reversed"


def status_delay_seconds(first_seconds: int, queries: int) -> int:
    """Wait before the next status query: the configured wait, then doubling, capped."""
    return query_delay_seconds(first_seconds, queries)


@dataclass(frozen=True, slots=True)
class StatementCredit:
    """The audit record of a receipt an operator credited from the organisation statement."""

    receipt: str
    #: "stk" (a deposit whose callback was lost) or "c2b" (a confirmation that never came).
    kind: str
    #: The deposit's id, or the C2B TransID.
    source_id: str
    amount: int
    account_number: str
    #: Of the statement file the receipt was read from.
    statement_sha256: str
    credited_by: str
    reason: str
    #: The movement it caused (None when the receipt only completed a deposit already paid).
    transfer_id: str | None
    created_at: datetime
