"""Help and usage errors in Podman's shape, for every command (as Podman's 015-help walks them),
and the global options' refusals. In-process: main() with the words, exit code and output."""

from __future__ import annotations

import re

import pytest

from pyman.cli.main import COMMANDS, main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def _listed(text: str) -> list[str]:
    """The names under `Available Commands:`, as Podman's _podman_commands reads them."""
    block = text.split("Available Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in block.splitlines()]


def _walk(capsys: pytest.CaptureFixture[str], path: list[str], seen: list[str]) -> None:
    code, out, err = _run(capsys, *path, "--help")
    assert code == 0, (path, err)
    assert "internal error" not in out + err
    lines = out.splitlines()
    usage = lines[lines.index("Usage:") + 1]
    assert usage.startswith("  " + " ".join(["pyman", *path])), (path, usage)
    seen.append(" ".join(path))
    if usage.endswith("[command]"):
        for name in _listed(out):
            if name != "help":
                _walk(capsys, [*path, name], seen)
    else:
        # the synopsis says what the command takes: [options] when it has an Options: section
        assert ("[options]" in usage) == ("\nOptions:\n" in out), (path, usage)
        assert not re.search(r"\[OPTION", usage)


def test_every_command_and_subcommand_has_plain_help(capsys) -> None:
    seen: list[str] = []
    _walk(capsys, [], seen)
    assert set(COMMANDS) <= {s.split()[0] for s in seen if s} | {"help"}
    assert len(seen) > 60
    # help texts are text, not rich markup: run's --publish help has [/tcp|/udp]-like brackets
    code, out, _ = _run(capsys, "run", "--help")
    assert code == 0 and "--publish" in out


def test_dash_h_is_help_except_where_it_is_an_option(capsys) -> None:
    code, out, _ = _run(capsys, "-h")
    assert code == 0 and out.splitlines()[0] == "Manage pods, containers and images"
    assert _run(capsys, "help")[1] == out
    code, out, _ = _run(capsys, "pod", "rm", "-h")
    assert code == 0 and "  pyman pod rm [options]" in out
    assert _run(capsys, "help", "pod", "rm")[1] == out
    code, out, _ = _run(capsys, "help", "--help")
    assert code == 0 and "Usage:\n  pyman help [command]\n" in out
    # run -h is --hostname, as in Podman: it needs a value
    code, _, err = _run(capsys, "run", "-h")
    assert code == 125
    assert err == "Error: flag needs an argument: 'h' in -h\nSee 'pyman run --help'\n"


@pytest.mark.parametrize(("args", "message"), [
    (["pod"], "Error: missing command 'pyman pod COMMAND'\n"),
    (["pod", "nosuch"], "Error: unrecognized command `pyman pod nosuch`\n"
                        "Try 'pyman pod --help' for more information\n"),
    (["ps", "invalid-arg"], "Error: `pyman ps` takes no arguments\n"),
    (["container", "ls", "-l", "x"], "Error: --latest and containers cannot be used together\n"),
    (["tag"], "Error: `pyman tag` requires at least 2 arg(s), only received 0\n"),
    (["port", "a", "b", "c"], "Error: `pyman port` accepts at most 2 arg(s), received 3\n"),
    (["version", "--remote"], "Error: unknown flag: --remote\nSee 'pyman version --help'\n"),
    (["bad", "--invalid"], "Error: unknown flag: --invalid\nSee 'pyman --help'\n"),
    (["--remote", "ps"], "Error: pyman is daemonless and has no remote service: run it "
                         "without --remote, --url and --connection\n"),
    (["--storage-driver", "btrfs", "ps"],
     'Error: unsupported storage driver "btrfs": use overlay or vfs\n'),
])
def test_usage_errors_in_podmans_words_exit_125(capsys, args, message) -> None:
    code, out, err = _run(capsys, *args)
    assert (code, err) == (125, message)
    if args == ["pod"]:  # a group without its command: its help first, on stdout
        assert "Usage:\n  pyman pod [command]" in out


def test_log_level_is_checked_and_logs_like_podman(capsys) -> None:
    code, _, err = _run(capsys, "--log-level=telepathic", "version")
    assert code == 1
    assert err.startswith('Log Level "telepathic" is not supported, choose from: trace, debug')
    code, _, err = _run(capsys, "--debug", "--log-level=info", "version")
    assert (code, err) == (1, "Setting --log-level and --debug is not allowed\n")


def test_remote_is_hidden_when_a_service_is_named(capsys, monkeypatch) -> None:
    assert " --remote " in _run(capsys, "--help")[1]
    assert " --remote " not in _run(capsys, "--url", "unix:/x", "--help")[1]
    monkeypatch.setenv("CONTAINER_HOST", "unix:/x")
    assert " --remote " not in _run(capsys, "--help")[1]


def test_root_help_summaries_are_the_commands_own() -> None:
    """`pyman --help` lists main.SUMMARIES without importing the commands: they must not
    drift from the docstrings the commands' own help shows."""
    from pyman.cli.cobra_help import _short_long
    from pyman.cli.main import SUMMARIES, build_app

    everything = build_app(None)  # no args: every command registered
    own = {n: _short_long(c.help)[0] for n, c in everything.commands.items()}
    assert own == SUMMARIES
    assert set(SUMMARIES) == set(COMMANDS)


def test_version_is_answered_without_typer(capsys) -> None:
    import subprocess
    import sys

    code = ("import atexit, sys; atexit.register(lambda: print('typer' in sys.modules)); "
            "sys.argv = ['pyman', '--version']; from pyman.cli.main import main; main()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines() == [out.splitlines()[0], "False"]
    assert out.startswith("pyman version ")
