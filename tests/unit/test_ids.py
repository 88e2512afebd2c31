"""Public ids: prefix, then 26 Crockford base32 characters of a ULID that sort by creation time."""

from __future__ import annotations

import pytest

from soko.kernel.ids import ENTROPY_BYTES, format_id, is_id

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TIMESTAMP_MS_MAX = 2**48 - 1
ZEROS = bytes(ENTROPY_BYTES)
ONES = b"\xff" * ENTROPY_BYTES


def reference_ulid(timestamp_ms: int, entropy: bytes) -> str:
    """The ULID spec written out the slow way: 128 bits, 5 at a time from the least significant."""
    value = (timestamp_ms << 80) | int.from_bytes(entropy, "big")
    characters = []
    for _ in range(26):
        characters.append(CROCKFORD[value & 31])
        value >>= 5
    assert value == 0
    return "".join(reversed(characters))


@pytest.mark.parametrize(
    ("timestamp_ms", "entropy", "expected"),
    [
        pytest.param(0, ZEROS, "acc_" + "0" * 26, id="the smallest"),
        pytest.param(TIMESTAMP_MS_MAX, ONES, "acc_7" + "Z" * 25, id="the largest"),
        pytest.param(1, ZEROS, "acc_0000000001" + "0" * 16, id="one millisecond"),
        pytest.param(0, ZEROS[:-1] + b"\x01", "acc_" + "0" * 25 + "1", id="one bit of entropy"),
        # The ULID spec's own example: decodeTime("01ARYZ6S41TSV4RRFFQ69G5FAV") is this time.
        pytest.param(1469918176385, ZEROS, "acc_01ARYZ6S41" + "0" * 16, id="ULID spec time"),
    ],
)
def test_known_ids(timestamp_ms: int, entropy: bytes, expected: str) -> None:
    assert format_id("acc", timestamp_ms, entropy) == expected


@pytest.mark.parametrize(
    ("timestamp_ms", "entropy"),
    [
        pytest.param(1_767_225_600_000, bytes(range(10)), id="2026"),
        pytest.param(1_767_225_600_123, bytes(range(246, 256)), id="2026 high entropy"),
        pytest.param(2**47 + 12345, b"\x5a" * ENTROPY_BYTES, id="year 6429"),
        pytest.param(TIMESTAMP_MS_MAX - 1, b"\x01\x23\x45\x67\x89\xab\xcd\xef\x10\x32", id="end"),
    ],
)
def test_id_is_the_ulid_of_its_time_and_entropy(timestamp_ms: int, entropy: bytes) -> None:
    made = format_id("pay", timestamp_ms, entropy)
    prefix, _, ulid = made.partition("_")
    assert prefix == "pay"
    assert len(ulid) == 26
    assert set(ulid) <= set(CROCKFORD)  # no I, L, O or U, and upper case
    assert ulid == reference_ulid(timestamp_ms, entropy)
    assert is_id(made, "pay")


def test_ids_sort_by_time_whatever_their_entropy() -> None:
    # Later times get ever smaller entropy, so only the time can put them in order.
    times = [0, 1, 2, 999, 1000, 1_767_225_600_000, 1_767_225_600_001, TIMESTAMP_MS_MAX]
    made = [format_id("tr", t, bytes([255 - i]) * ENTROPY_BYTES) for i, t in enumerate(times)]
    assert sorted(made) == made
    assert len(set(made)) == len(made)


def test_ids_of_one_millisecond_sort_by_entropy() -> None:
    entropies = [ZEROS, ZEROS[:-1] + b"\x01", b"\x00\x01" + ZEROS[2:], b"\x80" + ZEROS[1:], ONES]
    made = [format_id("tr", 1_767_225_600_000, entropy) for entropy in entropies]
    assert sorted(made) == made


@pytest.mark.parametrize(
    ("prefix", "timestamp_ms", "entropy"),
    [
        pytest.param("Acc", 0, ZEROS, id="upper-case prefix"),
        pytest.param("ac1", 0, ZEROS, id="digit in prefix"),
        pytest.param("a_c", 0, ZEROS, id="underscore in prefix"),
        pytest.param("", 0, ZEROS, id="empty prefix"),
        pytest.param("\u00e9t", 0, ZEROS, id="non-ASCII prefix"),
        pytest.param("acc", -1, ZEROS, id="time before the epoch"),
        pytest.param("acc", TIMESTAMP_MS_MAX + 1, ZEROS, id="time past 48 bits"),
        pytest.param("acc", 0, ZEROS[:-1], id="9 bytes of entropy"),
        pytest.param("acc", 0, ZEROS + b"\x00", id="11 bytes of entropy"),
    ],
)
def test_format_id_refuses_programmer_errors(
    prefix: str, timestamp_ms: int, entropy: bytes
) -> None:
    with pytest.raises(AssertionError):
        format_id(prefix, timestamp_ms, entropy)


GOOD = format_id("acc", 1_767_225_600_000, bytes(range(10)))


@pytest.mark.parametrize(
    ("text", "prefix", "expected"),
    [
        pytest.param(GOOD, "acc", True, id="well formed"),
        pytest.param(GOOD, "pay", False, id="another prefix"),
        pytest.param(GOOD, "ac", False, id="a shorter prefix"),
        pytest.param(GOOD.lower(), "acc", False, id="lower case"),
        pytest.param(GOOD[:-1], "acc", False, id="25 characters"),
        pytest.param(GOOD + "0", "acc", False, id="27 characters"),
        pytest.param(GOOD[:-1] + "U", "acc", False, id="U is not Crockford"),
        pytest.param(GOOD[:-1] + "I", "acc", False, id="I is not Crockford"),
        pytest.param(" " + GOOD, "acc", False, id="leading space"),
        pytest.param("acc_", "acc", False, id="prefix only"),
        pytest.param("", "acc", False, id="empty"),
    ],
)
def test_is_id(text: str, prefix: str, expected: bool) -> None:
    assert is_id(text, prefix) is expected


def test_is_id_refuses_a_trailing_newline() -> None:
    assert not is_id(GOOD + "\n", "acc")


@pytest.mark.parametrize("prefix", ["a", "abcdefghi"])
def test_format_id_makes_no_id_that_is_id_refuses(prefix: str) -> None:
    try:
        made = format_id(prefix, 0, ZEROS)
    except AssertionError:
        return  # refusing the prefix is as good a fix as accepting it in is_id
    assert is_id(made, prefix)
