"""STK push deposits end to end against the Daraja sandbox, on SQLite and PostgreSQL: paid,
every result code, duplicate, late and out-of-order callbacks, a lost callback settled by the
worker's query, forged callbacks refused, and crashes between asking and recording."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from fakes import FakeClock
from merchants import balance, kes, key
from mpesa_world import QUERY_AFTER, MpesaWorld, serve_world, wait_for
from soko.bootstrap import Runtime
from soko.channels.api.app import create_app
from soko.context import Context
from soko.deposits import service as deposits
from soko.deposits.domain import Deposit, DepositOutcome, DepositState
from soko.deposits.errors import MpesaAmountInvalid, MpesaNotConfigured
from soko.deposits.ports import DarajaOutcomeUnknown
from soko.people import access
from soko.rails.mpesa.daraja import StkPushAccepted
from soko.rails.mpesa.sandbox import CallbackMode, DarajaSandbox, Kind, Script


def stk_receipt(world: MpesaWorld, deposit: Deposit) -> str:
    [entry] = [
        t
        for t in world.sandbox.transactions()
        if t.kind is Kind.STK and t.checkout_request_id == deposit.checkout_request_id
    ]
    return entry.receipt


def test_a_deposit_is_credited_once_when_its_callback_comes(world: MpesaWorld) -> None:
    amina = world.person()
    asked = world.deposit(amina, "1500.00")
    assert asked.state in (DepositState.PENDING, DepositState.PAID)
    assert asked.checkout_request_id is not None
    paid = world.settled(asked)
    assert paid.state is DepositState.PAID and paid.outcome is DepositOutcome.PAID
    assert paid.receipt == stk_receipt(world, paid)
    assert balance(world.ctx, amina.id) == 150000
    assert world.movements(paid.receipt) == 1
    assert world.reconciled() and world.statement_agrees()


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (1, DepositOutcome.INSUFFICIENT_FUNDS),
        (1032, DepositOutcome.CANCELLED),
        (1037, DepositOutcome.UNREACHABLE),
        (1019, DepositOutcome.EXPIRED),
        (2001, DepositOutcome.WRONG_PIN),
        (1001, DepositOutcome.FAILED),
    ],
)
def test_every_result_code_ends_the_deposit_with_its_outcome(
    world: MpesaWorld, code: int, outcome: DepositOutcome
) -> None:
    amina = world.person()
    failed = world.settled(world.deposit(amina, script=Script(result_code=code)))
    assert failed.state is DepositState.FAILED
    assert (failed.outcome, failed.result_code) == (outcome, code)
    assert failed.transfer_id is None and balance(world.ctx, amina.id) == 0
    assert world.reconciled() and world.statement_agrees()


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(Script(mode=CallbackMode.TWICE), id="twice"),
        pytest.param(Script(mode=CallbackMode.DELAYED, delay_seconds=0.3), id="late"),
    ],
)
def test_a_repeated_or_late_callback_credits_once(world: MpesaWorld, script: Script) -> None:
    amina = world.person()
    paid = world.settled(world.deposit(amina, script=script))
    assert paid.receipt is not None
    # The second copy is answered too, and moves nothing.
    wait_for(lambda: len([d for d in world.sandbox.deliveries() if d.url.endswith("/stk")])
             == (2 if script.mode is CallbackMode.TWICE else 1))  # fmt: skip
    assert all(d.status == 200 for d in world.sandbox.deliveries())
    assert balance(world.ctx, amina.id) == 10000
    assert world.movements(paid.receipt) == 1
    assert world.reconciled() and world.statement_agrees()


def test_callbacks_out_of_order_each_credit_their_own_deposit_once(world: MpesaWorld) -> None:
    amina, baraka = world.person(), world.person("Baraka")
    first = world.deposit(amina, "200.00", script=Script(mode=CallbackMode.OUT_OF_ORDER))
    second = world.deposit(baraka, "300.00")
    assert world.settled(second).state is DepositState.PAID
    assert world.settled(first).state is DepositState.PAID
    assert (balance(world.ctx, amina.id), balance(world.ctx, baraka.id)) == (20000, 30000)
    assert world.reconciled() and world.statement_agrees()


def test_a_lost_callback_is_settled_by_the_workers_query(world: MpesaWorld) -> None:
    amina = world.person()
    pending = world.deposit(amina, script=Script(mode=CallbackMode.NEVER))
    assert deposits.check_deposits(world.ctx) == 0  # not due yet
    world.clock.advance(QUERY_AFTER)
    assert deposits.check_deposits(world.ctx) == 1
    paid = world.current(pending)
    assert paid.state is DepositState.PAID and paid.receipt is None
    assert balance(world.ctx, amina.id) == 10000 and world.movements(pending.id) == 1
    # The statement names the deposit by the account reference its push carried.
    assert world.reconciled() and world.statement_agrees()


def test_a_late_callback_after_the_query_brings_the_receipt_and_moves_nothing(
    world: MpesaWorld,
) -> None:
    amina = world.person()
    pending = world.deposit(amina, script=Script(mode=CallbackMode.OUT_OF_ORDER))
    world.clock.advance(QUERY_AFTER)
    deposits.check_deposits(world.ctx)
    assert world.current(pending).receipt is None
    world.sandbox.release_held()
    wait_for(lambda: world.current(pending).receipt is not None)
    assert balance(world.ctx, amina.id) == 10000 and world.movements(pending.id) == 1
    assert world.reconciled() and world.statement_agrees()


def test_a_deposit_still_unanswered_is_asked_again_later(world: MpesaWorld) -> None:
    amina = world.person()
    pending = world.deposit(amina, script=Script(mode=CallbackMode.DELAYED, delay_seconds=600))
    world.clock.advance(QUERY_AFTER)
    deposits.check_deposits(world.ctx)
    waiting = world.current(pending)
    assert waiting.state is DepositState.PENDING and waiting.queries == 1
    assert waiting.next_check_at is not None
    # The waits double: the first query after QUERY_AFTER, the next after twice that.
    assert (waiting.next_check_at - world.clock.now()).total_seconds() == 2 * QUERY_AFTER


def test_the_worker_killed_between_asking_and_recording_credits_once(world: MpesaWorld) -> None:
    amina = world.person()
    pending = world.deposit(amina, script=Script(mode=CallbackMode.NEVER))
    world.clock.advance(QUERY_AFTER)
    [claimed] = deposits.claim_deposits(world.ctx)
    answer = deposits.ask(world.ctx, claimed)  # ... and the worker dies here
    assert answer.outcome is DepositOutcome.PAID
    assert world.current(pending).state is DepositState.PENDING
    world.clock.advance(world.ctx.payout_lease_seconds)  # its lease runs out
    assert deposits.check_deposits(world.ctx) == 1
    deposits.record_answer(world.ctx, answer)  # a ghost of the dead worker records late
    assert balance(world.ctx, amina.id) == 10000 and world.movements(pending.id) == 1
    assert world.reconciled() and world.statement_agrees()


class LostAnswer:
    """Daraja pushes, but its answer never reaches Soko (as when the process dies mid-call)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def stk_push(self, **kwargs: object) -> StkPushAccepted:
        self.inner.stk_push(**kwargs)  # type: ignore[attr-defined]
        raise DarajaOutcomeUnknown("/mpesa/stkpush/v1/processrequest", "ReadTimeout")

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_a_push_whose_answer_was_lost_is_paid_once_when_daraja_confirms(
    world: MpesaWorld,
) -> None:
    mpesa = dataclasses.replace(world.mpesa, daraja=LostAnswer(world.mpesa.daraja))  # type: ignore[arg-type]
    ctx = dataclasses.replace(world.ctx, mpesa=mpesa)
    world.runtime = dataclasses.replace(world.runtime, context=ctx)
    amina = world.person()
    asked = deposits.request_deposit(
        ctx, user_id=amina.id, amount=kes("100.00"), phone=None, idempotency_key=key()
    )
    assert asked.checkout_request_id is None
    # The callback names a CheckoutRequestID Soko never recorded; Daraja's query confirms it.
    wait_for(lambda: world.current(asked).state is DepositState.PAID)
    paid = world.current(asked)
    assert paid.receipt is not None and paid.checkout_request_id is not None
    assert balance(ctx, amina.id) == 10000 and world.movements(paid.receipt) == 1
    assert world.reconciled() and world.statement_agrees()


