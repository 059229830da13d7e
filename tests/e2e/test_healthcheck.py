"""Healthchecks without systemd: --health-* stored in the container (inspect's
Config.Healthcheck), `pyman healthcheck run` (exit 0 healthy, 1 unhealthy with the word, 125
for errors), State.Health (Status, FailingStreak, Log as Podman's), ps' (healthy) and
--filter health=, the monitor running the check at the interval, --health-on-failure, and
the image's HEALTHCHECK (and --no-healthcheck)."""

from __future__ import annotations

import json
from pathlib import Path

from lifecycle_util import NET, wait_for


def _ok(r):  # type: ignore[no-untyped-def]
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def _health(run_pyman, name: str) -> dict:  # type: ignore[no-untyped-def]
    doc = json.loads(_ok(run_pyman("inspect", name)).stdout)[0]
    return dict(doc["State"]["Health"])


def test_healthcheck_run_and_state(run_pyman) -> None:
    try:
        _ok(run_pyman("run", "-d", "--name", "hc-ok", *NET, "--health-cmd",
                      "cat /tmp/ok && echo fine", "--health-interval", "disable",
                      "--health-retries", "2", "alpine", "sleep", "1000"))
        doc = json.loads(_ok(run_pyman("inspect", "hc-ok")).stdout)[0]
        assert doc["Config"]["Healthcheck"] == {
            "Test": ["CMD-SHELL", "cat /tmp/ok && echo fine"], "Timeout": 30_000_000_000,
            "Retries": 2}  # interval disabled: left out, as Go's omitempty
        assert doc["Config"]["HealthcheckOnFailureAction"] == "none"
        assert doc["State"]["Health"] == {"Status": "starting", "FailingStreak": 0,
                                          "Log": None}
        assert "Healthcheck" not in doc["State"]  # a Go method: templates only
        assert run_pyman("inspect", "--format", "{{json .State.Healthcheck}}", "hc-ok"
                         ).stdout == '{"Status":"starting","FailingStreak":0,"Log":null}\n'
        assert "(starting)" in run_pyman("ps", "--format", "{{.Status}}", "--filter",
                                         "name=hc-ok").stdout

        # failing, below the retries: the status stays (Podman's), the streak counts
        r = run_pyman("healthcheck", "run", "hc-ok")
        assert (r.returncode, r.stdout) == (1, "unhealthy\n")
        h = _health(run_pyman, "hc-ok")
        assert h["Status"] == "starting" and h["FailingStreak"] == 1
        assert h["Log"][0]["ExitCode"] == 1
        assert "No such file or directory" in h["Log"][0]["Output"]
        assert h["Log"][0]["Start"].endswith("Z") and h["Log"][0]["End"] >= h["Log"][0][
            "Start"]
        r = run_pyman("healthcheck", "run", "hc-ok")
        assert r.returncode == 1
        h = _health(run_pyman, "hc-ok")
        assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 2)
        assert "(unhealthy)" in run_pyman("ps", "--format", "{{.Status}}", "--filter",
                                          "name=hc-ok").stdout
        assert run_pyman("ps", "-q", "--filter", "health=unhealthy", "--filter",
                         "name=hc-ok").stdout.strip() != ""

        _ok(run_pyman("exec", "hc-ok", "touch", "/tmp/ok"))
        r = run_pyman("healthcheck", "run", "hc-ok")
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
        h = _health(run_pyman, "hc-ok")
        assert (h["Status"], h["FailingStreak"]) == ("healthy", 0)
        assert h["Log"][-1]["Output"] == "fine" and len(h["Log"]) == 3
        assert run_pyman("ps", "-q", "--filter", "health=healthy", "--filter",
                         "name=hc-ok").stdout.strip() != ""
        assert run_pyman("ps", "-q", "--filter", "health=unhealthy", "--filter",
                         "name=hc-ok").stdout == ""
        for _ in range(4):  # Podman keeps the last 5
            _ok(run_pyman("healthcheck", "run", "hc-ok"))
        assert len(_health(run_pyman, "hc-ok")["Log"]) == 5

        # errors: exit 125, Podman's words
        _ok(run_pyman("run", "-d", "--name", "hc-none", *NET, "alpine", "sleep", "1000"))
        cid = run_pyman("inspect", "--format", "{{.Id}}", "hc-none").stdout.strip()
        r = run_pyman("healthcheck", "run", "hc-none")
        assert (r.returncode, r.stderr) == (
            125, f"Error: container {cid} has no defined healthcheck\n")
        doc = json.loads(run_pyman("inspect", "hc-none").stdout)[0]
        assert doc["Config"]["Healthcheck"] is None
        assert doc["State"]["Health"] == {"Status": "", "FailingStreak": 0, "Log": None}
        r = run_pyman("healthcheck", "run", "hc-nosuch")
        assert r.returncode == 125
        assert r.stderr.startswith("Error: unable to look up hc-nosuch to perform a health "
                                   "check: ")
        _ok(run_pyman("stop", "-t", "0", "hc-ok"))
        ok_id = run_pyman("inspect", "--format", "{{.Id}}", "hc-ok").stdout.strip()
        r = run_pyman("healthcheck", "run", "hc-ok")
        assert (r.returncode, r.stderr) == (125, f"Error: container {ok_id} is not running\n")

        # a check that runs too long: Podman's error, and a failed entry with exit -1
        _ok(run_pyman("run", "-d", "--name", "hc-slow", *NET, "--health-cmd", "sleep 5",
                      "--health-timeout", "1s", "--health-interval", "disable", "alpine",
                      "sleep", "1000"))
        r = run_pyman("healthcheck", "run", "hc-slow")
        assert (r.returncode, r.stderr) == (
            125, "Error: healthcheck command exceeded timeout of 1s\n")
        assert _health(run_pyman, "hc-slow")["Log"][-1]["ExitCode"] == -1
        # a command that does not exist is a failed check, not an error
        _ok(run_pyman("run", "-d", "--name", "hc-missing", *NET, "--health-cmd",
                      '["/no/such/binary"]', "--health-interval", "disable", "alpine",
                      "sleep", "1000"))
        assert json.loads(run_pyman("inspect", "hc-missing").stdout)[0]["Config"][
            "Healthcheck"]["Test"] == ["CMD", "/no/such/binary"]
        r = run_pyman("healthcheck", "run", "hc-missing")
        assert (r.returncode, r.stdout) == (1, "unhealthy\n")
    finally:
        run_pyman("rm", "-f", "-t", "0", "hc-ok", "hc-none", "hc-slow", "hc-missing")


