"""The engine driven in-process, as a Python user drives it: streams passed in, reports
returned, typed errors, and the calling process left as it was (issue 15)."""

from __future__ import annotations

import io
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyman.engine import Engine
from pyman.engine.types import RunOptions
from pyman.errors import PymanError


@pytest.fixture
def engine(fresh_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An Engine on the test's own empty store (the environment the command would get)."""
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "PATH", "HOME"):
        monkeypatch.setenv(var, fresh_env[var])
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    yield Engine()


def test_run_writes_output_to_the_streams_given(engine: Engine) -> None:
    out, err = io.BytesIO(), io.BytesIO()
    report = engine.containers.run(
        image="alpine", command=["sh", "-c", "echo to-out; echo to-err >&2; exit 4"],
        remove=True, stdout=out, stderr=err)
    assert report.exit_code == 4
    assert (out.getvalue(), err.getvalue()) == (b"to-out\n", b"to-err\n")
    assert engine.containers.summaries(all_=True) == [], "remove=True is --rm"


def test_run_into_a_real_file(engine: Engine, tmp_path: Path) -> None:
    target = tmp_path / "out"
    big = 300_000  # more than a pipe holds: the copy must not stall the container
    with open(target, "wb") as f:
        report = engine.containers.run(image="alpine", remove=True, stdout=f,
                                       command=["sh", "-c", f"head -c {big} /dev/zero"])
    assert report.exit_code == 0
    assert target.stat().st_size == big


def test_large_output_into_memory(engine: Engine) -> None:
    out = io.BytesIO()
    report = engine.containers.run(image="alpine", remove=True, stdout=out,
                                   command=["sh", "-c", "seq 1 100000"])
    assert report.exit_code == 0
    lines = out.getvalue().split(b"\n")
    assert (lines[0], lines[-2], len(lines)) == (b"1", b"100000", 100001)


def test_signal_handlers_are_put_back(engine: Engine) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    engine.containers.run(image="alpine", command=["true"], remove=True, stdout=io.BytesIO())
    assert {s: signal.getsignal(s) for s in before} == before


def test_run_from_a_thread(engine: Engine) -> None:
    results: list[object] = []

    def work() -> None:
        out = io.BytesIO()
        try:
            report = engine.containers.run(image="alpine", command=["echo", "threaded"],
                                           remove=True, stdout=out)
            results.append((report.exit_code, out.getvalue()))
        except Exception as exc:  # noqa: BLE001 - reported to the test below
            results.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join(120)
    assert results == [(0, b"threaded\n")]


def test_errors_are_typed_with_the_command_exit_code(engine: Engine) -> None:
    with pytest.raises(PymanError) as missing:
        engine.containers.run(image="alpine", command=["/no/such/program"], remove=True)
    assert missing.value.exit_code == 127
    with pytest.raises(PymanError) as unknown:
        engine.containers.run(image="localhost/no-such-image:1", command=["true"],
                              pull="never")
    assert unknown.value.exit_code == 125
    assert "image not known" in str(unknown.value)


def test_options_object_or_keywords_not_both(engine: Engine) -> None:
    with pytest.raises(TypeError, match="not both"):
        engine.containers.run(RunOptions(image="alpine"), remove=True)
    with pytest.raises(TypeError, match="no_such_option"):
        engine.containers.run(image="alpine", no_such_option=1)


def test_detached_run_ignores_streams(engine: Engine) -> None:
    out = io.BytesIO()
    report = engine.containers.run(image="alpine", command=["sleep", "30"], detach=True,
                                   stdout=out)
    try:
        assert report.exit_code is None
        assert engine.containers.live_state(report.id).status == "running"
    finally:
        engine.containers.remove(report.id, force=True, timeout=0)
    assert out.getvalue() == b""


