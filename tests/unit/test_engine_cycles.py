"""The engine's modules import each other without cycles at module level (a lazy import
inside a function is how a module reaches back, and only when it must), and the subpackage
__init__ files import nothing, so importing one module never drags in its whole area."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "pyman"
ENGINE = PKG / "engine"


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set[str]:
    """Imports run when the module loads: module level, and inside if/try at module level,
    not inside functions or under TYPE_CHECKING."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)

    visit(ast.parse(path.read_text(), str(path)).body)
    return names


def graph() -> dict[str, set[str]]:
    mods = {module_name(p): p for p in ENGINE.rglob("*.py")}
    return {m: {n for n in top_level_imports(p) if n in mods and n != m}
            for m, p in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def walk(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(g.get(m, ())):
            if state.get(n) == 1:
                found.append(path[path.index(n):] + [n])
            elif n not in state:
                walk(n, path + [n])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            walk(m, [m])
    return found


def test_no_import_cycles_in_the_engine() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_subpackage_inits_import_nothing() -> None:
    for init in ENGINE.glob("*/__init__.py"):
        assert top_level_imports(init) == set(), init
