"""SMS rules: what fits in one message (GSM-7 aware), and the retry schedule of the outbox.

One SMS carries 160 septets of the GSM 03.38 alphabet, where the extension characters
(``^{}\\[~]|€`` and form feed) take two septets each. A text with any other character is sent as
UCS-2 and carries 70 UTF-16 code units. A text that fits neither is never split into a
concatenated message: confirmations are one message, and `fit` shortens a text that is too long.
"""

from __future__ import annotations

from enum import StrEnum

from soko.kernel import limits
from soko.notify.domain import RetrySchedule

#: GSM 03.38 basic character set (without the escape to the extension table).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The extension table: an escape septet and the character's own.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

SMS_RETRIES = RetrySchedule(
    base_seconds=limits.SMS_RETRY_BASE_SECONDS,
    cap_seconds=limits.SMS_RETRY_CAP_SECONDS,
    attempts_max=limits.SMS_ATTEMPTS_MAX,
)


class SmsStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


def gsm7_septets(text: str) -> int | None:
    """Septets `text` takes in the GSM-7 alphabet, or None if it has a character outside it."""
    total = 0
    for char in text:
        if char in GSM7_BASIC:
            total += 1
        elif char in GSM7_EXTENSION:
            total += 2
        else:
            return None
    return total


def ucs2_units(text: str) -> int:
    """UTF-16 code units: a character outside the Basic Multilingual Plane takes two."""
    return len(text.encode("utf-16-le")) // 2


def fits(text: str) -> bool:
    """Whether `text` goes in one SMS: 160 GSM-7 septets, or 70 UCS-2 units."""
    septets = gsm7_septets(text)
    if septets is not None:
        return septets <= limits.SMS_SEPTETS_MAX
    return ucs2_units(text) <= limits.SMS_UCS2_UNITS_MAX


def fit(text: str) -> str:
    """`text` itself if it fits one SMS, otherwise cut short and ended with an ellipsis."""
    if fits(text):
        return text
    # "..." is GSM-7, the single character "…" is not: use the one the text's alphabet has.
    ellipsis = "..." if gsm7_septets(text) is not None else "…"
    # No text that fits is longer than 160 characters: start there, so the loop is short.
    cut = text[: limits.SMS_SEPTETS_MAX]
    while cut and not fits(cut.rstrip() + ellipsis):
        cut = cut[:-1]
    shortened = cut.rstrip() + ellipsis
    assert fits(shortened), shortened
    return shortened
