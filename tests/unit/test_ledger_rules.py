"""The ledger's rules as tables: `plan_transfers` and `validate_account`, pure, no database.

One world of accounts and holds serves every row (see WORLD below); each row names the requests,
the clock, and either the error code (with the failing index) or the exact plan: every counter of
every touched account, the transfers made and the holds created or resolved.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from soko.kernel import limits
from soko.kernel.errors import DomainError
from soko.ledger.chart import AccountCode, AccountFlags, TransferCode
from soko.ledger.domain import (
    Account,
    LedgerPlan,
    PendingState,
    Transfer,
    TransferFlags,
    TransferRequest,
    expire,
    hold,
    move,
    plan_transfers,
    post,
    validate_account,
    void,
)
from soko.ledger.errors import AccountsMustBeDifferent, ExceedsCredits

MAX = limits.AMOUNT_MINOR_MAX
TIMEOUT_MAX = limits.PENDING_TIMEOUT_SECONDS_MAX
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
#: When the hold "timed" times out.
EXPIRY = NOW + timedelta(seconds=60)
TICK = timedelta(microseconds=1)
LIABILITY = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
ASSET = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
NONE = TransferFlags.NONE
PENDING = TransferFlags.PENDING
POST = TransferFlags.POST_PENDING
VOID = TransferFlags.VOID_PENDING
EXPIRE = TransferFlags.EXPIRE_PENDING
LONG_REFERENCE = "r" * (limits.REFERENCE_LENGTH_MAX + 1)

# --- the world every row starts from -----------------------------------------------------------


def account(
    account_id: str,
    flags: AccountFlags = AccountFlags.NONE,
    *,
    currency: str = "KES",
    dpend: int = 0,
    dpost: int = 0,
    cpend: int = 0,
    cpost: int = 0,
) -> Account:
    return Account(
        id=account_id,
        currency=currency,
        code=AccountCode.WALLET,
        flags=flags,
        debits_pending=dpend,
        debits_posted=dpost,
        credits_pending=cpend,
        credits_posted=cpost,
    )


def pending(
    transfer_id: str,
    amount: int,
    *,
    expires_at: datetime | None = None,
    flags: TransferFlags = PENDING,
    code: TransferCode = TransferCode.PAYMENT,
    reference: str | None = None,
) -> Transfer:
    """A hold from alice to bob made an hour ago."""
    return Transfer(
        id=transfer_id,
        debit_account_id="alice",
        credit_account_id="bob",
        amount=amount,
        currency="KES",
        code=code,
        flags=flags,
        created_at=NOW - timedelta(hours=1),
        expires_at=expires_at,
        reference=reference,
    )


ACCOUNTS: Mapping[str, Account] = {
    a.id: a
    for a in (
        # A wallet with 1000 in and two open holds ("hold" 200, "timed" 100): 700 available.
        account("alice", LIABILITY, cpost=1000, dpend=300),
        account("bob", LIABILITY, cpend=300),
        # Money at the bank: 1000 came in, so at most 1000 may leave.
        account("bank", ASSET, dpost=1000),
        # No balance rule: may go either way.
        account("fees"),
        account("agent"),
        account("shop", LIABILITY, currency="UGX", cpost=50),
        # Counters 1 short of the 64-bit maximum, split over pending and posted.
        account("big", dpend=10, dpost=MAX - 11, cpend=10, cpost=MAX - 11),
        # The same, and a wallet's balance rule broken too (debits above credits).
        account("big_wallet", LIABILITY, dpost=MAX - 1, cpost=5),
    )
}
REFERENCED: Mapping[str, Transfer] = {
    t.id: t
    for t in (
        pending("hold", 200, reference="order-1"),
        pending("timed", 100, expires_at=EXPIRY, code=TransferCode.ESCROW_HOLD),
        pending("posted", 50),
        pending("voided", 50),
        pending("expired", 50, expires_at=NOW - timedelta(seconds=60)),
        pending("plain", 10, flags=NONE),
    )
}
STATES: Mapping[str, PendingState] = {
    "hold": PendingState.PENDING,
    "timed": PendingState.PENDING,
    "posted": PendingState.POSTED,
    "voided": PendingState.VOIDED,
    "expired": PendingState.EXPIRED,
}


def plan(requests: Sequence[TransferRequest], now: datetime = NOW) -> LedgerPlan:
    """`plan_transfers` on fresh copies of the world, checking it left them untouched."""
    accounts, referenced, states = dict(ACCOUNTS), dict(REFERENCED), dict(STATES)
    try:
        return plan_transfers(accounts, referenced, states, requests, now)
    finally:
        assert (accounts, referenced, states) == (ACCOUNTS, REFERENCED, STATES)


def refusal(requests: Sequence[TransferRequest], now: datetime = NOW) -> DomainError:
    with pytest.raises(DomainError) as caught:
        plan(requests, now)
    return caught.value


# --- request builders: the public ones, with any field overridden -----------------------------


def mv(
    debit: str = "alice", credit: str = "bob", amount: int | None = 100, **fields: Any
) -> TransferRequest:
    """A plain transfer of KES `amount`; `fields` override TransferRequest fields (id: "t")."""
    request = move(
        fields.pop("id", "t"),
        debit_account_id=debit,
        credit_account_id=credit,
        amount=0,
        currency="KES",
        code=TransferCode.P2P,
    )
    return replace(request, amount=amount, **fields)


def hd(
    debit: str = "alice", credit: str = "bob", amount: int | None = 100, **fields: Any
) -> TransferRequest:
    """A hold of KES `amount`; `fields` override TransferRequest fields (id: "h")."""
    request = hold(
        fields.pop("id", "h"),
        debit_account_id=debit,
        credit_account_id=credit,
        amount=0,
        currency="KES",
        code=TransferCode.ESCROW_HOLD,
    )
    return replace(request, amount=amount, **fields)


def c(dpend: int = 0, dpost: int = 0, cpend: int = 0, cpost: int = 0) -> tuple[int, ...]:
    """An account's four counters: debits pending, debits posted, credits pending and posted."""
    return (dpend, dpost, cpend, cpost)


