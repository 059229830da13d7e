"""cli/fast.py, run/create/exec/ps command lines without typer: its option tables are typer's, and
the values it hands the commands' functions are those click parses and typer converts."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from pyman.cli.exec_command import exec_
from pyman.cli.fast import EXEC_OPTIONS, PS_OPTIONS, RUN_OPTIONS, parse, runner
from pyman.cli.main import build_app
from pyman.cli.ps_command import ps
from pyman.cli.run_command import make_command


def _click_command(name: str) -> Any:
    return build_app(name, args=[name]).commands[name]


@pytest.mark.parametrize(("name", "table"), [("run", RUN_OPTIONS), ("create", RUN_OPTIONS),
                                             ("ps", PS_OPTIONS), ("exec", EXEC_OPTIONS)])
def test_the_tables_are_typers(name: str, table: dict[str, tuple[str, str]]) -> None:
    params = {opt: p for p in _click_command(name).params for opt in p.opts}
    for word, (param, kind) in table.items():
        p = params[word]
        assert p.name == param, word
        if kind == "flag":
            assert p.is_flag and not p.secondary_opts and p.default is False, word
        else:
            assert not p.is_flag and p.nargs == 1, word
            assert p.type.name in ("text", "str"), word  # no conversion
            assert p.multiple == (kind == "many"), word


def _typer_values(name: str, args: list[str]) -> dict[str, object]:
    """What typer calls the function with: click's parse, its tuples made lists (None when
    empty and the default is None)."""
    ctx = _click_command(name).make_context(name, list(args))
    out: dict[str, object] = {}
    for key, value in ctx.params.items():
        if isinstance(value, tuple):
            value = list(value) or None
        out[key] = value
    return out


def _fast_values(func: Callable[..., None], kwargs: dict[str, object] | None
                 ) -> dict[str, object]:
    assert kwargs is not None
    defaults = {name: p.default for name, p in inspect.signature(func).parameters.items()
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
def test_run_values_are_clicks(args: list[str]) -> None:
    assert _fast_values(make_command(False), parse(args)) == _typer_values("run", args)


@pytest.mark.parametrize("args", [
    [], ["-a"], ["--all"], ["-aq"], ["-qa", "--no-trunc"], ["-a", "--format", "json"],
    ["--format={{.Names}}", "-a"], ["-f", "status=exited", "--filter=label=a", "-a"],
    ["-l"], ["--sort", "names", "--noheading", "-p", "--external"], ["--pod", "--latest"],
])
def test_ps_values_are_clicks(args: list[str]) -> None:
    assert _fast_values(ps, parse(args, PS_OPTIONS, None)) == _typer_values("ps", args)


@pytest.mark.parametrize("args", [
    ["ctr", "true"], ["-it", "ctr", "sh", "-c", "echo -e x"], ["-d", "-u", "1000:1000",
                                                              "ctr", "sleep", "1"],
    ["--env=A=1", "-e", "B", "--env-file", "/f", "-w", "/tmp", "--privileged", "ctr", "env"],
    ["-l", "true"], ["--detach-keys", "ctrl-a", "--user=root", "ctr", "--", "x"],
])
def test_exec_values_are_clicks(args: list[str]) -> None:
    assert _fast_values(exec_, parse(args, EXEC_OPTIONS, "container")) == \
        _typer_values("exec", args)


@pytest.mark.parametrize("args", [
    [], ["--rm"], ["-e"], ["--help"], ["--rm", "--help", "alpine"], ["--", "alpine"],
    ["--rm=true", "alpine"], ["--tty=false", "alpine"], ["--name", "-x", "alpine"],
    ["--stop-timeout", "3", "alpine"], ["-eA=1", "alpine"], ["-e=A", "alpine"],
    ["", "true"], ["-itx", "alpine"], ["-ite", "A", "alpine"], ["--no-sig-proxy", "alpine"],
    ["--pull", "never", "alpine"], ["--replace", "--name", "x", "alpine"],
])
def test_other_run_lines_go_to_typer(args: list[str]) -> None:
    assert parse(args) is None


@pytest.mark.parametrize("args", [
    ["x"], ["-a", "x"], ["--help"], ["-n", "2"], ["--last=2"], ["-a=true"], ["--all=false"],
    ["--format"], ["-f"], ["--", "-a"], ["-ax"], ["--size"],
])
def test_other_ps_lines_go_to_typer(args: list[str]) -> None:
    assert parse(args, PS_OPTIONS, None) is None


def test_only_these_commands_and_no_global_options() -> None:
    assert runner(["images"]) is None
    assert runner(["--log-level", "debug", "run", "alpine"]) is None
    assert runner(["--root", "/x", "ps"]) is None
    assert runner(["exec", "--help"]) is None
    assert runner(["exec", "-e=A", "ctr", "true"]) is None
    for args in (["run", "alpine"], ["create", "alpine"], ["ps"], ["ps", "-a"],
                 ["exec", "ctr", "true"]):
        assert runner(args) is not None
