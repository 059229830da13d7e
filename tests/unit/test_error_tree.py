"""One error tree: every error pyman shows a user is a class of pyman/errors.py carrying its
exit code, and no code changes the code of an error it caught (a command whose exit code
for an error differs from the error's, as Podman's `rm` of a missing container exits 1,
says so where it renders the error)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pyman import errors

PKG = Path(__file__).resolve().parents[2] / "pyman"
ERRORS = {name for name, value in vars(errors).items()
          if isinstance(value, type) and issubclass(value, errors.PymanError)}
# the API's own, which only its handlers raise: a malformed HTTP request (400), an error
# with the HTTP status it is answered with
FRONT_END_OWN = {"pyman/api/errors.py:BadRequest", "pyman/api/errors.py:ApiError"}


def base_names(node: ast.ClassDef) -> set[str]:
    return {b.id if isinstance(b, ast.Name) else b.attr for b in node.bases
            if isinstance(b, ast.Name | ast.Attribute)}


def test_every_error_class_lives_in_errors_py() -> None:
    elsewhere = []
    for path in sorted(PKG.rglob("*.py")):
        if path.name == "errors.py" and path.parent == PKG:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef) and base_names(node) & ERRORS:
                where = f"{path.relative_to(PKG.parent)}:{node.name}"
                if where not in FRONT_END_OWN:
                    elsewhere.append(where)
    assert elsewhere == []


def test_every_class_has_its_exit_code() -> None:
    for name in ERRORS:
        code = getattr(errors, name).exit_code
        assert isinstance(code, int) and 0 < code < 256, name


def caught_and_patched(tree: ast.AST) -> list[int]:
    lines = []
    for handler in ast.walk(tree):
        if not isinstance(handler, ast.ExceptHandler) or not handler.name:
            continue
        for node in ast.walk(handler):
            if isinstance(node, ast.Assign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                lines += [node.lineno for t in targets if isinstance(t, ast.Attribute)
                          and t.attr == "exit_code" and isinstance(t.value, ast.Name)
                          and t.value.id == handler.name]
    return lines


def test_no_caught_error_gets_another_exit_code() -> None:
    patched = [f"{path.relative_to(PKG.parent)}:{line}" for path in sorted(PKG.rglob("*.py"))
               for line in caught_and_patched(ast.parse(path.read_text(), str(path)))]
    assert patched == []


def test_the_rule_sees_a_patch() -> None:
    src = "try:\n    f()\nexcept E as exc:\n    exc.exit_code = 1\n    raise\n"
    assert caught_and_patched(ast.parse(src)) == [4]


def test_warnings_go_where_the_caller_says(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A library caller takes the warnings the CLI shows on stderr (engine.configure's
    ``warnings``); by default they are stderr lines."""
    from pyman.storage import records

    taken: list[str] = []
    errors.on_warning(taken.append)
    try:
        records.warn(errors.CorruptRecord(tmp_path / "a.json", "empty"))
    finally:
        errors.on_warning(None)
    assert taken == [f"WARNING: skipping {tmp_path / 'a.json'}: damaged (empty)"]
    records.warn(errors.CorruptRecord(tmp_path / "b.json", "empty"))
    assert capsys.readouterr().err == f"WARNING: skipping {tmp_path / 'b.json'}: damaged (empty)\n"
