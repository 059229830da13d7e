"""Container lifecycle end to end: create, start, stop, kill, wait, restart, rm, logs, ps,
inspect, prune; Podman's outputs and exit codes. The real pyman, as the unprivileged user."""

from __future__ import annotations

import json
import time

from lifecycle_util import NET, wait_for


def state(run_pyman, name: str) -> dict:  # type: ignore[no-untyped-def]
    r = run_pyman("inspect", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]["State"]


def test_create_start_stop_kill_wait(run_pyman) -> None:
    r = run_pyman("create", "--name", "lc1", *NET, "alpine", "sh", "-c",
                  "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert len(cid) == 64
    assert state(run_pyman, "lc1")["Status"] == "created"
    assert "Created" in run_pyman("ps", "-a", "--filter", "name=lc1").stdout
    k = run_pyman("kill", "lc1")
    assert k.returncode == 125 and "can only kill running containers" in k.stderr

    r = run_pyman("start", "lc1")
    assert (r.returncode, r.stdout) == (0, "lc1\n"), r.stderr
    st = state(run_pyman, "lc1")
    assert st["Running"] is True and st["Pid"] > 0 and st["ConmonPid"] > 0
    assert st["StartedAt"].endswith("Z") and st["FinishedAt"].startswith("0001-")
    assert wait_for(lambda: "ready" in run_pyman("logs", "lc1").stdout)

    r = run_pyman("stop", "-t", "5", "lc1")  # the trap answers TERM: no SIGKILL needed
    assert (r.returncode, r.stdout) == (0, "lc1\n"), r.stderr
    st = state(run_pyman, "lc1")
    assert (st["Status"], st["ExitCode"], st["Running"]) == ("exited", 7, False)
    assert run_pyman("logs", "lc1").stdout == "ready\ngot TERM\n"
    assert run_pyman("wait", "lc1").stdout == "7\n"
    assert run_pyman("stop", "lc1").returncode == 0  # stopping a stopped one is fine

    r = run_pyman("start", cid[:12])  # started again, by id prefix: the same container
    assert r.returncode == 0 and r.stdout == f"{cid[:12]}\n", r.stderr
    r = run_pyman("kill", "-s", "TERM", "lc1")
    assert (r.returncode, r.stdout) == (0, "lc1\n")
    w = run_pyman("wait", "lc1")
    assert (w.returncode, w.stdout) == (0, "7\n")
    assert run_pyman("logs", "lc1").stdout == "ready\ngot TERM\n" * 2

    assert run_pyman("kill", "-s", "BOGUS", "lc1").stderr == "Error: invalid signal: BOGUS\n"
    assert run_pyman("rm", "lc1").stdout == "lc1\n"
    for cmd in ("start", "stop", "kill", "wait", "restart", "logs"):
        r = run_pyman(cmd, "lc1")
        assert r.returncode == 125, (cmd, r.stderr)
        assert r.stderr == 'Error: no container with name or ID "lc1" found: no such container\n'


def test_stop_escalates_to_sigkill_and_restart(run_pyman) -> None:
    assert run_pyman("run", "-d", "--name", "lc2", *NET, "alpine", "sleep", "300"
                     ).returncode == 0
    t0 = time.monotonic()
    r = run_pyman("stop", "-t", "1", "lc2")  # pid 1 ignores TERM: SIGKILL after 1 s
    took = time.monotonic() - t0
    assert r.returncode == 0 and r.stdout == "lc2\n"
    assert 1.0 <= took < 5, took
    assert "resorting to SIGKILL" in r.stderr
    assert state(run_pyman, "lc2")["ExitCode"] == 137
    pid_before = state(run_pyman, "lc2")["Pid"]
    r = run_pyman("restart", "-t", "0", "lc2")
    assert (r.returncode, r.stdout) == (0, "lc2\n"), r.stderr
    st = state(run_pyman, "lc2")
    assert st["Running"] and st["Pid"] != pid_before
    r = run_pyman("rm", "lc2")
    assert r.returncode == 2 and "as it is running" in r.stderr
    t0 = time.monotonic()
    assert run_pyman("rm", "-f", "lc2").stdout == "lc2\n"
    assert time.monotonic() - t0 < 5
    assert run_pyman("ps", "-aq", "--filter", "name=lc2").stdout == ""


def test_start_attach_returns_exit_code_and_output(run_pyman) -> None:
    run_pyman("create", "--name", "lc3", *NET, "alpine", "sh", "-c", "echo attached; exit 5")
    r = run_pyman("start", "-a", "lc3")
    assert (r.returncode, r.stdout) == (5, "attached\n"), r.stderr
    assert run_pyman("rm", "lc3").returncode == 0


def test_start_interactive_feeds_stdin(run_pyman) -> None:
    run_pyman("create", "-i", "--name", "lc3i", *NET, "alpine", "sh", "-c",
              "read x; echo got:$x")
    r = run_pyman("start", "-a", "-i", "lc3i", input="hello\n")
    assert (r.returncode, r.stdout) == (0, "got:hello\n"), r.stderr
    r = run_pyman("start", "-i", "lc3i", input="again\n")  # -i attaches, as in Podman
    assert (r.returncode, r.stdout) == (0, "got:again\n"), r.stderr
    assert run_pyman("logs", "lc3i").stdout == "got:hello\ngot:again\n"
    assert run_pyman("rm", "lc3i").returncode == 0


def test_run_replace(run_pyman) -> None:
    first = run_pyman("run", "-d", "--name", "lc4", *NET, "alpine", "sleep", "300")
    assert first.returncode == 0
    dup = run_pyman("run", "-d", "--name", "lc4", *NET, "alpine", "sleep", "300")
    assert dup.returncode == 125
    assert f'the container name "lc4" is already in use by {first.stdout.strip()}' in dup.stderr
    second = run_pyman("run", "-d", "--replace", "--name", "lc4", *NET, "alpine", "sleep",
                       "300")
    assert second.returncode == 0, second.stderr
    ids = run_pyman("ps", "-aq", "--no-trunc", "--filter", "name=lc4").stdout.split()
    assert ids == [second.stdout.strip()]
    assert run_pyman("rm", "-f", "lc4").returncode == 0


def test_logs_tail_since_timestamps_follow(run_pyman) -> None:
    r = run_pyman("run", "--name", "lc5", *NET, "alpine", "sh", "-c",
                  "echo one; echo two >&2; sleep 0.2; printf three; echo; echo four")
    assert r.returncode == 0
    logs = run_pyman("logs", "lc5")
    assert logs.stdout == "one\nthree\nfour\n" and logs.stderr == "two\n"
    assert run_pyman("logs", "--tail", "1", "lc5").stdout == "four\n"
    assert run_pyman("logs", "--tail", "0", "lc5").stdout == ""
    stamped = run_pyman("logs", "-t", "lc5").stdout.splitlines()
    ts, text = stamped[0].split(" ", 1)
    assert text == "one" and ts.endswith("Z") and len(ts) == 30  # ns, UTC
    assert run_pyman("logs", "--since", "1m", "lc5").stdout == "one\nthree\nfour\n"
    future = str(int(time.time()) + 3600)
    assert run_pyman("logs", "--since", future, "lc5").stdout == ""
    assert run_pyman("rm", "lc5").returncode == 0

    run_pyman("run", "-d", "--name", "lc6", *NET, "alpine", "sh", "-c",
              "for i in 1 2 3; do echo line$i; sleep 0.3; done")
    t0 = time.monotonic()
    follow = run_pyman("logs", "-f", "lc6", timeout=30)
    assert follow.stdout == "line1\nline2\nline3\n"
    assert time.monotonic() - t0 >= 0.4  # it followed until the container ended
    assert run_pyman("rm", "lc6").returncode == 0


def test_inspect_fields(run_pyman) -> None:
    r = run_pyman("create", "--name", "lc7", *NET, "-e", "FOO=bar", "-w", "/tmp", "-u", "1:2",
                  "--label", "team=qa", "alpine", "echo", "hi")
    cid = r.stdout.strip()
    doc = json.loads(run_pyman("inspect", "lc7").stdout)[0]
    assert doc["Id"] == cid and doc["Name"] == "lc7" and doc["Created"].endswith("Z")
    assert doc["Path"] == "echo" and doc["Args"] == ["hi"]
    cfg = doc["Config"]
    assert "FOO=bar" in cfg["Env"] and cfg["Cmd"] == ["echo", "hi"]
    assert cfg["WorkingDir"] == "/tmp" and cfg["User"] == "1:2"
    assert cfg["Labels"] == {"team": "qa"} and cfg["Image"] == "docker.io/library/alpine:latest"
    assert doc["HostConfig"]["NetworkMode"] == "none" and doc["Mounts"] == []
    assert doc["State"]["Status"] == "created" and doc["State"]["Pid"] == 0
    r = run_pyman("inspect", "--format", "{{.State.Status}} {{.Name}} {{.Config.User}}", "lc7")
    assert r.stdout == "created lc7 1:2\n", r.stderr
    image = run_pyman("inspect", "--format", "{{.Id}}", "alpine")  # not a container: image
    assert image.returncode == 0 and len(image.stdout.strip()) == 64, image.stderr
    missing = run_pyman("inspect", "lc7", "nosuch")
    assert missing.returncode == 125 and 'no such object: "nosuch"' in missing.stderr
    assert len(json.loads(missing.stdout)) == 1
    assert run_pyman("rm", "lc7").returncode == 0


def test_ps_filters_latest_json_and_prune(run_pyman, fresh_env) -> None:
    def pm(*a: str):  # type: ignore[no-untyped-def]
        return run_pyman(*a, env=fresh_env)

    assert pm("run", "--name", "p-ok", *NET, "--label", "k=v", "alpine", "true"
              ).returncode == 0
    assert pm("run", "--name", "p-bad", *NET, "alpine", "sh", "-c", "exit 3").returncode == 3
    assert pm("create", "--name", "p-new", *NET, "alpine", "true").returncode == 0
    up = pm("run", "-d", "--name", "p-up", *NET, "alpine", "sleep", "300")
    names = lambda r: [line.split()[-1] for line in r.stdout.splitlines()[1:]]  # noqa: E731
    assert names(pm("ps")) == ["p-up"]
    assert names(pm("ps", "-a")) == ["p-up", "p-new", "p-bad", "p-ok"]  # newest first
    assert names(pm("ps", "-n", "2")) == ["p-up", "p-new"]
    assert names(pm("ps", "--latest")) == ["p-up"]
    assert names(pm("ps", "-a", "--filter", "status=exited")) == ["p-bad", "p-ok"]
    assert names(pm("ps", "-a", "--filter", "status=created")) == ["p-new"]
    assert names(pm("ps", "-a", "--filter", "label=k=v")) == ["p-ok"]
    assert names(pm("ps", "-a", "--filter", "name=p-b")) == ["p-bad"]
    assert names(pm("ps", "-a", "--filter", f"id={up.stdout[:8]}")) == ["p-up"]
    assert pm("ps", "-q").stdout == up.stdout[:12] + "\n"
    table = pm("ps", "-a").stdout
    assert "Exited (3) " in table and " ago" in table and "Up " in table
    data = {c["Names"][0]: c for c in json.loads(pm("ps", "-a", "--format", "json").stdout)}
    assert data["p-up"]["State"] == "running" and data["p-up"]["Status"].startswith("Up ")
    assert data["p-bad"]["ExitCode"] == 3 and data["p-bad"]["Exited"] is True
    assert data["p-ok"]["Labels"] == {"k": "v"}
    lines = pm("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout.splitlines()
    assert lines[0].startswith("p-up Up ") and lines[1] == "p-new Created"
    assert lines[2].startswith("p-bad Exited (3) ") and lines[2].endswith(" ago")
    table = pm("ps", "--format", "table {{.ID}}\t{{.Names}}").stdout.splitlines()
    assert table[0].split() == ["CONTAINER", "ID", "NAMES"]
    assert table[1].split() == [up.stdout[:12], "p-up"]
    bad = pm("ps", "--filter", "bogus=1")
    assert bad.returncode == 125 and "bogus is an invalid filter" in bad.stderr

    pruned = pm("container", "prune", "-f")
    assert pruned.returncode == 0
    assert len(pruned.stdout.split()) == 3 and up.stdout.strip() not in pruned.stdout
    assert names(pm("ps", "-a")) == ["p-up"]
    assert pm("rm", "-f", "-a").returncode == 0
    assert pm("ps", "-aq").stdout == ""
