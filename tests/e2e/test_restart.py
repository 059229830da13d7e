"""--restart: the monitor runs the container again after it exits, with Podman's rules
(on-failure:N, always; stop, kill and rm -f end it for good). Real runc, as the user."""

from __future__ import annotations

import json
import subprocess

import pytest
from lifecycle_util import NET, wait_for


def inspect(run_pyman, name: str) -> dict:  # type: ignore[no-untyped-def]
    r = run_pyman("inspect", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def processes() -> str:
    """Every process's command line (the monitor's names the container's run dir)."""
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True,
                          check=True).stdout


def test_on_failure_stops_after_n_restarts(run_pyman) -> None:
    r = run_pyman("run", "-d", "--name", "rs1", "--restart", "on-failure:2", *NET, "alpine",
                  "sh", "-c", "echo run; exit 1")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    w = run_pyman("wait", "rs1")  # waits through the restarts, for the final exit
    assert (w.returncode, w.stdout) == (0, "1\n"), w.stderr
    doc = inspect(run_pyman, "rs1")
    assert doc["Id"] == cid and doc["Name"] == "rs1"
    assert doc["RestartCount"] == 2
    assert (doc["State"]["Status"], doc["State"]["ExitCode"]) == ("exited", 1)
    assert doc["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert run_pyman("logs", "rs1").stdout == "run\n" * 3  # one log, continued
    assert "Exited (1)" in run_pyman("ps", "-a", "--filter", "name=rs1").stdout
    # a manual start begins counting again (as Podman)
    assert run_pyman("start", "rs1").returncode == 0
    assert run_pyman("wait", "rs1").stdout == "1\n"
    assert inspect(run_pyman, "rs1")["RestartCount"] == 2
    assert run_pyman("logs", "rs1").stdout == "run\n" * 6
    assert run_pyman("rm", "rs1").returncode == 0


def test_on_failure_leaves_a_success_alone_and_attached_run_ends_first(run_pyman) -> None:
    r = run_pyman("run", "--name", "rs2", "--restart", "on-failure", *NET, "alpine",
                  "sh", "-c", "echo once")
    assert (r.returncode, r.stdout) == (0, "once\n"), r.stderr
    assert inspect(run_pyman, "rs2")["RestartCount"] == 0
    # attached: the client returns at the first exit (its output, its code), as Podman;
    # the restarts go on behind it, into the log only
    r = run_pyman("run", "--name", "rs3", "--restart", "on-failure:1", *NET, "alpine",
                  "sh", "-c", "echo attempt; exit 3")
    assert (r.returncode, r.stdout) == (3, "attempt\n"), r.stderr
    assert run_pyman("wait", "rs3").stdout == "3\n"
    assert inspect(run_pyman, "rs3")["RestartCount"] == 1
    assert run_pyman("logs", "rs3").stdout == "attempt\n" * 2
    assert run_pyman("rm", "rs2", "rs3").returncode == 0


def test_always_restarts_until_stopped(run_pyman) -> None:
    r = run_pyman("run", "-d", "--name", "rs4", "--restart", "always", *NET, "alpine",
                  "sh", "-c", "echo up; sleep 0.3")
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: inspect(run_pyman, "rs4")["RestartCount"] >= 2, 30)
    assert wait_for(lambda: "Up " in run_pyman("ps", "--filter", "name=rs4").stdout, 30)
    assert inspect(run_pyman, "rs4")["HostConfig"]["RestartPolicy"]["Name"] == "always"
    r = run_pyman("stop", "rs4")
    assert (r.returncode, r.stdout) == (0, "rs4\n"), r.stderr
    doc = inspect(run_pyman, "rs4")
    assert doc["State"]["Status"] == "exited"
    count = doc["RestartCount"]
    # stopped for good: its monitor is gone, so nothing runs it again
    assert doc["Id"] not in processes()
    assert run_pyman("wait", "rs4").returncode == 0
    assert "Up " not in run_pyman("ps", "--filter", "name=rs4").stdout
    assert inspect(run_pyman, "rs4")["RestartCount"] == count
    assert run_pyman("rm", "rs4").returncode == 0


def test_no_restart_after_stop_or_kill(run_pyman) -> None:
    for cmd in (("stop", "-t", "0"), ("kill",)):
        r = run_pyman("run", "-d", "--name", "rs5", "--restart", "always", *NET, "alpine",
                      "sleep", "100")
        assert r.returncode == 0, r.stderr
        assert run_pyman(*cmd, "rs5").returncode == 0
        w = run_pyman("wait", "rs5")
        assert (w.returncode, w.stdout) == (0, "137\n"), (cmd, w.stderr)
        doc = inspect(run_pyman, "rs5")
        assert (doc["State"]["Status"], doc["RestartCount"]) == ("exited", 0), cmd
        assert run_pyman("rm", "rs5").returncode == 0


