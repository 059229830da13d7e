"""pyman exec end to end: one running container shared by every test; stdio passed through,
Podman's environment, users, working dirs, exit codes and messages, detached sessions and a
real terminal (-t driven through a pty)."""

from __future__ import annotations

import os
import select
import signal
import struct
import subprocess
import time
from collections.abc import Iterator

import pytest
from lifecycle_util import NET, wait_for

CTR = "exec-ctr"


@pytest.fixture(scope="module")
def ctr(pyman_bin, pyman_env) -> Iterator[str]:  # type: ignore[no-untyped-def]
    def pyman(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(pyman_bin), *args], env=pyman_env, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)

    pyman("rm", "-f", CTR)
    r = pyman("run", "-d", "--name", CTR, *NET, "alpine", "sleep", "1000")
    assert r.returncode == 0, r.stderr
    yield CTR
    pyman("rm", "-f", CTR)


def test_stdio_exit_codes_env_user_workdir(run_pyman, ctr: str, tmp_path) -> None:
    r = run_pyman("exec", ctr, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    assert run_pyman("exec", ctr, "true").returncode == 0

    env = run_pyman("exec", ctr, "env").stdout.split()
    assert {"container=podman", "TERM=xterm", "HOME=/root"} <= set(env)
    assert not any(e.startswith("HOSTNAME=") for e in env)  # as Podman's exec sessions

    env_file = tmp_path / "vars.env"
    env_file.write_text("# comment\n\nFROM_FILE=1\nBOTH=file\n")
    r = run_pyman("exec", "--env-file", str(env_file), "-e", "BOTH=flag", "-e", "HOME=/h",
                  ctr, "sh", "-c", "echo $FROM_FILE $BOTH $HOME")
    assert r.stdout == "1 flag /h\n", r.stderr

    r = run_pyman("exec", "-u", "nobody", "-w", "/tmp", ctr, "sh", "-c", "id; pwd; echo $HOME")
    assert r.stdout == "uid=65534(nobody) gid=65534(nogroup)\n/tmp\n/nonexistent\n", r.stderr
    assert run_pyman("exec", "--user", "1234:5678", ctr, "id").stdout == "uid=1234 gid=5678\n"

    # stdin: only with -i; without it the command reads EOF at once
    assert run_pyman("exec", "-i", ctr, "cat", input="piped\n").stdout == "piped\n"
    assert run_pyman("exec", ctr, "cat", input="piped\n").stdout == ""


def test_capabilities_follow_the_user(run_pyman, ctr: str) -> None:
    def caps(*args: str) -> dict[str, str]:
        r = run_pyman("exec", *args, ctr, "grep", "^Cap", "/proc/self/status")
        assert r.returncode == 0, r.stderr
        return dict(line.split(":\t") for line in r.stdout.splitlines())

    root = caps()
    assert root["CapEff"] == root["CapBnd"] == "00000000800405fb"  # the container's set
    nobody = caps("-u", "nobody")
    assert nobody["CapEff"] == "0000000000000000" and nobody["CapBnd"] == root["CapBnd"]
    priv = caps("--privileged")
    assert int(priv["CapEff"], 16) > int(root["CapEff"], 16)


def test_errors_as_podman(run_pyman, ctr: str) -> None:
    r = run_pyman("exec", ctr, "nosuchcmd")
    assert r.returncode == 127
    assert r.stderr.splitlines()[-1] == (
        'Error: runc: exec failed: unable to start container process: exec: "nosuchcmd": '
        "executable file not found in $PATH: OCI runtime attempted to invoke a command that "
        "was not found")
    r = run_pyman("exec", ctr, "/etc")
    assert r.returncode == 126 and r.stderr.endswith("permission denied: OCI permission denied\n")
    r = run_pyman("exec", "-w", "/nonexistent", ctr, "pwd")
    assert r.returncode == 127 and 'chdir to cwd ("/nonexistent")' in r.stderr
    r = run_pyman("exec", "-u", "nosuchuser", ctr, "true")
    assert (r.returncode, r.stderr) == (
        255, "Error: unable to find user nosuchuser: no matching entries in passwd file\n")
    r = run_pyman("exec", "no-such-ctr", "true")
    assert (r.returncode, r.stderr) == (
        125, 'Error: no container with name or ID "no-such-ctr" found: no such container\n')
    r = run_pyman("exec", ctr)
    assert r.returncode == 255 and "must provide a non-empty command" in r.stderr

    assert run_pyman("create", "--name", "exec-created", *NET, "alpine", "true").returncode == 0
    try:
        r = run_pyman("exec", "exec-created", "true")
        assert (r.returncode, r.stderr) == (255, "Error: can only create exec sessions on "
                                            "running containers: container state improper\n")
        r = run_pyman("top", "exec-created")
        assert (r.returncode, r.stderr) == (
            125, "Error: top can only be used on running containers\n")
    finally:
        run_pyman("rm", "-f", "exec-created")


def test_detached_session(run_pyman, ctr: str) -> None:
    r = run_pyman("exec", "-d", ctr, "sh", "-c", "sleep 0.3; echo done > /tmp/detached")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip()) == 64  # the session id, as Podman prints it
    assert wait_for(lambda: run_pyman("exec", ctr, "cat", "/tmp/detached").stdout == "done\n")


