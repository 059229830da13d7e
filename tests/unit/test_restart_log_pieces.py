"""--restart and --log-driver/--log-opt parsing, and the k8s-file log's max-size truncation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyman.engine.specgen import log_config, restart_policy
from pyman.errors import PymanError
from pyman.monitor.k8slog import K8sFileLog


def test_restart_policies() -> None:
    assert restart_policy.parse("") == ("", 0)
    assert restart_policy.parse("no") == ("no", 0)
    assert restart_policy.parse("on-failure") == ("on-failure", 0)
    assert restart_policy.parse("on-failure:0") == ("on-failure", 0)
    assert restart_policy.parse("on-failure:5") == ("on-failure", 5)
    assert restart_policy.parse("unless-stopped") == ("unless-stopped", 0)
    assert restart_policy.parse("no", rm=True) == ("no", 0)
    for bad in ("bogus", "always:1", "no:2", "on-failure:x", "on-failure:-1"):
        with pytest.raises(PymanError):
            restart_policy.parse(bad)
    with pytest.raises(PymanError, match="conflicts with --restart"):
        restart_policy.parse("always", rm=True)


def test_sizes_as_go_units() -> None:
    assert log_config.parse_size("1k") == 1000
    assert log_config.parse_size("1KiB") == 1000  # FromHumanSize: decimal, i ignored
    assert log_config.parse_size("1.5k") == 1500
    assert log_config.parse_size("10M") == 10_000_000
    assert log_config.parse_size("0") == 0
    for bad in ("-1", "", "lots", "1x"):
        with pytest.raises(PymanError, match="invalid size"):
            log_config.parse_size(bad)
    assert [log_config.human_size(n) for n in (0, 1000, 1024, 1500, 10**7, 999)] == [
        "0B", "1kB", "1.024kB", "1.5kB", "10MB", "999B"]


def test_log_options() -> None:
    assert log_config.parse("", []) == ("k8s-file", {})
    driver, opts = log_config.parse("json-file", ["max-size=2k", "path=rel.log", "tag=x",
                                                  "mode=non-blocking"])
    assert driver == "json-file"
    assert opts == {"max_size": 2000, "path": os.path.abspath("rel.log"), "tag": "x"}
    with pytest.raises(PymanError, match='invalid log option "bogus"'):
        log_config.parse("", ["bogus"])
    with pytest.raises(PymanError, match="invalid log driver"):
        log_config.parse("syslog", [])
    assert log_config.log_file("none", "", "/d") == ""
    assert log_config.log_file("k8s-file", "", "/d") == "/d/ctr.log"
    with pytest.raises(PymanError, match="'none' log driver"):
        log_config.refuse_reading("none")


def test_max_size_starts_a_new_file_like_conmon(tmp_path: Path) -> None:
    path = str(tmp_path / "ctr.log")
    log = K8sFileLog(path, 200)
    for i in range(10):
        log.write("stdout", b"%02d-" % i + b"x" * 20 + b"\n")  # 69-byte entries
    log.close()
    text = Path(path).read_text().splitlines()
    # two entries fit in 200 bytes; the third starts over: 0-1, 2-3, ..., 8-9
    assert [line.split(" ")[3][:2] for line in text] == ["08", "09"]
    assert os.path.getsize(path) <= 200
    again = K8sFileLog(path, 200)  # reopened (a restart, the lean waiter): counts what is there
    for _ in range(3):
        again.write("stderr", b"y" * 24 + b"\n")
    again.close()
    assert os.path.getsize(path) <= 200


def test_lean_waiter_imports_stay_small() -> None:
    """The lean waiter lives as long as its container: what it imports is RSS for that long
    (signal.py's enum alone is ~0.9 MiB; restart and clean-up code come only at the exit)."""
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import pyman.monitor.lean; "
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, root], capture_output=True,
                         text=True, check=True).stdout.split()
    for heavy in ("enum", "signal", "json", "subprocess", "typing", "pyman.monitor.restart",
                  "pyman.monitor.runner", "pyman.monitor.main"):
        assert heavy not in out, heavy


def test_containers_conf_log_keys(tmp_path: Path) -> None:
    from pyman import containers_conf
    from pyman.errors import ConfigError

    path = tmp_path / "c.conf"
    path.write_text('[containers]\nlog_driver = "none"\nlog_size_max = 10000\n')
    conf = containers_conf.load([str(path)])
    assert (conf.log_driver, conf.log_size_max) == ("none", 10000)
    assert (containers_conf.load([]).log_driver, containers_conf.load([]).log_size_max) == (
        "", -1)
    for bad in ("log_size_max = 100", 'log_size_max = "1k"', "log_driver = 3"):
        path.write_text(f"[containers]\n{bad}\n")
        with pytest.raises(ConfigError):
            containers_conf.load([str(path)])