def counters(a: Account) -> tuple[int, ...]:
    return (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)


def tr(
    transfer_id: str,
    amount: int,
    flags: TransferFlags = NONE,
    pending_id: str | None = None,
    *,
    debit: str = "alice",
    credit: str = "bob",
) -> tuple[object, ...]:
    return (transfer_id, debit, credit, amount, flags, pending_id)


def summary(t: Transfer) -> tuple[object, ...]:
    return (t.id, t.debit_account_id, t.credit_account_id, t.amount, t.flags, t.pending_id)


def refused(
    row_id: str,
    requests: TransferRequest | list[TransferRequest],
    code: str,
    *,
    index: int | None = 0,
    now: datetime = NOW,
) -> Any:
    batch = requests if isinstance(requests, list) else [requests]
    return pytest.param(batch, now, code, index, id=row_id)


# --- refusals: one row per rule ----------------------------------------------------------------

TOO_MANY = [
    mv(id=f"t{i}", debit="fees", amount=1) for i in range(limits.TRANSFERS_PER_BATCH_MAX + 1)
]

REFUSALS = [
    # The batch.
    refused("empty batch", [], "batch_empty", index=None),
    refused("one transfer over the batch limit", TOO_MANY, "batch_too_large", index=None),
    # A request on its own, in precedence order.
    refused("pending and post", hd(flags=PENDING | POST), "transfer_flags_are_mutually_exclusive"),
    refused("void and expire", mv(flags=VOID | EXPIRE), "transfer_flags_are_mutually_exclusive"),
    refused(
        "unknown flag bit", mv(flags=TransferFlags(16)), "transfer_flags_are_mutually_exclusive"
    ),
    refused("move naming a pending id", mv(pending_id="hold"), "pending_id_must_be_null"),
    refused("hold naming a pending id", hd(pending_id="hold"), "pending_id_must_be_null"),
    refused("no transfer code", mv(code=None), "transfer_code_unknown"),
    refused("timeout on a move", mv(timeout_seconds=60), "timeout_reserved_for_pending_transfer"),
    refused(
        "timeout on a post",
        replace(post("p", "hold"), timeout_seconds=60),
        "timeout_reserved_for_pending_transfer",
    ),
    refused("negative hold timeout", hd(timeout_seconds=-1), "pending_timeout_invalid"),
    refused(
        "hold timeout one over the max",
        hd(timeout_seconds=TIMEOUT_MAX + 1),
        "pending_timeout_invalid",
    ),
    refused("reference one too long", mv(reference=LONG_REFERENCE), "reference_too_long"),
    refused("hold reference too long", hd(reference=LONG_REFERENCE), "reference_too_long"),
    refused(
        "post reference too long",
        replace(post("p", "hold"), reference=LONG_REFERENCE),
        "reference_too_long",
    ),
    refused("zero amount", mv(amount=0), "amount_must_be_positive"),
    refused("negative amount", mv(amount=-1), "amount_must_be_positive"),
    refused("no amount", mv(amount=None), "amount_must_be_positive"),
    refused("zero hold", hd(amount=0), "amount_must_be_positive"),
    refused("post of zero", post("p", "hold", 0), "amount_must_be_positive"),
    refused("post of a negative amount", post("p", "hold", -5), "amount_must_be_positive"),
    refused("amount of 2**63", mv(amount=2**63), "amount_overflows"),
    refused("hold of 2**63", hd(amount=2**63), "amount_overflows"),
    # The accounts, in precedence order.
    refused("same account both sides", mv("alice", "alice"), "accounts_must_be_different"),
    refused("unknown debit account", mv("ghost", "bob"), "debit_account_not_found"),
    refused("unknown credit account", mv("alice", "ghost"), "credit_account_not_found"),
    refused("KES to UGX", mv("alice", "shop"), "accounts_must_have_the_same_currency"),
    refused("UGX amount, KES accounts", mv(currency="UGX"), "currency_mismatch"),
    refused("debits pending+posted overflow", mv("big", "fees", 2), "overflows_debits"),
    refused("credits pending+posted overflow", mv("fees", "big", 2), "overflows_credits"),
    refused("hold overflows debits", hd("big", "fees", 2), "overflows_debits"),
    refused("one unit over available", mv(amount=701), "exceeds_credits"),
    refused("holds count against available", mv(amount=1000), "exceeds_credits"),
    refused("hold one unit over available", hd(amount=701), "exceeds_credits"),
    refused("asset credited one over its debits", mv("fees", "bank", 1001), "exceeds_debits"),
    refused("asset held one over its debits", hd("fees", "bank", 1001), "exceeds_debits"),
    # Resolving a hold, in precedence order.
    refused(
        "post without pending id",
        TransferRequest("p", flags=POST),
        "pending_id_required",
    ),
    refused("void of an unknown hold", void("v", "ghost"), "pending_transfer_not_found"),
    refused("post of a plain transfer", post("p", "plain"), "pending_transfer_not_pending"),
    refused("post of a posted hold", post("p", "posted"), "pending_transfer_already_posted"),
    refused("void of a posted hold", void("v", "posted"), "pending_transfer_already_posted"),
    refused("post of a voided hold", post("p", "voided"), "pending_transfer_already_voided"),
    refused("expire of a voided hold", expire("x", "voided"), "pending_transfer_already_voided"),
    refused("post of an expired hold", post("p", "expired"), "pending_transfer_already_expired"),
    refused(
        "expire of an expired hold", expire("x", "expired"), "pending_transfer_already_expired"
    ),
    refused("post at expires_at", post("p", "timed"), "pending_transfer_expired", now=EXPIRY),
    refused(
        "post after expires_at",
        post("p", "timed"),
        "pending_transfer_expired",
        now=EXPIRY + timedelta(days=1),
    ),
    refused("void at expires_at", void("v", "timed"), "pending_transfer_expired", now=EXPIRY),
    refused(
        "expire a tick before expires_at",
        expire("x", "timed"),
        "pending_transfer_not_expired",
        now=EXPIRY - TICK,
    ),
    refused(
        "expire a hold without timeout",
        expire("x", "hold"),
        "pending_transfer_not_expired",
        now=NOW + timedelta(days=3650),
    ),
    refused("post one over the hold", post("p", "hold", 201), "exceeds_pending_transfer_amount"),
    # Batches: a request sees the ones before it; the first failure is reported with its index.
    refused(
        "second move exceeds what the first left",
        [mv(id="t0", amount=700), mv(id="t1", amount=1)],
        "exceeds_credits",
        index=1,
    ),
    refused(
        "third transfer fails",
        [mv(id="t0"), mv(id="t1"), mv(id="t2", amount=0)],
        "amount_must_be_positive",
        index=2,
    ),
    refused(
        "first of two failures is reported",
        [mv(id="t0"), mv(id="t1", amount=0), mv("alice", "alice", id="t2")],
        "amount_must_be_positive",
        index=1,
    ),
    refused(
        "hold then pending-counted move over available",
        [hd(amount=600), mv(id="t1", amount=101)],
        "exceeds_credits",
        index=1,
    ),
    refused(
        "asset: hold then credit past its debits",
        [hd("fees", "bank", 600), mv("fees", "bank", 401, id="t1")],
        "exceeds_debits",
        index=1,
    ),
    refused(
        "post the same hold twice",
        [post("p0", "hold"), post("p1", "hold")],
        "pending_transfer_already_posted",
        index=1,
    ),
    refused(
        "hold, post, void in one batch",
        [hd(), post("p", "h"), void("v", "h")],
        "pending_transfer_already_posted",
        index=2,
    ),
    refused(
        "expire a hold made in the same batch",
        [hd(timeout_seconds=60), expire("x", "h")],
        "pending_transfer_not_expired",
        index=1,
    ),
]

