"""--cidfile, stop/rm --cidfile/--ignore and --sdnotify as Podman 4.3 has them, with a real
notify socket: the monitor sends MAINPID=<its pid> (and READY=1 with conmon), the container
sends READY=1 itself with --sdnotify=container, nothing at all with ignore; the client never
sends anything."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from lifecycle_util import NET
from notify_util import NotifyListener, alive

# busybox has no systemd-notify: its logger sends one datagram to /dev/log, and systemd takes
# the "READY=1" line of it as the notification
CONTAINER_READY = ('ln -sf "$NOTIFY_SOCKET" /dev/log && logger "$(printf \'x\\nREADY=1\')"; '
                   "exec sleep 600")


@pytest.fixture
def notify() -> Iterator[NotifyListener]:
    listener = NotifyListener()
    yield listener
    listener.close()


def inspect(run_pyman, name: str) -> dict:  # type: ignore[no-untyped-def]
    r = run_pyman("inspect", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]  # type: ignore[no-any-return]


def test_cidfile_run_create_stop_rm(run_pyman, tmp_path: Path) -> None:
    cidfile = tmp_path / "ctr-id"
    r = run_pyman("run", "-d", *NET, "--cidfile", str(cidfile), "--name", "sdn-cid", "alpine",
                  "sleep", "600")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        assert cidfile.read_text() == cid  # the id, no newline, as Podman writes it
        # the file exists: refused before anything is created, nothing left behind
        r = run_pyman("create", *NET, "--cidfile", str(cidfile), "--name", "sdn-cid2",
                      "alpine", "true")
        assert r.returncode == 125
        assert r.stderr.strip() == ("Error: container id file exists. Ensure another "
                                    f"container is not using it or delete {cidfile}")
        assert "sdn-cid2" not in run_pyman("ps", "-a", "--format", "{{.Names}}").stdout
        assert cidfile.read_text() == cid
        doc = inspect(run_pyman, "sdn-cid")
        assert doc["Config"]["CreateCommand"][1:] == ["run", "-d", *NET, "--cidfile",
                                                      str(cidfile), "--name", "sdn-cid",
                                                      "alpine", "sleep", "600"]
        assert doc["Config"]["SdNotifyMode"] == "container"

        r = run_pyman("stop", "--cidfile", str(cidfile), "sdn-cid")
        assert (r.returncode, r.stderr.strip()) == (
            125, "Error: no arguments are needed with --latest or --cidfile")
        r = run_pyman("stop", "-t", "0", "--cidfile", str(cidfile))
        assert (r.returncode, r.stdout.strip()) == (0, cid), r.stderr
        assert inspect(run_pyman, "sdn-cid")["State"]["Status"] == "exited"
        r = run_pyman("rm", "--cidfile", str(cidfile))
        assert (r.returncode, r.stdout.strip()) == (0, cid), r.stderr
        assert cidfile.exists()  # Podman leaves the file; the unit's ExecStartPre removes it
        r = run_pyman("rm", "--cidfile", str(cidfile))
        assert r.returncode == 1
        assert f'no container with name or ID "{cid}" found' in r.stderr
        for cmd in (("rm", "-f"), ("stop",)):
            r = run_pyman(*cmd, "--ignore", "--cidfile", str(cidfile))
            assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
        missing = tmp_path / "missing"
        r = run_pyman("stop", "--cidfile", str(missing))
        assert (r.returncode, r.stderr.strip()) == (
            125, f"Error: reading CIDFile: open {missing}: no such file or directory")
        r = run_pyman("rm", "-f", "--ignore", "--cidfile", str(missing))
        assert (r.returncode, r.stderr) == (0, "")
    finally:
        run_pyman("rm", "-f", "sdn-cid")


def test_cidfile_failed_create_leaves_no_file(run_pyman, tmp_path: Path) -> None:
    cidfile = tmp_path / "ctr-id"
    r = run_pyman("create", *NET, "--cidfile", str(cidfile), "--cap-add", "NOPE", "alpine")
    assert r.returncode == 125
    assert not cidfile.exists()
    r = run_pyman("run", "--rm", *NET, "--cidfile", str(tmp_path / "no" / "dir"), "alpine",
                  "true")
    assert (r.returncode, r.stderr.strip()) == (
        125, f"Error: opening cidfile {tmp_path / 'no' / 'dir'}")


@pytest.mark.parametrize("flag,message", [
    ("--sdnotify=bogus", 'Error: invalid config provided: invalid argument: invalid sdnotify '
                         'value "bogus": must be container, conmon or ignore'),
    ("--cgroups=bogus", 'Error: running container create option: invalid cgroup mode '
                        '"bogus": invalid argument'),
])
def test_bad_values_refused(run_pyman, flag: str, message: str) -> None:
    r = run_pyman("run", "--rm", *NET, flag, "--name", "sdn-bad", "alpine", "true")
    assert (r.returncode, r.stderr.strip()) == (125, message)
    assert "sdn-bad" not in run_pyman("ps", "-a", "--format", "{{.Names}}").stdout


def test_cgroups_modes_accepted(run_pyman) -> None:
    for mode in ("enabled", "no-conmon", "split", "disabled"):
        r = run_pyman("run", "--rm", *NET, f"--cgroups={mode}", "alpine", "echo", mode)
        assert (r.returncode, r.stdout.strip()) == (0, mode), r.stderr
    r = run_pyman("run", "--rm", *NET, "--cgroups=disabled", "--pids-limit", "10", "alpine",
                  "true")
    assert r.returncode == 125
    assert "--cgroups=disabled" in r.stderr


def test_sdnotify_conmon(run_pyman, pyman_env, notify: NotifyListener) -> None:
    r = run_pyman("run", "-d", *NET, "--sdnotify=conmon", "--name", "sdn-conmon", "alpine",
                  "sleep", "600", env=notify.env(pyman_env))
    assert r.returncode == 0, r.stderr
    try:
        # sent before the client returned: both lines in one datagram, from the monitor
        msgs = notify.drain()
        assert len(msgs) == 1 and sorted(msgs[0]) == ["MAINPID", "READY"]
        assert msgs[0]["READY"] == "1"
        doc = inspect(run_pyman, "sdn-conmon")
        assert doc["Config"]["SdNotifyMode"] == "conmon"
        monitor = doc["State"]["ConmonPid"]
        assert int(msgs[0]["MAINPID"]) == monitor and alive(monitor)
        # the container was not given the socket
        r = run_pyman("exec", "sdn-conmon", "sh", "-c", "echo ${NOTIFY_SOCKET:-unset}")
        assert r.stdout.strip() == "unset"
    finally:
        run_pyman("rm", "-f", "sdn-conmon")


@pytest.mark.parametrize("abstract", [False, True])
def test_sdnotify_container(run_pyman, pyman_env, abstract: bool) -> None:
    notify = NotifyListener(abstract=abstract)
    net = ("--network", "host") if abstract else NET  # an abstract socket: host netns only
    try:
        # (logger cannot reach an abstract socket: that container only sleeps)
        r = run_pyman("run", "-d", *net, "--name", "sdn-ctr", "alpine", "sh", "-c",
                      "exec sleep 600" if abstract else CONTAINER_READY,
                      env=notify.env(pyman_env))  # container: the default mode
        assert r.returncode == 0, r.stderr
        if not abstract:
            assert notify.wait_for("READY") == "1"
        # MAINPID alone is the monitor's (sent before the client returned); READY is the
        # container's to send, in a datagram of its own (it may come first)
        msgs = notify.drain()
        first = [m for m in msgs if "MAINPID" in m][0]
        assert list(first) == ["MAINPID"]
        assert len(msgs) == (1 if abstract else 2)
        monitor = inspect(run_pyman, "sdn-ctr")["State"]["ConmonPid"]
        assert int(first["MAINPID"]) == monitor and alive(monitor)
        r = run_pyman("exec", "sdn-ctr", "sh", "-c", "echo $NOTIFY_SOCKET")
        assert r.stdout.strip() == ("@" + notify.address[1:] if abstract
                                    else "/run/notify/notify.sock")
    finally:
        run_pyman("rm", "-f", "sdn-ctr")
        notify.close()


def test_sdnotify_ignore(run_pyman, pyman_env, notify: NotifyListener) -> None:
    r = run_pyman("run", "-d", *NET, "--sdnotify=ignore", "--name", "sdn-ign", "alpine",
                  "sh", "-c", "echo ${NOTIFY_SOCKET:-unset}; exec sleep 600",
                  env=notify.env(pyman_env))
    assert r.returncode == 0, r.stderr
    try:
        assert notify.drain() == []
        assert run_pyman("logs", "sdn-ign").stdout.strip() == "unset"
    finally:
        run_pyman("rm", "-f", "sdn-ign")
    assert notify.drain() == []  # nor at the end


def test_socket_activation_passes_listen_env_and_fds(pyman_bin: Path, pyman_env: dict) -> None:
    """systemd's LISTEN_* (Podman #10443): the variables reach the container with
    LISTEN_PID=1, and its fd 3 is the very socket the service was given, through run and
    start --attach alike; without them nothing is added."""
    import os
    import socket
    import subprocess

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    ino = os.fstat(sock.fileno()).st_ino
    script = "env | grep ^LISTEN_ | sort; readlink /proc/self/fd/3"
    env = {**pyman_env, "LISTEN_PID": "100", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "web"}

    def as_service(*args: str) -> str:
        fd = sock.fileno()  # becomes the service's fd 3, as systemd hands it over
        r = subprocess.run(["bash", "-c", f'exec "$0" "$@" 3<&{fd} {fd}<&-', str(pyman_bin),
                            *args], env=env, capture_output=True, text=True, timeout=60,
                           pass_fds=(fd,), stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        return r.stdout

    want = f"LISTEN_FDNAMES=web\nLISTEN_FDS=1\nLISTEN_PID=1\nsocket:[{ino}]\n"
    try:
        assert as_service("run", "--rm", *NET, "alpine", "sh", "-c", script) == want
        cid = subprocess.run([str(pyman_bin), "create", *NET, "alpine", "sh", "-c", script],
                             env=pyman_env, capture_output=True, text=True, timeout=60
                             ).stdout.strip()
        assert as_service("start", "--attach", cid) == want
        r = subprocess.run([str(pyman_bin), "start", "--attach", cid], env=pyman_env,
                           capture_output=True, text=True, timeout=60)
        assert (r.returncode, r.stdout) == (1, "")  # no LISTEN_* and no fd 3 without them
        subprocess.run([str(pyman_bin), "rm", cid], env=pyman_env, capture_output=True)
    finally:
        sock.close()
