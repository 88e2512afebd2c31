"""The features Soko is made of: the one list a new feature's package is added to.

Each feature is a package `soko.<feature>` holding what it needs of the same modules (`domain`,
`service`, `ports`, `storage`, `tables`, `errors`, `schemas`, `api`). What collects across
features (the tables for migrations, the errors for the channels' error tables) asks this module
instead of naming each feature.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import Final

#: Roughly in dependency order; which feature may use which is stated by the import-linter
#: contracts in pyproject.toml (tests/architecture/test_contracts.py runs them).
FEATURES: Final = (
    "ledger",
    "people",
    "notify",
    "payments",
    "payments.qr",
    "payouts",
    "escrow",
    "escrow.tracking",
    "credit",
    "fx",
    "rails",
    "deposits",
)


def modules(name: str) -> list[ModuleType]:
    """Every feature's module `name` (for example "tables" or "errors"), imported, in order."""
    found = []
    for feature in FEATURES:
        qualified = f"soko.{feature}.{name}"
        if importlib.util.find_spec(qualified) is not None:
            found.append(importlib.import_module(qualified))
    return found
