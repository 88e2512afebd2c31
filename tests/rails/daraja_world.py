"""Shared helpers of the M-Pesa rail tests: settings against a sandbox, and bounded polling."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from receiver import Receiver
from soko.rails.mpesa.daraja import MpesaSettings
from soko.rails.mpesa.sandbox import DarajaSandbox

CALLBACK_TOKEN = "CallbackToken0123456789abcdef"


def wait_for(condition: Callable[[], object], *, seconds: float = 5.0) -> None:
    """Polls `condition` every 10 ms; fails after `seconds` (a bound, not a sleep)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def settings_for(sandbox: DarajaSandbox, hooks: Receiver, **overrides: Any) -> MpesaSettings:
    credentials = sandbox.credentials()
    values: dict[str, Any] = {
        "base_url": credentials.base_url,
        "consumer_key": credentials.consumer_key,
        "consumer_secret": credentials.consumer_secret,
        "shortcode": credentials.shortcode,
        "passkey": credentials.passkey,
        "initiator_name": credentials.initiator_name,
        "initiator_password": credentials.initiator_password,
        "certificate_pem": credentials.certificate_pem,
        "callback_base_url": hooks.url,
        "callback_token": CALLBACK_TOKEN,
        "connect_timeout_seconds": 2.0,
        "read_timeout_seconds": 5.0,
        "backoff_seconds": 0.001,
        "backoff_cap_seconds": 0.005,
    }
    values.update(overrides)
    return MpesaSettings(**values)
