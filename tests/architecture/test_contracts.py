"""The import-linter contracts in pyproject.toml hold, and they cover every feature.

The contracts state the layers inside each feature (api above service and storage, above ports,
domain and errors), which feature may use which, and that no feature's modules import each other
in a circle. This test runs `lint-imports` as CI does, and checks the contracts still name every
feature in soko/features.py, so a new feature cannot slip past them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from soko import features

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "importlinter"
]["contracts"]


def lint_imports() -> str:
    found = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert found, "import-linter is a test dependency: pip install -e '.[test]'"
    return found


def test_the_contracts_hold() -> None:
    result = subprocess.run(
        [lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_the_layers_contract_names_every_feature() -> None:
    layers = next(c for c in CONTRACTS if c["type"] == "layers")
    assert set(layers["containers"]) == {f"soko.{f}" for f in features.FEATURES}


def test_no_cycles_is_checked_in_every_top_level_feature() -> None:
    acyclic = next(c for c in CONTRACTS if c["type"] == "acyclic_siblings")
    top_level = {f"soko.{f.split('.')[0]}" for f in features.FEATURES}
    assert top_level <= set(acyclic["ancestors"])


def test_a_broken_layer_is_reported(tmp_path: Path) -> None:
    # The same contracts over a copy of the tree in which ledger's domain imports its storage.
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "soko", copy / "soko")
    domain = copy / "soko" / "ledger" / "domain.py"
    domain.write_text(domain.read_text() + "\nfrom soko.ledger import storage  # noqa\n")
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    result = subprocess.run(
        [lint_imports(), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(copy), "PATH": ""},
    )
    assert result.returncode != 0
    assert "soko.ledger.domain -> soko.ledger.storage" in result.stdout
