"""cli/root_help.py, the root's help without typer, is the text typer renders (through
cli/cobra_help.py) for `--help`, `-h` and `help`, under any program name."""

from __future__ import annotations

import pytest

from pyman.cli import root_help
from pyman.cli.main import main


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["help"]])
@pytest.mark.parametrize("prog", ["pyman", "podman"])
def test_the_text_is_typers(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                            args: list[str], prog: str) -> None:
    for var in ("CONTAINER_HOST", "CONTAINER_CONNECTION", "_PYMAN_COMPLETE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("sys.argv", [f"/usr/bin/{prog}", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code in (0, None)
    assert capsys.readouterr().out == root_help.text(prog)


def test_only_the_roots_help_without_a_remote_service() -> None:
    assert root_help.applies(["--help"], {})
    assert not root_help.applies(["--help"], {"CONTAINER_HOST": "unix:///x"})
    assert not root_help.applies(["--help"], {"_PYMAN_COMPLETE": "complete_bash"})
    for args in (["run", "--help"], ["--help", "x"], ["help", "run"], [], ["--log-level",
                                                                          "debug", "--help"]):
        assert not root_help.applies(args, {})
