"""cli/run_fast.py, run's command lines without typer: its option table is typer's, and the
values it hands run_command's function are those click parses and typer converts."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from pyman.cli.main import build_app
from pyman.cli.run_command import make_command
from pyman.cli.run_fast import OPTIONS, parse, runner


def _click_command(name: str = "run") -> Any:
    return build_app(name, args=[name]).commands[name]


def test_the_table_is_typers() -> None:
    params = {opt: p for p in _click_command().params for opt in p.opts}
    for word, (param, kind) in OPTIONS.items():
        p = params[word]
        assert p.name == param, word
        if kind == "flag":
            assert p.is_flag and not p.secondary_opts and p.default is False, word
        else:
            assert not p.is_flag and p.nargs == 1, word
            assert p.type.name in ("text", "str"), word  # no conversion
            assert p.multiple == (kind == "many"), word


def _typer_values(args: list[str]) -> dict[str, object]:
    """What typer calls the function with: click's parse, its tuples made lists (None when
    empty and the default is None)."""
    ctx = _click_command().make_context("run", list(args))
    out: dict[str, object] = {}
    for key, value in ctx.params.items():
        if isinstance(value, tuple):
            value = list(value) or None
        out[key] = value
    return out


def _fast_values(args: list[str]) -> dict[str, object]:
    kwargs = parse(args)
    assert kwargs is not None, args
    defaults = {name: p.default for name, p in
                inspect.signature(make_command(False)).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **kwargs}


@pytest.mark.parametrize("args", [
    ["--rm", "alpine", "true"],
    ["--rm", "--network", "none", "alpine", "true"],
    ["alpine"],
    ["-it", "--name=x", "-e", "A=1", "--env=B=2", "alpine", "sh", "-c", "echo --rm -e"],
    ["-d", "--net", "pasta", "--network", "n2", "-v", "/a:/b", "-p", "8080:80", "img",
     "--name", "x"],
    ["--name", "a", "--name", "b", "-dit", "alpine", "--", "x"],
    ["-w", "/tmp", "-u", "1000", "-h", "host", "--label", "a=b", "-l", "c", "alpine"],
    ["--env=", "--name=", "--ipc", "host", "--restart=always", "-q", "-P", "alpine"],
    ["--init", "--privileged", "--read-only", "--env-host", "--tmpfs", "/t", "--mount",
     "type=tmpfs,dst=/m", "--cap-add", "ALL", "--security-opt", "label=disable", "alpine"],
])
def test_values_are_clicks(args: list[str]) -> None:
    assert _fast_values(args) == _typer_values(args)


@pytest.mark.parametrize("args", [
    [], ["--rm"], ["-e"], ["--help"], ["--rm", "--help", "alpine"], ["--", "alpine"],
    ["--rm=true", "alpine"], ["--tty=false", "alpine"], ["--name", "-x", "alpine"],
    ["--stop-timeout", "3", "alpine"], ["-eA=1", "alpine"], ["-e=A", "alpine"],
    ["", "true"], ["-itx", "alpine"], ["-ite", "A", "alpine"], ["--no-sig-proxy", "alpine"],
    ["--pull", "never", "alpine"], ["--replace", "--name", "x", "alpine"],
])
def test_other_lines_go_to_typer(args: list[str]) -> None:
    assert parse(args) is None


def test_only_run_and_create_and_no_global_options() -> None:
    assert runner(["ps", "-a"]) is None
    assert runner(["--log-level", "debug", "run", "alpine"]) is None
    assert runner(["run", "alpine"]) is not None
    assert runner(["create", "alpine"]) is not None
