"""What counts as text: no NUL and no lone surrogate, and the printable names people have.

A NUL cannot be stored in PostgreSQL (and SQLite would keep it), and a lone surrogate (JSON's
"\\ud800") cannot be encoded as UTF-8, so neither may reach a use case: every channel refuses
them where it reads a request (`TextInvalid`). Names are printable characters, and also the
zero-width joiner and non-joiner, which Arabic, Persian and Indic names hold between letters and
which emoji sequences hold between pictographs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

#: A NUL, or a surrogate code point (paired surrogates are decoded into one character by JSON
#: and by Python's UTF-8 codec, so any surrogate left in a `str` is alone).
_NOT_TEXT: Final = re.compile("[\x00\ud800-\udfff]")
#: The joiners that shape letters and emoji sequences, allowed between two visible characters.
_JOINERS: Final = "\u200c\u200d"
#: Where a string is in a decoded JSON value: the keys and indexes leading to it.
Path = tuple[str | int, ...]


def is_text(value: str) -> bool:
    return _NOT_TEXT.search(value) is None


def not_text_in(value: Any, path: Path = ()) -> Path | None:
    """Where in a decoded JSON value (keys included) the first string that is not text is."""
    for where, text in _strings(value, path):
        if not is_text(text):
            return where
    return None


def _strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    # Iterative, not recursive: a deeply nested body must not exhaust the stack.
    stack: list[tuple[Path, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            for key, inner in item.items():
                yield (*where, key), key
                stack.append(((*where, key), inner))
        elif isinstance(item, list):
            stack.extend(((*where, index), inner) for index, inner in enumerate(item))


def is_printable_name(name: str) -> bool:
    """Printable characters, with joiners allowed only between two other characters."""
    if not name or name[0] in _JOINERS or name[-1] in _JOINERS:
        return False
    return all(c.isprintable() or c in _JOINERS for c in name) and is_text(name)