def test_a_retried_request_pushes_once(world: MpesaWorld) -> None:
    amina = world.person()
    same = key()
    first = deposits.request_deposit(
        world.ctx, user_id=amina.id, amount=kes("100.00"), phone=None, idempotency_key=same
    )
    again = deposits.request_deposit(
        world.ctx, user_id=amina.id, amount=kes("100.00"), phone=None, idempotency_key=same
    )
    assert again.id == first.id
    assert len([t for t in world.sandbox.transactions() if t.kind is Kind.STK]) == 1


def test_amounts_mpesa_cannot_move_are_refused_before_any_push(world: MpesaWorld) -> None:
    amina = world.person()
    for amount in ("10.50", "250001.00"):
        with pytest.raises(MpesaAmountInvalid):
            world.deposit(amina, amount)
    assert world.sandbox.transactions() == []


# --- forged and broken callbacks -----------------------------------------------------------------


def paid_body(deposit: Deposit, *, shillings: int, phone: str, receipt: str) -> dict[str, object]:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": deposit.merchant_request_id or "x",
                "CheckoutRequestID": deposit.checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": shillings},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "TransactionDate", "Value": 20260101120000},
                        {"Name": "PhoneNumber", "Value": int(phone)},
                    ]
                },
            }
        }
    }


