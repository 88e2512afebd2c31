"""Escrow orders ("guaranteed trade"): the states, the one table of allowed moves, the timers.

The buyer's money is held from funding until the goods arrive. Every move an order can make is a
row of `TRANSITIONS`; any other (state, action) pair is refused with the error that names why
(`refusal`). Timers are deadlines stored on the order: `next_timer` says which one runs in the
current state, and a dispute pauses them all (`resumed` shifts them by the time it lasted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from soko.escrow.errors import (
    EscrowAlreadyCancelled,
    EscrowAlreadyDelivered,
    EscrowAlreadyFunded,
    EscrowAlreadyRefunded,
    EscrowAlreadyReleased,
    EscrowAlreadyResolved,
    EscrowAlreadyShipped,
    EscrowDisputed,
    EscrowNotDelivered,
    EscrowNotDisputed,
    EscrowNotFunded,
    EscrowNotShipped,
    EscrowSplitMismatch,
)
from soko.kernel.errors import DomainError


class EscrowState(StrEnum):
    CREATED = "created"
    FUNDED = "funded"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    DISPUTED = "disputed"
    RELEASED = "released"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    RESOLVED = "resolved"


#: States whose money is held in escrow: the escrow account's pending credits are their sum.
HOLDING: Final = frozenset(
    {EscrowState.FUNDED, EscrowState.SHIPPED, EscrowState.DELIVERED, EscrowState.DISPUTED}
)
#: States an order never leaves.
CLOSED: Final = frozenset(
    {EscrowState.RELEASED, EscrowState.CANCELLED, EscrowState.REFUNDED, EscrowState.RESOLVED}
)


class EscrowAction(StrEnum):
    #: The buyer pays into escrow.
    FUND = "fund"
    #: The buyer withdraws an order it has not paid for.
    CANCEL_BY_BUYER = "cancel_by_buyer"
    #: The seller withdraws before shipping; a funded order is refunded in full.
    CANCEL_BY_SELLER = "cancel_by_seller"
    #: The seller hands the goods to a carrier (a shipment with a tracking number).
    SHIP = "ship"
    #: The carrier (or an operator) reports delivery: the inspection period starts.
    DELIVER = "deliver"
    #: The carrier reports the goods went back to the seller: the buyer is refunded.
    RETURN = "return"
    #: The buyer says the goods arrived: released at once.
    CONFIRM_RECEIPT = "confirm_receipt"
    #: The courier or seller enters the buyer's delivery code at handover: released at once.
    ENTER_DELIVERY_CODE = "enter_delivery_code"
    #: The buyer disputes before release: the money is frozen and the timers pause.
    DISPUTE = "dispute"
    #: The buyer takes the dispute back: the order returns where it was, the timers resume.
    WITHDRAW_DISPUTE = "withdraw_dispute"
    #: An operator settles a dispute: release, refund, or a split of the held amount.
    RESOLVE = "resolve"
    #: Timers, run by the worker.
    SHIP_BY_PASSED = "ship_by_passed"
    DELIVERY_DEADLINE_PASSED = "delivery_deadline_passed"
    INSPECTION_ENDED = "inspection_ended"


class UndeliveredRule(StrEnum):
    """What happens to a funded order never delivered by its delivery deadline (per operator)."""

    REFUND = "refund"
    DISPUTE = "dispute"


S, A = EscrowState, EscrowAction
#: `WITHDRAW_DISPUTE` goes back to the state the dispute was opened from.
RESUME: Final = "resume"
#: `DELIVERY_DEADLINE_PASSED` goes where the operator's `UndeliveredRule` says.
BY_RULE: Final = "by_rule"

#: Every allowed move. Whatever is not here is refused.
TRANSITIONS: Final[dict[tuple[EscrowState, EscrowAction], EscrowState | str]] = {
    (S.CREATED, A.FUND): S.FUNDED,
    (S.CREATED, A.CANCEL_BY_BUYER): S.CANCELLED,
    (S.CREATED, A.CANCEL_BY_SELLER): S.CANCELLED,
    (S.FUNDED, A.CANCEL_BY_SELLER): S.REFUNDED,
    (S.FUNDED, A.SHIP): S.SHIPPED,
    (S.FUNDED, A.CONFIRM_RECEIPT): S.RELEASED,
    (S.FUNDED, A.ENTER_DELIVERY_CODE): S.RELEASED,
    (S.FUNDED, A.DISPUTE): S.DISPUTED,
    (S.FUNDED, A.SHIP_BY_PASSED): S.REFUNDED,
    (S.FUNDED, A.DELIVERY_DEADLINE_PASSED): BY_RULE,
    (S.SHIPPED, A.DELIVER): S.DELIVERED,
    (S.SHIPPED, A.RETURN): S.REFUNDED,
    (S.SHIPPED, A.CONFIRM_RECEIPT): S.RELEASED,
    (S.SHIPPED, A.ENTER_DELIVERY_CODE): S.RELEASED,
    (S.SHIPPED, A.DISPUTE): S.DISPUTED,
    (S.SHIPPED, A.DELIVERY_DEADLINE_PASSED): BY_RULE,
    (S.DELIVERED, A.RETURN): S.REFUNDED,
    (S.DELIVERED, A.CONFIRM_RECEIPT): S.RELEASED,
    (S.DELIVERED, A.ENTER_DELIVERY_CODE): S.RELEASED,
    (S.DELIVERED, A.DISPUTE): S.DISPUTED,
    (S.DELIVERED, A.INSPECTION_ENDED): S.RELEASED,
    (S.DISPUTED, A.WITHDRAW_DISPUTE): RESUME,
    (S.DISPUTED, A.RESOLVE): S.RESOLVED,
}

_CLOSED_ERRORS: Final[dict[EscrowState, type[DomainError]]] = {
    S.RELEASED: EscrowAlreadyReleased,
    S.REFUNDED: EscrowAlreadyRefunded,
    S.CANCELLED: EscrowAlreadyCancelled,
    S.RESOLVED: EscrowAlreadyResolved,
}
_SHIPPED_OR_LATER: Final = frozenset({S.SHIPPED, S.DELIVERED})

#: For an open order, the first rule that matches names the refusal.
_OPEN_REFUSALS: Final[
    tuple[tuple[Callable[[EscrowState, EscrowAction], bool], type[DomainError]], ...]
] = (
    (lambda state, _: state is S.DISPUTED, EscrowDisputed),
    (lambda _, action: action in (A.FUND, A.CANCEL_BY_BUYER), EscrowAlreadyFunded),
    (lambda state, _: state is S.CREATED, EscrowNotFunded),
    (lambda _, action: action in (A.SHIP, A.CANCEL_BY_SELLER, A.SHIP_BY_PASSED),
     EscrowAlreadyShipped),
    (lambda _, action: action in (A.WITHDRAW_DISPUTE, A.RESOLVE), EscrowNotDisputed),
    (lambda state, action: state in _SHIPPED_OR_LATER
     and action in (A.DELIVER, A.RETURN, A.DELIVERY_DEADLINE_PASSED),
     EscrowAlreadyDelivered),
    (lambda _, action: action in (A.DELIVER, A.RETURN), EscrowNotShipped),
    (lambda _, action: action is A.INSPECTION_ENDED, EscrowNotDelivered),
)  # fmt: skip


def refusal(state: EscrowState, action: EscrowAction) -> DomainError:
    """Why `action` may not happen in `state`: the error named after the rule it breaks."""
    assert (state, action) not in TRANSITIONS, (state, action)
    detail = f"an order that is {state.value} cannot take {action.value}"
    if state in CLOSED:
        return _CLOSED_ERRORS[state](detail, state=state.value, action=action.value)
    error = next(error for applies, error in _OPEN_REFUSALS if applies(state, action))
    return error(detail, state=state.value, action=action.value)


def next_state(
    state: EscrowState,
    action: EscrowAction,
    *,
    disputed_from: EscrowState | None = None,
    undelivered: UndeliveredRule = UndeliveredRule.REFUND,
) -> EscrowState:
    """Where `action` takes an order in `state`, or the refusal."""
    found = TRANSITIONS.get((state, action))
    if found is None:
        raise refusal(state, action)
    if found == RESUME:
        assert disputed_from is not None and disputed_from in HOLDING, disputed_from
        return disputed_from
    if found == BY_RULE:
        return S.REFUNDED if undelivered is UndeliveredRule.REFUND else S.DISPUTED
    assert isinstance(found, EscrowState)
    return found


@dataclass(frozen=True, slots=True)
class EscrowPolicy:
    """An operator's escrow timers (SOKO_ESCROW_*; defaults in kernel/limits.py)."""

    #: After delivery, how long the buyer has to dispute before the money is released.
    inspection_seconds: int
    #: After the ship-by date, how long the carrier has to deliver.
    delivery_seconds: int
    #: What happens to an order not delivered by then.
    undelivered: UndeliveredRule


