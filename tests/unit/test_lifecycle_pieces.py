"""Pieces of the lifecycle commands that need no container: log parsing, signals, filters."""

from __future__ import annotations

import pytest

from pyman.cli.containers import status_text
from pyman.cli.lifecycle import parse_signal
from pyman.engine.containers.filters import matches, parse_filters
from pyman.engine.containers.inspect import rfc3339
from pyman.engine.containers.logs import LogReader, parse_since, timestamp_ns
from pyman.engine.types import ContainerSummary
from pyman.errors import PymanError
from pyman.monitor.k8slog import K8sFileLog


def test_log_round_trip_partial_lines_tail_and_follow(tmp_path) -> None:
    path = str(tmp_path / "ctr.log")
    log = K8sFileLog(path)
    log.write("stdout", b"one\ntw")
    log.write("stdout", b"o\nthree\n")
    log.write("stderr", b"err\n")
    reader = LogReader(path)
    entries = list(reader.read())
    text = b"".join(t + (b"\n" if full else b"") for _, s, full, t in entries if s == "stdout")
    assert text == b"one\ntwo\nthree\n"
    assert [e[3] for e in LogReader(path).read(tail=2)] == [b"three", b"err"]
    assert [e[3] for e in LogReader(path).read(tail=3)] == [b"tw", b"o", b"three", b"err"]
    assert list(LogReader(path).read(tail=0)) == []
    assert list(reader.read()) == []  # follow: nothing new
    log.write("stdout", b"four\n")
    assert [e[3] for e in reader.read()] == [b"four"]
    log.close()


def test_times() -> None:
    ns = timestamp_ns("2026-01-02T03:04:05.123456789+00:00")
    assert ns % 1_000_000_000 == 123456789
    assert timestamp_ns("2026-01-02T03:04:05Z") == ns - 123456789
    assert parse_since("1767323045") == 1767323045 * 10**9
    assert parse_since("10m", now=1000.0) == 400 * 10**9
    assert parse_since("1h30m", now=10000.0) == (10000 - 5400) * 10**9
    with pytest.raises(PymanError):
        parse_since("yesterday")
    assert rfc3339(None) == "0001-01-01T00:00:00Z"
    assert rfc3339(1.5) == "1970-01-01T00:00:01.500000000Z"


def test_signals() -> None:
    assert parse_signal("TERM") == parse_signal("sigterm") == parse_signal("15") == 15
    assert parse_signal("KILL") == 9 and parse_signal("SIGHUP") == 1
    with pytest.raises(PymanError, match="invalid signal: BOGUS"):
        parse_signal("BOGUS")


def _summary(**kw) -> ContainerSummary:  # type: ignore[no-untyped-def]
    base = dict(id="ab" * 32, name="web-1", image="docker.io/library/alpine:latest",
                command=["true"], created=0.0, status="exited", exit_code=3,
                started_at=1.0, finished_at=2.0, pid=0, labels={"k": "v", "x": ""})
    base.update(kw)
    return ContainerSummary(**base)  # type: ignore[arg-type]


def test_ps_filters_and_status() -> None:
    c = _summary()
    assert matches(c, parse_filters(["status=exited", "name=web"]))
    assert matches(c, parse_filters(["status=running", "status=exited"]))  # ORed
    assert not matches(c, parse_filters(["status=exited", "name=db"]))  # ANDed
    assert matches(c, parse_filters(["label=k=v", "label=x"]))
    assert not matches(c, parse_filters(["label=k=w"]))
    assert matches(c, parse_filters(["id=abab", "exited=3", "ancestor=alpine"]))
    with pytest.raises(PymanError):
        parse_filters(["status"])
    assert status_text("exited", 3, 1.0, 2.0, 5.0) == "Exited (3) 3 seconds ago"
    assert status_text("running", None, 1.0, None, 4.0) == "Up 3 seconds"
    assert status_text("created", None, None, None, 4.0) == "Created"


def test_sweep_removes_only_old_leftovers(tmp_path) -> None:
    import os
    import time

    from pyman.storage.containers import ContainerStore

    store = ContainerStore(tmp_path / "containers", tmp_path / "run")
    for name in (".rm-a", ".new-b", ".new-fresh", "c" * 64):
        (store.root / name / "upper").mkdir(parents=True)
    old = time.time() - 3600
    for name in (".rm-a", ".new-b"):
        os.utime(store.root / name, (old, old))
    assert sorted(store.sweep()) == [".new-b", ".rm-a"]
    assert sorted(p.name for p in store.root.iterdir()) == [".new-fresh", "c" * 64]
