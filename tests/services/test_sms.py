"""SMS: texts queued in the caller's transaction, sent by the worker to a log file or a gateway."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fakes import FakeClock
from receiver import closed_port_url, serve
from soko import bootstrap
from soko.bootstrap import Runtime
from soko.channels.worker import loop
from soko.config import Settings
from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.transactions import in_transaction
from soko.notify import sms_service as sms
from soko.notify.domain import SmsMessage
from soko.notify.sms import SMS_RETRIES, fit

PHONE = "+254712345678"
TEXT = "Confirmed. You paid KES 150.00 to Wanjiru's kiosk. Ref pay_01JH."


@pytest.fixture
def make_runtime(
    database_url: str, clock: FakeClock, tmp_path: Path
) -> Iterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def make(**settings: Any) -> Runtime:
        runtime = bootstrap.build(
            Settings(
                database_url=database_url,
                sms_log_path=str(tmp_path / "sms.log"),
                pin_hash_time_cost=1,
                pin_hash_memory_kib=8,
                **settings,
            ),
            clock=clock,
        )
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def queue(ctx: Context, text: str = TEXT, phone: str = PHONE) -> str:
    def work(uow: UnitOfWork) -> str:
        return sms.queue(uow, ctx, phone=phone, text=text)

    return in_transaction(ctx, work)


def stored(ctx: Context, sms_id: str) -> SmsMessage:
    found = sms.get_sms(ctx, sms_id)
    assert found is not None
    return found


def test_the_default_sender_appends_a_line_to_the_log_file(
    make_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    ctx = make_runtime().context
    first = queue(ctx)
    second = queue(ctx, "Line one\nline two", "+256772123456")
    assert sms.send_due(ctx) == 2
    assert sms.send_due(ctx) == 0
    lines = (tmp_path / "sms.log").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2  # a newline in a text stays inside its line
    # Texts queued in the same millisecond go in either order.
    logged = {phone: (message_id, json.loads(text)) for _, message_id, phone, text in (
        line.split(" ", 3) for line in lines
    )}  # fmt: skip
    assert logged[PHONE][1] == TEXT
    assert logged["+256772123456"][1] == "Line one\nline two"
    for sms_id, phone in ((first, PHONE), (second, "+256772123456")):
        sent = stored(ctx, sms_id)
        assert (sent.status, sent.attempts, sent.provider_message_id) == (
            "sent",
            1,
            logged[phone][0],
        )


def test_the_worker_sends_queued_texts(make_runtime: Callable[..., Runtime]) -> None:
    ctx = make_runtime().context
    queue(ctx)
    assert loop.run_once(ctx).handled["send_sms"] == 1


def test_the_http_sender_posts_json_with_its_token(make_runtime: Callable[..., Runtime]) -> None:
    with serve() as gateway:
        gateway.reply = {"id": "AT-123"}
        ctx = make_runtime(sms_gateway_url=gateway.url, sms_gateway_token="s3cret").context
        sms_id = queue(ctx)
        assert sms.send_due(ctx) == 1
    [request] = gateway.received
    assert request.json() == {"to": PHONE, "text": TEXT}
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.headers["content-type"] == "application/json"
    sent = stored(ctx, sms_id)
    assert (sent.status, sent.provider_message_id) == ("sent", "AT-123")


def test_a_failing_gateway_is_retried_after_the_backoff_then_gives_up(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    with serve() as gateway:
        ctx = make_runtime(sms_gateway_url=gateway.url).context
        gateway.answer([503])
        sms_id = queue(ctx)
        assert sms.send_due(ctx) == 1
        failed = stored(ctx, sms_id)
        assert (failed.status, failed.attempts) == ("pending", 1)
        assert failed.last_error == "SMS gateway answered HTTP 503"
        assert sms.send_due(ctx) == 0
        clock.advance(SMS_RETRIES.ceiling_seconds(1))
        assert sms.send_due(ctx) == 1
        assert stored(ctx, sms_id).status == "sent"

        gateway.default = 500
        doomed = queue(ctx)
        for _ in range(limits.SMS_ATTEMPTS_MAX):
            assert sms.send_due(ctx) == 1
            clock.advance(limits.SMS_RETRY_CAP_SECONDS)
        assert sms.send_due(ctx) == 0
    dead = stored(ctx, doomed)
    assert (dead.status, dead.attempts, dead.next_attempt_at) == (
        "dead",
        limits.SMS_ATTEMPTS_MAX,
        None,
    )


def test_an_unreachable_gateway_is_a_recorded_failure(
    make_runtime: Callable[..., Runtime],
) -> None:
    ctx = make_runtime(sms_gateway_url=closed_port_url()).context
    sms_id = queue(ctx)
    assert sms.send_due(ctx) == 1
    failed = stored(ctx, sms_id)
    assert failed.status == "pending" and "ConnectError" in (failed.last_error or "")


def test_queue_refuses_a_text_that_does_not_fit_one_sms(
    make_runtime: Callable[..., Runtime],
) -> None:
    ctx = make_runtime().context
    with pytest.raises(AssertionError, match="does not fit"):
        queue(ctx, "x" * 161)
    with pytest.raises(AssertionError, match="does not fit"):
        queue(ctx, "Asante 🙏 " * 10)
    sms_id = queue(ctx, fit("x" * 161))
    assert stored(ctx, sms_id).text == "x" * 157 + "..."
