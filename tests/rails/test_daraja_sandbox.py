"""The Daraja client against the local sandbox over real HTTP, callbacks received by a local
receiver: tokens, STK push in every result code and callback mode, C2B, B2C, status, reversal."""

from __future__ import annotations

import logging

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from daraja_world import CALLBACK_TOKEN, settings_for, wait_for

from receiver import Receiver, closed_port_url
from soko.rails.mpesa import callbacks
from soko.rails.mpesa.callbacks import C2BRejection, StkOutcome
from soko.rails.mpesa.daraja import (
    C2BResponseType,
    CallbackKind,
    DarajaAuthenticationFailed,
    DarajaClient,
    DarajaRejected,
    DarajaUnavailable,
    MpesaSettings,
)
from soko.rails.mpesa.sandbox import CallbackMode, DarajaSandbox, Kind, Script, Status
from soko.rails.mpesa.statement import Direction, LedgerEntry, match_statement, parse_statement

PHONE = "254708374149"


def push(client: DarajaClient, shillings: int = 100, reference: str = "INV-1") -> str:
    accepted = client.stk_push(
        amount_minor=shillings * 100, phone=PHONE, account_reference=reference, description="Pay"
    )
    assert accepted.response_code == "0" and accepted.checkout_request_id.startswith("ws_CO_")
    return accepted.checkout_request_id


def stk_callbacks(hooks: Receiver) -> list[callbacks.StkCallback]:
    return [
        callbacks.parse_stk_callback(r.json())
        for r in list(hooks.received)
        if r.path.endswith("/stk")
    ]


# --- tokens and credentials ----------------------------------------------------------------------


def test_the_token_is_fetched_once_and_renewed_once_when_refused(
    sandbox: DarajaSandbox, client: DarajaClient
) -> None:
    push(client)
    push(client)
    assert sandbox.token_requests == 1
    sandbox.expire_tokens()
    push(client)  # 401, a new token, the same request again
    assert sandbox.token_requests == 2
    assert len([t for t in sandbox.transactions() if t.kind is Kind.STK]) == 3


def test_the_token_is_renewed_shortly_before_it_expires(
    sandbox: DarajaSandbox, hooks: Receiver
) -> None:
    now = [1000.0]
    with DarajaClient(settings_for(sandbox, hooks), monotonic=lambda: now[0]) as client:
        client.access_token()
        now[0] += 3599 - 61  # inside the 60 s margin before Daraja's 3599 s: still cached
        client.access_token()
        assert sandbox.token_requests == 1
        now[0] += 2
        client.access_token()
        assert sandbox.token_requests == 2


def test_a_wrong_consumer_secret_is_refused(sandbox: DarajaSandbox, hooks: Receiver) -> None:
    wrong = settings_for(sandbox, hooks, consumer_secret="not-the-secret")
    with DarajaClient(wrong) as client, pytest.raises(DarajaAuthenticationFailed) as refused:
        push(client)
    assert refused.value.error_code == "400.008.01"
    assert sandbox.transactions() == []


def test_a_wrong_stk_password_is_refused_and_nothing_is_pushed(
    sandbox: DarajaSandbox, hooks: Receiver
) -> None:
    wrong = settings_for(sandbox, hooks, passkey="not-the-passkey")
    with DarajaClient(wrong) as client, pytest.raises(DarajaRejected) as refused:
        push(client)
    assert (refused.value.error_code, refused.value.error_message) == (
        "500.001.1001",
        "Wrong credentials",
    )
    assert sandbox.transactions() == []


def test_an_unreachable_daraja_is_unavailable_after_bounded_attempts(hooks: Receiver) -> None:
    settings = MpesaSettings(
        base_url=closed_port_url().removesuffix("/hooks"),
        consumer_key="k",
        consumer_secret="s",
        shortcode="174379",
        passkey="p",
        callback_base_url=hooks.url,
        callback_token=CALLBACK_TOKEN,
        backoff_seconds=0.001,
        backoff_cap_seconds=0.002,
    )
    with DarajaClient(settings) as client, pytest.raises(DarajaUnavailable, match="3 attempts"):
        push(client)


