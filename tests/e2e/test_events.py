"""pyman events end to end: the events every command and the monitor write to the file backend
(containers.conf's events_logfile_path, one file per test), Podman's shapes (human, JSON,
Go templates), filters (same key: either; keys: all), --since/--until, following new events,
rotation at events_logfile_max_size, the "none" backend, and concurrent writers."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from lifecycle_util import NET


def _ok(r):  # type: ignore[no-untyped-def]
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def _conf(env: dict[str, str], tmp_path: Path, extra: str = "") -> Path:
    """A containers.conf of this test's own: its events go to a log of their own."""
    log = tmp_path / "ev" / "events.log"
    conf = Path(env["XDG_CONFIG_HOME"]) / "containers" / "containers.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(f'[engine]\nevents_logfile_path = "{log}"\n{extra}')
    return log


def _events(run_pyman, env, *args: str) -> list[str]:  # type: ignore[no-untyped-def]
    r = _ok(run_pyman("events", "--stream=false", *args, env=env))
    return r.stdout.splitlines()


def test_container_events_shapes_and_filters(run_pyman, fresh_env, tmp_path: Path) -> None:
    env = fresh_env
    log = _conf(env, tmp_path)
    r = run_pyman("run", "--rm", *NET, "--label", "lk=l v", "--name", "ev-a", "alpine", "sh",
                  "-c", "exit 3", env=env)
    assert r.returncode == 3, r.stderr
    cid = _ok(run_pyman("run", "-d", *NET, "--name", "ev-b", "alpine", "sleep", "60",
                        env=env)).stdout.strip()
    _ok(run_pyman("exec", "ev-b", "true", env=env))
    _ok(run_pyman("rename", "ev-b", "ev-c", env=env))
    _ok(run_pyman("stop", "-t", "0", "ev-c", env=env))
    _ok(run_pyman("rm", "ev-c", env=env))

    lines = _events(run_pyman, env, "--format", "{{.Status}} {{.Name}}", "--filter",
                    "type=container")
    assert lines == ["create ev-a", "init ev-a", "start ev-a", "attach ev-a", "died ev-a",
                     "remove ev-a", "create ev-b", "init ev-b", "start ev-b", "exec ev-b",
                     "exec_died ev-b", "rename ev-c", "died ev-c", "cleanup ev-c",
                     "stop ev-c", "remove ev-c"]

    # Podman's human line: Go's time, full id, image, name, then the labels
    (start,) = _events(run_pyman, env, "--filter", "container=ev-a", "--filter", "event=start")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC container start "
                        r"[0-9a-f]{64} \(image=docker\.io/library/alpine:latest, name=ev-a, "
                        r"lk=l v\)", start), start
    # same key: either; different keys: both; --no-trunc=false: short ids; labels; prefixes
    both = _events(run_pyman, env, "-f", "container=ev-a", "-f", f"container={cid[:10]}",
                   "-f", "event=start", "--no-trunc=false")
    assert [ln.split()[6] for ln in both] == [start.split()[6][:12], cid[:12]]
    assert _events(run_pyman, env, "--filter", "label=lk=l v", "--filter", "status=died",
                   "--format", "{{.ID}} {{.Attributes.lk}} {{.ContainerExitCode}}"
                   ) == [f"{start.split()[6]} l v 3"]
    # the file is Podman's: one JSON object a line, Go's field order
    died = [json.loads(ln) for ln in log.read_text().splitlines()
            if '"died"' in ln and "ev-a" in ln][0]
    assert list(died) == ["ContainerExitCode", "ID", "Image", "Name", "Status", "Time", "Type",
                          "Attributes"] and died["ContainerExitCode"] == 3
    as_json = _events(run_pyman, env, "--format", "json", "--filter", "event=exec")
    assert [json.loads(ln)["ID"] for ln in as_json] == [cid]
    # time windows
    assert _events(run_pyman, env, "--since", "1h", "--until", "1h",
                   "--filter", "event=create", "--format", "{{.Name}}") == ["ev-a", "ev-b"]
    assert _events(run_pyman, env, "--until", "2000-01-01") == []
    assert _events(run_pyman, env, "--since", str(int(time.time()) + 60)) == []
    r = run_pyman("events", "--stream=false", "--filter", "colour=red", env=env)
    assert (r.returncode, r.stderr) == (
        125, "Error: failed to parse event filters: colour is an invalid filter\n")
    r = run_pyman("events", "--stream=false", "--since", "yesterday", env=env)
    assert r.returncode == 125 and "unable to interpret time value" in r.stderr


