"""The README's Python examples run as written (a user-visible feature needs a working example)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parents[2] / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_python_examples() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("source", EXAMPLES)
def test_readme_example_runs(source: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", source],
        cwd=tmp_path,
        env={"SOKO_DATABASE_URL": f"sqlite:///{tmp_path / 'soko.db'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Each example's last line promises what it prints, in a "# prints: ..." comment.
    promised = re.findall(r"# prints: (.*)$", source, flags=re.MULTILINE)
    assert len(promised) == 1, "an example promises exactly one output"
    assert result.stdout.strip() == promised[0].strip()