def test_secrets_stay_out_of_reprs_and_logs(
    sandbox: DarajaSandbox, hooks: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(sandbox, hooks)
    secrets = [
        settings.consumer_secret,
        settings.passkey,
        settings.initiator_password,
        settings.callback_token,
    ]
    # Callbacks go to explicit URLs here: a callback URL carries the token in its path, and
    # whoever POSTs to it or serves it logs that path (the routes must redact it).
    with caplog.at_level(logging.DEBUG), DarajaClient(settings) as client:
        client.stk_push(
            amount_minor=100,
            phone=PHONE,
            account_reference="A",
            description="d",
            callback_url=hooks.url,
        )
        client.b2c_payment(
            originator_conversation_id="po-log",
            amount_minor=1000,
            phone=PHONE,
            remarks="r",
            result_url=hooks.url,
            timeout_url=hooks.url,
        )
        token = client.access_token()
        shown = repr(settings) + repr(client) + caplog.text
    wait_for(lambda: len(hooks.received) >= 2)
    for secret in [*secrets, token]:
        assert secret not in shown


# --- STK push ------------------------------------------------------------------------------------


def test_a_paid_stk_push_calls_back_with_the_receipt_at_our_token_path(
    sandbox: DarajaSandbox, client: DarajaClient, hooks: Receiver
) -> None:
    checkout = push(client, 250, "INV-9")
    wait_for(lambda: stk_callbacks(hooks))
    assert hooks.received[0].path == f"/hooks/{CALLBACK_TOKEN}/stk"
    [paid] = stk_callbacks(hooks)
    assert (paid.checkout_request_id, paid.outcome, paid.result_code) == (
        checkout,
        StkOutcome.PAID,
        0,
    )
    assert paid.payment is not None and paid.payment.amount_minor == 25_000
    assert paid.payment.phone == PHONE
    [entry] = sandbox.transactions()
    assert (entry.receipt, entry.status) == (paid.payment.receipt, Status.COMPLETED)
    assert len(entry.receipt) == 10 and entry.receipt.isalnum() and entry.receipt.isupper()


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (0, StkOutcome.PAID),
        (1, StkOutcome.INSUFFICIENT_FUNDS),
        (1032, StkOutcome.CANCELLED),
        (1037, StkOutcome.UNREACHABLE),
        (1019, StkOutcome.EXPIRED),
        (2001, StkOutcome.WRONG_PIN),
        (1001, StkOutcome.FAILED),
        (9999, StkOutcome.FAILED),
    ],
)
def test_every_result_code_reaches_the_callback_and_the_query(
    sandbox: DarajaSandbox,
    client: DarajaClient,
    hooks: Receiver,
    code: int,
    outcome: StkOutcome,
) -> None:
    opening = sandbox.balance_minor
    sandbox.script(Script(result_code=code))
    checkout = push(client)
    wait_for(lambda: stk_callbacks(hooks))
    [called] = stk_callbacks(hooks)
    assert (called.result_code, called.outcome) == (code, outcome)
    assert (called.payment is not None) == (outcome is StkOutcome.PAID)
    queried = client.stk_query(checkout)
    assert (queried.result_code, queried.outcome, queried.pending) == (code, outcome, False)
    assert sandbox.balance_minor == opening + (10_000 if code == 0 else 0)


def test_a_callback_sent_twice_is_the_same_payment_booked_once(
    sandbox: DarajaSandbox, client: DarajaClient, hooks: Receiver
) -> None:
    opening = sandbox.balance_minor
    sandbox.script(Script(mode=CallbackMode.TWICE))
    push(client)
    wait_for(lambda: len(stk_callbacks(hooks)) == 2)
    first, second = stk_callbacks(hooks)
    assert first == second and first.payment is not None
    assert sandbox.balance_minor == opening + 10_000


