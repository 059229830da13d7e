"""Dependencies point one way: cli -> engine -> subsystems. Read from the source (every
import statement, at module level or inside a function), so a lazy import counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "pyman"
SUBSYSTEMS = ("storage", "runtime", "image", "rootless", "netns", "monitor", "build")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def offending(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((PKG / package).rglob("*.py")):
        for name in sorted(imports_of(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(PKG.parent)} imports {name}")
    return found


@pytest.mark.parametrize("package", SUBSYSTEMS)
def test_subsystems_never_import_the_engine_or_the_cli(package: str) -> None:
    assert offending(package, ("pyman.engine", "pyman.cli")) == []


def test_the_engine_never_imports_the_cli() -> None:
    assert offending("engine", ("pyman.cli",)) == []


def test_the_rule_sees_lazy_imports(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from pyman.engine.x import y\n    import pyman.cli.z\n")
    assert {"pyman.engine.x", "pyman.engine.x.y", "pyman.cli.z"} <= imports_of(src)
