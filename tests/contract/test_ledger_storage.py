"""The ledger's storage contract, run on SQLite and on PostgreSQL alike.

What goes in comes out exactly; pages, holds and expiries behave the same on both databases; a
failing batch leaves no trace; and the database's own constraints refuse what the domain refuses,
so a bug in the code above cannot write a broken ledger.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from soko.bootstrap import Runtime
from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.errors import CursorInvalid, DomainError, PageSizeInvalid
from soko.kernel.money import Money
from soko.kernel.ports import StoredResult
from soko.kernel.transactions import in_transaction
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, AccountFlags, TransferCode
from soko.ledger.domain import (
    Account,
    LedgerPlan,
    PendingState,
    Transfer,
    TransferFlags,
    hold,
    move,
    post,
)
from soko.ledger.errors import (
    AccountNotFound,
    ExceedsCredits,
    ExceedsPendingTransferAmount,
    OverflowsCredits,
    OverflowsDebits,
    PendingTransferAlreadyExpired,
    PendingTransferAlreadyPosted,
    PendingTransferAlreadyVoided,
    PendingTransferExpired,
    TransferNotFound,
)
from soko.ledger.tables import accounts

MAX = limits.AMOUNT_MINOR_MAX
KES = "KES"


def kes(amount: int) -> Money:
    return Money.of(amount, KES)


def pending_state(ctx: Context, transfer_id: str) -> PendingState | None:
    with ctx.unit_of_work(read_only=True) as uow:
        return uow.ledger.pending_state(transfer_id)


def pay(ctx: Context, debit: Account | str, credit: Account | str, amount: int) -> Transfer:
    return ledger.transfer(
        ctx,
        debit_account_id=debit if isinstance(debit, str) else debit.id,
        credit_account_id=credit if isinstance(credit, str) else credit.id,
        amount=kes(amount),
        code=TransferCode.P2P,
    )


def counters(ctx: Context, account: Account) -> tuple[int, int, int, int]:
    """(debits_pending, debits_posted, credits_pending, credits_posted), read back."""
    a = ledger.get_account(ctx, account.id)
    return a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [
        ("KES", AccountCode.WALLET, None),
        ("UGX", AccountCode.MERCHANT, None),
        ("KWD", AccountCode.AGENT_FLOAT, None),
        ("TZS", AccountCode.SUSPENSE, AccountFlags.NONE),
        ("KES", AccountCode.LOANS_RECEIVABLE, AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS),
    ],
)
def test_account_round_trips_every_field(
    any_runtime: Runtime, clock: Any, kind: tuple[str, AccountCode, AccountFlags | None]
) -> None:
    any_ctx = any_runtime.context
    currency, code, flags = kind
    clock.current = datetime(2026, 2, 28, 23, 59, 59, 999_999, tzinfo=UTC)
    opened = ledger.open_account(any_ctx, currency=currency, code=code, flags=flags)

    read = ledger.get_account(any_ctx, opened.id)

    assert read == opened
    assert type(read.code) is AccountCode and type(read.flags) is AccountFlags
    with any_runtime.engine.connect() as connection:
        created_at = connection.execute(
            sa.select(accounts.c.created_at).where(accounts.c.id == opened.id)
        ).scalar_one()
    assert created_at == clock.current
    assert created_at.utcoffset() == timedelta(0)


def test_missing_account_and_transfer_are_not_found(any_ctx: Context) -> None:
    with pytest.raises(AccountNotFound):
        ledger.get_account(any_ctx, "acc_01ARZ3NDEKTSV4RRFFQ69G5FAV")
    with pytest.raises(TransferNotFound):
        ledger.get_transfer(any_ctx, "tr_01ARZ3NDEKTSV4RRFFQ69G5FAV")


def test_system_account_is_opened_once_and_then_found(any_ctx: Context) -> None:
    first = ledger.system_account(any_ctx, AccountCode.FEES, KES)
    again = ledger.system_account(any_ctx, AccountCode.FEES, KES)
    other_currency = ledger.system_account(any_ctx, AccountCode.FEES, "UGX")

    assert again == first
    assert first.name == "fees:KES" and other_currency.name == "fees:UGX"
    assert other_currency.id != first.id
    assert ledger.get_account(any_ctx, first.id) == first
    assert first.flags == AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS


def test_transfer_round_trips_every_field(any_ctx: Context, clock: Any, open_wallet: Any) -> None:
    alice, bob = open_wallet(10_000), open_wallet()
    # A clock in East Africa Time: storage keeps the instant and hands it back in UTC.
    clock.current = datetime(2026, 7, 1, 12, 30, 45, 123_456, tzinfo=timezone(timedelta(hours=3)))
    made = ledger.transfer(
        any_ctx,
        debit_account_id=alice.id,
        credit_account_id=bob.id,
        amount=kes(2_550),
        code=TransferCode.PAYMENT,
        reference="Malipo ya sokoni — nyanya 🍅",
    )

    read = ledger.get_transfer(any_ctx, made.id)

    assert read == made
    assert read.created_at.utcoffset() == timedelta(0)
    assert read.created_at == datetime(2026, 7, 1, 9, 30, 45, 123_456, tzinfo=UTC)
    assert (read.flags, read.pending_id, read.expires_at) == (TransferFlags.NONE, None, None)
    assert type(read.code) is TransferCode and type(read.flags) is TransferFlags


def test_hold_and_its_post_round_trip(any_ctx: Context, clock: Any, open_wallet: Any) -> None:
    alice, shop = open_wallet(10_000), open_wallet(code=AccountCode.MERCHANT)
    clock.current = datetime(2026, 1, 1, 9, 0, 0, 1, tzinfo=UTC)
    held = ledger.hold_funds(
        any_ctx,
        debit_account_id=alice.id,
        credit_account_id=shop.id,
        amount=kes(700),
        code=TransferCode.ESCROW_HOLD,
        timeout_seconds=3_600,
        reference="order 17",
    )
    clock.advance(60.5)
    posted = ledger.post_pending(any_ctx, held.id, kes(500))

    assert ledger.get_transfer(any_ctx, held.id) == held
    assert held.expires_at == datetime(2026, 1, 1, 10, 0, 0, 1, tzinfo=UTC)
    assert held.flags == TransferFlags.PENDING
    read_post = ledger.get_transfer(any_ctx, posted.id)
    assert read_post == posted
    assert read_post.pending_id == held.id and read_post.amount == 500
    assert read_post.reference == "order 17" and read_post.code == TransferCode.ESCROW_HOLD
    assert read_post.created_at == datetime(2026, 1, 1, 9, 1, 0, 500_001, tzinfo=UTC)


def test_largest_amount_round_trips_and_the_next_unit_overflows(
    any_ctx: Context, open_wallet: Any
) -> None:
    rich = open_wallet(MAX)
    other = open_wallet()
    settlement = ledger.system_account(any_ctx, AccountCode.SETTLEMENT, KES)

    moved = pay(any_ctx, rich, other, MAX)

    assert ledger.get_transfer(any_ctx, moved.id).amount == MAX
    assert counters(any_ctx, rich) == (0, MAX, 0, MAX)
    assert counters(any_ctx, other) == (0, 0, 0, MAX)
    assert counters(any_ctx, settlement) == (0, MAX, 0, 0)
    liquidity = ledger.system_account(any_ctx, AccountCode.FX_LIQUIDITY, KES)  # no balance rule
    with pytest.raises(OverflowsCredits):
        pay(any_ctx, liquidity, other, 1)
    with pytest.raises(OverflowsDebits):
        pay(any_ctx, settlement, liquidity, 1)


# --- pagination -------------------------------------------------------------------------------


def test_list_transfers_pages_newest_first_over_both_sides(
    any_ctx: Context, open_wallet: Any
) -> None:
    alice, bob, carol = open_wallet(), open_wallet(), open_wallet()
    settlement = ledger.system_account(any_ctx, AccountCode.SETTLEMENT, KES)
    alices: list[Transfer] = [pay(any_ctx, settlement, alice, 10_000)]
    pay(any_ctx, settlement, bob, 10_000)
    for round_ in range(4):
        alices.append(pay(any_ctx, alice, bob, 100 + round_))  # alice on the debit side
        pay(any_ctx, bob, carol, 1)  # not alice's
        alices.append(pay(any_ctx, bob, alice, 50 + round_))  # alice on the credit side
    expected = [t.id for t in reversed(alices)]  # 9 transfers, newest first

    seen: list[str] = []
    cursors: list[str | None] = []
    cursor = None
    for _ in range(10):
        page = ledger.list_transfers(any_ctx, alice.id, limit=4, cursor=cursor)
        seen.extend(t.id for t in page.transfers)
        cursors.append(page.next_cursor)
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == expected
    assert cursors == [expected[3], expected[7], None]
    whole = ledger.list_transfers(any_ctx, alice.id, limit=limits.PAGE_SIZE_MAX)
    assert whole.transfers == list(reversed(alices)) and whole.next_cursor is None


def test_a_page_that_ends_exactly_at_the_oldest_transfer_has_no_cursor(
    any_ctx: Context, open_wallet: Any
) -> None:
    alice, bob = open_wallet(1_000), open_wallet()
    for _ in range(3):
        pay(any_ctx, alice, bob, 1)  # with the deposit: 4 transfers

    first = ledger.list_transfers(any_ctx, alice.id, limit=2)
    second = ledger.list_transfers(any_ctx, alice.id, limit=2, cursor=first.next_cursor)

    assert len(first.transfers) == 2 and first.next_cursor == first.transfers[-1].id
    assert len(second.transfers) == 2 and second.next_cursor is None
    assert ledger.list_transfers(any_ctx, alice.id, limit=4).next_cursor is None
    assert ledger.list_transfers(any_ctx, alice.id, limit=3).next_cursor is not None


def test_an_account_without_transfers_has_an_empty_page(any_ctx: Context, open_wallet: Any) -> None:
    page = ledger.list_transfers(any_ctx, open_wallet().id, limit=1)
    assert page.transfers == [] and page.next_cursor is None


@pytest.mark.parametrize("limit", [1, limits.PAGE_SIZE_MAX])
def test_page_size_bounds_are_allowed(any_ctx: Context, open_wallet: Any, limit: int) -> None:
    assert len(ledger.list_transfers(any_ctx, open_wallet(5).id, limit=limit).transfers) == 1


@pytest.mark.parametrize("limit", [-1, 0, limits.PAGE_SIZE_MAX + 1])
def test_page_size_out_of_bounds_is_refused(any_ctx: Context, open_wallet: Any, limit: int) -> None:
    with pytest.raises(PageSizeInvalid) as refused:
        ledger.list_transfers(any_ctx, open_wallet(5).id, limit=limit)
    assert refused.value.code == "page_size_invalid"


def test_unknown_cursor_is_refused(any_ctx: Context, open_wallet: Any) -> None:
    with pytest.raises(CursorInvalid) as refused:
        ledger.list_transfers(any_ctx, open_wallet(5).id, cursor="tr_01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert refused.value.code == "cursor_invalid"


def test_listing_an_unknown_account_is_not_found(any_ctx: Context) -> None:
    with pytest.raises(AccountNotFound) as refused:
        ledger.list_transfers(any_ctx, "acc_01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert refused.value.code == "account_not_found"


# --- holds ------------------------------------------------------------------------------------


def _hold(ctx: Context, debit: Account, credit: Account, amount: int, timeout: int = 0) -> Transfer:
    return ledger.hold_funds(
        ctx,
        debit_account_id=debit.id,
        credit_account_id=credit.id,
        amount=kes(amount),
        code=TransferCode.ESCROW_HOLD,
        timeout_seconds=timeout,
    )


def test_hold_reserves_and_a_full_post_moves_it(any_ctx: Context, open_wallet: Any) -> None:
    alice, shop = open_wallet(1_000), open_wallet(code=AccountCode.MERCHANT)

    held = _hold(any_ctx, alice, shop, 300)

    assert counters(any_ctx, alice) == (300, 0, 0, 1_000)
    assert counters(any_ctx, shop) == (0, 0, 300, 0)
    assert ledger.get_account(any_ctx, alice.id).available == 700
    assert pending_state(any_ctx, held.id) is PendingState.PENDING
    with pytest.raises(ExceedsCredits):
        pay(any_ctx, alice, shop, 701)

    posted = ledger.post_pending(any_ctx, held.id)

    assert (posted.amount, posted.flags) == (300, TransferFlags.POST_PENDING)
    assert counters(any_ctx, alice) == (0, 300, 0, 1_000)
    assert counters(any_ctx, shop) == (0, 0, 0, 300)
    assert pending_state(any_ctx, held.id) is PendingState.POSTED


def test_partial_post_moves_part_and_releases_the_rest(any_ctx: Context, open_wallet: Any) -> None:
    alice, shop = open_wallet(1_000), open_wallet(code=AccountCode.MERCHANT)
    held = _hold(any_ctx, alice, shop, 300)

    with pytest.raises(ExceedsPendingTransferAmount):
        ledger.post_pending(any_ctx, held.id, kes(301))
    posted = ledger.post_pending(any_ctx, held.id, kes(120))

    assert posted.amount == 120
    assert counters(any_ctx, alice) == (0, 120, 0, 1_000)
    assert counters(any_ctx, shop) == (0, 0, 0, 120)
    assert ledger.get_account(any_ctx, alice.id).available == 880
    assert pending_state(any_ctx, held.id) is PendingState.POSTED


def test_void_releases_everything(any_ctx: Context, open_wallet: Any) -> None:
    alice, shop = open_wallet(1_000), open_wallet(code=AccountCode.MERCHANT)
    held = _hold(any_ctx, alice, shop, 300)

    voided = ledger.void_pending(any_ctx, held.id)

    assert (voided.amount, voided.flags, voided.pending_id) == (
        300,
        TransferFlags.VOID_PENDING,
        held.id,
    )
    assert counters(any_ctx, alice) == (0, 0, 0, 1_000)
    assert counters(any_ctx, shop) == (0, 0, 0, 0)
    assert pending_state(any_ctx, held.id) is PendingState.VOIDED


@pytest.mark.parametrize(
    "order",
    [
        ("post", "post", PendingTransferAlreadyPosted),
        ("post", "void", PendingTransferAlreadyPosted),
        ("void", "post", PendingTransferAlreadyVoided),
        ("void", "void", PendingTransferAlreadyVoided),
    ],
)
def test_a_hold_is_resolved_once(
    any_ctx: Context,
    open_wallet: Any,
    dump_database: Callable[[], Any],
    order: tuple[str, str, type[DomainError]],
) -> None:
    first, second, refusal = order
    alice, shop = open_wallet(1_000), open_wallet(code=AccountCode.MERCHANT)
    held = _hold(any_ctx, alice, shop, 300)
    resolve = {"post": ledger.post_pending, "void": ledger.void_pending}
    resolve[first](any_ctx, held.id)
    before = dump_database()

    with pytest.raises(refusal):
        resolve[second](any_ctx, held.id)

    assert dump_database() == before


def test_hold_expires_only_once_its_time_has_come(
    any_ctx: Context, clock: Any, open_wallet: Any
) -> None:
    alice, shop = open_wallet(1_000), open_wallet(code=AccountCode.MERCHANT)
    held = _hold(any_ctx, alice, shop, 300, timeout=60)
    never = _hold(any_ctx, alice, shop, 100)  # no timeout: never expires by itself

    clock.advance(59.999_999)
    assert ledger.expire_due(any_ctx) == []
    clock.advance(0.000_001)
    with pytest.raises(PendingTransferExpired):
        ledger.post_pending(any_ctx, held.id)  # at expires_at it can only expire
    expired = ledger.expire_due(any_ctx)

    assert [(t.pending_id, t.amount, t.flags) for t in expired] == [
        (held.id, 300, TransferFlags.EXPIRE_PENDING)
    ]
    assert ledger.get_transfer(any_ctx, expired[0].id) == expired[0]
    assert pending_state(any_ctx, held.id) is PendingState.EXPIRED
    assert pending_state(any_ctx, never.id) is PendingState.PENDING
    assert counters(any_ctx, alice) == (100, 0, 0, 1_000)
    with pytest.raises(PendingTransferAlreadyExpired):
        ledger.void_pending(any_ctx, held.id)
    clock.advance(limits.PENDING_TIMEOUT_SECONDS_MAX)
    assert ledger.expire_due(any_ctx) == []


def test_expire_due_respects_its_limit_oldest_first_and_is_idempotent(
    any_ctx: Context, clock: Any, open_wallet: Any, dump_database: Callable[[], Any]
) -> None:
    alice, shop = open_wallet(1_000), open_wallet(code=AccountCode.MERCHANT)
    # Made in one order, due in the reverse one: expiry follows expires_at, not creation.
    holds = [_hold(any_ctx, alice, shop, 10 + i, timeout=100 - 10 * i) for i in range(5)]
    due_order = [h.id for h in reversed(holds)]
    clock.advance(100)

    batches = [[t.pending_id for t in ledger.expire_due(any_ctx, limit=2)] for _ in range(3)]

    assert batches == [due_order[0:2], due_order[2:4], due_order[4:5]]
    assert counters(any_ctx, alice) == (0, 0, 0, 1_000)
    before = dump_database()
    assert ledger.expire_due(any_ctx, limit=limits.EXPIRIES_PER_BATCH_MAX) == []
    assert ledger.expire_due(any_ctx, limit=1) == []
    assert dump_database() == before


def test_hold_resolved_in_the_batch_that_made_it(any_ctx: Context, open_wallet: Any) -> None:
    alice, shop = open_wallet(1_000), open_wallet(code=AccountCode.MERCHANT)
    hold_id = any_ctx.ids.new("tr")

    made = ledger.create_transfers(
        any_ctx,
        [
            hold(
                hold_id,
                debit_account_id=alice.id,
                credit_account_id=shop.id,
                amount=400,
                currency=KES,
                code=TransferCode.PAYMENT,
            ),
            post(any_ctx.ids.new("tr"), hold_id, 250),
        ],
    )

    assert [t.amount for t in made] == [400, 250]
    assert pending_state(any_ctx, hold_id) is PendingState.POSTED
    assert counters(any_ctx, alice) == (0, 250, 0, 1_000)
    assert counters(any_ctx, shop) == (0, 0, 0, 250)


# --- all or nothing ---------------------------------------------------------------------------


def test_a_batch_refused_by_the_domain_writes_nothing(
    any_ctx: Context, open_wallet: Any, dump_database: Callable[[], Any]
) -> None:
    alice, bob = open_wallet(1_000), open_wallet()
    before = dump_database()
    new = any_ctx.ids.new

    with pytest.raises(ExceedsCredits) as refused:
        ledger.create_transfers(
            any_ctx,
            [
                move(new("tr"), debit_account_id=alice.id, credit_account_id=bob.id, amount=600,
                     currency=KES, code=TransferCode.P2P),
                hold(new("tr"), debit_account_id=alice.id, credit_account_id=bob.id, amount=300,
                     currency=KES, code=TransferCode.P2P, timeout_seconds=10),
                move(new("tr"), debit_account_id=alice.id, credit_account_id=bob.id, amount=101,
                     currency=KES, code=TransferCode.P2P),
            ],
        )  # fmt: skip

    assert refused.value.context["index"] == 2
    assert dump_database() == before


# Whatever ends a transaction after its writes: the code's own error, or the database refusing
# a row on the ordinary SQLAlchemy path or on the hot DBAPI path (`db/driver.py`).
_INTEGRITY_ERRORS = (sa.exc.IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError)


@pytest.mark.parametrize("failure", ["code raises", "account id taken", "transfer id taken"])
def test_a_transaction_failing_after_writes_rolls_all_of_them_back(
    any_ctx: Context, open_wallet: Any, dump_database: Callable[[], Any], failure: str
) -> None:
    alice, bob = open_wallet(1_000), open_wallet()
    taken = pay(any_ctx, alice, bob, 1)
    before = dump_database()

    def work(uow: UnitOfWork) -> None:
        ledger.record(uow, any_ctx, [
            move(any_ctx.ids.new("tr"), debit_account_id=alice.id, credit_account_id=bob.id,
                 amount=500, currency=KES, code=TransferCode.P2P),
            hold(any_ctx.ids.new("tr"), debit_account_id=bob.id, credit_account_id=alice.id,
                 amount=200, currency=KES, code=TransferCode.P2P, timeout_seconds=5),
        ])  # fmt: skip
        ledger.open_account_in(uow, any_ctx, KES, AccountCode.WALLET)
        ledger.system_account_in(uow, any_ctx, AccountCode.FEES, KES)
        uow.idempotency.put("scope", "key", StoredResult("f" * 64, "{}"), any_ctx.clock.now())
        if failure == "code raises":
            raise RuntimeError("the use case failed after writing")
        if failure == "account id taken":
            uow.ledger.insert_account(
                Account(alice.id, KES, AccountCode.WALLET, AccountFlags.NONE), any_ctx.clock.now()
            )
        ledger.record(uow, any_ctx, [
            move(taken.id, debit_account_id=alice.id, credit_account_id=bob.id, amount=1,
                 currency=KES, code=TransferCode.P2P),
        ])  # fmt: skip

    expected = RuntimeError if failure == "code raises" else _INTEGRITY_ERRORS
    with pytest.raises(expected):
        in_transaction(any_ctx, work)

    assert dump_database() == before


# --- the database's own constraints -----------------------------------------------------------

# Each case: (what is broken, table, a valid row, the change that breaks it, what the database
# names in its refusal on SQLite / on PostgreSQL). The valid row is inserted first, and rolled
# back, so a refusal is known to come from the broken rule and not from a malformed statement.
_ACCOUNT = {"id": "acc_raw", "flags": 1, "credits_posted": 10, "debits_posted": 10}
_TRANSFER = {"id": "tr_raw", "debit_account_id": "{alice}", "credit_account_id": "{bob}",
             "amount": 5, "flags": 0}  # fmt: skip
_CONSTRAINT_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
    ("wallet debits exceed credits", "account", _ACCOUNT, {"debits_posted": 11},
     "ck_accounts_debits_must_not_exceed_credits"),
    ("wallet pending debits exceed credits", "account", _ACCOUNT,
     {"debits_posted": 5, "debits_pending": 6}, "ck_accounts_debits_must_not_exceed_credits"),
    ("asset credits exceed debits", "account", _ACCOUNT | {"flags": 2},
     {"credits_posted": 11}, "ck_accounts_credits_must_not_exceed_debits"),
    ("negative counter", "account", _ACCOUNT | {"flags": 0}, {"credits_pending": -1},
     "ck_accounts_credits_pending_non_negative"),
    ("both balance rules", "account", _ACCOUNT, {"flags": 3}, "ck_accounts_flags_valid"),
    ("duplicate system account name", "account", _ACCOUNT | {"name": "fees:TZS"},
     {"name": "fees:KES"}, "name"),
    ("amount zero", "transfer", _TRANSFER, {"amount": 0}, "ck_transfers_amount_positive"),
    ("amount negative", "transfer", _TRANSFER, {"amount": -5}, "ck_transfers_amount_positive"),
    ("same debit and credit account", "transfer", _TRANSFER,
     {"credit_account_id": "{alice}"}, "ck_transfers_accounts_different"),
    ("unknown account", "transfer", _TRANSFER, {"credit_account_id": "acc_nobody"},
     "FOREIGN KEY"),
    ("unknown flags", "transfer", _TRANSFER, {"flags": 3}, "ck_transfers_flags_valid"),
    ("resolution without a hold", "transfer", _TRANSFER, {"flags": 4},
     "ck_transfers_pending_id_iff_resolution"),
    ("plain transfer naming a hold", "transfer", _TRANSFER, {"pending_id": "{held}"},
     "ck_transfers_pending_id_iff_resolution"),
    ("timeout on a plain transfer", "transfer", _TRANSFER | {"flags": 1, "expires_at": "{later}"},
     {"flags": 0}, "ck_transfers_timeout_only_pending"),
    ("second resolution of a hold", "transfer", _TRANSFER | {"flags": 4, "pending_id": "{open}"},
     {"pending_id": "{held}"}, "pending_id"),
    ("transfer id taken", "transfer", _TRANSFER, {"id": "{taken}"}, "id"),
    ("unknown hold state", "pending", {"transfer_id": "{raw_hold}"}, {"state": "cancelled"},
     "ck_pending_transfers_state_valid"),
]  # fmt: skip


@pytest.mark.parametrize("case", [pytest.param(case[1:], id=case[0]) for case in _CONSTRAINT_CASES])
def test_the_database_refuses_what_the_domain_refuses(
    any_runtime: Runtime,
    open_wallet: Any,
    raw_rows: Any,
    backend: str,
    case: tuple[str, dict[str, Any], dict[str, Any], str],
) -> None:
    table, valid, broken, named = case
    any_ctx = any_runtime.context
    alice, bob = open_wallet(1_000), open_wallet()
    ledger.system_account(any_ctx, AccountCode.FEES, KES)
    held = _hold(any_ctx, alice, bob, 100)
    ledger.post_pending(any_ctx, held.id)
    still_open = _hold(any_ctx, alice, bob, 100)
    names = {
        "{alice}": alice.id,
        "{bob}": bob.id,
        "{held}": held.id,
        "{open}": still_open.id,
        "{taken}": held.id,
        "{later}": raw_rows.created_at + timedelta(seconds=60),
        "{raw_hold}": "tr_raw_hold",
    }

    def insert(fields: dict[str, Any]) -> None:
        values = {k: names.get(v, v) if isinstance(v, str) else v for k, v in fields.items()}
        with any_runtime.engine.begin() as connection:
            if table == "pending":
                raw_rows.transfer(
                    connection, id="tr_raw_hold", debit_account_id=alice.id,
                    credit_account_id=bob.id, amount=1, flags=1,
                )  # fmt: skip
            getattr(raw_rows, table)(connection, **values)
            connection.rollback()

    insert(valid)
    with pytest.raises(sa.exc.IntegrityError) as refused:
        insert(valid | broken)

    message = str(refused.value.orig)
    if named == "FOREIGN KEY":
        expected = "FOREIGN KEY constraint failed" if backend == "sqlite" else "fk_transfers_"
    elif named.startswith("ck_"):
        expected = named
    else:  # a UNIQUE key: SQLite names the column, PostgreSQL the constraint
        expected = f"{table}s.{named}" if backend == "sqlite" else f"uq_{table}s_{named}"
    assert expected in message


def test_a_wallet_update_below_zero_is_refused(
    any_runtime: Runtime, open_wallet: Any, dump_database: Callable[[], Any]
) -> None:
    alice = open_wallet(1_000)
    before = dump_database()

    with pytest.raises(sa.exc.IntegrityError) as refused, any_runtime.engine.begin() as c:
        c.execute(
            sa.update(accounts)
            .where(accounts.c.id == alice.id)
            .values(debits_posted=accounts.c.debits_posted + 1_001)
        )

    assert "ck_accounts_debits_must_not_exceed_credits" in str(refused.value.orig)
    assert dump_database() == before


def test_the_database_refuses_a_plan_the_domain_got_wrong(
    any_ctx: Context, open_wallet: Any, dump_database: Callable[[], Any]
) -> None:
    """The CHECK constraints are the second line: a plan that spends more than the wallet holds
    (as a bug in the domain would write it) fails inside `apply`, as SQLAlchemy's IntegrityError,
    whether its statements ran one by one (SQLite) or in one pipeline (PostgreSQL), and leaves
    nothing behind."""
    alice, bob = open_wallet(1_000), open_wallet()
    before = dump_database()
    with any_ctx.unit_of_work() as uow:
        locked = uow.ledger.lock_accounts([alice.id, bob.id])
        transfer = Transfer(
            id="tr_bug", debit_account_id=alice.id, credit_account_id=bob.id, amount=1_001,
            currency="KES", code=TransferCode.P2P, flags=TransferFlags.NONE,
            created_at=any_ctx.clock.now(),
        )  # fmt: skip
        plan = LedgerPlan(
            transfers=[transfer],
            accounts={
                alice.id: locked[alice.id].moved(debits_posted=1_001),
                bob.id: locked[bob.id].moved(credits_posted=1_001),
            },
        )
        with pytest.raises(sa.exc.IntegrityError) as refused:
            uow.ledger.apply(plan, locked)
    assert "ck_accounts_debits_must_not_exceed_credits" in str(refused.value.orig)
    assert dump_database() == before
