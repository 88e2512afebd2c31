"""M-Pesa's Transaction Status API as Soko's second opinion, end to end against the sandbox on
SQLite and PostgreSQL: a C2B confirmation credited only once M-Pesa confirms it (a forged one,
even with the right token from the right network, moves nothing), a reversal whose answer was
lost settled by a status query, and a receipt only the statement shows credited once, ever."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_c2b_and_reversals import _payment, credited, pay_bill, suspense
from typer.testing import CliRunner

from merchants import balance
from mpesa_world import STATUS_AFTER, MpesaWorld, wait_for
from soko.channels.cli.main import app as cli
from soko.deposits import service as deposits
from soko.deposits.domain import C2BState, CheckKind, CheckState, DepositState, ReversalState
from soko.deposits.errors import MpesaReceiptNotInStatement
from soko.deposits.ports import DarajaOutcomeUnknown
from soko.kernel.transactions import in_transaction
from soko.rails.mpesa.daraja import RequestAccepted
from soko.rails.mpesa.sandbox import CallbackMode, Kind, Script


@pytest.fixture
def registered(world: MpesaWorld) -> MpesaWorld:
    deposits.register_c2b_urls(world.ctx)
    return world


def status_results(world: MpesaWorld, kind: CheckKind) -> int:
    return len([d for d in world.sandbox.deliveries()
                if d.url.endswith(f"/status/{kind.value}/result")])  # fmt: skip


def ask_again(world: MpesaWorld, kind: CheckKind) -> None:
    """Time passes; the worker asks M-Pesa, and its Result is heard."""
    before = status_results(world, kind)
    world.clock.advance(3600)  # past any wait (they double up to an hour)
    assert deposits.check_statuses(world.ctx) >= 1
    wait_for(lambda: status_results(world, kind) > before)


def check_of(world: MpesaWorld, kind: CheckKind, subject: str) -> CheckState | None:
    def read(uow):  # type: ignore[no-untyped-def]
        return uow.deposits.get_check(kind, subject)

    found = in_transaction(world.ctx, read, read_only=True)
    return None if found is None else found.state


def confirmation(world: MpesaWorld, trans_id: str, **changes: object) -> dict[str, object]:
    """The confirmation body Daraja would send for `trans_id` (as its validation said it)."""
    [validation] = [
        d
        for d in world.sandbox.deliveries()
        if d.url.endswith("/c2b/validation") and d.body["TransID"] == trans_id
    ]
    return {**validation.body, "OrgAccountBalance": "250.00", **changes}


# --- C2B confirmed by the Transaction Status API -------------------------------------------------


def test_a_c2b_payment_is_credited_only_after_mpesa_confirms_it(registered: MpesaWorld) -> None:
    world = registered
    amina = world.person()
    trans_id = pay_bill(world, amina.phone.removeprefix("+"))
    assert credited(world, trans_id) is C2BState.CREDITED
    # The confirmation asked M-Pesa, and M-Pesa's Result (to the query Soko sent) credited it.
    assert status_results(world, CheckKind.C2B) == 1
    assert check_of(world, CheckKind.C2B, trans_id) is CheckState.CONFIRMED
    assert balance(world.ctx, amina.id) == 25000 and world.movements(trans_id) == 1
    assert world.reconciled() and world.statement_agrees()


def test_a_forged_confirmation_with_the_right_token_moves_nothing(registered: MpesaWorld) -> None:
    world = registered
    amina = world.person()
    real = pay_bill(world, amina.phone.removeprefix("+"))
    assert credited(world, real) is C2BState.CREDITED
    # Someone who knows the token, from an allowed address, invents a payment M-Pesa never made.
    forged = confirmation(world, real, TransID="SFORGED001", TransAmount="90000.00")
    assert world.callback("c2b/confirmation", forged).status_code == 200
    wait_for(lambda: status_results(world, CheckKind.C2B) == 2)
    assert check_of(world, CheckKind.C2B, "SFORGED001") is CheckState.OPEN
    for _ in range(deposits.C2B_QUERIES_MAX - 1):  # M-Pesa keeps saying it does not exist
        ask_again(world, CheckKind.C2B)
    assert check_of(world, CheckKind.C2B, "SFORGED001") is CheckState.REFUSED
    assert _payment(world, "SFORGED001") is None and world.movements("SFORGED001") == 0
    assert balance(world.ctx, amina.id) == 25000 and suspense(world) == 0
    assert world.reconciled() and world.statement_agrees()


def test_a_confirmation_that_lies_about_the_amount_is_refused_at_once(
    registered: MpesaWorld,
) -> None:
    world = registered
    amina = world.person()
    # A real payment whose own confirmation is lost; a forger confirms it first, for more.
    trans_id = pay_bill(world, amina.phone.removeprefix("+"), mode=CallbackMode.NEVER)
    wait_for(lambda: any(d.url.endswith("/c2b/validation") for d in world.sandbox.deliveries()))
    lie = confirmation(world, trans_id, TransAmount="25000.00")
    assert world.callback("c2b/confirmation", lie).status_code == 200
    wait_for(lambda: check_of(world, CheckKind.C2B, trans_id) is CheckState.REFUSED)
    assert _payment(world, trans_id) is None and balance(world.ctx, amina.id) == 0
    assert world.reconciled()


# --- reversals never stay unknown ----------------------------------------------------------------


class LostReversalAnswer:
    """Daraja takes the reversal, but its answer never reaches Soko."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def reversal(self, **kwargs: object) -> RequestAccepted:
        self.inner.reversal(**kwargs)  # type: ignore[attr-defined]
        raise DarajaOutcomeUnknown("/mpesa/reversal/v1/request", "ReadTimeout")

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def _lost_answers(world: MpesaWorld) -> None:
    mpesa = dataclasses.replace(world.mpesa, daraja=LostReversalAnswer(world.mpesa.daraja))  # type: ignore[arg-type]
    world.runtime = dataclasses.replace(
        world.runtime, context=dataclasses.replace(world.ctx, mpesa=mpesa)
    )


