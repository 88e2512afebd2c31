"""SMS rules: what fits in one message (GSM-7 aware), and the retry schedule of the outbox.

One SMS carries 160 septets of the GSM 03.38 alphabet, where the extension characters
(``^{}\\[~]|€`` and form feed) take two septets each. A text with any other character is sent as
UCS-2 and carries 70 UTF-16 code units. A text that fits neither is never split into a
concatenated message: confirmations are one message, and `fit` shortens a text that is too long.

A text is written for its reader: `compose` takes the English text (marked `N_`, translated in
`locale/*/LC_MESSAGES/sms.po`) and a `Reader` (soko.kernel.i18n.Wording: the recipient's language
and country), and fills in the facts, amounts in the reader's local format.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from soko.kernel import limits
from soko.kernel.money import Money
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


class Reader(Protocol):
    """Whom a text is written for: their language's words and their way of writing amounts."""

    def _(self, text: str, /) -> str: ...

    def money(self, amount: Money, /) -> str: ...


def N_(text: str) -> str:  # noqa: N802 - gettext's name for "translated later"
    """Marks an SMS text for the catalogues (tests/unit/test_sms_texts.py collects them)."""
    return text


def compose(reader: Reader, text: str, /, **facts: object) -> str:
    """`text` in the reader's language with the facts filled in (Money the reader's way), in
    one SMS. Every text fits with the widest facts (tests/unit/test_sms_texts.py), so `fit`
    never cuts one in practice; it is there so that no fact could ever fail a payment."""
    shown = {k: reader.money(v) if isinstance(v, Money) else v for k, v in facts.items()}
    return fit(reader._(text).format(**shown))


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