@dataclass(frozen=True, slots=True)
class Deadlines:
    """An order's clocks. `inspection_ends` is set when delivery is confirmed."""

    ship_by: datetime
    deliver_by: datetime
    inspection_ends: datetime | None = None

    def shifted(self, by: timedelta) -> Deadlines:
        """The same deadlines pushed back by a pause (a dispute that was withdrawn)."""
        return replace(
            self,
            ship_by=self.ship_by + by,
            deliver_by=self.deliver_by + by,
            inspection_ends=None if self.inspection_ends is None else self.inspection_ends + by,
        )


def next_timer(state: EscrowState, deadlines: Deadlines) -> tuple[EscrowAction, datetime] | None:
    """The timer that runs in `state`: the earliest deadline the state is waiting on."""
    match state:
        case S.FUNDED:
            # Not shipped by the ship-by date: refund. A ship-by date after the delivery
            # deadline would be the seller's promise outliving the buyer's: the earlier wins.
            if deadlines.ship_by <= deadlines.deliver_by:
                return A.SHIP_BY_PASSED, deadlines.ship_by
            return A.DELIVERY_DEADLINE_PASSED, deadlines.deliver_by
        case S.SHIPPED:
            return A.DELIVERY_DEADLINE_PASSED, deadlines.deliver_by
        case S.DELIVERED:
            assert deadlines.inspection_ends is not None
            return A.INSPECTION_ENDED, deadlines.inspection_ends
        case _:
            return None  # created (nothing held yet), disputed (paused), closed