def test_a_late_callback_is_pending_in_the_query_until_it_comes(
    client: DarajaClient, hooks: Receiver, sandbox: DarajaSandbox
) -> None:
    sandbox.script(Script(mode=CallbackMode.DELAYED, delay_seconds=0.4))
    checkout = push(client)
    early = client.stk_query(checkout)
    assert early.pending and early.result_code is None and not hooks.received
    wait_for(lambda: stk_callbacks(hooks))
    assert client.stk_query(checkout).outcome is StkOutcome.PAID


def test_a_lost_callback_is_settled_by_the_query(
    client: DarajaClient, hooks: Receiver, sandbox: DarajaSandbox
) -> None:
    sandbox.script(Script(result_code=1032, mode=CallbackMode.NEVER), Script())
    lost = push(client)
    later = push(client)
    # The worker sends in order: once the later callback is here, the lost one is not coming.
    wait_for(lambda: stk_callbacks(hooks))
    assert [c.checkout_request_id for c in stk_callbacks(hooks)] == [later]
    settled = client.stk_query(lost)
    assert (settled.outcome, settled.result_code) == (StkOutcome.CANCELLED, 1032)


def test_an_out_of_order_callback_comes_after_a_later_transactions(
    client: DarajaClient, hooks: Receiver, sandbox: DarajaSandbox
) -> None:
    sandbox.script(Script(mode=CallbackMode.OUT_OF_ORDER), Script(result_code=1))
    first = push(client)
    second = push(client)
    wait_for(lambda: len(stk_callbacks(hooks)) == 2)
    assert [c.checkout_request_id for c in stk_callbacks(hooks)] == [second, first]
    assert [c.outcome for c in stk_callbacks(hooks)] == [
        StkOutcome.INSUFFICIENT_FUNDS,
        StkOutcome.PAID,
    ]


def test_the_control_endpoint_scripts_the_next_push(
    sandbox: DarajaSandbox, client: DarajaClient, hooks: Receiver
) -> None:
    answer = httpx.post(
        f"{sandbox.base_url}/sandbox/script",
        json={"scripts": [{"result_code": 1037, "mode": "immediate"}]},
    )
    assert answer.json() == {"queued": 1}
    bad = httpx.post(f"{sandbox.base_url}/sandbox/script", json={"mode": "sideways"})
    assert bad.status_code == 400 and bad.json()["errorCode"] == "400.002.02"
    push(client)
    wait_for(lambda: stk_callbacks(hooks))
    assert stk_callbacks(hooks)[0].outcome is StkOutcome.UNREACHABLE


def test_daraja_field_rules_are_enforced_before_sending(client: DarajaClient) -> None:
    with pytest.raises(ValueError, match="whole shillings"):
        client.stk_push(amount_minor=10_050, phone=PHONE, account_reference="A", description="d")
    with pytest.raises(ValueError, match="phone"):
        client.stk_push(
            amount_minor=100, phone="0708374149", account_reference="A", description="d"
        )
    with pytest.raises(ValueError, match="12 characters"):
        client.stk_push(amount_minor=100, phone=PHONE, account_reference="A" * 13, description="d")


# --- C2B -----------------------------------------------------------------------------------------


def test_c2b_register_then_simulate_validates_then_confirms(
    sandbox: DarajaSandbox, client: DarajaClient, hooks: Receiver
) -> None:
    hooks.reply = callbacks.validation_accepted()  # Daraja ignores the confirmation's answer
    registered = client.register_c2b_urls()
    assert registered.response_code == "0" and registered.originator_conversation_id
    client.simulate_c2b(amount_minor=75_000, phone=PHONE, bill_ref_number="ACC-7")
    wait_for(lambda: len(hooks.received) == 2)
    asking, telling = hooks.received
    assert asking.path.endswith(f"/{CALLBACK_TOKEN}/c2b/validation")
    assert telling.path.endswith(f"/{CALLBACK_TOKEN}/c2b/confirmation")
    asked = callbacks.parse_c2b_validation(asking.json())
    told = callbacks.parse_c2b_confirmation(telling.json())
    assert asked.trans_id == told.trans_id
    assert (told.amount_minor, told.bill_ref_number, told.msisdn) == (75_000, "ACC-7", PHONE)
    assert asked.org_account_balance_minor is None
    assert told.org_account_balance_minor == sandbox.balance_minor
    assert sandbox.transaction(told.trans_id) is not None