# Requests that break two rules: the one checked first wins, always.
PRECEDENCE = [
    refused(
        "flags beat pending id",
        mv(flags=PENDING | POST, pending_id="hold"),
        "transfer_flags_are_mutually_exclusive",
    ),
    refused("pending id beats code", mv(pending_id="hold", code=None), "pending_id_must_be_null"),
    refused("code beats timeout", mv(code=None, timeout_seconds=60), "transfer_code_unknown"),
    refused(
        "negative timeout on a move is reserved, not invalid",
        mv(timeout_seconds=-1),
        "timeout_reserved_for_pending_transfer",
    ),
    refused(
        "timeout range beats reference",
        hd(timeout_seconds=-1, reference=LONG_REFERENCE),
        "pending_timeout_invalid",
    ),
    refused("reference beats amount", mv(amount=0, reference=LONG_REFERENCE), "reference_too_long"),
    refused("zero amount beats same accounts", mv("alice", "alice", 0), "amount_must_be_positive"),
    refused("overflow beats same accounts", mv("alice", "alice", 2**63), "amount_overflows"),
    refused("same accounts beats unknown", mv("ghost", "ghost"), "accounts_must_be_different"),
    refused(
        "unknown debit beats currency mismatch",
        mv("ghost", "bob", currency="UGX"),
        "debit_account_not_found",
    ),
    refused("unknown debit beats unknown credit", mv("ghost", "nobody"), "debit_account_not_found"),
    refused(
        "different currencies beat mismatch",
        mv("alice", "shop", currency="UGX"),
        "accounts_must_have_the_same_currency",
    ),
    refused("currency mismatch beats balance", mv(amount=701, currency="UGX"), "currency_mismatch"),
    refused("overflow beats exceeds_credits", mv("big_wallet", "fees", 2), "overflows_debits"),
    refused("debit overflow beats credit overflow", mv("big_wallet", "big", 2), "overflows_debits"),
    refused("debit balance beats credit balance", mv("alice", "bank", 1001), "exceeds_credits"),
    refused(
        "pending id beats timeout on a post",
        TransferRequest("p", flags=POST, timeout_seconds=60),
        "pending_id_required",
    ),
    refused(
        "reference beats lookup",
        replace(post("p", "ghost"), reference=LONG_REFERENCE),
        "reference_too_long",
    ),
    refused(
        "already expired beats timed out",
        post("p", "expired"),
        "pending_transfer_already_expired",
    ),
    refused(
        "timed out beats amount",
        post("p", "timed", 0),
        "pending_transfer_expired",
        now=EXPIRY,
    ),
    refused(
        "timed out beats over-posting",
        post("p", "timed", 101),
        "pending_transfer_expired",
        now=EXPIRY,
    ),
]