def test_monitor_runs_the_check_and_on_failure(run_pyman) -> None:
    try:
        _ok(run_pyman("run", "-d", "--name", "hc-timer", *NET, "--health-cmd",
                      "test -e /tmp/up", "--health-interval", "1s", "--health-retries", "1",
                      "alpine", "sh", "-c", "sleep 2; touch /tmp/up; sleep 1000"))
        # the first check is at once (fails), later ones at the interval turn it healthy
        assert wait_for(lambda: _health(run_pyman, "hc-timer")["Status"] == "unhealthy", 10)
        assert wait_for(lambda: _health(run_pyman, "hc-timer")["Status"] == "healthy", 15)
        assert len(_health(run_pyman, "hc-timer")["Log"]) >= 2

        # --health-on-failure=kill: unhealthy ends the container
        _ok(run_pyman("run", "-d", "--name", "hc-kill", *NET, "--health-cmd", "false",
                      "--health-interval", "1s", "--health-retries", "2",
                      "--health-on-failure", "kill", "alpine", "sleep", "1000"))
        assert wait_for(lambda: run_pyman("inspect", "--format", "{{.State.Status}}",
                                          "hc-kill").stdout.strip() == "exited", 20)
        assert run_pyman("inspect", "--format", "{{.State.ExitCode}} "
                         "{{.Config.HealthcheckOnFailureAction}}", "hc-kill"
                         ).stdout == "137 kill\n"
        # --health-on-failure=restart: the monitor runs it again in place (same id)
        _ok(run_pyman("run", "-d", "--name", "hc-restart", *NET, "--health-cmd",
                      "test ! -e /tmp/ran", "--health-interval", "disable",
                      "--health-retries", "1", "--health-on-failure", "restart", "alpine",
                      "sh", "-c", "touch /tmp/ran; sleep 1000"))
        assert wait_for(lambda: run_pyman("exec", "hc-restart", "test", "-e", "/tmp/ran"
                                          ).returncode == 0, 10)
        assert run_pyman("healthcheck", "run", "hc-restart").returncode == 1
        # as Podman: the check returns once it runs again
        assert run_pyman("inspect", "--format", "{{.State.Status}} {{.RestartCount}}",
                         "hc-restart").stdout == "running 1\n"
        assert _health(run_pyman, "hc-restart")["Status"] == "starting"
        # --health-start-period: failures in it do not count
        _ok(run_pyman("run", "-d", "--name", "hc-start", *NET, "--health-cmd", "false",
                      "--health-interval", "disable", "--health-start-period", "1m",
                      "--health-retries", "1", "alpine", "sleep", "1000"))
        assert run_pyman("healthcheck", "run", "hc-start").returncode == 1
        h = _health(run_pyman, "hc-start")
        assert (h["Status"], h["FailingStreak"]) == ("starting", 0)
        # no check process is left once a container is gone
        _ok(run_pyman("rm", "-f", "-t", "0", "hc-timer"))
        assert run_pyman("ps", "-aq", "--filter", "name=hc-timer").stdout == ""
    finally:
        run_pyman("rm", "-f", "-t", "0", "hc-timer", "hc-kill", "hc-start", "hc-restart")


