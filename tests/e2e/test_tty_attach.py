"""Terminals and attaching end to end: run -t/-it/-dit, attach with detach keys, start -a/-ai,
logs of a terminal's output; the client side is a real pty (our "user's terminal")."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from collections.abc import Iterator

import pytest
from lifecycle_util import NET, wait_for

PREFIX = "tty-e2e-"


class Term:
    """pyman running on a pty of ours (its controlling terminal), as in a user's shell."""

    def __init__(self, pyman_bin: object, env: dict[str, str], *args: str,
                 rows: int = 33, cols: int = 111) -> None:
        self.master, self.slave = os.openpty()
        self.resize(rows, cols)
        self.before = termios.tcgetattr(self.slave)
        self.out = b""

        def controlling_tty() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([str(pyman_bin), *args], env={**env, "TERM": "xterm"},
                                     stdin=self.slave, stdout=self.slave, stderr=self.slave,
                                     start_new_session=True, preexec_fn=controlling_tty)

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def read_until(self, marker: bytes, timeout: float = 60) -> bytes:
        """Everything read until ``marker`` shows up (what came before it stays read)."""
        deadline = time.monotonic() + timeout
        while marker not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{marker!r} not seen in {self.out!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    data = b""
                if not data:
                    raise AssertionError(f"EOF before {marker!r}: {self.out!r}")
                self.out += data
        head, _, self.out = self.out.partition(marker)
        return head + marker

    def command(self, line: str, mark: str, timeout: float = 60) -> bytes:
        """Type ``line`` then an echo of a mark computed by the shell (so the echo of what
        we typed never matches); the output up to the mark."""
        a, b = mark.split("-")
        self.send(f"{line}; echo {a}-$(({b}+0))x\r".encode())
        return self.read_until(f"{a}-{int(b)}x".encode(), timeout)

    def drain(self) -> bytes:
        """What is readable now, without waiting for more."""
        while select.select([self.master], [], [], 0)[0]:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                break
            if not data:
                break
            self.out += data
        out, self.out = self.out, b""
        return out

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def term(pyman_bin, pyman_env) -> Iterator[object]:  # type: ignore[no-untyped-def]
    opened: list[Term] = []

    def make(*args: str, rows: int = 33, cols: int = 111) -> Term:
        t = Term(pyman_bin, pyman_env, *args, rows=rows, cols=cols)
        opened.append(t)
        return t

    yield make
    for t in opened:
        t.close()


@pytest.fixture
def names(run_pyman) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    made: list[str] = []
    yield made
    for name in made:
        run_pyman("rm", "-f", name)


def size_is(t: Term, want: bytes, n: int) -> bool:
    """stty size inside, until it shows ``want`` (a resize reaches the shell a little
    after our ioctl)."""
    out = t.command("stty size", f"size-{n}")
    return want in out


def test_run_it_shell_size_resize_exit_code(term, run_pyman, names, pyman_bin,
                                           pyman_env) -> None:
    names.append(PREFIX + "it")
    t = term("run", "-it", "--name", PREFIX + "it", *NET, "alpine", "sh")
    out = t.command("stty size; tty; echo $TERM", "m-41")
    assert b"33 111" in out and b"/dev/pts/0" in out and b"xterm" in out, out
    assert termios.tcgetattr(t.slave)[3] & termios.ECHO == 0  # raw while attached
    t.resize(40, 120)  # our terminal changes size: SIGWINCH to pyman, TIOCSWINSZ inside
    counter = iter(range(100, 10000))
    assert wait_for(lambda: size_is(t, b"40 120", next(counter)), timeout=60)
    t.send(b"exit 7\r")
    assert t.wait() == 7
    assert termios.tcgetattr(t.slave) == t.before  # the terminal is restored
    r = run_pyman("inspect", "--format", "{{.State.ExitCode}} {{.Config.Tty}}", PREFIX + "it")
    assert r.stdout.split()[0] == "7", r.stderr

    # a tty has one stream: what the shell wrote, \r\n and all, is the log's stdout
    logs = subprocess.run([str(pyman_bin), "logs", PREFIX + "it"], capture_output=True,
                          env=pyman_env, timeout=60)
    assert b"33 111\r\n" in logs.stdout and logs.stderr == b""


def test_dit_attach_detach_attach_exit(term, run_pyman, names) -> None:
    name = PREFIX + "dit"
    names.append(name)
    r = run_pyman("run", "-dit", "--name", name, *NET, "alpine", "sh")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()

    t = term("attach", name, rows=25, cols=90)
    assert b"25 90" in t.command("echo first; stty size", "a-51")
    t.send(b"\x10\x11")  # ctrl-p ctrl-q: detach, the container runs on
    assert t.wait() == 0
    assert termios.tcgetattr(t.slave) == t.before
    rest = t.drain()
    assert not rest.replace(b"/ # ", b"").strip(b"\r\n\x1b[6n"), rest  # Podman: no words
    assert run_pyman("inspect", "--format", "{{.State.Status}}", name).stdout == "running\n"

    # again, with other detach keys: a held-back x is passed on when y does not follow
    t2 = term("attach", "--detach-keys", "x,y", cid[:12], rows=30, cols=70)
    assert b"30 70" in t2.command("stty size", "b-52")
    assert b"\naxb\r\n" in t2.command("echo axb", "c-53")
    t2.send(b"xy")
    assert t2.wait() == 0
    assert run_pyman("inspect", "--format", "{{.State.Status}}", name).stdout == "running\n"

    t3 = term("attach", name)
    t3.command("true", "d-54")
    t3.send(b"exit 9\r")
    assert t3.wait() == 9  # the container's exit code when it exits while attached
    assert run_pyman("inspect", "--format", "{{.State.ExitCode}}", name).stdout == "9\n"

    r = run_pyman("attach", name)
    assert (r.returncode, r.stderr) == (125, "Error: you can only attach to running "
                                              "containers\n")
    r = run_pyman("attach")
    assert (r.returncode, r.stderr) == (125, 'Error: "pyman attach" requires a name, id, or '
                                              'the "--latest" flag\n')
    r = run_pyman("attach", "--detach-keys", "ctrl-P", name)
    assert r.returncode == 125 and "invalid detach keys: Unknown character: 'ctrl-P'" \
        in r.stderr


def test_start_a_and_ai(term, run_pyman, names) -> None:
    a, ai = PREFIX + "sa", PREFIX + "sai"
    names += [a, ai]
    assert run_pyman("create", "-t", "--name", a, *NET, "alpine", "sh", "-c",
                     "stty size; exit 3").returncode == 0
    t = term("start", "-a", a, rows=21, cols=63)
    assert t.wait() == 3
    assert t.read_until(b"21 63\r\n")  # raw: the pty's \r\n, not the local one's \r\r\n

    assert run_pyman("create", "-it", "--name", ai, *NET, "alpine", "sh").returncode == 0
    t = term("start", "-ai", ai, rows=22, cols=64)
    assert b"22 64" in t.command("stty size", "s-61")
    t.send(b"exit 4\r")
    assert t.wait() == 4
    # started again (detached), then attached: its stdin stayed open for us
    assert run_pyman("start", ai).returncode == 0
    t = term("attach", ai)
    t.command("echo again", "s-62")
    t.send(b"exit 5\r")
    assert t.wait() == 5


def test_dt_without_i_and_non_tty_attach(term, run_pyman, names) -> None:
    name, cat = PREFIX + "dt", PREFIX + "cat"
    names += [name, cat]
    r = run_pyman("run", "-dt", "--name", name, *NET, "alpine", "sh", "-c",
                  "while :; do echo tick; sleep 0.2; done")
    assert r.returncode == 0, r.stderr
    t = term("attach", name)
    t.read_until(b"tick\r\n")  # output of a running container, live
    t.send(b"\x10\x11")
    assert t.wait() == 0
    assert run_pyman("inspect", "--format", "{{.State.Status}}", name).stdout == "running\n"
    assert run_pyman("stop", "-t", "0", name).returncode == 0

    # -i without a terminal: the monitor keeps the container's stdin for attach clients
    assert run_pyman("run", "-di", "--name", cat, *NET, "alpine", "sh", "-c",
                     "cat; echo err >&2; exit 6").returncode == 0
    r = run_pyman("attach", cat, input="through attach\n")
    assert (r.returncode, r.stdout, r.stderr) == (6, "through attach\n", "err\n")

    r = run_pyman("run", "--rm", "-i", *NET, "alpine", "cat", input="piped\n")
    assert (r.returncode, r.stdout) == (0, "piped\n")


def test_tty_container_stop_rm_and_monitor_killed(term, run_pyman, names, pyman_bin,
                                                  pyman_env) -> None:
    name = PREFIX + "rob"
    names.append(name)
    assert run_pyman("run", "-dit", "--name", name, *NET, "alpine", "sh").returncode == 0
    t = term("attach", name)
    t.command("true", "r-71")
    assert run_pyman("stop", "-t", "1", name).returncode == 0
    assert t.wait() == 137  # sh as pid 1 ignores SIGTERM: killed after the timeout
    assert run_pyman("rm", name).returncode == 0

    assert run_pyman("run", "-dit", "--name", name, *NET, "alpine", "sh").returncode == 0
    t = term("attach", name)
    t.command("true", "r-72")
    mon = int(run_pyman("inspect", "--format", "{{.State.ConmonPid}}", name).stdout)
    os.kill(mon, 9)
    assert t.wait() == 137  # the client learns the reconciled end
    assert run_pyman("rm", "-f", name).returncode == 0

    # stdin and stdout not terminals: still a pty inside (bytes: text mode eats the \r)
    r = subprocess.run([str(pyman_bin), "run", "--rm", "-it", *NET, "alpine", "echo", "hi"],
                       input=b"", capture_output=True, env=pyman_env, timeout=120)
    assert r.returncode == 0 and r.stdout == b"hi\r\n"
    assert b"The input device is not a TTY" in r.stderr


def test_restarted_tty_container_serves_attaches_again(term, run_pyman, names) -> None:
    name = PREFIX + "rs"
    names.append(name)
    assert run_pyman("run", "-dit", "--restart", "on-failure:1", "--name", name, *NET,
                     "alpine", "sh").returncode == 0
    t = term("attach", name)
    t.command("true", "q-81")
    t.send(b"exit 3\r")
    assert t.wait() == 3  # this run's end; the policy starts the next

    def restarted() -> bool:
        r = run_pyman("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", name)
        return r.stdout.split() == ["1", "running"]

    assert wait_for(restarted, timeout=60)
    t = term("attach", name, rows=27, cols=81)
    assert b"27 81" in t.command("stty size", "q-82")  # a fresh pty, stdin still open
    t.send(b"exit 4\r")
    assert t.wait() == 4
    assert run_pyman("inspect", "--format", "{{.State.ExitCode}}", name).stdout == "4\n"


def test_start_a_of_a_running_container_attaches(term, run_pyman, names) -> None:
    name = PREFIX + "sar"
    names.append(name)
    assert run_pyman("run", "-dit", "--name", name, *NET, "alpine", "sh").returncode == 0
    t = term("start", "-ai", name, rows=19, cols=77)  # as Podman: attaches to it
    assert b"19 77" in t.command("stty size", "w-91")
    t.send(b"exit 2\r")
    assert t.wait() == 2


def test_sig_proxy(pyman_bin, pyman_env, run_pyman, names) -> None:
    on, off = PREFIX + "sp-on", PREFIX + "sp-off"
    names += [on, off]
    script = 'trap "echo got; exit 3" TERM; echo ready; while :; do sleep 0.1; done'
    procs = {}
    for name, flag in ((on, "--sig-proxy"), (off, "--no-sig-proxy")):
        procs[name] = subprocess.Popen(
            [str(pyman_bin), "run", flag, "--name", name, *NET, "alpine", "sh", "-c", script],
            env=pyman_env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert procs[name].stdout is not None
        assert procs[name].stdout.readline() == b"ready\n"
    procs[on].send_signal(15)  # passed on: the container's trap ends it
    out, _ = procs[on].communicate(timeout=60)
    assert (procs[on].returncode, out) == (3, b"got\n")
    procs[off].send_signal(15)  # not passed on: pyman ends, the container runs on
    assert procs[off].wait(timeout=60) == -15
    assert run_pyman("inspect", "--format", "{{.State.Status}}", off).stdout == "running\n"