@pytest.mark.parametrize(("requests", "now", "code", "index"), REFUSALS + PRECEDENCE)
def test_refused(
    requests: list[TransferRequest], now: datetime, code: str, index: int | None
) -> None:
    error = refusal(requests, now)
    assert error.code == code
    assert error.context.get("index") == index


# --- accepted batches: the exact plan ---------------------------------------------------------


def accepted(
    row_id: str,
    requests: TransferRequest | list[TransferRequest],
    *,
    accounts: dict[str, tuple[int, ...]],
    transfers: list[tuple[object, ...]],
    created: dict[str, PendingState] | None = None,
    resolved: dict[str, PendingState] | None = None,
    now: datetime = NOW,
) -> Any:
    batch = requests if isinstance(requests, list) else [requests]
    expected = (accounts, transfers, created or {}, resolved or {})
    return pytest.param(batch, now, expected, id=row_id)


ACCEPTED = [
    accepted(
        "spend exactly the available balance",
        mv(amount=700),
        accounts={"alice": c(dpend=300, dpost=700, cpost=1000), "bob": c(cpend=300, cpost=700)},
        transfers=[tr("t", 700)],
    ),
    accepted(
        "an account without a balance rule goes below zero",
        mv("fees", "bob", 5000),
        accounts={"fees": c(dpost=5000), "bob": c(cpend=300, cpost=5000)},
        transfers=[tr("t", 5000, debit="fees")],
    ),
    accepted(
        "credit an asset up to its debits",
        mv("fees", "bank", 1000),
        accounts={"fees": c(dpost=1000), "bank": c(dpost=1000, cpost=1000)},
        transfers=[tr("t", 1000, debit="fees", credit="bank")],
    ),
    accepted(
        "counters may reach the 64-bit maximum exactly",
        mv("big", "fees", 1),
        accounts={"big": c(dpend=10, dpost=MAX - 10, cpend=10, cpost=MAX - 11), "fees": c(cpost=1)},
        transfers=[tr("t", 1, debit="big", credit="fees")],
    ),
    accepted(
        "the largest amount",
        mv("fees", "agent", MAX),
        accounts={"fees": c(dpost=MAX), "agent": c(cpost=MAX)},
        transfers=[tr("t", MAX, debit="fees", credit="agent")],
    ),
    accepted(
        "reference at the limit",
        mv(reference="r" * limits.REFERENCE_LENGTH_MAX),
        accounts={"alice": c(dpend=300, dpost=100, cpost=1000), "bob": c(cpend=300, cpost=100)},
        transfers=[tr("t", 100)],
    ),
    accepted(
        "hold exactly the available balance",
        hd(amount=700),
        accounts={"alice": c(dpend=1000, cpost=1000), "bob": c(cpend=1000)},
        transfers=[tr("h", 700, PENDING)],
        created={"h": PendingState.PENDING},
    ),
    accepted(
        "hold with the longest timeout",
        hd(amount=1, timeout_seconds=TIMEOUT_MAX),
        accounts={"alice": c(dpend=301, cpost=1000), "bob": c(cpend=301)},
        transfers=[tr("h", 1, PENDING)],
        created={"h": PendingState.PENDING},
    ),
    accepted(
        "post a hold in full",
        post("p", "hold"),
        accounts={"alice": c(dpend=100, dpost=200, cpost=1000), "bob": c(cpend=100, cpost=200)},
        transfers=[tr("p", 200, POST, "hold")],
        resolved={"hold": PendingState.POSTED},
    ),
    accepted(
        "post exactly the held amount",
        post("p", "hold", 200),
        accounts={"alice": c(dpend=100, dpost=200, cpost=1000), "bob": c(cpend=100, cpost=200)},
        transfers=[tr("p", 200, POST, "hold")],
        resolved={"hold": PendingState.POSTED},
    ),
    accepted(
        "partial post releases the rest",
        post("p", "hold", 150),
        accounts={"alice": c(dpend=100, dpost=150, cpost=1000), "bob": c(cpend=100, cpost=150)},
        transfers=[tr("p", 150, POST, "hold")],
        resolved={"hold": PendingState.POSTED},
    ),
    accepted(
        "void releases everything",
        void("v", "hold"),
        accounts={"alice": c(dpend=100, cpost=1000), "bob": c(cpend=100)},
        transfers=[tr("v", 200, VOID, "hold")],
        resolved={"hold": PendingState.VOIDED},
    ),
    accepted(
        "post a tick before expires_at",
        post("p", "timed"),
        now=EXPIRY - TICK,
        accounts={"alice": c(dpend=200, dpost=100, cpost=1000), "bob": c(cpend=200, cpost=100)},
        transfers=[tr("p", 100, POST, "timed")],
        resolved={"timed": PendingState.POSTED},
    ),
    accepted(
        "void a tick before expires_at",
        void("v", "timed"),
        now=EXPIRY - TICK,
        accounts={"alice": c(dpend=200, cpost=1000), "bob": c(cpend=200)},
        transfers=[tr("v", 100, VOID, "timed")],
        resolved={"timed": PendingState.VOIDED},
    ),
    accepted(
        "expire at expires_at",
        expire("x", "timed"),
        now=EXPIRY,
        accounts={"alice": c(dpend=200, cpost=1000), "bob": c(cpend=200)},
        transfers=[tr("x", 100, EXPIRE, "timed")],
        resolved={"timed": PendingState.EXPIRED},
    ),
    accepted(
        "hold then post in one batch",
        [hd(amount=500), post("p", "h")],
        accounts={"alice": c(dpend=300, dpost=500, cpost=1000), "bob": c(cpend=300, cpost=500)},
        transfers=[tr("h", 500, PENDING), tr("p", 500, POST, "h")],
        created={"h": PendingState.POSTED},
    ),
    accepted(
        "hold then partial post in one batch",
        [hd(amount=500), post("p", "h", 1)],
        accounts={"alice": c(dpend=300, dpost=1, cpost=1000), "bob": c(cpend=300, cpost=1)},
        transfers=[tr("h", 500, PENDING), tr("p", 1, POST, "h")],
        created={"h": PendingState.POSTED},
    ),
    accepted(
        "hold then void in one batch",
        [hd(amount=500), void("v", "h")],
        accounts={"alice": c(dpend=300, cpost=1000), "bob": c(cpend=300)},
        transfers=[tr("h", 500, PENDING), tr("v", 500, VOID, "h")],
        created={"h": PendingState.VOIDED},
    ),
    accepted(
        "money received earlier in the batch can be spent",
        [mv(amount=700), mv("bob", "fees", 700, id="t1")],
        accounts={
            "alice": c(dpend=300, dpost=700, cpost=1000),
            "bob": c(dpost=700, cpend=300, cpost=700),
            "fees": c(cpost=700),
        },
        transfers=[tr("t", 700), tr("t1", 700, debit="bob", credit="fees")],
    ),
    accepted(
        "a void frees funds for a later move",
        [void("v", "hold"), mv(amount=900)],
        accounts={"alice": c(dpend=100, dpost=900, cpost=1000), "bob": c(cpend=100, cpost=900)},
        transfers=[tr("v", 200, VOID, "hold"), tr("t", 900)],
        resolved={"hold": PendingState.VOIDED},
    ),
    accepted(
        "resolve two old holds and make a new one",
        [post("p", "hold", 50), void("v", "timed"), hd(amount=950)],
        accounts={"alice": c(dpend=950, dpost=50, cpost=1000), "bob": c(cpend=950, cpost=50)},
        transfers=[tr("p", 50, POST, "hold"), tr("v", 100, VOID, "timed"), tr("h", 950, PENDING)],
        created={"h": PendingState.PENDING},
        resolved={"hold": PendingState.POSTED, "timed": PendingState.VOIDED},
    ),
]