@pytest.mark.parametrize(
    "rejection",
    [C2BRejection.INVALID_MSISDN, C2BRejection.INVALID_ACCOUNT_NUMBER, C2BRejection.INVALID_AMOUNT],
)
def test_a_validation_rejection_stops_the_payment(
    sandbox: DarajaSandbox, client: DarajaClient, hooks: Receiver, rejection: C2BRejection
) -> None:
    opening = sandbox.balance_minor
    hooks.reply = callbacks.validation_rejected(rejection)
    client.register_c2b_urls()
    client.simulate_c2b(amount_minor=5_000, phone=PHONE, bill_ref_number="NOPE")
    wait_for(lambda: sandbox.transactions()[0].status is Status.FAILED)
    [entry] = sandbox.transactions()
    assert entry.result_code == rejection.value
    assert [r.path.rpartition("/c2b/")[2] for r in hooks.received] == ["validation"]
    assert sandbox.balance_minor == opening
    assert entry.receipt not in sandbox.statement_csv()


def test_an_unanswered_validation_falls_back_to_the_response_type(
    sandbox: DarajaSandbox, client: DarajaClient, hooks: Receiver
) -> None:
    client.register_c2b_urls(
        response_type=C2BResponseType.CANCELLED,
        confirmation_url=hooks.url,
        validation_url=closed_port_url(),
    )
    client.simulate_c2b(amount_minor=5_000, phone=PHONE)
    wait_for(lambda: sandbox.transactions()[0].status is Status.FAILED)
    assert not hooks.received


def test_c2b_urls_with_words_daraja_refuses_are_not_sent(client: DarajaClient) -> None:
    with pytest.raises(ValueError, match="refuses"):
        client.register_c2b_urls(confirmation_url="https://shop.example/mpesa/confirm")


def test_c2b_simulate_without_registered_urls_is_refused(client: DarajaClient) -> None:
    with pytest.raises(DarajaRejected) as refused:
        client.simulate_c2b(amount_minor=5_000, phone=PHONE)
    assert refused.value.error_code == "400.003.02"


# --- B2C, status, reversal -----------------------------------------------------------------------


def results(hooks: Receiver, kind: CallbackKind) -> list[dict[str, object]]:
    suffix = f"/{kind.value}"
    return [r.json() for r in list(hooks.received) if r.path.endswith(suffix)]


def test_a_b2c_payment_reports_its_result(
    sandbox: DarajaSandbox, client: DarajaClient, hooks: Receiver
) -> None:
    opening = sandbox.balance_minor
    accepted = client.b2c_payment(
        originator_conversation_id="payout-1", amount_minor=50_000, phone=PHONE, remarks="Payout"
    )
    assert (accepted.originator_conversation_id, accepted.response_code) == ("payout-1", "0")
    wait_for(lambda: results(hooks, CallbackKind.B2C_RESULT))
    result = callbacks.parse_b2c_result(results(hooks, CallbackKind.B2C_RESULT)[0])
    assert result.header.succeeded and result.header.originator_conversation_id == "payout-1"
    assert result.header.conversation_id == accepted.conversation_id
    assert result.paid is not None and result.paid.amount_minor == 50_000
    assert result.paid.utility_account_balance_minor == opening - 50_000 == sandbox.balance_minor