def test_bad_health_options_create_nothing(run_pyman) -> None:
    for args, message in [
        (["--health-cmd", "true", "--health-retries", "0"],
         "healthcheck-retries must be greater than 0"),
        (["--health-cmd", "true", "--health-interval", "soon"],
         'invalid healthcheck-interval: time: invalid duration "soon"'),
        (["--health-cmd", "true", "--health-on-failure", "explode"],
         'invalid on-failure action "explode" for health check'),
        (["--health-cmd", "true", "--no-healthcheck"],
         "cannot specify both --no-healthcheck and --health-cmd"),
        (["--health-on-failure=kill"],
         "cannot set on-failure action to kill without a health check"),
    ]:
        r = run_pyman("create", "--name", "hc-bad", *NET, *args, "alpine", "true")
        assert r.returncode == 125 and message in r.stderr and r.stderr.count("\n") == 1, \
            r.stderr
    assert run_pyman("ps", "-aq", "--filter", "name=hc-bad").stdout == ""


def _image_with_healthcheck(run_pyman, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    """alpine saved as a docker-archive, its config given a HEALTHCHECK (as a Dockerfile
    would), loaded back as ``name``."""
    import hashlib
    import io
    import tarfile

    src = tmp_path / "alpine.tar"
    _ok(run_pyman("save", "-o", str(src), "alpine"))
    out = tmp_path / "hc.tar"
    with tarfile.open(src) as tin, tarfile.open(out, "w") as tout:
        manifest = json.loads(tin.extractfile("manifest.json").read())  # type: ignore[union-attr]
        old = manifest[0]["Config"]
        config = json.loads(tin.extractfile(old).read())  # type: ignore[union-attr]
        config["config"]["Healthcheck"] = {"Test": ["CMD", "true"],
                                           "Interval": 300_000_000_000, "Retries": 4}
        data = json.dumps(config).encode()
        new = hashlib.sha256(data).hexdigest() + ".json"
        manifest[0]["Config"], manifest[0]["RepoTags"] = new, [f"{name}:latest"]
        for m in tin.getmembers():
            if m.name in (old, "manifest.json", "repositories"):
                continue
            tout.addfile(m, tin.extractfile(m) if m.isfile() else None)
        for fname, body in ((new, data), ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(fname)
            info.size = len(body)
            tout.addfile(info, io.BytesIO(body))
    _ok(run_pyman("load", "-i", str(out)))


def test_image_healthcheck(run_pyman, tmp_path: Path) -> None:
    try:
        _image_with_healthcheck(run_pyman, tmp_path, "localhost/hc-image")
        _ok(run_pyman("create", "--name", "hc-img", *NET, "localhost/hc-image", "sleep",
                      "100"))
        hc = json.loads(run_pyman("inspect", "hc-img").stdout)[0]["Config"]["Healthcheck"]
        assert hc == {"Test": ["CMD", "true"], "Interval": 300_000_000_000,
                      "Timeout": 30_000_000_000, "Retries": 4}
        _ok(run_pyman("create", "--name", "hc-img2", *NET, "--health-retries", "9",
                      "localhost/hc-image", "true"))
        assert json.loads(run_pyman("inspect", "hc-img2").stdout)[0]["Config"][
            "Healthcheck"]["Retries"] == 9
        _ok(run_pyman("create", "--name", "hc-img3", *NET, "--no-healthcheck",
                      "localhost/hc-image", "true"))
        assert json.loads(run_pyman("inspect", "hc-img3").stdout)[0]["Config"][
            "Healthcheck"] is None
    finally:
        run_pyman("rm", "-f", "hc-img", "hc-img2", "hc-img3")
        run_pyman("rmi", "-f", "localhost/hc-image")


def test_on_failure_actions_are_done_when_the_check_returns(run_pyman) -> None:
    try:
        for policy in ("kill", "stop", "none"):
            name = f"hc-of-{policy}"
            _ok(run_pyman("run", "-d", "--name", name, *NET, "--health-cmd",
                          "test ! -e /uh-oh", "--health-retries=1",
                          f"--health-on-failure={policy}", "alpine", "sleep", "1000"))
            _ok(run_pyman("healthcheck", "run", name))
            _ok(run_pyman("exec", name, "touch", "/uh-oh"))
            r = run_pyman("healthcheck", "run", name)
            assert (r.returncode, r.stdout) == (1, "unhealthy\n")
            state = run_pyman("inspect", "--format", "{{.State.Status}} "
                              "{{.Config.HealthcheckOnFailureAction}}", name).stdout
            assert state == ("running none\n" if policy == "none" else f"exited {policy}\n")
    finally:
        run_pyman("rm", "-f", "-t", "0", "hc-of-kill", "hc-of-stop", "hc-of-none")