@pytest.mark.parametrize(("requests", "now", "expected"), ACCEPTED)
def test_accepted(requests: list[TransferRequest], now: datetime, expected: Any) -> None:
    accounts, transfers, created, resolved = expected
    result = plan(requests, now)
    assert {i: counters(a) for i, a in result.accounts.items()} == accounts
    assert [summary(t) for t in result.transfers] == transfers
    assert result.created_pending == created
    assert result.resolved_pending == resolved
    assert all(t.created_at == now and t.currency == "KES" for t in result.transfers)
    # Double entry: whatever the batch did, it added as much to debits as to credits.
    debits = sum(a.debits_pending + a.debits_posted for a in result.accounts.values())
    credits = sum(a.credits_pending + a.credits_posted for a in result.accounts.values())
    before = [ACCOUNTS[i] for i in result.accounts]
    assert debits - sum(a.debits_pending + a.debits_posted for a in before) == credits - sum(
        a.credits_pending + a.credits_posted for a in before
    )


# --- single rules in more detail ---------------------------------------------------------------


def test_batch_at_the_limit_is_accepted() -> None:
    result = plan(TOO_MANY[:-1])
    assert len(result.transfers) == limits.TRANSFERS_PER_BATCH_MAX
    assert counters(result.accounts["fees"]) == c(dpost=limits.TRANSFERS_PER_BATCH_MAX)


