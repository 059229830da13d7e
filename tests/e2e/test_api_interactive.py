"""Input and terminals through the API service: `docker exec -it`, `docker run -it` (the
docker CLI on a pseudo-terminal of the test's own), piped stdin with -i (multiplexed),
resizes, and docker-py's hijacked exec socket."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import socket
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest
import test_api_service as api

docker = pytest.importorskip("docker", reason="docker-py is in the test extra")
service, client, DOCKER_CLI = api.service, api.client, api.DOCKER_CLI  # fixtures


def cli_env(sock: str, env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    if not Path(DOCKER_CLI).exists():
        pytest.fail(f"{DOCKER_CLI} is missing: sudo bash scripts/setup-host.sh installs "
                    "docker.io", pytrace=False)
    return {**env, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(tmp_path / "dcfg"),
            "TERM": "xterm"}


class Terminal:
    """The docker CLI on a pty of ours, sized 33x101: we type, we read the screen."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child execs
            os.execve(argv[0], argv, env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
        self.screen = b""

    def wait_for(self, text: bytes, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.screen:
            assert time.monotonic() < deadline, (text, self.screen)
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                assert data, (text, self.screen)
                self.screen += data

    def type(self, text: bytes) -> None:
        os.write(self.fd, text)

    def exit_code(self, seconds: float = 30) -> int:
        deadline = time.monotonic() + seconds
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            assert time.monotonic() < deadline, self.screen
            select.select([self.fd], [], [], 0.2)
            try:
                self.screen += os.read(self.fd, 4096)
            except OSError:
                time.sleep(0.1)


def test_docker_exec_and_run_with_a_terminal(service, fresh_env: dict[str, str],  # type: ignore[no-untyped-def]
                                             tmp_path: Path) -> None:
    env = cli_env(service[0], fresh_env, tmp_path)
    started = subprocess.run([DOCKER_CLI, "run", "-d", "--name", "tty-ctr", "alpine", "sleep",
                              "300"], env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    for argv in (["exec", "-it", "tty-ctr", "sh"], ["run", "-it", "--rm", "alpine", "sh"]):
        term = Terminal([DOCKER_CLI, *argv], env)
        term.wait_for(b"# ")
        # keys reach the shell, its terminal has our size (the resize endpoints) and a tty
        term.type(b"echo $((6*7)); stty size; tty\r")
        term.wait_for(b"42\r\n33 101\r\n/dev/pts/")
        term.type(b"exit 3\r")
        assert term.exit_code() == 3, term.screen
    listed = subprocess.run([DOCKER_CLI, "ps", "-a", "--format", "{{.Names}}"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert listed.stdout.split() == ["tty-ctr"]  # run -it --rm left nothing
    # docker attach to a running container's terminal: it sends two sizes in a row (one
    # larger, to force a redraw), the last must win
    started = subprocess.run([DOCKER_CLI, "run", "-dit", "--name", "att-ctr", "alpine", "sh"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    term = Terminal([DOCKER_CLI, "attach", "att-ctr"], env)
    term.type(b"echo $((5*5)); stty size\r")
    term.wait_for(b"25\r\n33 101\r\n")
    term.type(b"exit 4\r")
    assert term.exit_code() == 4, term.screen


def test_piped_stdin_with_i(service, fresh_env: dict[str, str], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = cli_env(service[0], fresh_env, tmp_path)

    def docker_cli(*args: str, given: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([DOCKER_CLI, *args], env=env, capture_output=True, text=True,
                              timeout=120, input=given)

    done = docker_cli("run", "-i", "--rm", "alpine", "sh", "-c", "tr a-z A-Z; echo end >&2",
                      given="hello\nworld\n")
    assert (done.returncode, done.stdout, done.stderr) == (0, "HELLO\nWORLD\n", "end\n")
    assert docker_cli("run", "-d", "--name", "in-ctr", "alpine", "sleep", "300",
                      given="").returncode == 0
    big = "".join(f"line {i}\n" for i in range(20000))  # more than a pipe holds
    done = docker_cli("exec", "-i", "in-ctr", "sh", "-c", "wc -l; echo err >&2; exit 5",
                      given=big)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (5, "20000", "err\n")
    # a process that never reads its input still ends, and the service answers on
    done = docker_cli("exec", "-i", "in-ctr", "true", given=big)
    assert done.returncode == 0, done.stderr


def test_docker_py_exec_socket_and_resizes(client) -> None:  # type: ignore[no-untyped-def]
    ctr = client.containers.run("alpine", ["sleep", "300"], detach=True, tty=True,
                                stdin_open=True)
    exec_id = client.api.exec_create(ctr.id, ["sh"], stdin=True, tty=True)["Id"]
    sock = client.api.exec_start(exec_id, socket=True, tty=True)
    raw = sock._sock
    client.api.exec_resize(exec_id, height=20, width=70)
    raw.sendall(b"stty size; exit 7\n")
    out = b""
    deadline = time.monotonic() + 30
    while b"20 70" not in out or client.api.exec_inspect(exec_id)["Running"]:
        assert time.monotonic() < deadline, out
        ready, _, _ = select.select([raw], [], [], 0.2)
        if ready:
            out += raw.recv(4096)
    raw.close()
    assert client.api.exec_inspect(exec_id)["ExitCode"] == 7
    # a client that goes away hangs its terminal up: the shell it left ends
    exec_id = client.api.exec_create(ctr.id, ["sh"], stdin=True, tty=True)["Id"]
    sock = client.api.exec_start(exec_id, socket=True, tty=True)
    deadline = time.monotonic() + 30
    while not client.api.exec_inspect(exec_id)["Running"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sock._sock.sendall(b"echo still-here\n")
    time.sleep(0.5)
    sock._sock.shutdown(socket.SHUT_RDWR)  # gone, whatever else holds the descriptor
    sock._sock.close()
    while client.api.exec_inspect(exec_id)["Running"]:
        assert time.monotonic() < deadline, "the shell outlived its client"
        time.sleep(0.1)
    # the container's own terminal, sized through its monitor
    client.api.resize(ctr.id, height=40, width=120)
    assert ctr.exec_run(["stty", "-F", "/dev/console", "size"]).output in (
        b"40 120\n", b"40 120\r\n")
    with pytest.raises(docker.errors.APIError) as bad:
        client.api.resize(ctr.id, height=0, width=-1)
    assert bad.value.status_code == 400
    with pytest.raises(docker.errors.NotFound):
        client.api.exec_resize("0" * 64, height=20, width=70)


def test_service_stops_with_a_detached_exec_running(service) -> None:  # type: ignore[no-untyped-def]
    # its own client: the service is gone at the end (fresh_env's teardown removes the
    # container through the CLI)
    client = docker.DockerClient(base_url=f"unix://{service[0]}", timeout=60)
    ctr = client.containers.run("alpine", ["sleep", "300"], detach=True)
    ctr.exec_run(["sleep", "300"], detach=True)
    deadline = time.monotonic() + 30
    while b"sleep 300" not in b"".join(p.encode() for row in ctr.top()["Processes"]
                                         for p in row) or len(ctr.top()["Processes"]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    proc = service[1]
    proc.terminate()
    try:
        proc.wait(15)  # the exec goes on in the container; the service is not held by it
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the service did not stop while a detached exec ran") from None
