"""Dependencies point one way: cli -> engine -> subsystems. Read from the source (every
import statement, at module level or inside a function), so a lazy import counts too."""

from __future__ import annotations

import ast
import sys
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


# What a front end may import: the engine, the errors, itself. `from pyman import
# __version__` is the package's own attribute; the CLI also starts the other front ends
# (`system service` runs the API, `quadlet` the generator), never their insides.
FRONT_END_OK = ("pyman.engine", "pyman.errors")
PACKAGE_OK = {"pyman", "pyman.__version__", "pyman.errors"}


def outside(package: str, allowed: tuple[str, ...], root: Path = PKG) -> list[str]:
    """pyman modules imported by ``package`` that are not in ``allowed`` (or below)."""
    found = []
    for path in sorted((root / package).rglob("*.py")):
        for name in sorted(imports_of(path)):
            if name.split(".")[0] != "pyman" or name in PACKAGE_OK:
                continue
            if not any(name == a or name.startswith(a + ".") for a in allowed):
                found.append(f"{path.relative_to(root.parent)} imports {name}")
    return found


def test_the_cli_imports_only_the_engine_and_the_errors() -> None:
    """Filters, lookup orders, store layouts and configuration files are the engine's: the
    CLI parses, makes one engine call and renders."""
    assert outside("cli", (*FRONT_END_OK, "pyman.cli", "pyman.api.server",
                           "pyman.quadlet.__main__")) == []


def test_the_cli_never_reaches_into_a_services_store() -> None:
    """Records are read and written by the engine's services (`.store` is theirs)."""
    reaches = [f"{path.relative_to(PKG.parent)}:{node.lineno}"
               for path in sorted((PKG / "cli").rglob("*.py"))
               for node in ast.walk(ast.parse(path.read_text(), str(path)))
               if isinstance(node, ast.Attribute) and node.attr == "store"]
    assert reaches == []


def test_the_api_imports_only_the_engine_and_the_errors() -> None:
    assert outside("api", (*FRONT_END_OK, "pyman.api")) == []


def test_the_rule_sees_lazy_imports(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from pyman.engine.x import y\n    import pyman.cli.z\n")
    assert {"pyman.engine.x", "pyman.engine.x.y", "pyman.cli.z"} <= imports_of(src)


def test_the_front_end_rule_finds_a_subsystem_import(tmp_path: Path) -> None:
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "x.py").write_text(
        "from pyman import __version__\nfrom pyman.engine import Engine\n"
        "def f():\n    from pyman.netns.networks import NetworkStore\n")
    assert outside("cli", FRONT_END_OK, tmp_path) == [
        f"{tmp_path.name}/cli/x.py imports pyman.netns.networks",
        f"{tmp_path.name}/cli/x.py imports pyman.netns.networks.NetworkStore"]


def module_file(name: str) -> Path | None:
    base = PKG.parent / name.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def closure(package: str) -> set[str]:
    """Every pyman module ``package`` may import when it runs, lazy imports included."""
    todo = [f"pyman.{package}.{p.stem}" for p in (PKG / package).glob("*.py")]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        path = module_file(name)
        if name in seen or path is None:
            continue
        seen.add(name)
        todo += [n for n in imports_of(path) if n.split(".")[0] == "pyman"]
    return seen


def test_the_monitor_runs_on_the_standard_library_alone() -> None:
    """The monitor is `python3 -I -S`: no site-packages, so nothing it may import (through
    any pyman module) can come from outside the standard library."""
    outsiders = []
    for name in sorted(closure("monitor")):
        path = module_file(name)
        assert path is not None
        for imported in sorted(imports_of(path)):
            top = imported.split(".")[0]
            if top not in sys.stdlib_module_names and top not in ("pyman", "__future__"):
                outsiders.append(f"{name} imports {imported}")
    assert outsiders == []
    assert "pyman.monitor.runner" in closure("monitor")  # the walk itself works


def test_the_hand_off_types_are_for_mypy_only() -> None:
    """monitor/protocol.py (typing's TypedDicts) is named only under TYPE_CHECKING: the
    monitor's start-up never pays for typing."""
    runtime_users = []
    for path in sorted(PKG.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        guarded = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
                   for n in ast.walk(node)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.ImportFrom) and node.module == "pyman.monitor.protocol"
                    and id(node) not in guarded):
                runtime_users.append(str(path.relative_to(PKG.parent)))
    assert runtime_users == []
