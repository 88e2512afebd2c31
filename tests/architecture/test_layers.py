"""The rules import-linter cannot state, read from the source (AST): pure domain code, gateways.

Each rule is a function from a parsed module to its violations, "path:line: what"; the tests run
it over src/soko, and over small bad snippets to prove the rule still catches what it is for.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import soko
from soko import features

SRC = Path(soko.__file__).resolve().parent
ROOT = SRC.parent.parent

#: The standard library the domain may use: pure computation, no I/O, no clock, no randomness.
#: `datetime` is here for its types; reading the clock through it is a separate rule.
DOMAIN_STDLIB = frozenset(
    {
        "__future__",
        "abc",
        "base64",
        "binascii",
        "bisect",
        "collections",
        "dataclasses",
        "datetime",
        "enum",
        "fractions",
        "functools",
        "hashlib",
        "heapq",
        "hmac",
        "ipaddress",  # parses and classifies addresses; it resolves no names
        "itertools",
        "json",
        "operator",
        "re",
        "string",
        "types",
        "typing",
        "unicodedata",
    }
)
#: Kernel modules that are pure rules; in a feature, the modules with these names are.
KERNEL_PURE = frozenset(
    {
        "soko.kernel.money",
        "soko.kernel.ids",
        "soko.kernel.errors",
        "soko.kernel.limits",
        "soko.kernel.text",
    }
)
FEATURE_PURE_NAMES = frozenset({"domain", "errors", "chart", "kyc", "fees", "sms"})
#: Features that only adapt outside systems: their parsers work at the edge (decimal strings,
#: CSV), so they have no pure rules of their own.
ADAPTER_FEATURES = frozenset({"rails"})
#: Pure third-party libraries the domain may use (phonenumbers: parsing, no I/O but its data).
DOMAIN_THIRD_PARTY = frozenset({"phonenumbers"})
#: Attributes that read the clock, the environment or a random source, called or passed along
#: (`default_factory=datetime.now` reads the clock as surely as a call).
DOMAIN_IMPURE_ATTRIBUTES = frozenset(
    {"now", "utcnow", "today", "uuid1", "uuid4", "urandom", "getenv", "environ"}
)
#: Built-ins that do I/O or run code from text.
DOMAIN_IMPURE_BUILTINS = frozenset(
    {"open", "print", "input", "eval", "exec", "compile", "__import__", "breakpoint"}
)
#: Gateways adapt outside systems; only the composition root picks one.
GATEWAYS = ("soko.notify.webhook_gateway", "soko.notify.sms_gateway", "soko.payouts.rails")
BANNED_MODULE_NAMES = frozenset({"utils", "util", "helpers", "helper", "manager", "managers"})


@dataclass(frozen=True)
class Module:
    name: str
    path: str
    tree: ast.Module
    is_package: bool


def parse(name: str, source: str, *, path: str | None = None, is_package: bool = False) -> Module:
    return Module(name, path or name, ast.parse(source), is_package)


def source_modules() -> list[Module]:
    found = []
    for file in sorted(SRC.rglob("*.py")):
        parts = file.relative_to(SRC.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        path = str(file.relative_to(ROOT))
        found.append(
            parse(name, file.read_text(encoding="utf-8"), path=path, is_package=is_package)
        )
    assert len(found) > 10, f"found only {len(found)} modules under {SRC}"
    return found


MODULES = source_modules()


def layer(prefix: str) -> list[Module]:
    chosen = [m for m in MODULES if m.name == prefix or m.name.startswith(prefix + ".")]
    assert chosen, f"no modules in {prefix}"
    return chosen


def is_within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def imports(module: Module) -> Iterator[tuple[int, str]]:
    """(line, module imported) for every import, also inside functions and TYPE_CHECKING."""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            # `from soko.kernel import limits` imports the module soko.limits, not all of soko.
            if is_within(base, "soko") and (SRC.parent / base.replace(".", "/")).is_dir():
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}"
            else:
                yield node.lineno, base


def forbidden_imports(forbidden: Iterable[str]) -> Callable[[Module], list[str]]:
    banned = tuple(forbidden)

    def check(module: Module) -> list[str]:
        return [
            f"{module.path}:{line}: imports {name}"
            for line, name in imports(module)
            if any(is_within(name, prefix) for prefix in banned)
        ]

    return check


def feature_of(name: str) -> str | None:
    """The feature a module belongs to (the longest match: payments.qr before payments)."""
    found = [f for f in features.FEATURES if is_within(name, f"soko.{f}")]
    return max(found, key=len) if found else None


def is_pure(name: str) -> bool:
    """A module of pure rules: the kernel's money, ids, errors and limits, or a feature's."""
    if name in KERNEL_PURE:
        return True
    feature = feature_of(name)
    if feature is None:
        return False
    rest = name.removeprefix(f"soko.{feature}.")
    return rest in FEATURE_PURE_NAMES


def domain_impurities(module: Module) -> list[str]:
    found = [
        f"{module.path}:{line}: imports {name}"
        for line, name in imports(module)
        if name.split(".")[0] not in DOMAIN_STDLIB | DOMAIN_THIRD_PARTY
        and not is_pure(name)
        and name not in {"soko.kernel", *(f"soko.{f}" for f in features.FEATURES)}
    ]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Attribute) and node.attr in DOMAIN_IMPURE_ATTRIBUTES:
            found.append(f"{module.path}:{node.lineno}: uses .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in DOMAIN_IMPURE_BUILTINS:
            found.append(f"{module.path}:{node.lineno}: uses {node.id}()")
    return found


def floats(module: Module) -> list[str]:
    """Floats, and the operators that make one from ints (money.py rejects with type() is int)."""
    found = []
    for node in ast.walk(module.tree):
        what = None
        if isinstance(node, ast.Constant) and isinstance(node.value, float | complex):
            what = f"float literal {node.value!r}"
        elif isinstance(node, ast.Name) and node.id == "float":
            what = "the name float"
        elif isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.Div):
            what = "true division / (use // or divmod)"
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Pow)
            and isinstance(node.right, ast.UnaryOp)
            and isinstance(node.right.op, ast.USub)
        ):
            what = "a negative power"
        if what:
            found.append(f"{module.path}:{node.lineno}: {what}")
    return found


def gateway_importers(module: Module) -> list[str]:
    """Only the composition root picks a gateway: use cases reach one through a port."""
    if module.name == "soko.bootstrap" or any(is_within(module.name, g) for g in GATEWAYS):
        return []
    return [
        f"{module.path}:{line}: imports {name}"
        for line, name in imports(module)
        if any(is_within(name, g) for g in GATEWAYS)
    ]


def missing_docstring(module: Module) -> list[str]:
    docstring = ast.get_docstring(module.tree)
    return [] if docstring and docstring.strip() else [f"{module.path}:1: no module docstring"]


def grab_bag_names(module: Module) -> list[str]:
    found = [
        f"{module.path}:1: module or package named {part!r}"
        for part in module.name.split(".")
        if part in BANNED_MODULE_NAMES
    ]
    found += [
        f"{module.path}:{node.lineno}: class {node.name}"
        for node in ast.walk(module.tree)
        if isinstance(node, ast.ClassDef) and node.name.endswith("Manager")
    ]
    return found


def violations(rule: Callable[[Module], list[str]], modules: Iterable[Module]) -> str:
    return "\n".join(line for module in modules for line in rule(module))


# --- the rules on src/soko ---------------------------------------------------------------------


PURE_MODULES = [m for m in MODULES if is_pure(m.name)]


def test_domain_imports_only_pure_standard_library_and_itself() -> None:
    found = violations(domain_impurities, PURE_MODULES)
    assert not found, (
        "domain code must not do I/O, read the clock or a random source (pass them in):\n" + found
    )


def test_domain_has_no_floats() -> None:
    found = violations(floats, PURE_MODULES)
    assert not found, "money is integers of minor units; no float in domain code:\n" + found


def test_only_bootstrap_imports_gateways() -> None:
    found = violations(gateway_importers, MODULES)
    assert not found, "gateways are chosen in bootstrap.py and reached through ports:\n" + found


def test_every_module_opens_with_a_docstring() -> None:
    found = violations(missing_docstring, MODULES)
    assert not found, "each module opens with a docstring saying what it owns:\n" + found


def test_no_grab_bag_modules_or_manager_classes() -> None:
    found = violations(grab_bag_names, MODULES)
    assert not found, "a module is a noun of the domain, not utils/helpers/*Manager:\n" + found


def test_every_feature_has_its_pure_rules_checked() -> None:
    names = {m.name for m in PURE_MODULES}
    assert {"soko.kernel.money", "soko.ledger.domain", "soko.ledger.chart"} <= names
    for feature in set(features.FEATURES) - ADAPTER_FEATURES:
        # A feature whose rules are not found is a feature whose rules are not checked.
        assert any(feature_of(name) == feature for name in names), feature


def test_every_feature_package_is_registered() -> None:
    # A package beside the kernel, db and channels that features.py does not list would escape
    # the contracts and the collections (tables, errors, routes).
    top = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert top - {"kernel", "db", "channels"} == {f.split(".")[0] for f in features.FEATURES}


# --- the rules catch what they are for ---------------------------------------------------------

DOMAIN_IMPURE = [
    "import os",
    "import time",
    "import random",
    "import secrets",
    "import socket",
    "import uuid",
    "import sqlalchemy as sa",
    "from fastapi import FastAPI",
    "from decimal import Decimal",
    "from soko import config",
    "from soko.ledger import tables",
    "from soko.kernel.ports import Clock",
    "from soko.ledger.service import transfer",
    "from .. import bootstrap",
    "from ..channels.api import problems",
    "from .storage import SqlLedgerRepository",
    "def f():\n    import os",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from soko.ledger import tables",
    "from datetime import datetime\nnow = datetime.now()",
    "from datetime import datetime, UTC\nnow = datetime.now(UTC)",
    "import datetime\nnow = datetime.datetime.utcnow()",
    "from datetime import date\ntoday = date.today()",
    "from dataclasses import field\nfrom datetime import datetime\n"
    "at = field(default_factory=datetime.now)",
    "with open('rates.csv') as f:\n    pass",
    "print('debug')",
]
DOMAIN_PURE = [
    "from __future__ import annotations",
    "from soko.kernel import errors",
    "from soko.kernel import limits",
    "from soko.kernel.limits import AMOUNT_MINOR_MAX",
    "from soko.kernel.money import Money",
    "from soko.people.domain import User",
    "from soko.ledger.chart import AccountCode",
    "from . import errors",
    "from .errors import DomainError",
    "from collections.abc import Mapping",
    "from datetime import UTC, datetime, timedelta\nlater = datetime(2026, 1, 1, tzinfo=UTC)",
    "from fractions import Fraction",
]


@pytest.mark.parametrize("source", DOMAIN_IMPURE)
def test_domain_rule_catches(source: str) -> None:
    assert domain_impurities(parse("soko.ledger.domain", source))


@pytest.mark.parametrize("source", DOMAIN_PURE)
def test_domain_rule_allows(source: str) -> None:
    assert domain_impurities(parse("soko.ledger.domain", source)) == []


@pytest.mark.parametrize(
    ("name", "pure"),
    [
        ("soko.ledger.domain", True),
        ("soko.payments.qr.domain", True),
        ("soko.escrow.tracking.errors", True),
        ("soko.payments.fees", True),
        ("soko.kernel.money", True),
        ("soko.kernel.ports", False),
        ("soko.ledger.service", False),
        ("soko.payments.qr.service", False),
        ("soko.channels.api.schemas", False),
        ("soko.db.metadata", False),
    ],
)
def test_pure_modules_are_told_apart(name: str, pure: bool) -> None:
    assert is_pure(name) is pure


@pytest.mark.parametrize(
    "source",
    [
        "fee = 0.015",
        "big = 1e3",
        "x = 2j",
        "rate = float(text)",
        "def f(x: float) -> int: ...",
        "if isinstance(x, float): pass",
        "share = total / 3",
        "total /= 3",
        "cents = 10 ** -2",
    ],
)
def test_float_rule_catches(source: str) -> None:
    assert floats(parse("soko.ledger.domain", source))


@pytest.mark.parametrize(
    "source",
    ["share, rest = divmod(total, 3)", "share = total // 3", "scale = 10 ** 2", "x = -1"],
)
def test_float_rule_allows(source: str) -> None:
    assert floats(parse("soko.ledger.domain", source)) == []


@pytest.mark.parametrize(
    "name", ["soko.notify.service", "soko.channels.worker.loop", "soko.payouts.tables"]
)
def test_gateway_importer_rule_catches(name: str) -> None:
    source = "from soko.notify.webhook_gateway import HttpWebhookSender"
    assert gateway_importers(parse(name, source))
    assert gateway_importers(parse(name, "from soko.payouts.rails import sandbox"))


def test_gateway_importer_rule_allows_bootstrap() -> None:
    source = "from soko.notify.sms_gateway import LogFileSmsSender"
    assert gateway_importers(parse("soko.bootstrap", source)) == []


@pytest.mark.parametrize(
    "source",
    [
        "import os",
        'from __future__ import annotations\n"""Late."""',
        'x = 1\n"""Too late."""',
        '"""   """',
    ],
)
def test_docstring_rule_catches(source: str) -> None:
    assert missing_docstring(parse("soko.example", source))


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("soko.utils", ""),
        ("soko.ledger.helpers", ""),
        ("soko.people.manager", ""),
        ("soko.utils.money", ""),
        ("soko.people.wallets", "class WalletManager:\n    pass"),
    ],
)
def test_grab_bag_rule_catches(name: str, source: str) -> None:
    assert grab_bag_names(parse(name, source))


def test_a_violation_names_the_file_and_line() -> None:
    module = parse(
        "soko.ledger.domain", '"""Doc."""\n\nimport os\n', path="src/soko/ledger/domain.py"
    )
    assert domain_impurities(module) == ["src/soko/ledger/domain.py:3: imports os"]