def test_batch_too_large_names_the_limit() -> None:
    assert refusal(TOO_MANY).context == {"limit": limits.TRANSFERS_PER_BATCH_MAX}


def test_a_failed_batch_applies_nothing_and_mutates_no_input() -> None:
    accounts, referenced, states = dict(ACCOUNTS), dict(REFERENCED), dict(STATES)
    snapshot = copy.deepcopy((accounts, referenced, states))
    batch = [post("p", "hold"), mv(id="t1", amount=100), mv("alice", "alice", id="t2")]
    with pytest.raises(AccountsMustBeDifferent) as caught:
        plan_transfers(accounts, referenced, states, batch, NOW)
    assert caught.value.context["index"] == 2
    assert (accounts, referenced, states) == snapshot
    # The same inputs still plan from the original state: nothing leaked from the failed run.
    again = plan_transfers(accounts, referenced, states, batch[:2], NOW)
    assert counters(again.accounts["alice"]) == c(dpend=100, dpost=300, cpost=1000)
    assert (accounts, referenced, states) == snapshot


def test_exceeds_credits_says_what_is_available() -> None:
    error = refusal([mv(amount=701)])
    assert isinstance(error, ExceedsCredits)
    assert error.context == {"account_id": "alice", "available": 700, "index": 0}