def test_a_reversal_whose_answer_and_result_were_lost_is_settled_by_a_status_query(
    world: MpesaWorld,
) -> None:
    amina = world.person()
    paid = world.settled(world.deposit(amina, "300.00"))
    assert paid.receipt is not None
    _lost_answers(world)
    world.sandbox.script(Script(mode=CallbackMode.NEVER))  # and its Result never comes
    reversal = deposits.request_reversal(world.ctx, paid.receipt)
    assert reversal.state is ReversalState.UNKNOWN
    assert balance(world.ctx, amina.id) == 30000  # held, not gone
    assert deposits.check_statuses(world.ctx) == 0  # not due yet
    world.clock.advance(STATUS_AFTER)
    assert deposits.check_statuses(world.ctx) == 1
    wait_for(lambda: deposits.get_reversal(world.ctx, reversal.id).state
             is ReversalState.REVERSED)  # fmt: skip
    assert balance(world.ctx, amina.id) == 0
    assert check_of(world, CheckKind.REVERSAL, reversal.id) is CheckState.CONFIRMED
    world.clock.advance(STATUS_AFTER * 10)
    assert deposits.check_statuses(world.ctx) == 0  # nothing left to ask
    assert world.reconciled()


def test_a_reversal_mpesa_never_made_is_released_after_the_last_query(
    world: MpesaWorld,
) -> None:
    amina = world.person()
    paid = world.settled(world.deposit(amina, "300.00"))
    assert paid.receipt is not None

    class NeverSent(LostReversalAnswer):
        def reversal(self, **kwargs: object) -> RequestAccepted:
            raise DarajaOutcomeUnknown("/mpesa/reversal/v1/request", "ReadTimeout")

    mpesa = dataclasses.replace(world.mpesa, daraja=NeverSent(world.mpesa.daraja))  # type: ignore[arg-type]
    world.runtime = dataclasses.replace(
        world.runtime, context=dataclasses.replace(world.ctx, mpesa=mpesa)
    )
    reversal = deposits.request_reversal(world.ctx, paid.receipt)
    assert reversal.state is ReversalState.UNKNOWN
    for _ in range(deposits.REVERSAL_QUERIES_MAX):  # M-Pesa: the payment stands, not reversed
        ask_again(world, CheckKind.REVERSAL)
    assert deposits.get_reversal(world.ctx, reversal.id).state is ReversalState.FAILED
    assert balance(world.ctx, amina.id) == 30000
    assert not [t for t in world.sandbox.transactions() if t.kind is Kind.REVERSAL]
    assert world.reconciled() and world.statement_agrees()