def test_a_b2c_queue_timeout_goes_to_the_timeout_url_and_moves_nothing(
    sandbox: DarajaSandbox, client: DarajaClient, hooks: Receiver
) -> None:
    opening = sandbox.balance_minor
    sandbox.script(Script(queue_timeout=True))
    client.b2c_payment(
        originator_conversation_id="payout-2", amount_minor=1_000, phone=PHONE, remarks="Payout"
    )
    wait_for(lambda: results(hooks, CallbackKind.B2C_TIMEOUT))
    timeout = callbacks.parse_queue_timeout(results(hooks, CallbackKind.B2C_TIMEOUT)[0])
    assert timeout.originator_conversation_id == "payout-2"
    assert not results(hooks, CallbackKind.B2C_RESULT)
    assert sandbox.balance_minor == opening
    client.transaction_status(originator_conversation_id="payout-2")
    wait_for(lambda: results(hooks, CallbackKind.STATUS_RESULT))
    status = callbacks.parse_transaction_status_result(
        results(hooks, CallbackKind.STATUS_RESULT)[0]
    )
    assert status.found is not None and status.found.status == "Expired"


def test_a_lost_b2c_result_is_settled_by_a_status_query_on_our_id(
    sandbox: DarajaSandbox, client: DarajaClient, hooks: Receiver
) -> None:
    sandbox.script(Script(mode=CallbackMode.NEVER))
    client.b2c_payment(
        originator_conversation_id="payout-3", amount_minor=2_000, phone=PHONE, remarks="Payout"
    )
    client.transaction_status(originator_conversation_id="payout-3")
    wait_for(lambda: results(hooks, CallbackKind.STATUS_RESULT))
    assert not results(hooks, CallbackKind.B2C_RESULT)
    status = callbacks.parse_transaction_status_result(
        results(hooks, CallbackKind.STATUS_RESULT)[0]
    )
    assert status.found is not None
    assert (status.found.status, status.found.amount_minor) == ("Completed", 2_000)
    assert status.found.original_originator_conversation_id == "payout-3"
    [entry] = sandbox.transactions()
    assert status.found.receipt == entry.receipt


def test_a_repeated_b2c_originator_id_pays_once(
    sandbox: DarajaSandbox, client: DarajaClient
) -> None:
    first = client.b2c_payment(
        originator_conversation_id="payout-4", amount_minor=1_000, phone=PHONE, remarks="r"
    )
    again = client.b2c_payment(
        originator_conversation_id="payout-4", amount_minor=1_000, phone=PHONE, remarks="r"
    )
    assert first == again
    [entry] = sandbox.transactions()
    assert entry.submissions == 2


@pytest.mark.parametrize(
    ("opening", "password", "code"),
    [(500, None, "1"), (10**8, "wrong-password", "2001")],
    ids=["insufficient-balance", "wrong-initiator-password"],
)
def test_a_failed_b2c_reports_its_code_and_pays_nothing(
    sandbox_key: rsa.RSAPrivateKey,
    hooks: Receiver,
    opening: int,
    password: str | None,
    code: str,
) -> None:
    with DarajaSandbox(private_key=sandbox_key, opening_balance_minor=opening) as small:
        overrides = {} if password is None else {"initiator_password": password}
        with DarajaClient(settings_for(small, hooks, **overrides)) as client:
            client.b2c_payment(
                originator_conversation_id="p", amount_minor=1_000, phone=PHONE, remarks="r"
            )
            wait_for(lambda: results(hooks, CallbackKind.B2C_RESULT))
        result = callbacks.parse_b2c_result(results(hooks, CallbackKind.B2C_RESULT)[0])
        assert (result.header.result_code, result.paid) == (code, None)
        assert small.balance_minor == opening


