"""Layer rules read from the source (AST, nothing imported): what each layer may depend on.

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
        "itertools",
        "operator",
        "re",
        "string",
        "types",
        "typing",
        "unicodedata",
    }
)
DOMAIN_SOKO = frozenset({"soko.domain", "soko.limits"})
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
SERVICES_FORBIDDEN = (
    "soko.storage",
    "soko.channels",
    "soko.bootstrap",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "sqlite3",
    "fastapi",
    "starlette",
    "typer",
    "uvicorn",
)
STORAGE_FORBIDDEN = ("soko.channels", "soko.bootstrap", "fastapi", "starlette", "typer", "uvicorn")
#: Gateways adapt outside systems (webhook receivers, SMS and payout providers) to the services'
#: ports: of Soko they may use only the domain, the ports and the limits.
GATEWAYS_ALLOWED = ("soko.domain", "soko.limits", "soko.services.ports", "soko.gateways")
#: Known exceptions, module -> the Soko modules it may import besides. The sandbox payout rail
#: simulates a bank whose books live in Soko's own database.
GATEWAYS_EXCEPTIONS = {"soko.gateways.payout_rails": ("soko.storage",)}
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
            # `from soko import limits` imports the module soko.limits, not all of soko.
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


def domain_impurities(module: Module) -> list[str]:
    found = [
        f"{module.path}:{line}: imports {name}"
        for line, name in imports(module)
        if name.split(".")[0] not in DOMAIN_STDLIB | DOMAIN_THIRD_PARTY
        and not any(is_within(name, allowed) for allowed in DOMAIN_SOKO)
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


def gateway_imports(module: Module) -> list[str]:
    allowed = GATEWAYS_ALLOWED + GATEWAYS_EXCEPTIONS.get(module.name, ())
    return [
        f"{module.path}:{line}: imports {name}"
        for line, name in imports(module)
        if is_within(name, "soko") and not any(is_within(name, prefix) for prefix in allowed)
    ]


def gateway_importers(module: Module) -> list[str]:
    """Only the composition root picks a gateway: use cases reach one through a port."""
    if module.name == "soko.bootstrap" or is_within(module.name, "soko.gateways"):
        return []
    return [
        f"{module.path}:{line}: imports {name}"
        for line, name in imports(module)
        if is_within(name, "soko.gateways")
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


def test_domain_imports_only_pure_standard_library_and_itself() -> None:
    found = violations(domain_impurities, layer("soko.domain"))
    assert not found, (
        "soko.domain must not do I/O, read the clock or a random source (pass them in):\n" + found
    )


def test_domain_has_no_floats() -> None:
    found = violations(floats, layer("soko.domain"))
    assert not found, "money is integers of minor units; no float in soko.domain:\n" + found


def test_services_do_not_import_storage_channels_or_frameworks() -> None:
    found = violations(forbidden_imports(SERVICES_FORBIDDEN), layer("soko.services"))
    assert not found, "soko.services talks to storage through its ports only:\n" + found


def test_storage_does_not_import_channels() -> None:
    found = violations(forbidden_imports(STORAGE_FORBIDDEN), layer("soko.storage"))
    assert not found, "soko.storage must not depend on the channels:\n" + found


def test_gateways_use_only_the_domain_ports_and_limits() -> None:
    found = violations(gateway_imports, layer("soko.gateways"))
    assert not found, "soko.gateways implements ports; it uses no storage or use case:\n" + found


def test_only_bootstrap_imports_gateways() -> None:
    found = violations(gateway_importers, MODULES)
    assert not found, "gateways are chosen in bootstrap.py and reached through ports:\n" + found


def test_every_module_opens_with_a_docstring() -> None:
    found = violations(missing_docstring, MODULES)
    assert not found, "each module opens with a docstring saying what it owns:\n" + found


def test_no_grab_bag_modules_or_manager_classes() -> None:
    found = violations(grab_bag_names, MODULES)
    assert not found, "a module is a noun of the domain, not utils/helpers/*Manager:\n" + found


def test_every_layer_is_checked() -> None:
    names = {m.name for m in MODULES}
    assert {"soko.domain.ledger", "soko.services.ledger", "soko.storage.tables"} <= names
    # A domain module that is not found is a module that is not checked.
    assert {p.stem for p in (SRC / "domain").glob("*.py")} <= {
        m.name.rpartition(".")[2] for m in layer("soko.domain")
    } | {"__init__"}


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
    "from soko.storage import tables",
    "from soko.services.ports import Clock",
    "from .. import bootstrap",
    "from ..channels.api import problems",
    "def f():\n    import os",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from soko.storage import tables",
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
    "from soko.domain import errors",
    "from soko import limits",
    "from soko.limits import AMOUNT_MINOR_MAX",
    "from . import errors",
    "from .errors import DomainError",
    "from collections.abc import Mapping",
    "from datetime import UTC, datetime, timedelta\nlater = datetime(2026, 1, 1, tzinfo=UTC)",
    "from fractions import Fraction",
]


@pytest.mark.parametrize("source", DOMAIN_IMPURE)
def test_domain_rule_catches(source: str) -> None:
    assert domain_impurities(parse("soko.domain.example", source))


@pytest.mark.parametrize("source", DOMAIN_PURE)
def test_domain_rule_allows(source: str) -> None:
    assert domain_impurities(parse("soko.domain.example", source)) == []


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
    assert floats(parse("soko.domain.example", source))


@pytest.mark.parametrize(
    "source",
    ["share, rest = divmod(total, 3)", "share = total // 3", "scale = 10 ** 2", "x = -1"],
)
def test_float_rule_allows(source: str) -> None:
    assert floats(parse("soko.domain.example", source)) == []


@pytest.mark.parametrize(
    "source",
    [
        "from soko.storage import tables",
        "import soko.storage.unit_of_work",
        "from soko import storage",
        "from ..storage.tables import accounts",
        "from soko.channels.api import problems",
        "from soko import bootstrap",
        "import sqlalchemy as sa",
        "from sqlalchemy.engine import Connection",
        "from fastapi import HTTPException",
        "def f():\n    from soko.storage import tables",
    ],
)
def test_services_rule_catches(source: str) -> None:
    assert forbidden_imports(SERVICES_FORBIDDEN)(parse("soko.services.example", source))


@pytest.mark.parametrize(
    "source",
    [
        "from soko.services.ports import Context",
        "from . import ports",
        "from soko.domain.ledger import plan_transfers",
        "from soko import limits",
    ],
)
def test_services_rule_allows(source: str) -> None:
    assert forbidden_imports(SERVICES_FORBIDDEN)(parse("soko.services.example", source)) == []


@pytest.mark.parametrize(
    "source",
    ["from soko.channels.api.problems import status_for", "from ..channels import cli"],
)
def test_storage_rule_catches(source: str) -> None:
    assert forbidden_imports(STORAGE_FORBIDDEN)(parse("soko.storage.example", source))


@pytest.mark.parametrize(
    "source",
    [
        "from soko.storage import tables",
        "from soko.services import webhooks",
        "from soko.services.transactions import in_transaction",
        "from soko.channels.api import problems",
        "from soko import bootstrap",
        "from soko import config",
        "def f():\n    from soko.storage.engine import create_engine",
    ],
)
def test_gateway_rule_catches(source: str) -> None:
    assert gateway_imports(parse("soko.gateways.example", source))


@pytest.mark.parametrize(
    "source",
    [
        "from soko.services.ports import GatewayFailed",
        "from soko import limits",
        "from soko.domain.webhooks import sign",
        "import httpx",
        "from . import webhooks",
    ],
)
def test_gateway_rule_allows(source: str) -> None:
    assert gateway_imports(parse("soko.gateways.example", source)) == []


@pytest.mark.parametrize(
    "name", ["soko.services.webhooks", "soko.channels.worker.loop", "soko.storage.tables"]
)
def test_gateway_importer_rule_catches(name: str) -> None:
    source = "from soko.gateways.webhooks import HttpWebhookSender"
    assert gateway_importers(parse(name, source))
    assert gateway_importers(parse(name, "from soko import gateways"))


def test_gateway_importer_rule_allows_bootstrap() -> None:
    source = "from soko.gateways.sms import LogFileSmsSender"
    assert gateway_importers(parse("soko.bootstrap", source)) == []


def test_storage_rule_allows_the_ports_it_implements() -> None:
    source = "from soko.services.ports import TransientConflict\nimport sqlalchemy as sa"
    assert forbidden_imports(STORAGE_FORBIDDEN)(parse("soko.storage.example", source)) == []


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
        ("soko.domain.helpers", ""),
        ("soko.services.manager", ""),
        ("soko.utils.money", ""),
        ("soko.services.wallets", "class WalletManager:\n    pass"),
    ],
)
def test_grab_bag_rule_catches(name: str, source: str) -> None:
    assert grab_bag_names(parse(name, source))


def test_a_violation_names_the_file_and_line() -> None:
    module = parse("soko.domain.x", '"""Doc."""\n\nimport os\n', path="src/soko/domain/x.py")
    assert domain_impurities(module) == ["src/soko/domain/x.py:3: imports os"]
