from pyman.cli.humanize import human_duration, human_size, parse_time, table
from pyman.cli.main import invoked_command


def test_invoked_command_skips_global_options() -> None:
    assert invoked_command(["--log-level", "debug", "run", "alpine"]) == "run"
    assert invoked_command(["--version"]) is None
    assert invoked_command(["ps", "-a"]) == "ps"


def test_human_units_like_podman() -> None:
    assert human_size(1_234_567) == "1.23 MB"
    assert human_size(999) == "999 B"
    assert human_duration(0.2) == "Less than a second"
    assert human_duration(3) == "3 seconds"
    assert human_duration(90) == "About a minute"
    assert human_duration(30 * 3600) == "30 hours"
    assert human_duration(3 * 86400) == "3 days"
    assert human_duration(30 * 86400) == "4 weeks"


def test_parse_time_nanoseconds() -> None:
    assert parse_time("2023-01-02T03:04:05.123456789Z") == 1672628645.123456
    assert parse_time("garbage") is None


def test_table_aligns_columns() -> None:
    out = table(["A", "LONGER"], [["xx", "y"]]).splitlines()
    assert out == ["A   LONGER", "xx  y"]


def test_unexpected_errors_are_one_line_with_exit_125(monkeypatch, capsys) -> None:
    import pytest

    from pyman.cli import main as cli_main

    class Boom:
        def main(self, **_: object) -> None:
            raise RuntimeError("kaboom")

    monkeypatch.setattr(cli_main, "build_app", lambda name, **_: Boom())
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["images"])
    assert exc.value.code == 125
    err = capsys.readouterr().err
    assert err.startswith("Error: internal error: RuntimeError: kaboom") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_version_answers_without_a_command(capsys) -> None:
    import pytest

    from pyman import __version__
    from pyman.cli.main import main

    for flag in ("--version", "-v"):
        with pytest.raises(SystemExit) as exc:
            main([flag])
        assert exc.value.code == 0
        assert capsys.readouterr().out == f"pyman version {__version__}\n"
