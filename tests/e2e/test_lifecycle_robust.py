"""Robustness of the lifecycle: detached containers outlive their shell; kill -9 of the
monitor or of pyman, and a lost runtime dir (reboot), leave state the next command
reconciles; parallel runs and same-name creates. The real pyman, as the unprivileged user."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from lifecycle_util import NET, own_processes, wait_for


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a slow reaper is dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def mounts_naming(cid: str) -> list[str]:
    """Mount entries of any of our processes that mention the container id."""
    hits = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                text = (d / "mountinfo").read_text()
            except OSError:
                continue
            hits += [f"{d.name}: {line}" for line in text.splitlines() if cid in line]
    return hits


def inspect(run_pyman, name: str, env=None) -> dict:  # type: ignore[no-untyped-def]
    r = run_pyman("inspect", name, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def test_detached_container_survives_its_shell(run_pyman, pyman_bin, pyman_env) -> None:
    # a shell in its own session starts the container, then the whole session is killed
    shell = subprocess.Popen(
        ["sh", "-c", f"{pyman_bin} run -d --name surv --network none alpine sleep 300; "
                     "exec sleep 60"],
        env=pyman_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    assert wait_for(lambda: "surv" in run_pyman("ps").stdout)
    os.killpg(shell.pid, signal.SIGHUP)
    os.killpg(shell.pid, signal.SIGKILL)
    shell.wait()
    time.sleep(0.3)
    doc = inspect(run_pyman, "surv")
    assert doc["State"]["Running"] and alive(doc["State"]["ConmonPid"])
    assert "Up " in run_pyman("ps", "--filter", "name=surv").stdout
    r = run_pyman("stop", "-t", "0", "surv")
    assert r.returncode == 0 and r.stdout == "surv\n"
    assert not alive(doc["State"]["Pid"]) and not alive(doc["State"]["ConmonPid"])
    assert run_pyman("rm", "surv").returncode == 0


def test_monitor_killed_is_reconciled(run_pyman) -> None:
    """kill -9 of the monitor: the next command kills the unsupervised container and its
    network helper, reports it exited, and rm works; no process or mount is left."""
    r = run_pyman("run", "-d", "--name", "orphan", "--network", "pasta", "alpine", "sleep",
                  "300")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    st = inspect(run_pyman, "orphan")["State"]
    pasta_pid = 0
    for base in Path("/tmp").glob(f"pyman-run-{os.getuid()}/pyman/containers/{cid}"):
        pasta_pid = int((base / "pasta.pid").read_text().strip() or 0)
    assert pasta_pid and alive(pasta_pid)
    os.kill(st["ConmonPid"], signal.SIGKILL)
    assert wait_for(lambda: not alive(st["ConmonPid"]))
    ps = run_pyman("ps", "-a", "--filter", "name=orphan")
    assert "Exited (137)" in ps.stdout, ps.stdout
    assert wait_for(lambda: not alive(st["Pid"]) and not alive(pasta_pid), 5)
    again = inspect(run_pyman, "orphan")["State"]
    assert (again["Status"], again["Running"], again["ExitCode"]) == ("exited", False, 137)
    assert run_pyman("rm", "orphan").returncode == 0
    assert mounts_naming(cid) == []


def test_monitor_killed_then_stop_and_rm_force(run_pyman) -> None:
    for cmd in (("stop", "-t", "1"), ("rm", "-f")):
        r = run_pyman("run", "-d", "--name", "orphan2", *NET, "alpine", "sleep", "300")
        assert r.returncode == 0, r.stderr
        st = inspect(run_pyman, "orphan2")["State"]
        pid, monitor = st["Pid"], st["ConmonPid"]
        assert pid > 0 and monitor > 0
        os.kill(monitor, signal.SIGKILL)
        done = run_pyman(*cmd, "orphan2")
        assert done.returncode == 0 and done.stdout == "orphan2\n", done.stderr
        assert wait_for(lambda: not alive(pid), 5)  # noqa: B023 - called right here
        assert mounts_naming(r.stdout.strip()) == []
        run_pyman("rm", "-f", "orphan2")
    assert "orphan2" not in run_pyman("ps", "-a").stdout


def test_runtime_dir_gone_like_after_a_reboot(run_pyman, fresh_env, tmp_path) -> None:
    """Every process gone and the runtime dir (a tmpfs) empty: ps tells the truth, start
    works again, rm works."""
    run_dir = tmp_path / "xdg-run"
    run_dir.mkdir(mode=0o700)
    env = dict(fresh_env, XDG_RUNTIME_DIR=str(run_dir))
    r = run_pyman("run", "-d", "--name", "boot", *NET, "alpine", "sleep", "300", env=env)
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    st = inspect(run_pyman, "boot", env)["State"]
    for pid in (st["ConmonPid"], st["Pid"]):  # the "power cut"
        os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not alive(st["Pid"]) and not alive(st["ConmonPid"]))
    subprocess.run(["unshare", "--map-auto", "--map-root-user", "rm", "-rf", str(run_dir)],
                   check=False)
    run_dir.mkdir(mode=0o700)
    ps = run_pyman("ps", "-a", "--format", "json", env=env)
    assert ps.returncode == 0, ps.stderr
    (c,) = json.loads(ps.stdout)
    assert c["State"] == "exited" and c["Status"].startswith("Exited ")
    assert run_pyman("ps", "-q", env=env).stdout == ""
    again = run_pyman("start", "boot", env=env)
    assert again.returncode == 0, again.stderr
    assert inspect(run_pyman, "boot", env)["State"]["Running"]
    assert run_pyman("stop", "-t", "0", "boot", env=env).returncode == 0
    assert run_pyman("rm", "boot", env=env).returncode == 0
    assert mounts_naming(cid) == []


def test_pyman_killed_while_attached(run_pyman, pyman_bin, pyman_env) -> None:
    """The client dies; the monitor keeps the container and records its end."""
    client = subprocess.Popen([str(pyman_bin), "run", "--name", "midway", *NET, "alpine",
                               "sh", "-c", "while :; do echo tick; sleep 0.1; done"],
                              env=pyman_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert client.stdout is not None
    assert client.stdout.readline() == b"tick\n"
    client.kill()
    client.wait()
    assert "Up " in run_pyman("ps", "--filter", "name=midway").stdout
    assert run_pyman("stop", "-t", "0", "midway").returncode == 0
    assert inspect(run_pyman, "midway")["State"]["ExitCode"] == 137
    assert "tick" in run_pyman("logs", "--tail", "1", "midway").stdout
    assert run_pyman("rm", "midway").returncode == 0


def test_pyman_killed_at_random_points(run_pyman, pyman_bin, fresh_env) -> None:
    """No torn state: whatever moment `run` dies at, every later command reads the store,
    and rm -af leaves nothing."""
    rng = random.Random(5)
    for _ in range(8):
        p = subprocess.Popen([str(pyman_bin), "run", *NET, "alpine", "sleep", "0.2"],
                             env=fresh_env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 0.4))
        p.kill()
        p.wait()
        ps = run_pyman("ps", "-a", "--format", "json", env=fresh_env)
        assert ps.returncode == 0, ps.stderr
        json.loads(ps.stdout)
    assert wait_for(lambda: "running" not in run_pyman("ps", "-a", "--format", "json",
                                                      env=fresh_env).stdout, 10)
    r = run_pyman("rm", "-a", "-f", env=fresh_env)
    assert r.returncode == 0, r.stderr
    assert run_pyman("ps", "-aq", env=fresh_env).stdout == ""
    data = Path(fresh_env["XDG_DATA_HOME"]) / "pyman" / "containers"
    # under load every kill may come during the pull: then no container dir was ever made
    left = [p.name for p in data.iterdir() if len(p.name) >= 64] if data.exists() else []
    assert left == []


def test_twenty_parallel_run_rm(run_pyman, pyman_bin, fresh_env) -> None:
    assert run_pyman("pull", "-q", "alpine", env=fresh_env).returncode == 0
    procs = [subprocess.Popen([str(pyman_bin), "run", "--rm", *NET, "alpine", "echo", str(i)],
                              env=fresh_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(20)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, [e for _, e in outs]
    assert sorted(int(o) for o, _ in outs) == list(range(20))
    assert run_pyman("ps", "-aq", env=fresh_env).stdout == ""
    data = Path(fresh_env["XDG_DATA_HOME"]) / "pyman" / "containers"
    assert [p.name for p in data.iterdir() if p.name != "names.lock"] == []


def test_parallel_creates_unique_names_and_one_winner(run_pyman, pyman_bin,
                                                      fresh_env) -> None:
    assert run_pyman("pull", "-q", "alpine", env=fresh_env).returncode == 0
    procs = [subprocess.Popen([str(pyman_bin), "create", *NET, "alpine", "true"],
                              env=fresh_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(10)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    names = [c["Names"][0] for c in
             json.loads(run_pyman("ps", "-a", "--format", "json", env=fresh_env).stdout)]
    assert len(names) == 10 and len(set(names)) == 10
    procs = [subprocess.Popen([str(pyman_bin), "create", "--name", "same", *NET, "alpine",
                               "true"], env=fresh_env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(p.wait(timeout=60), p.communicate()) for p in procs]
    winners = [out for rc, (out, _) in results if rc == 0]
    losers = [err for rc, (_, err) in results if rc != 0]
    assert len(winners) == 1 and len(losers) == 3
    for err in losers:
        assert f'the container name "same" is already in use by {winners[0].strip()}' in err
        assert err.count("\n") == 1
    assert run_pyman("rm", "-a", env=fresh_env).returncode == 0


def test_monitor_killed_between_create_and_start(run_pyman, pyman_bin, fresh_env,
                                                 tmp_path) -> None:
    """The runtime has created the container (runc init waits to exec) but the monitor dies
    before starting it: the reconcile finds the pid in the runtime's pid file and ends it."""
    run_dir = tmp_path / "xdg-run"
    run_dir.mkdir(mode=0o700)
    env = dict(fresh_env, XDG_RUNTIME_DIR=str(run_dir))
    assert run_pyman("pull", "-q", "alpine", env=env).returncode == 0
    caught = None
    for attempt in range(6):
        client = subprocess.Popen([str(pyman_bin), "run", "-d", "--name", f"half{attempt}",
                                   "--network", "pasta", "alpine", "sleep", "300"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and client.poll() is None:
            for state_file in run_dir.glob("pyman/containers/*/state.json"):
                pid_file = state_file.with_name("pid")
                try:
                    state = json.loads(state_file.read_text())
                    init_pid = int(pid_file.read_text())
                except (OSError, ValueError):
                    continue
                if state.get("status") == "starting":
                    os.kill(state["monitor_pid"], signal.SIGKILL)
                    caught = init_pid
                    break
            if caught:
                break
            time.sleep(0.001)
        rc = client.wait()
        if caught:
            assert rc == 125  # the client saw its monitor die (and reconciled already)
            break
        run_pyman("rm", "-f", f"half{attempt}", env=env)
    assert caught, "never caught a monitor between create and start"
    ps = run_pyman("ps", "-a", "--format", "json", env=env)
    (c,) = json.loads(ps.stdout)
    assert c["State"] == "created", c
    assert wait_for(lambda: not alive(caught), 5)
    assert wait_for(lambda: not _pasta_under(run_dir), 5), "its pasta was left running"
    assert run_pyman("rm", c["Id"], env=env).returncode == 0


def test_rm_force_while_starting(run_pyman, pyman_bin, pyman_env) -> None:
    """rm -f racing a start stops what the start brings up, and leaves nothing running."""
    r = run_pyman("create", "--name", "racer", "--network", "pasta", "alpine", "sleep", "313")
    assert r.returncode == 0
    state_file = Path(f"/tmp/pyman-run-{os.getuid()}/pyman/containers/{r.stdout.strip()}"
                      "/state.json")
    starter = subprocess.Popen([str(pyman_bin), "start", "racer"], env=pyman_env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def starting() -> bool:
        try:
            return json.loads(state_file.read_text()).get("status") == "starting"
        except (OSError, ValueError):
            return False

    assert wait_for(starting, 10)
    r = run_pyman("rm", "-f", "racer")
    starter.wait(timeout=30)
    assert r.returncode == 0, r.stderr
    assert "racer" not in run_pyman("ps", "-a").stdout
    assert subprocess.run(["pgrep", "-u", str(os.getuid()), "-f", "sleep 313"],
                          capture_output=True).stdout == b""


def test_long_attached_run_through_the_lean_monitor(run_pyman, pyman_bin, pyman_env) -> None:
    """Past LEAN_AFTER (2 s) an attached run's monitor re-execs lean: output keeps flowing
    to the client and the log, signals still reach the container, the exit code arrives."""
    client = subprocess.Popen(
        [str(pyman_bin), "run", "--name", "longrun", *NET, "alpine", "sh", "-c",
         "trap 'echo term; exit 9' TERM; echo early; echo err-early >&2; sleep 2.5; "
         "echo late; while :; do sleep 0.1; done"],
        env=pyman_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert client.stdout is not None
    assert client.stdout.readline() == b"early\n"
    assert client.stdout.readline() == b"late\n"
    monitor = inspect(run_pyman, "longrun")["State"]["ConmonPid"]
    with open(f"/proc/{monitor}/cmdline", "rb") as f:
        assert b"--lean" in f.read()
    client.send_signal(signal.SIGTERM)  # pyman forwards it, the lean monitor too
    out, err = client.communicate(timeout=20)
    assert client.returncode == 9
    assert out == b"term\n" and b"err-early" in err
    assert run_pyman("logs", "longrun").stdout == "early\nlate\nterm\n"
    assert run_pyman("rm", "longrun").returncode == 0


def _pasta_under(run_dir: Path) -> list[int]:
    """Our pasta processes whose command line names a path under ``run_dir``."""
    return [pid for pid, comm, _, cmd in own_processes()
            if comm.startswith(("pasta", "passt")) and str(run_dir).encode() in cmd]
