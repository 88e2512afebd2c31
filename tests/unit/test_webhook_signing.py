"""Webhook signatures (checked by the `standardwebhooks` package), retry schedules, SMS sizes."""

from __future__ import annotations

import base64
import ipaddress
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from soko.kernel import limits
from soko.notify.domain import (
    WEBHOOK_RETRIES,
    RetrySchedule,
    address_is_public,
    after_attempt,
    format_secret,
    is_success,
    sign,
    signed_headers,
)
from soko.notify.sms import SMS_RETRIES, fit, fits, gsm7_septets

#: The test vector of the Standard Webhooks specification (and of its libraries' own tests).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specification_test_vector() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_an_independent_verifier_accepts_our_signature() -> None:
    secret = format_secret(bytes(range(32)))
    body = b'{"id":"evt_1","type":"payment.succeeded","data":{"amount":"10.00"}}'
    now = int(datetime.now(UTC).timestamp())  # the verifier compares with the wall clock
    headers = signed_headers(secret, "evt_1", now, body)
    assert Webhook(secret).verify(body, headers)["id"] == "evt_1"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"10.00", b"99.00"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(format_secret(bytes(32))).verify(body, headers)


def test_a_secret_is_whsec_and_base64_of_its_key() -> None:
    secret = format_secret(b"k" * 32)
    assert secret.startswith("whsec_")
    assert base64.b64decode(secret.removeprefix("whsec_")) == b"k" * 32


@pytest.mark.parametrize(
    ("status", "ok"),
    [(200, True), (204, True), (299, True), (301, False), (400, False), (500, False)],
)
def test_only_2xx_acknowledges(status: int, ok: bool) -> None:
    assert is_success(status) is ok


@pytest.mark.parametrize("schedule", [WEBHOOK_RETRIES, SMS_RETRIES])
def test_backoff_doubles_up_to_its_cap_with_equal_jitter(schedule: RetrySchedule) -> None:
    ceilings = [schedule.ceiling_seconds(n) for n in range(1, 60)]
    assert ceilings[0] == schedule.base_seconds
    assert ceilings == sorted(ceilings)
    assert max(ceilings) == schedule.cap_seconds
    for attempts in range(1, 60):
        ceiling = schedule.ceiling_seconds(attempts)
        delays = {schedule.delay_seconds(attempts, f"whd_{seed}") for seed in range(50)}
        assert all(ceiling // 2 <= delay <= ceiling for delay in delays)
        if ceiling >= 8:
            assert len(delays) > 1, "jitter spreads deliveries that failed together"
    # Reproducible: the same delivery and attempt wait the same time.
    assert schedule.delay_seconds(3, "whd_x") == schedule.delay_seconds(3, "whd_x")


def test_the_last_attempt_is_bounded_and_the_schedule_spans_a_day() -> None:
    total = sum(WEBHOOK_RETRIES.ceiling_seconds(n) for n in range(1, limits.WEBHOOK_ATTEMPTS_MAX))
    assert 24 * 3600 <= total <= 3 * 24 * 3600


def test_after_attempt_schedules_then_gives_up() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    first = after_attempt(WEBHOOK_RETRIES, attempts_before=0, succeeded=False, now=now, seed="d")
    assert first.attempts == 1 and not first.dead and first.next_attempt_at is not None
    assert timedelta(seconds=15) <= first.next_attempt_at - now <= timedelta(seconds=30)
    last = after_attempt(
        WEBHOOK_RETRIES,
        attempts_before=limits.WEBHOOK_ATTEMPTS_MAX - 1,
        succeeded=False,
        now=now,
        seed="d",
    )
    assert last.dead and last.attempts == limits.WEBHOOK_ATTEMPTS_MAX
    done = after_attempt(WEBHOOK_RETRIES, attempts_before=4, succeeded=True, now=now, seed="d")
    assert done.succeeded and done.next_attempt_at is None and not done.dead


# --- SMS sizes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "septets"),
    [
        ("Hello", 5),
        ("KES 1,500.00 received", 21),
        ("{€}", 6),  # extension characters take two septets
        ("Zoë", None),  # ë is not GSM-7
        ("Habari 👋", None),
    ],
)
def test_gsm7_septets(text: str, septets: int | None) -> None:
    assert gsm7_septets(text) == septets


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("a" * 160, True),
        ("a" * 161, False),
        ("€" * 80, True),
        ("€" * 81, False),
        ("ë" * 70, True),
        ("ë" * 71, False),
        ("👋" * 35, True),  # two UTF-16 units each
        ("👋" * 36, False),
    ],
)
def test_fits_one_sms(text: str, ok: bool) -> None:
    assert fits(text) is ok


@pytest.mark.parametrize("text", ["short", "a" * 200, "€" * 100, "Zoë " * 40, "👋" * 50])
def test_fit_shortens_only_what_does_not_fit(text: str) -> None:
    fitted = fit(text)
    assert fits(fitted)
    if fits(text):
        assert fitted == text
    else:
        assert fitted.endswith(("...", "…")) and len(fitted) < len(text)


# --- docs/webhooks.md -----------------------------------------------------------------------------


def test_the_receiver_in_the_docs_accepts_soko_and_refuses_forgeries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    [snippet] = re.findall(r"```python\n(.*?)```", docs, flags=re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "docs/webhooks.md", "exec"), namespace)
    handle = namespace["handle"]

    secret = format_secret(bytes(range(24, 56)))
    body = b'{"id":"evt_1","type":"payment.succeeded","created_at":"x","data":{"n":1}}'
    headers = signed_headers(secret, "evt_1", int(datetime.now(UTC).timestamp()), body)
    assert handle(secret, body, headers) == 200
    assert capsys.readouterr().out == "payment.succeeded {'n': 1}\n"
    assert handle(secret, body, headers) == 200  # a repeat
    assert capsys.readouterr().out == ""
    assert handle(secret, body.replace(b"1}", b"2}"), headers) == 400
    assert handle(format_secret(bytes(32)), body, headers) == 400


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1", False),
        # IPv6 forms that carry an IPv4 address inside: judged by the address they carry.
        ("::ffff:127.0.0.1", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::808:808", True),
        ("2002:7f00:1::", False),
        ("2002:a9fe:a9fe::", False),
        ("::127.0.0.1", False),
    ],
)
def test_only_public_addresses_receive_webhooks(address: str, public: bool) -> None:
    assert address_is_public(ipaddress.ip_address(address)) is public
