"""docs/library.md's examples run as they are written, each in a fresh interpreter of the
venv under test, as the unprivileged test user, against the session's store."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "library.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_page_has_its_examples() -> None:
    assert len(EXAMPLES) >= 4, "run, errors, list and pull examples are on the page"


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_example_runs(code: str, pyman_env: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, "-c", code], env=pyman_env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"{code}\n--- stderr:\n{proc.stderr[-3000:]}"