def test_exceeds_pending_transfer_amount_says_what_is_held() -> None:
    error = refusal([post("p", "hold", 201)])
    assert error.context == {"pending_amount": 200, "index": 0}


def test_partial_post_returns_the_rest_to_available() -> None:
    result = plan([post("p", "hold", 150)])
    # 1000 in, 150 spent, and only "timed"'s 100 still held: the other 50 is available again.
    assert result.accounts["alice"].available == 750
    assert result.accounts["bob"].balance == 150


def test_a_move_records_what_was_asked() -> None:
    result = plan([mv(amount=250, reference="invoice 7")])
    assert result.transfers == [
        Transfer(
            id="t",
            debit_account_id="alice",
            credit_account_id="bob",
            amount=250,
            currency="KES",
            code=TransferCode.P2P,
            flags=NONE,
            created_at=NOW,
            pending_id=None,
            expires_at=None,
            reference="invoice 7",
        )
    ]


@pytest.mark.parametrize(
    ("timeout_seconds", "expires_at"),
    [
        pytest.param(0, None, id="no timeout never expires"),
        pytest.param(1, NOW + timedelta(seconds=1), id="one second"),
        pytest.param(TIMEOUT_MAX, NOW + timedelta(seconds=TIMEOUT_MAX), id="the maximum"),
    ],
)
def test_hold_expires_its_timeout_after_now(
    timeout_seconds: int, expires_at: datetime | None
) -> None:
    [made] = plan([hd(timeout_seconds=timeout_seconds)]).transfers
    assert made.expires_at == expires_at
    assert made.code == TransferCode.ESCROW_HOLD