# --- receipts only the statement has -------------------------------------------------------------


def test_a_c2b_receipt_only_the_statement_shows_is_credited_once_ever(
    registered: MpesaWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = registered
    amina = world.person()
    trans_id = pay_bill(world, amina.phone.removeprefix("+"), mode=CallbackMode.NEVER)
    wait_for(lambda: trans_id in world.sandbox.statement_csv())
    statement = world.sandbox.statement_csv()
    assert not world.statement_agrees()  # the statement has it, the ledger does not
    with pytest.raises(MpesaReceiptNotInStatement):
        deposits.credit_statement_receipt(world.ctx, statement, "SNOTTHERE1",
                                          credited_by="ops", reason="test")  # fmt: skip

    _environment(world, monkeypatch)
    path = tmp_path / "statement.csv"
    path.write_text(statement, encoding="utf-8")
    runner = CliRunner()
    args = ["mpesa", "credit-receipt", str(path), trans_id, "--by", "wanjiru",
            "--reason", "confirmation lost (ticket 42)"]  # fmt: skip
    done = runner.invoke(cli, args)
    assert done.exit_code == 0, done.output
    assert "credited" in done.output and "wanjiru" in done.output
    again = runner.invoke(cli, args)
    assert again.exit_code == 0 and "nothing moved" in again.output
    missing = runner.invoke(cli, [*args[:3], "SNOTTHERE1", "--by", "wanjiru"])
    assert missing.exit_code == 2 and "mpesa_receipt_not_in_statement" in missing.output

    # The lost confirmation turns up at last: credited already, it moves nothing.
    late = confirmation(world, trans_id)
    assert world.callback("c2b/confirmation", late).status_code == 200
    assert balance(world.ctx, amina.id) == 25000 and world.movements(trans_id) == 1
    credit = in_transaction(
        world.ctx, lambda uow: uow.deposits.get_statement_credit(trans_id), read_only=True
    )
    assert credit is not None and credit.credited_by == "wanjiru"
    assert credit.reason == "confirmation lost (ticket 42)" and len(credit.statement_sha256) == 64
    assert world.reconciled() and world.statement_agrees()


def test_a_deposit_whose_push_answer_was_lost_is_credited_from_the_statement(
    world: MpesaWorld,
) -> None:
    amina = world.person()
    world.sandbox.script(Script(mode=CallbackMode.NEVER))
    from test_stk_deposits import LostAnswer

    mpesa = dataclasses.replace(world.mpesa, daraja=LostAnswer(world.mpesa.daraja))  # type: ignore[arg-type]
    ctx = dataclasses.replace(world.ctx, mpesa=mpesa)
    world.runtime = dataclasses.replace(world.runtime, context=ctx)
    deposit = world.deposit(amina, "150.00")
    assert deposit.state is DepositState.UNKNOWN
    [entry] = [t for t in world.sandbox.transactions() if t.kind is Kind.STK]
    world.sandbox.release_held()
    wait_for(lambda: entry.receipt in world.sandbox.statement_csv())
    statement = world.sandbox.statement_csv()
    outcome = deposits.credit_statement_receipt(
        world.ctx, statement, entry.receipt, credited_by="ops", reason="push answer lost"
    )
    assert outcome.what == "credited" and outcome.credit is not None
    assert outcome.credit.source_id == deposit.id
    paid = world.current(deposit)
    assert paid.state is DepositState.PAID and paid.receipt == entry.receipt
    again = deposits.credit_statement_receipt(
        world.ctx, statement, entry.receipt, credited_by="ops", reason="twice"
    )
    assert again.what == "already_credited" and again.credit is None
    assert balance(world.ctx, amina.id) == 15000 and world.movements(entry.receipt) == 1
    assert world.reconciled() and world.statement_agrees()


def _environment(world: MpesaWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in world.runtime.settings.model_dump().items():
        if value is not None and (name.startswith("mpesa_") or name == "database_url"):
            shown = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            monkeypatch.setenv(f"SOKO_{name.upper()}", str(shown))