def test_forged_callbacks_are_refused_or_ignored_and_move_nothing(world: MpesaWorld) -> None:
    amina = world.person()
    pending = world.deposit(amina, script=Script(mode=CallbackMode.NEVER))
    right = paid_body(pending, shillings=100, phone=pending.phone, receipt="SFORGED001")
    # A wrong token: as if there were no such route.
    assert world.callback("stk", right, token="WrongToken0123456789abcd").status_code == 404
    # A wrong amount, or another phone: acknowledged, nothing moved.
    for body in (
        paid_body(pending, shillings=1000, phone=pending.phone, receipt="SFORGED002"),
        paid_body(pending, shillings=100, phone="254700000001", receipt="SFORGED003"),
    ):
        answer = world.callback("stk", body)
        assert answer.status_code == 200 and answer.json()["ResultCode"] == 0
    # Malformed bodies, and an unknown CheckoutRequestID: acknowledged, nothing moved.
    for body in ({"Body": {}}, [1, 2], {"Body": {"stkCallback": {"ResultCode": "x"}}}):
        assert world.callback("stk", body).status_code == 200
    unknown = dataclasses.replace(pending, checkout_request_id="ws_CO_000000")
    assert world.callback("stk", paid_body(unknown, shillings=100, phone=pending.phone,
                                           receipt="SFORGED004")).status_code == 200  # fmt: skip
    assert world.current(pending).state is DepositState.PENDING
    assert balance(world.ctx, amina.id) == 0
    # The worker's query, Daraja's own word, settles it as it really is.
    world.clock.advance(QUERY_AFTER)
    deposits.check_deposits(world.ctx)
    assert balance(world.ctx, amina.id) == 10000
    assert world.reconciled()


def test_callbacks_from_outside_the_allowed_networks_are_refused(
    database_url: str, sandbox: DarajaSandbox, clock: FakeClock, tmp_path: Path
) -> None:
    with serve_world(database_url, sandbox, clock, tmp_path,
                     mpesa_callback_networks="196.201.214.200/32") as world:  # fmt: skip
        amina = world.person()
        pending = world.deposit(amina)
        wait_for(world.sandbox.deliveries)
        assert [d.status for d in world.sandbox.deliveries()] == [403]
        assert world.current(pending).state is DepositState.PENDING
        assert balance(world.ctx, amina.id) == 0


def test_without_mpesa_settings_deposits_are_refused(ctx: Context) -> None:
    with pytest.raises(MpesaNotConfigured):
        deposits.request_deposit(
            ctx, user_id="usr_x", amount=kes("100.00"), phone=None, idempotency_key=key()
        )
    assert deposits.check_deposits(ctx) == 0


def test_the_api_takes_a_deposit_and_shows_it(world: MpesaWorld) -> None:
    amina = world.person()
    secret = access.create_api_key(world.ctx, role="operator", name="ops").secret
    headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": key()}
    body = {"amount": {"amount": "100.00", "currency": "KES"}, "user_id": amina.id}
    created = httpx.post(f"{world.url}/v1/deposits", json=body, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    deposit_id = created.json()["id"]
    assert created.headers["Location"] == f"/v1/deposits/{deposit_id}"
    wait_for(lambda: httpx.get(f"{world.url}/v1/deposits/{deposit_id}", headers=headers,
                               timeout=10).json()["status"] == "paid")  # fmt: skip
    bad = {"amount": {"amount": "10.50", "currency": "KES"}, "user_id": amina.id}
    refused = httpx.post(f"{world.url}/v1/deposits", json=bad,
                         headers={**headers, "Idempotency-Key": key()}, timeout=10)  # fmt: skip
    assert refused.status_code == 422 and refused.json()["code"] == "mpesa_amount_invalid"


def test_the_api_says_when_mpesa_is_off(runtime: Runtime) -> None:
    secret = access.create_api_key(runtime.context, role="operator", name="ops").secret
    with TestClient(create_app(runtime)) as client:
        answer = client.post(
            "/v1/deposits",
            json={"amount": {"amount": "100.00", "currency": "KES"}, "user_id": "usr_x"},
            headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": key()},
        )
    assert answer.status_code == 422 and answer.json()["code"] == "mpesa_not_configured"