@pytest.mark.parametrize(
    ("request_", "now", "amount", "flags"),
    [
        pytest.param(post("p", "timed"), NOW, 100, POST, id="post"),
        pytest.param(post("p", "timed", 30), NOW, 30, POST, id="partial post"),
        pytest.param(void("p", "timed"), NOW, 100, VOID, id="void"),
        pytest.param(expire("p", "timed"), EXPIRY, 100, EXPIRE, id="expire"),
    ],
)
def test_resolutions_inherit_the_holds_code_accounts_and_currency(
    request_: TransferRequest, now: datetime, amount: int, flags: TransferFlags
) -> None:
    held = REFERENCED["timed"]
    assert (request_.code, request_.currency, request_.debit_account_id) == (None, None, None)
    [made] = plan([request_], now).transfers
    assert made == Transfer(
        id="p",
        debit_account_id=held.debit_account_id,
        credit_account_id=held.credit_account_id,
        amount=amount,
        currency=held.currency,
        code=TransferCode.ESCROW_HOLD,
        flags=flags,
        created_at=now,
        pending_id="timed",
        expires_at=None,
        reference=None,
    )


def test_resolution_inherits_the_holds_reference_unless_it_has_its_own() -> None:
    [inherited] = plan([post("p", "hold")]).transfers
    [own] = plan([replace(post("p", "hold"), reference="settled")]).transfers
    assert (inherited.reference, own.reference) == ("order-1", "settled")


def test_posting_a_plain_transfer_from_the_same_batch_is_not_pending() -> None:
    across_batches = refusal([post("p", "plain")])
    same_batch = refusal([mv(id="plain2"), post("p", "plain2")])
    assert across_batches.code == "pending_transfer_not_pending"
    assert same_batch.code == across_batches.code


# --- opening accounts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "flags"),
    [
        pytest.param(AccountCode.FX_LIQUIDITY, AccountFlags.NONE, id="no rule"),
        pytest.param(AccountCode.FEES, LIABILITY, id="debits must not exceed credits"),
        pytest.param(AccountCode.SETTLEMENT, ASSET, id="credits must not exceed debits"),
        pytest.param(AccountCode.WALLET, LIABILITY, id="wallet"),
        pytest.param(AccountCode.MERCHANT, LIABILITY, id="merchant"),
        pytest.param(AccountCode.AGENT_FLOAT, LIABILITY, id="agent float"),
    ],
)
def test_account_with_at_most_one_balance_rule_is_valid(
    code: AccountCode, flags: AccountFlags
) -> None:
    validate_account(code, flags)


@pytest.mark.parametrize(
    ("code", "flags", "expected"),
    [
        pytest.param(
            AccountCode.SUSPENSE, LIABILITY | ASSET, "account_flags_are_mutually_exclusive",
            id="both rules",
        ),
        pytest.param(
            AccountCode.WALLET, LIABILITY | ASSET, "account_flags_are_mutually_exclusive",
            id="both rules on a wallet",
        ),
        pytest.param(
            AccountCode.WALLET, AccountFlags.NONE, "customer_account_may_not_overdraw",
            id="wallet without the rule",
        ),
        pytest.param(
            AccountCode.MERCHANT, ASSET, "customer_account_may_not_overdraw",
            id="merchant with the asset rule",
        ),
    ],
)  # fmt: skip
def test_account_breaking_an_opening_rule_is_refused(
    code: AccountCode, flags: AccountFlags, expected: str
) -> None:
    with pytest.raises(DomainError) as caught:
        validate_account(code, flags)
    assert caught.value.code == expected