def test_image_volume_pod_events(run_pyman, fresh_env, tmp_path: Path) -> None:
    env = fresh_env
    _conf(env, tmp_path)
    _ok(run_pyman("pull", "alpine", env=env))
    iid = _ok(run_pyman("image", "inspect", "--format", "{{.ID}}", "alpine",
                        env=env)).stdout.strip()
    ball = str(tmp_path / "a.tar")
    _ok(run_pyman("tag", "alpine", "ev/x", env=env))
    _ok(run_pyman("untag", "alpine", "ev/x", env=env))
    _ok(run_pyman("save", "-o", ball, "alpine", env=env))
    _ok(run_pyman("push", "alpine", f"dir:{tmp_path}/d", env=env))
    _ok(run_pyman("rmi", "alpine", env=env))
    _ok(run_pyman("load", "-i", ball, env=env))
    _ok(run_pyman("volume", "create", "ev-v", env=env))
    _ok(run_pyman("volume", "rm", "ev-v", env=env))
    _ok(run_pyman("pod", "create", "--name", "ev-p", env=env))
    _ok(run_pyman("pod", "rm", "ev-p", env=env))
    assert _events(run_pyman, env, "--filter", "type=image", "--format",
                   "{{.Status}} {{.ID}} {{.Name}}") == [
        "pull  alpine", f"tag {iid} ev/x", f"untag {iid} localhost/ev/x:latest",
        f"save {iid} {ball}", f"push {iid} dir:{tmp_path}/d",
        f"untag {iid} docker.io/library/alpine:latest", f"remove {iid} alpine",
        f"loadfromarchive  {ball}"]
    assert sorted(Path(tmp_path / "d").iterdir())[-2:] == [tmp_path / "d" / "manifest.json",
                                                           tmp_path / "d" / "version"]
    assert [ln.split(" UTC ", 1)[1] for ln in _events(run_pyman, env, "-f", "volume=ev-v")
            ] == ["volume create ev-v", "volume remove ev-v"]
    pod = _events(run_pyman, env, "--filter", "pod=ev-p", "--format", "{{.Status}}")
    assert pod == ["create", "remove"]
    human = _events(run_pyman, env, "--filter", "pod=ev-p")[0]
    assert re.search(r" pod create [0-9a-f]{64} \(image=, name=ev-p\)$", human), human
    _ok(run_pyman("run", *NET, "--name", "ev-cm", "alpine", "true", env=env))
    _ok(run_pyman("commit", "ev-cm", "ev/cm", env=env))
    assert _events(run_pyman, env, "--filter", "event=commit", "--format",
                   "{{.Type}} {{.Name}}") == ["container ev-cm"]


