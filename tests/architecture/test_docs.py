"""The docs name only code that exists, and ARCHITECTURE.md's module map covers the whole tree.

A module moved or renamed leaves the docs pointing at nothing, and nothing else would notice:
the map must list every package and module under src/soko, each path it lists must exist, and
every name the glossary gives in backticks must occur in src/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import soko

SRC = Path(soko.__file__).resolve().parent
ROOT = SRC.parent.parent
DOCS = ROOT / "docs"
ARCHITECTURE = (DOCS / "ARCHITECTURE.md").read_text(encoding="utf-8")
GLOSSARY = (DOCS / "GLOSSARY.md").read_text(encoding="utf-8")
#: The migration scripts are history, one per change; the map names their package instead.
HISTORY = SRC / "db" / "migrations" / "versions"

BACKTICKED = re.compile(r"`([^`\n]+)`")
#: A dotted Python name: `plan_transfers`, `AccountCode`, `Account.balance`.
CODE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def module_map() -> str:
    """The text of the "Module map" section: from its heading to the next `## ` heading."""
    found = re.search(r"^## [^\n]*Module map\n(.*?)(?=^## )", ARCHITECTURE, re.M | re.S)
    assert found, "ARCHITECTURE.md has no '## … Module map' section"
    return found.group(1)


def mapped_paths() -> set[str]:
    """The paths in the first cell of each table row of the map, relative to src/soko."""
    paths = set()
    for line in module_map().splitlines():
        if not line.startswith("| `"):
            continue  # headings, prose, a table's header and its --- row
        first_cell = line.split("|")[1]
        paths.update(p for p in BACKTICKED.findall(first_cell) if p.endswith((".py", "/")))
    return paths


MAPPED = mapped_paths()


def packages() -> list[str]:
    return sorted(
        f"{init.parent.relative_to(SRC).as_posix()}/"
        for init in SRC.rglob("__init__.py")
        if init.parent != SRC  # src/soko itself: every row is inside it
    )


def modules() -> list[str]:
    return sorted(
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if path.name != "__init__.py" and not path.is_relative_to(HISTORY)
    )


def test_the_map_is_found() -> None:
    # A map that parses to nothing would pass the tests below for the wrong reason.
    assert len(MAPPED) > 100, sorted(MAPPED)


@pytest.mark.parametrize("package", packages())
def test_every_package_has_a_row(package: str) -> None:
    assert package in MAPPED, f"add a row for `{package}` to ARCHITECTURE.md's module map"


@pytest.mark.parametrize("module", modules())
def test_every_module_has_a_row(module: str) -> None:
    assert module in MAPPED, f"add a row for `{module}` to ARCHITECTURE.md's module map"


@pytest.mark.parametrize("path", sorted(MAPPED))
def test_every_path_in_the_map_exists(path: str) -> None:
    target = SRC / path
    exists = target.is_dir() if path.endswith("/") else target.is_file()
    assert exists, f"ARCHITECTURE.md's module map names `{path}`, which is not in src/soko"


def source_words() -> set[str]:
    words: set[str] = set()
    for path in SRC.rglob("*.py"):
        words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", path.read_text(encoding="utf-8")))
    return words


def glossary_code_names() -> list[str]:
    """Backticked names in the glossary that are Python names or paths: the code it points at.

    Other backticked text (`acc_01J…`, `<code>:<CUR>`, `150000`, `/pay/{id}`, `soko reconcile`)
    is an example or a command, not a name to look up."""
    found = set()
    for text in BACKTICKED.findall(GLOSSARY):
        if text.endswith(".py") or CODE_NAME.fullmatch(text):
            found.add(text)
    return sorted(found)


WORDS = source_words()


def test_the_glossary_names_code() -> None:
    assert {"plan_transfers", "AccountCode", "ledger/domain.py"} <= set(glossary_code_names())


@pytest.mark.parametrize("name", glossary_code_names())
def test_every_code_name_in_the_glossary_is_in_src(name: str) -> None:
    if name.endswith(".py"):
        # `ledger/domain.py` is one file; a bare `ports.py` is the name every feature uses.
        found = (SRC / name).is_file() if "/" in name else any(SRC.rglob(name))
        assert found, f"GLOSSARY.md names `{name}`, not a file in src/soko"
        return
    # `Account.balance`: each part must be a whole word somewhere in the code.
    missing = [part for part in name.split(".") if part not in WORDS]
    assert not missing, f"GLOSSARY.md names `{name}`; not found in src/: {missing}"
