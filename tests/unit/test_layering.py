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