def test_signals_reach_the_process(pyman_bin, pyman_env, ctr: str) -> None:
    proc = subprocess.Popen([str(pyman_bin), "exec", ctr, "sh", "-c",
                             "trap 'echo got TERM; exit 9' TERM; echo ready; "
                             "while :; do sleep 0.05; done"],
                            env=pyman_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert (proc.returncode, out) == (9, "got TERM\n"), err


def _read_until(fd: int, needle: bytes, timeout: float = 10) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
    return out


def test_tty_session_through_a_real_pty(pyman_bin, pyman_env, ctr: str) -> None:
    import fcntl
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    before = termios.tcgetattr(slave)

    def controlling_tty() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([str(pyman_bin), "exec", "-it", ctr, "sh"],
                            env={**pyman_env, "TERM": "xterm"}, stdin=slave, stdout=slave,
                            stderr=slave, start_new_session=True, preexec_fn=controlling_tty)
    try:
        os.write(master, b"stty size; tty; echo mark-$((40+2))\r")
        out = _read_until(master, b"mark-42")
        assert b"33 111" in out and b"/dev/pts/" in out, out
        assert termios.tcgetattr(slave)[3] & termios.ECHO == 0  # raw while attached
        # a resize of our terminal reaches the container's
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        time.sleep(0.3)
        os.write(master, b"stty size; echo mark-$((40+3))\r")
        assert b"40 120" in _read_until(master, b"mark-43")
        os.write(master, b"exit 5\r")
        assert proc.wait(timeout=20) == 5
        assert termios.tcgetattr(slave) == before  # the terminal is restored
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)


def test_top(run_pyman, ctr: str) -> None:
    assert run_pyman("exec", "-d", "-u", "nobody", ctr, "sleep", "77").returncode == 0
    assert wait_for(lambda: "sleep 77" in run_pyman("top", ctr).stdout)
    r = run_pyman("top", ctr)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME",
                                "COMMAND"]
    assert lines[0].startswith("USER        PID         PPID        %CPU        ")
    rows = [line.split(None, 7) for line in lines[1:]]
    init = rows[0]
    assert init[:3] == ["root", "1", "0"] and init[5:] == ["?", "0s", "sleep 1000 "]
    assert init[4].endswith("s") and float(init[3]) >= 0
    assert ["nobody", "0", "sleep 77 "] == [x for i, x in enumerate(
        next(r for r in rows if r[-1] == "sleep 77 ")) if i in (0, 2, 7)]

    r = run_pyman("top", ctr, "huser", "user", "pid,comm")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["HUSER", "USER", "PID", "COMMAND"]
    assert lines[1].split() == [str(os.getuid()), "root", "1", "sleep"]
    nobody = next(line.split() for line in lines if " nobody " in line)
    assert int(nobody[0]) not in (os.getuid(), 65534)  # a sub-uid of the user

    r = run_pyman("top", ctr, "-o", "pid,comm")  # not a descriptor: ps(1) inside, as Podman
    assert r.returncode == 0 and r.stdout.split()[:2] == ["PID", "COMMAND"], r.stderr

    r = run_pyman("top", "no-such-ctr")
    assert r.returncode == 125 and "unable to look up requested container" in r.stderr