def test_networks_lookups_and_listing_are_engine_calls(engine: Engine) -> None:
    """What `network ls`, `inspect` and `ps --filter` render comes from the engine: filters,
    the lookup order and the misses are its reports, nothing printed."""
    from pyman.engine.containers.filters import listing
    from pyman.errors import NetworkInUseError, NetworkNotFoundError

    net = engine.networks.create("lib-net", labels={"team": "a"})
    try:
        assert [d["name"] for d in engine.networks.ls(["label=team=a"])] == ["lib-net"]
        assert engine.networks.ls(["name=^nomatch$"]) == []
        with pytest.raises(PymanError, match='invalid filter "colour"'):
            engine.networks.ls(["colour=red"])
        engine.containers.run(RunOptions(image="alpine", command=["sleep", "60"],
                                         name="lib-on-net", network="lib-net", detach=True))
        with pytest.raises(NetworkInUseError) as refused:
            engine.networks.remove("lib-net")
        assert refused.value.exit_code == 2
        running = listing(engine.containers, ["name=^lib-on-net$"], all_=False)
        assert [(c.name, c.status) for c in running] == [("lib-on-net", "running")]
        # Podman's order: a container, then an image; a miss is the report's error
        report = engine.system.inspect(["lib-on-net", "alpine", "no-such-thing"])
        assert len(report.documents) == 2, report.documents
        assert report.documents[0]["Name"] == "lib-on-net"
        assert "RepoTags" in report.documents[1]
        assert 'no such object: "no-such-thing"' in str(report.error)
        with pytest.raises(PymanError, match="invalid --type 'colour'"):
            engine.system.inspect(["lib-on-net"], "colour")
        assert engine.networks.remove("lib-net", force=True, timeout=0) == "lib-net"
        assert engine.containers.summaries(all_=True) == []
    finally:
        if any(c.name == "lib-on-net" for c in engine.containers.summaries(True)):
            engine.containers.remove("lib-on-net", force=True, timeout=0)
        if engine.networks.exists(net["name"]):
            engine.networks.remove(net["name"], force=True, timeout=0)
    with pytest.raises(NetworkNotFoundError):
        engine.networks.remove("lib-net")


def test_unshare_reports_a_missing_command_as_an_error(engine: Engine,
                                                       capfd: pytest.CaptureFixture[str]
                                                       ) -> None:
    from pyman.engine.system.unshare import run as unshare
    from pyman.errors import CommandNotFoundError

    with pytest.raises(CommandNotFoundError, match="executable file not found") as exc:
        unshare(["no-such-program"], engine.paths)
    assert exc.value.exit_code == 127
    assert unshare(["sh", "-c", "exit 3"], engine.paths) == 3
    assert engine.system.unshare(["sh", "-c", "exit 4"]) == 4
    with pytest.raises(CommandNotFoundError):
        engine.system.unshare(["no-such-program"])
    assert "not found" not in capfd.readouterr().err, "the error is raised, not written"


KUBE_POD = """apiVersion: v1
kind: Pod
metadata:
  name: lib-kube
spec:
  containers:
  - name: a
    image: alpine
    command: ["sleep", "60"]
"""