def test_rm_force_during_restarts_leaves_nothing(run_pyman) -> None:
    r = run_pyman("run", "-d", "--name", "rs6", "--restart", "always", *NET, "alpine",
                  "sh", "-c", "echo rs6-marker; sleep 0.1")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert wait_for(lambda: inspect(run_pyman, "rs6")["RestartCount"] >= 3, 30)
    r = run_pyman("rm", "-f", "rs6")
    assert (r.returncode, r.stdout) == (0, "rs6\n"), r.stderr
    assert run_pyman("ps", "-a", "-q", "--filter", f"id={cid}").stdout == ""
    assert run_pyman("inspect", "rs6").returncode == 125
    # no process of it is left running, nor a monitor that would bring it back
    ps = processes()
    assert cid not in ps and "rs6-marker" not in ps


def test_restart_policy_errors(run_pyman) -> None:
    cases = {
        "bogus": 'Error: running container create option: "bogus" is not a valid restart '
                 "policy: invalid argument\n",
        "always:3": "Error: restart policy retries can only be specified with on-failure "
                    "restart policy\n",
        "on-failure:x": 'Error: parsing restart policy retry count: strconv.Atoi: parsing "x": '
                        "invalid syntax\n",
        "on-failure:-1": "Error: must specify restart policy retry count as a number greater "
                         "than 0\n",
    }
    for value, err in cases.items():
        r = run_pyman("create", "--restart", value, *NET, "alpine", "true")
        assert (r.returncode, r.stderr) == (125, err), value
    r = run_pyman("run", "--rm", "--restart", "always", *NET, "alpine", "true")
    assert r.returncode == 125
    assert r.stderr == ('Error: the --rm option conflicts with --restart, when the '
                        'restartPolicy is not "" and "no"\n')
    r = run_pyman("create", "--name", "rs7", "--restart", "no", *NET, "alpine", "true")
    assert r.returncode == 0, r.stderr
    assert inspect(run_pyman, "rs7")["HostConfig"]["RestartPolicy"] == {
        "Name": "no", "MaximumRetryCount": 0}
    assert run_pyman("rm", "rs7").returncode == 0



@pytest.mark.parametrize("mode", ["pasta", "slirp4netns"])
def test_restart_brings_the_network_and_ports_back(run_pyman, mode: str) -> None:
    """The network namespace dies with each run: every restart gets a new network helper
    (pasta; slirp4netns with its port forwarder) and the published port works again."""
    from net_util import fetch, free_port

    port, name = free_port(), f"rs-net-{mode}"
    serve = "echo served > /tmp/i; timeout 1 httpd -f -p 80 -h /tmp; exit 2"
    r = run_pyman("run", "-d", "--name", name, "--network", mode, "-p",
                  f"127.0.0.1:{port}:80", "--restart", "on-failure", "alpine", "sh", "-c",
                  serve)
    assert r.returncode == 0, r.stderr
    # after two restarts, the third run's helper forwards the port
    assert wait_for(lambda: inspect(run_pyman, name)["RestartCount"] >= 2, 30)
    assert wait_for(lambda: fetch(port, "/i") == "served\n", 30)
    assert run_pyman("rm", "-f", name).returncode == 0
    assert fetch(port, "/i") is None  # the port was freed with the last helper


def test_monitor_killed_during_restarts_is_reconciled(run_pyman) -> None:
    """kill -9 of a restarting container's monitor (now the lean waiter that ran the
    restart): the next command kills what runs, records the exit and nothing restarts it."""
    import os
    import signal

    r = run_pyman("run", "-d", "--name", "rs-kill", "--restart", "always", *NET, "alpine",
                  "sh", "-c", "echo rs-kill-run; sleep 0.5")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    doc: dict = {}

    def restarted_and_running() -> bool:
        doc.update(inspect(run_pyman, "rs-kill"))
        return bool(doc["RestartCount"] >= 1 and doc["State"]["ConmonPid"] > 0)

    assert wait_for(restarted_and_running, 30)
    monitor = doc["State"]["ConmonPid"]
    os.kill(monitor, signal.SIGKILL)
    assert wait_for(lambda: not os.path.exists(f"/proc/{monitor}/cmdline") or
                    open(f"/proc/{monitor}/cmdline").read() == "", 10)  # gone or a zombie
    assert inspect(run_pyman, "rs-kill")["State"]["Status"] == "exited"
    assert wait_for(lambda: "rs-kill-run" not in processes() and cid not in processes(), 10)
    assert run_pyman("rm", "rs-kill").returncode == 0