def test_follow_until_and_none_backend(run_pyman, fresh_env, pyman_bin: Path,
                                       tmp_path: Path) -> None:
    env = fresh_env
    _conf(env, tmp_path)
    follower = subprocess.Popen([str(pyman_bin), "events", "--filter", "type=volume",
                                 "--format", "{{.Status}} {{.Name}}"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)  # it starts at the end of the log: only what comes next
        _ok(run_pyman("volume", "create", "ev-f", env=env))
        t0 = time.monotonic()
        assert follower.stdout is not None
        assert follower.stdout.readline() == "create ev-f\n"
        assert time.monotonic() - t0 < 2  # woken by the write, not by a slow poll
    finally:
        follower.terminate()
        follower.wait(10)
    # a stream with --until ends at that time
    t0 = time.monotonic()
    r = _ok(run_pyman("events", "--since", "1m", "--until", "2s", "--filter", "type=volume",
                      "--format", "{{.Name}}", env=env, timeout=20))
    assert r.stdout.split() == ["ev-f"] and 1 < time.monotonic() - t0 < 8
    # none: nothing written, nothing read (Podman's error)
    _ok(run_pyman("--events-backend", "none", "volume", "rm", "ev-f", env=env))
    assert _events(run_pyman, env, "--filter", "event=remove") == []
    for extra in ((), ("--stream=false",)):
        r = run_pyman("--events-backend", "none", "events", *extra, env=env)
        assert (r.returncode, r.stderr) == (
            125, 'Error: cannot read events with the "none" backend\n')


def test_rotation_and_concurrent_writers(run_pyman, fresh_env, pyman_bin: Path,
                                        tmp_path: Path) -> None:
    env = fresh_env
    log = _conf(env, tmp_path, "events_logfile_max_size = 4750\n")
    log.parent.mkdir(parents=True)
    with log.open("w") as f:  # 100 lines of 95 bytes: 9500, twice the limit
        for i in range(100):
            f.write('{"Name":"busybox","Status":"pull","Time":"2022-04-06T11:26:42.7236679'
                    f'{i:02d}+02:00","Type":"image","Attributes":null}}\n')
    _ok(run_pyman("volume", "create", "ev-r", env=env))
    lines = log.read_text().splitlines()
    # Podman's cut: from the first line break after the middle, then the rotation event
    assert len(lines) == 51 and '7236679' + "51+02:00" in lines[0]
    rot = json.loads(lines[-2])
    assert (rot["Type"], rot["Status"], rot["Name"]) == ("system", "log-rotation", str(log))
    out = _events(run_pyman, env, "--since", "2022-03-06T11:26:42.723667984+02:00")
    assert len(out) == 51 and out[-2].endswith(f" system log-rotation {log}")
    assert out[0].startswith("2022-04-06 11:26:42.723667951 +0200 +0200 image pull  busybox")

    # writers at once: every line whole (and no rotation lost one)
    log2 = _conf(env, tmp_path / "b")
    names = [f"ev-c{i}" for i in range(8)]
    running = [subprocess.Popen([str(pyman_bin), "volume", "create", n], env=env,
                                stdout=subprocess.DEVNULL) for n in names]
    assert all(p.wait(60) == 0 for p in running)
    events = [json.loads(ln) for ln in log2.read_text().splitlines()]
    assert sorted(e["Name"] for e in events) == names


def test_restart_policy_and_a_killed_monitor(run_pyman, fresh_env, tmp_path: Path) -> None:
    """The monitor writes each run of a restart policy; a monitor killed with -9 cannot, so
    the reconcile that finds it gone writes the container's died (137)."""
    import os
    import signal

    from lifecycle_util import wait_for

    env = fresh_env
    _conf(env, tmp_path)
    _ok(run_pyman("run", "-d", *NET, "--restart", "on-failure:1", "--name", "ev-r", "alpine",
                  "sh", "-c", "exit 2", env=env))
    assert _ok(run_pyman("wait", "ev-r", env=env)).stdout.strip() == "2"

    def statuses(name: str) -> list[str]:
        return _events(run_pyman, env, "--filter", f"container={name}", "--format",
                       "{{.Status}}")

    assert wait_for(lambda: statuses("ev-r")[-1:] == ["cleanup"])
    assert statuses("ev-r") == ["create", "init", "start", "died", "init", "start", "died",
                                "cleanup"]
    _ok(run_pyman("run", "-d", *NET, "--name", "ev-k", "alpine", "sleep", "60", env=env))
    mon = int(_ok(run_pyman("inspect", "--format", "{{.State.ConmonPid}}", "ev-k",
                            env=env)).stdout)
    os.kill(mon, signal.SIGKILL)
    assert wait_for(lambda: not os.path.exists(f"/proc/{mon}/stat")
                    or open(f"/proc/{mon}/stat").read().split(")")[1].split()[0] == "Z")
    _ok(run_pyman("ps", "-a", env=env))  # the reconcile
    assert _events(run_pyman, env, "--filter", "container=ev-k", "--filter", "event=died",
                   "--format", "{{.ContainerExitCode}}") == ["137"]


def test_follow_across_rotations(run_pyman, fresh_env, pyman_bin: Path,
                                 tmp_path: Path) -> None:
    """A follower reads on in the file a rotation renames over the log, each event once."""
    env = fresh_env
    _conf(env, tmp_path, "events_logfile_max_size = 600\n")
    follower = subprocess.Popen([str(pyman_bin), "events", "--filter", "type=volume",
                                 "--format", "{{.Name}}"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    names = [f"ev-rot{i}" for i in range(12)]  # ~80 bytes an event: several rotations
    try:
        time.sleep(1)
        for n in names:
            _ok(run_pyman("volume", "create", n, env=env))
        assert follower.stdout is not None
        got = [follower.stdout.readline().strip() for _ in names]
    finally:
        follower.terminate()
        follower.wait(10)
    assert got == names
    assert '"log-rotation"' in (tmp_path / "ev" / "events.log").read_text()