def test_transaction_status_by_receipt_and_an_unknown_one(
    client: DarajaClient, hooks: Receiver
) -> None:
    push(client, 40)
    wait_for(lambda: stk_callbacks(hooks))
    payment = stk_callbacks(hooks)[0].payment
    assert payment is not None
    client.transaction_status(transaction_id=payment.receipt)
    client.transaction_status(transaction_id="SXXXXXXXXX")
    wait_for(lambda: len(results(hooks, CallbackKind.STATUS_RESULT)) == 2)
    known, unknown = (
        callbacks.parse_transaction_status_result(body)
        for body in results(hooks, CallbackKind.STATUS_RESULT)
    )
    assert known.found is not None and known.found.receipt == payment.receipt
    assert (known.found.amount_minor, known.found.status) == (4_000, "Completed")
    assert not unknown.header.succeeded and unknown.found is None
    with pytest.raises(ValueError, match="exactly one"):
        client.transaction_status()


def test_a_reversal_returns_a_payment_once(
    sandbox: DarajaSandbox, client: DarajaClient, hooks: Receiver
) -> None:
    push(client, 300)
    wait_for(lambda: stk_callbacks(hooks))
    payment = stk_callbacks(hooks)[0].payment
    assert payment is not None
    after_payment = sandbox.balance_minor
    client.reversal(transaction_id=payment.receipt, amount_minor=30_000, remarks="Refund")
    wait_for(lambda: results(hooks, CallbackKind.REVERSAL_RESULT))
    client.reversal(transaction_id=payment.receipt, amount_minor=30_000, remarks="Refund")
    client.reversal(transaction_id="SNOTATHING", amount_minor=30_000, remarks="Refund")
    wait_for(lambda: len(results(hooks, CallbackKind.REVERSAL_RESULT)) == 3)
    done, again, unknown = (
        callbacks.parse_reversal_result(body)
        for body in results(hooks, CallbackKind.REVERSAL_RESULT)
    )
    assert done.reversed is not None and done.reversed.original_transaction_id == payment.receipt
    assert done.reversed.amount_minor == 30_000
    assert (again.header.result_code, unknown.header.result_code) == ("R000001", "R000002")
    assert sandbox.balance_minor == after_payment - 30_000
    client.transaction_status(transaction_id=payment.receipt)
    wait_for(lambda: results(hooks, CallbackKind.STATUS_RESULT))
    status = callbacks.parse_transaction_status_result(
        results(hooks, CallbackKind.STATUS_RESULT)[0]
    )
    assert status.found is not None and status.found.status == "Reversed"


# --- the statement of the sandbox's books --------------------------------------------------------


def test_the_statement_export_reconciles_with_what_the_callbacks_said(
    sandbox: DarajaSandbox, client: DarajaClient, hooks: Receiver
) -> None:
    sandbox.script(Script(), Script(result_code=1032), Script())
    for shillings in (1_500, 200, 70):
        push(client, shillings)
    client.b2c_payment(
        originator_conversation_id="po", amount_minor=1_000, phone=PHONE, remarks="r"
    )
    wait_for(lambda: len(stk_callbacks(hooks)) == 3 and results(hooks, CallbackKind.B2C_RESULT))
    ledger = [
        LedgerEntry(c.payment.receipt, c.payment.amount_minor, Direction.IN)
        for c in stk_callbacks(hooks)
        if c.payment is not None
    ]
    b2c = callbacks.parse_b2c_result(results(hooks, CallbackKind.B2C_RESULT)[0])
    assert b2c.paid is not None
    ledger.append(LedgerEntry(b2c.paid.receipt, b2c.paid.amount_minor, Direction.OUT))
    exported = httpx.get(f"{sandbox.base_url}/sandbox/statement.csv").text
    assert exported == sandbox.statement_csv()
    rows = parse_statement(exported)
    assert len(rows) == 3
    assert rows[-1].balance_minor == sandbox.balance_minor
    assert match_statement(rows, ledger).agrees
    lost = match_statement(rows, ledger[1:])
    assert [row.receipt for row in lost.missing_in_ledger] == [ledger[0].receipt]
