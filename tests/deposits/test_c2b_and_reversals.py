"""C2B payments at the paybill and reversals, end to end against the sandbox on SQLite and
PostgreSQL; and the organisation statement's match finding planted differences."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from merchants import balance, shop
from mpesa_world import MpesaWorld, wait_for
from soko.channels.cli.main import app as cli
from soko.deposits import service as deposits
from soko.deposits.domain import C2BPayment, C2BState, ReversalState
from soko.deposits.errors import (
    MpesaPaymentNotFound,
    MpesaPaymentNotInSuspense,
    MpesaReversalNotAllowed,
)
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode
from soko.rails.mpesa.sandbox import CallbackMode, Kind, Script, Status


def pay_bill(world: MpesaWorld, reference: str, shillings: int = 250, **script: object) -> str:
    """A customer pays the paybill with `reference` as the account number; its TransID."""
    if script:
        world.sandbox.script(Script(**script))  # type: ignore[arg-type]
    before = {t.receipt for t in world.sandbox.transactions()}
    world.daraja.simulate_c2b(
        amount_minor=shillings * 100, phone="254708374149", bill_ref_number=reference
    )
    wait_for(lambda: len(world.sandbox.transactions()) > len(before))
    [receipt] = [t.receipt for t in world.sandbox.transactions() if t.receipt not in before]
    return receipt


def credited(world: MpesaWorld, trans_id: str) -> C2BState:
    wait_for(lambda: _payment(world, trans_id) is not None)
    payment = _payment(world, trans_id)
    assert payment is not None
    return payment.state


def _payment(world: MpesaWorld, trans_id: str) -> C2BPayment | None:
    try:
        return deposits.get_c2b(world.ctx, trans_id)
    except MpesaPaymentNotFound:  # not confirmed yet
        return None


def suspense(world: MpesaWorld) -> int:
    return ledger.system_total(world.ctx, AccountCode.SUSPENSE, "KES").balance


@pytest.fixture
def registered(world: MpesaWorld) -> MpesaWorld:
    deposits.register_c2b_urls(world.ctx)
    return world


def test_a_c2b_payment_to_a_phone_number_credits_that_wallet_once(registered: MpesaWorld) -> None:
    world = registered
    amina = world.person()
    local = "0" + amina.phone.removeprefix("+254")  # as a customer types it: 07XXXXXXXX
    trans_id = pay_bill(world, local, mode=CallbackMode.TWICE)
    assert credited(world, trans_id) is C2BState.CREDITED
    wait_for(lambda: len([d for d in world.sandbox.deliveries()
                          if d.url.endswith("/c2b/confirmation")]) == 2)  # fmt: skip
    assert balance(world.ctx, amina.id) == 25000 and world.movements(trans_id) == 1
    assert world.reconciled() and world.statement_agrees()


def test_a_c2b_payment_to_a_till_credits_the_merchant(registered: MpesaWorld) -> None:
    world = registered
    kiosk = shop(world.ctx)
    trans_id = pay_bill(world, kiosk.till_number, shillings=1200)
    assert credited(world, trans_id) is C2BState.CREDITED
    assert balance(world.ctx, kiosk.user_id) == 120000
    assert world.reconciled() and world.statement_agrees()


def test_an_unknown_reference_waits_in_suspense_for_an_operator(registered: MpesaWorld) -> None:
    world = registered
    trans_id = pay_bill(world, "0799000111")  # a number no one has registered
    assert credited(world, trans_id) is C2BState.SUSPENSE
    assert suspense(world) == 25000
    assert world.reconciled() and world.statement_agrees()
    amina = world.person()
    assigned = deposits.assign_c2b(world.ctx, trans_id, amina.id)
    assert assigned.state is C2BState.ASSIGNED
    assert balance(world.ctx, amina.id) == 25000 and suspense(world) == 0
    with pytest.raises(MpesaPaymentNotInSuspense):
        deposits.assign_c2b(world.ctx, trans_id, amina.id)
    assert world.reconciled() and world.statement_agrees()


def test_validation_refuses_a_reference_that_names_nothing(registered: MpesaWorld) -> None:
    world = registered
    trans_id = pay_bill(world, "not a number!")
    wait_for(lambda: world.sandbox.transaction(trans_id).status is not Status.PENDING)  # type: ignore[union-attr]
    entry = world.sandbox.transaction(trans_id)
    assert entry is not None
    assert (entry.status, entry.result_code) == (Status.FAILED, "C2B00012")
    assert _payment(world, trans_id) is None and suspense(world) == 0
    assert world.reconciled() and world.statement_agrees()


def test_a_confirmation_replayed_with_another_amount_moves_nothing(
    registered: MpesaWorld,
) -> None:
    world = registered
    amina = world.person()
    trans_id = pay_bill(world, amina.phone.removeprefix("+"))
    assert credited(world, trans_id) is C2BState.CREDITED
    [confirmation] = [d for d in world.sandbox.deliveries() if d.url.endswith("/confirmation")]
    forged = {**confirmation.body, "TransAmount": "25000.00"}
    assert world.callback("c2b/confirmation", forged).status_code == 200
    assert world.callback("c2b/confirmation", {"TransID": 7}).status_code == 200
    assert balance(world.ctx, amina.id) == 25000 and world.movements(trans_id) == 1
    assert world.reconciled()


# --- reversals -----------------------------------------------------------------------------------


def test_a_deposit_is_reversed_in_the_ledger_only_when_mpesa_confirms(world: MpesaWorld) -> None:
    amina = world.person()
    paid = world.settled(world.deposit(amina, "300.00"))
    assert paid.receipt is not None
    world.sandbox.script(Script(mode=CallbackMode.NEVER))
    reversal = deposits.request_reversal(world.ctx, paid.receipt)
    assert reversal.state is ReversalState.REQUESTED
    # Held, not yet gone: M-Pesa has not confirmed.
    assert balance(world.ctx, amina.id) == 30000
    with pytest.raises(MpesaReversalNotAllowed):
        deposits.request_reversal(world.ctx, paid.receipt)
    [entry] = [t for t in world.sandbox.transactions() if t.kind is Kind.REVERSAL]
    assert entry.linked_transaction_id == paid.receipt
    assert world.reconciled()


def test_a_confirmed_reversal_takes_the_money_back_once(registered: MpesaWorld) -> None:
    world = registered
    amina = world.person()
    trans_id = pay_bill(world, amina.phone.removeprefix("+"))
    assert credited(world, trans_id) is C2BState.CREDITED
    reversal = deposits.request_reversal(world.ctx, trans_id)
    wait_for(lambda: deposits.get_reversal(world.ctx, reversal.id).state
             is ReversalState.REVERSED)  # fmt: skip
    done = deposits.get_reversal(world.ctx, reversal.id)
    assert done.reversal_receipt is not None
    assert balance(world.ctx, amina.id) == 0
    assert deposits.get_c2b(world.ctx, trans_id).state is C2BState.REVERSED
    with pytest.raises(MpesaReversalNotAllowed):
        deposits.request_reversal(world.ctx, trans_id)
    assert world.reconciled() and world.statement_agrees()


def test_a_reversal_that_expires_in_the_queue_releases_the_money(world: MpesaWorld) -> None:
    amina = world.person()
    paid = world.settled(world.deposit(amina, "300.00"))
    assert paid.receipt is not None
    world.sandbox.script(Script(queue_timeout=True))
    reversal = deposits.request_reversal(world.ctx, paid.receipt)
    wait_for(lambda: deposits.get_reversal(world.ctx, reversal.id).state
             is ReversalState.FAILED)  # fmt: skip
    assert balance(world.ctx, amina.id) == 30000
    assert world.reconciled() and world.statement_agrees()


# --- the statement -------------------------------------------------------------------------------


def test_the_statement_match_finds_planted_differences(
    registered: MpesaWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = registered
    amina = world.person()
    first = world.settled(world.deposit(amina, "100.00"))
    second = world.settled(world.deposit(amina, "200.00"))
    assert first.receipt and second.receipt
    statement = world.sandbox.statement_csv()
    assert deposits.match_statement_text(world.ctx, statement).agrees
    lines = statement.splitlines()
    # Drop the first deposit's row, and change the second's amount.
    planted = [line for line in lines if not line.startswith(first.receipt)]
    planted = [
        line.replace("200.00", "250.00") if line.startswith(second.receipt) else line
        for line in planted
    ]
    # And a payment the ledger never saw.
    planted.append(planted[-1].replace(second.receipt, "SZZZZZZZZZ").replace("250.00", "50.00"))
    found = deposits.match_statement_text(world.ctx, "\r\n".join(planted) + "\r\n")
    assert [e.receipt for e in found.missing_in_statement] == [first.receipt]
    assert [m.receipt for m in found.mismatched] == [second.receipt]
    assert [r.receipt for r in found.missing_in_ledger] == ["SZZZZZZZZZ"]

    # The same through `soko reconcile --rail mpesa`: exit 0 on the true statement, 1 otherwise.
    settings = world.runtime.settings
    for name, value in settings.model_dump().items():
        if value is not None and (name.startswith("mpesa_") or name == "database_url"):
            shown = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            monkeypatch.setenv(f"SOKO_{name.upper()}", str(shown))
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(statement, encoding="utf-8")
    bad.write_text("\r\n".join(planted) + "\r\n", encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(cli, ["reconcile", "--rail", "mpesa", str(good)])
    assert ok.exit_code == 0, ok.output
    differs = runner.invoke(cli, ["reconcile", "--rail", "mpesa", str(bad)])
    assert differs.exit_code == 1, differs.output
    assert "SZZZZZZZZZ" in differs.output and first.receipt in differs.output
