"""Public identifiers: a noun prefix and a time-ordered 26-character ULID (`acc_01J…`)."""

from __future__ import annotations

import re
from typing import Final

# Crockford's base32: no I, L, O or U, so ids survive being read aloud or typed on a phone.
_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TIMESTAMP_MS_MAX: Final = 2**48 - 1
ENTROPY_BYTES: Final = 10
_ID_PATTERN: Final = re.compile(r"[a-z]{2,8}_[0-9A-HJKMNP-TV-Z]{26}")
# Two characters per 10-bit chunk: 13 lookups instead of 26 shifts (ids are on the hot path).
_PAIRS: Final = tuple(first + second for first in _ALPHABET for second in _ALPHABET)


def format_id(prefix: str, timestamp_ms: int, entropy: bytes) -> str:
    """The id for `prefix` at `timestamp_ms` (ms since the epoch) with 80 random bits.

    Ids sort by creation time to the millisecond, which keeps B-tree inserts at the right edge.
    The clock and the random source are the caller's (the domain reads neither).
    """
    assert prefix.isascii() and prefix.isalpha() and prefix.islower(), prefix
    assert 2 <= len(prefix) <= 8, prefix  # what is_id accepts
    assert 0 <= timestamp_ms <= _TIMESTAMP_MS_MAX, timestamp_ms
    assert len(entropy) == ENTROPY_BYTES, len(entropy)
    value = (timestamp_ms << 80) | int.from_bytes(entropy, "big")
    pairs = [_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10)]
    return f"{prefix}_{''.join(pairs)}"


def is_id(text: str, prefix: str) -> bool:
    """Whether `text` is well formed for `prefix`: callers check before hitting the database."""
    return text.startswith(prefix + "_") and _ID_PATTERN.fullmatch(text) is not None