def test_kube_play_generate_down_are_engine_calls(engine: Engine, tmp_path: Path,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    from pyman.engine.kube.play import DownReport

    path = tmp_path / "pod.yaml"
    path.write_text(KUBE_POD)
    played = engine.kube.play(str(path))
    try:
        assert [(p.name, len(p.containers)) for p in played.pods] == [("lib-kube", 1)]
        assert engine.containers.live_state(played.pods[0].containers[0]).status == "running"
        text = engine.kube.generate(["lib-kube"])
        assert "kind: Pod" in text and "name: lib-kube" in text, text
        assert "kind: Service" in engine.kube.generate(["lib-kube"], service=True)
        with pytest.raises(PymanError):
            engine.kube.generate(["no-such-pod"])
    finally:
        down = engine.kube.down(str(path))
    assert down == DownReport(stopped=[played.pods[0].id], removed=[played.pods[0].id])
    assert engine.kube.down(str(path)) == DownReport(), "nothing left to take down"
    assert engine.containers.summaries(all_=True) == []
    assert capfd.readouterr().out == "", "reports are returned, nothing printed"


def test_systemd_units_are_engine_calls(engine: Engine) -> None:
    engine.containers.run(RunOptions(image="alpine", command=["sleep", "60"],
                                     name="lib-unit", detach=True))
    try:
        opts = engine.systemd.unit_options("/usr/local/bin/pyman", use_name=True,
                                           header=False)
        units = engine.systemd.generate("lib-unit", opts)
        assert list(units) == ["container-lib-unit"]
        text = units["container-lib-unit"]
        assert "ExecStart=/usr/local/bin/pyman start lib-unit\n" in text, text
        assert str(engine.paths.data) in text, "the unit requires the store's mount"
        bad = engine.systemd.unit_options("/usr/local/bin/pyman", restart_policy="sometimes")
        with pytest.raises(PymanError, match="sometimes"):
            engine.systemd.generate("lib-unit", bad)
        with pytest.raises(PymanError):
            engine.systemd.generate("no-such-container", opts)
    finally:
        engine.containers.remove("lib-unit", force=True, timeout=0)


def test_system_reports_are_engine_calls(engine: Engine,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    from pyman.engine.system.check import Check
    from pyman.engine.system.df import DiskUsage

    info = engine.system.info(checks=False)
    assert info["store"]["graphRoot"] == str(engine.paths.data), info["store"]
    assert "systemCheck" not in info["host"]
    checks = engine.system.check()
    assert checks and all(isinstance(c, Check) for c in checks)
    assert {c.status for c in checks} <= {"ok", "warn", "fail"}
    assert engine.system.version()["Client"]["Version"]
    done = engine.containers.run(image="alpine", command=["true"], name="lib-done",
                                 stdout=io.BytesIO())
    use = engine.system.df()
    assert isinstance(use, DiskUsage)
    assert [c["summary"].name for c in use.containers] == ["lib-done"]
    assert any(i["containers"] == 1 for i in use.images), use.images
    with pytest.raises(PymanError, match="invalid filter 'colour'"):
        engine.system.prune(filters=["colour=red"])
    pruned = engine.system.prune()
    assert pruned.containers == [done.id]
    assert pruned.reclaimed >= 0
    assert engine.containers.summaries(all_=True) == []
    assert engine.system.migrate().stale_layers == []
    assert capfd.readouterr().out == "", "reports are returned, nothing printed"


def test_system_reset_empties_the_store(engine: Engine) -> None:
    engine.containers.run(image="alpine", command=["true"], stdout=io.BytesIO())
    engine.volumes.create("lib-vol")
    assert engine.system.reset() == []
    assert engine.containers.summaries(all_=True) == []
    assert engine.volumes.ls() == []
    assert engine.images.records() == []


def test_events_read_and_follow_are_engine_calls(engine: Engine) -> None:
    engine.containers.run(image="alpine", command=["true"], name="lib-ev", remove=True,
                          stdout=io.BytesIO())
    seen = [ev["Status"] for ev in engine.system.events(["container=lib-ev"])]
    assert seen[0] == "create" and seen[-1] == "remove", seen
    assert list(engine.system.events(["container=no-such"])) == []

    def later() -> None:
        engine.containers.run(image="alpine", command=["true"], name="lib-ev2", remove=True,
                              stdout=io.BytesIO())

    follow = engine.system.follow_events(["container=lib-ev2"], until="120s")
    worker = threading.Timer(0.5, later)
    worker.start()
    got = []
    for ev in follow:  # from now: lib-ev's events are not in it
        got.append(ev["Status"])
        if ev["Status"] == "remove":
            break
    worker.join(60)
    assert got[0] == "create" and got[-1] == "remove", got
    assert engine.system.event_json({"Type": "system", "Status": "x", "_ns": 1}).startswith(
        "{")
