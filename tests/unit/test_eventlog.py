"""The events writer on its own: Go's time format, Podman's field order, rotation's cut, and
what one write costs (every container start writes three)."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from pyman import eventlog


def test_record_shape_and_go_time() -> None:
    ev = eventlog.record("container", "died", id_="ab", name="n", image="i",
                         attributes={"z": "1", "a": "<&>"}, exit_code=3, time_ns=1_500_000_000)
    assert list(ev) == ["ContainerExitCode", "ID", "Image", "Name", "Status", "Time", "Type",
                        "Attributes"]
    text = eventlog.to_json(ev)
    assert '"a":"\\u003c\\u0026\\u003e"' in text and json.loads(text)["Attributes"]["a"] == "<&>"
    assert eventlog.record("volume", "create", name="v")["Attributes"] is None
    assert eventlog.go_time(1_000_000_000 * 86400 + 120_000_000).endswith(":00.12Z")
    assert eventlog.go_time(0).endswith("T00:00:00Z")


def test_rotation_keeps_the_newer_half(tmp_path: Path) -> None:
    log = tmp_path / "events.log"
    log.write_bytes(b"".join(b"%03d" % i + b"x" * 5 + b"\n" for i in range(10)))  # 9 bytes each
    eventlog.append(str(log), 50, '{"new":1}')
    lines = log.read_text().splitlines()
    assert lines[0].startswith("006")  # the middle (45) is in line 5: it goes whole
    assert json.loads(lines[-2])["Status"] == "log-rotation" and lines[-1] == '{"new":1}'
    eventlog.append(str(log), 0, '{"more":1}')  # no limit: never cut
    assert log.read_text().splitlines()[0].startswith("006")


def test_a_write_costs_well_under_a_millisecond(tmp_path: Path) -> None:
    log = str(tmp_path / "ev" / "events.log")
    eventlog.append(log, 0, "{}")  # the directory made once
    costs = []
    for i in range(200):
        t0 = time.perf_counter()
        eventlog.append(log, 0, eventlog.to_json(eventlog.record(
            "container", "start", id_="f" * 64, name=f"c{i}", image="docker.io/x:latest",
            attributes={"a": "b"})))
        costs.append(time.perf_counter() - t0)
    assert statistics.median(costs) < 0.0005, statistics.median(costs)
    assert len(Path(log).read_text().splitlines()) == 201


def test_only_files_that_set_events_keys_are_parsed() -> None:
    # the shipped containers.conf names every key in comments: no TOML parse for those
    assert not eventlog._sets_events(b'#events_logger = "journald"\n[engine]\n# events_x\n')
    assert eventlog._sets_events(b'[engine]\n  events_logfile_path = "/x"\n')
    assert eventlog._sets_events(b'events_logger = "file"')