def check_split(amount: int, to_buyer: int, to_seller: int) -> None:
    """A dispute's split must share exactly the held amount, in non-negative parts."""
    if to_buyer < 0 or to_seller < 0 or to_buyer + to_seller != amount:
        raise EscrowSplitMismatch(
            f"the parts ({to_buyer} to the buyer, {to_seller} to the seller) must add up to "
            f"the {amount} held",
            held=amount,
        )


__all__ = [
    "BY_RULE",
    "CLOSED",
    "HOLDING",
    "RESUME",
    "TRANSITIONS",
    "Deadlines",
    "EscrowAction",
    "EscrowPolicy",
    "EscrowState",
    "UndeliveredRule",
    "check_split",
    "next_state",
    "next_timer",
    "refusal",
]


@dataclass(frozen=True, slots=True)
class OrderItem:
    name: str
    quantity: int


@dataclass(frozen=True, slots=True)
class EscrowOrder:
    """A guaranteed trade: what the buyer pays for, where the money is, which clock runs."""

    id: str
    seller_id: str
    buyer_id: str
    currency: str
    amount: int
    description: str | None
    items: tuple[OrderItem, ...]
    state: EscrowState
    disputed_from: EscrowState | None
    disputed_at: datetime | None
    deadlines: Deadlines
    timer_action: EscrowAction | None
    timer_due_at: datetime | None
    hold_id: str | None
    code_failures: int
    #: Where the money went once closed: the seller's part, the fee on it, the buyer's part.
    released: int
    fee: int
    refunded: int
    created_at: datetime
    updated_at: datetime
    #: The parcel's shipment (escrow.tracking) once the seller shipped.
    shipment_id: str | None = None
    #: The FX quote the buyer funded it with, from a wallet in another currency: a refund gives
    #: back the buyer's own currency at that quote (ADR 0022).
    fx_quote_id: str | None = None


@dataclass(frozen=True, slots=True)
class EscrowDispute:
    id: str
    order_id: str
    reason: str
    message: str
    evidence: tuple[str, ...]
    seller_answer: str | None
    answered_at: datetime | None
    #: withdrawn, release, refund or split; None while open.
    outcome: str | None
    to_buyer: int | None
    to_seller: int | None
    note: str | None
    opened_at: datetime
    closed_at: datetime | None
