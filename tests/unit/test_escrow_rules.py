"""The escrow transition table, every state against every action: where each allowed move
leads, and the error each refused one raises (named after the rule it breaks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from soko.escrow.domain import (
    CLOSED,
    HOLDING,
    TRANSITIONS,
    Deadlines,
    EscrowAction,
    EscrowState,
    UndeliveredRule,
    check_split,
    next_state,
    next_timer,
)
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

S, A = EscrowState, EscrowAction

#: The whole table written out again, by hand, as the issue states it: allowed moves.
ALLOWED = {
    (S.CREATED, A.FUND): S.FUNDED,
    (S.CREATED, A.CANCEL_BY_BUYER): S.CANCELLED,
    (S.CREATED, A.CANCEL_BY_SELLER): S.CANCELLED,
    (S.FUNDED, A.CANCEL_BY_SELLER): S.REFUNDED,
    (S.FUNDED, A.SHIP): S.SHIPPED,
    (S.FUNDED, A.CONFIRM_RECEIPT): S.RELEASED,
    (S.FUNDED, A.ENTER_DELIVERY_CODE): S.RELEASED,
    (S.FUNDED, A.DISPUTE): S.DISPUTED,
    (S.FUNDED, A.SHIP_BY_PASSED): S.REFUNDED,
    (S.FUNDED, A.DELIVERY_DEADLINE_PASSED): S.REFUNDED,
    (S.SHIPPED, A.DELIVER): S.DELIVERED,
    (S.SHIPPED, A.RETURN): S.REFUNDED,
    (S.SHIPPED, A.CONFIRM_RECEIPT): S.RELEASED,
    (S.SHIPPED, A.ENTER_DELIVERY_CODE): S.RELEASED,
    (S.SHIPPED, A.DISPUTE): S.DISPUTED,
    (S.SHIPPED, A.DELIVERY_DEADLINE_PASSED): S.REFUNDED,
    (S.DELIVERED, A.RETURN): S.REFUNDED,
    (S.DELIVERED, A.CONFIRM_RECEIPT): S.RELEASED,
    (S.DELIVERED, A.ENTER_DELIVERY_CODE): S.RELEASED,
    (S.DELIVERED, A.DISPUTE): S.DISPUTED,
    (S.DELIVERED, A.INSPECTION_ENDED): S.RELEASED,
    (S.DISPUTED, A.WITHDRAW_DISPUTE): S.SHIPPED,  # from where it was opened: here, shipped
    (S.DISPUTED, A.RESOLVE): S.RESOLVED,
}

#: Why each refused move is refused, by the first rule that applies.
CLOSED_ERRORS = {
    S.RELEASED: EscrowAlreadyReleased,
    S.REFUNDED: EscrowAlreadyRefunded,
    S.CANCELLED: EscrowAlreadyCancelled,
    S.RESOLVED: EscrowAlreadyResolved,
}


#: Refusals of open orders, written out state by state.
OPEN_REFUSALS: dict[EscrowState, dict[type[DomainError], set[EscrowAction]]] = {
    S.CREATED: {EscrowNotFunded: set(A) - {A.FUND, A.CANCEL_BY_BUYER, A.CANCEL_BY_SELLER}},
    S.FUNDED: {
        EscrowAlreadyFunded: {A.FUND, A.CANCEL_BY_BUYER},
        EscrowNotShipped: {A.DELIVER, A.RETURN},
        EscrowNotDisputed: {A.WITHDRAW_DISPUTE, A.RESOLVE},
        EscrowNotDelivered: {A.INSPECTION_ENDED},
    },
    S.SHIPPED: {
        EscrowAlreadyFunded: {A.FUND, A.CANCEL_BY_BUYER},
        EscrowAlreadyShipped: {A.SHIP, A.CANCEL_BY_SELLER, A.SHIP_BY_PASSED},
        EscrowNotDisputed: {A.WITHDRAW_DISPUTE, A.RESOLVE},
        EscrowNotDelivered: {A.INSPECTION_ENDED},
    },
    S.DELIVERED: {
        EscrowAlreadyFunded: {A.FUND, A.CANCEL_BY_BUYER},
        EscrowAlreadyShipped: {A.SHIP, A.CANCEL_BY_SELLER, A.SHIP_BY_PASSED},
        EscrowNotDisputed: {A.WITHDRAW_DISPUTE, A.RESOLVE},
        EscrowAlreadyDelivered: {A.DELIVER, A.DELIVERY_DEADLINE_PASSED},
    },
    S.DISPUTED: {EscrowDisputed: set(A) - {A.WITHDRAW_DISPUTE, A.RESOLVE}},
}


def expected_refusal(state: EscrowState, action: EscrowAction) -> type[DomainError]:
    if state in CLOSED_ERRORS:
        return CLOSED_ERRORS[state]
    [error] = [error for error, actions in OPEN_REFUSALS[state].items() if action in actions]
    return error


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("action", list(A))
def test_every_state_and_action(state: EscrowState, action: EscrowAction) -> None:
    if (state, action) in ALLOWED:
        assert next_state(state, action, disputed_from=S.SHIPPED) is ALLOWED[state, action]
    else:
        with pytest.raises(expected_refusal(state, action)) as refused:
            next_state(state, action, disputed_from=S.SHIPPED)
        assert refused.value.context == {"state": state.value, "action": action.value}


def test_the_table_is_exactly_the_allowed_moves() -> None:
    assert set(TRANSITIONS) == set(ALLOWED)
    refused = {(state, action) for state, rows in OPEN_REFUSALS.items()
               for actions in rows.values() for action in actions}  # fmt: skip
    # Every open (state, action) is either allowed or refused for exactly one reason.
    assert refused.isdisjoint(ALLOWED)
    assert refused | set(ALLOWED) == {(s, a) for s in OPEN_REFUSALS for a in A}
    assert len(list(S)) * len(list(A)) == 9 * 14


def test_closed_states_take_nothing_and_open_ones_hold_money() -> None:
    assert not {state for state, _ in TRANSITIONS} & CLOSED
    assert {S.FUNDED, S.SHIPPED, S.DELIVERED, S.DISPUTED} == HOLDING


@pytest.mark.parametrize("before", [S.FUNDED, S.SHIPPED, S.DELIVERED])
def test_a_withdrawn_dispute_goes_back_where_it_came_from(before: EscrowState) -> None:
    assert next_state(S.DISPUTED, A.WITHDRAW_DISPUTE, disputed_from=before) is before


@pytest.mark.parametrize(
    ("rule", "after"),
    [(UndeliveredRule.REFUND, S.REFUNDED), (UndeliveredRule.DISPUTE, S.DISPUTED)],
)
def test_the_operator_chooses_what_an_undelivered_order_becomes(
    rule: UndeliveredRule, after: EscrowState
) -> None:
    for state in (S.FUNDED, S.SHIPPED):
        assert next_state(state, A.DELIVERY_DEADLINE_PASSED, undelivered=rule) is after


NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
DAY = timedelta(days=1)


def test_the_timer_that_runs_in_each_state() -> None:
    deadlines = Deadlines(ship_by=NOW + 2 * DAY, deliver_by=NOW + 16 * DAY)
    assert next_timer(S.CREATED, deadlines) is None
    assert next_timer(S.FUNDED, deadlines) == (A.SHIP_BY_PASSED, NOW + 2 * DAY)
    assert next_timer(S.SHIPPED, deadlines) == (A.DELIVERY_DEADLINE_PASSED, NOW + 16 * DAY)
    delivered = Deadlines(deadlines.ship_by, deadlines.deliver_by, inspection_ends=NOW + 3 * DAY)
    assert next_timer(S.DELIVERED, delivered) == (A.INSPECTION_ENDED, NOW + 3 * DAY)
    for paused_or_closed in (S.DISPUTED, *CLOSED):
        assert next_timer(paused_or_closed, delivered) is None
    # A pause moves every clock by its length.
    assert deadlines.shifted(DAY) == Deadlines(NOW + 3 * DAY, NOW + 17 * DAY)


@pytest.mark.parametrize(
    ("to_buyer", "to_seller", "ok"),
    [(0, 100, True), (100, 0, True), (37, 63, True), (50, 49, False), (-1, 101, False),
     (101, -1, False), (0, 0, False)],
)  # fmt: skip
def test_a_split_shares_exactly_the_held_amount(to_buyer: int, to_seller: int, ok: bool) -> None:
    if ok:
        check_split(100, to_buyer, to_seller)
    else:
        with pytest.raises(EscrowSplitMismatch):
            check_split(100, to_buyer, to_seller)
