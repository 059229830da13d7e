"""`pyman system service` driven by docker-py, as a real test suite's fixture drives a Docker
engine: the service runs as the unprivileged test user on a socket of the test's own."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

docker = pytest.importorskip("docker", reason="docker-py is in the test extra")


@pytest.fixture
def service(pyman_bin: Path, fresh_env: dict[str, str], tmp_path: Path
            ) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    sock = tmp_path / "api.sock"
    proc = subprocess.Popen([str(pyman_bin), "system", "service", "--time", "0",
                             f"unix://{sock}"], env=fresh_env, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 20
    while not sock.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the service did not listen in 20 s"
        time.sleep(0.05)
    yield str(sock), proc
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def client(service: tuple[str, subprocess.Popen[str]]) -> Iterator[object]:
    c = docker.DockerClient(base_url=f"unix://{service[0]}", timeout=60)
    yield c
    for ctr in c.containers.list(all=True):
        ctr.remove(force=True)
    c.close()


def raw(path: str, method: str = "GET", body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP/1.0 request on the unix socket, as a hostile or careless client sends it."""
    sock_path, _, target = path.partition("|")
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(sock_path)
        s.sendall(f"{method} {target} HTTP/1.0\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                  "Content-Type: application/json\r\n\r\n".encode() + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), payload


def test_socket_is_the_users_own(service: tuple[str, subprocess.Popen[str]]) -> None:
    assert Path(service[0]).stat().st_mode & 0o777 == 0o600


def test_run_like_a_test_suite(client, fresh_env: dict[str, str], pyman_bin: Path) -> None:  # type: ignore[no-untyped-def]
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.41"
    assert client.containers.run("alpine", ["echo", "hi"], remove=True) == b"hi\n"
    ctr = client.containers.run("alpine", ["sh", "-c", "echo out; echo err >&2; exit 3"],
                                detach=True, labels={"suite": "api"}, name="api-one")
    assert ctr.wait()["StatusCode"] == 3
    assert ctr.logs(stdout=True, stderr=False) == b"out\n"
    assert ctr.logs(stdout=False, stderr=True) == b"err\n"
    listed = client.containers.list(all=True, filters={"label": "suite=api"})
    assert [c.name for c in listed] == ["api-one"]
    # the same container, seen by the CLI: one store, one truth
    ps = subprocess.run([str(pyman_bin), "ps", "-a", "--format", "{{.Names}} {{.Status}}"],
                        env=fresh_env, capture_output=True, text=True, timeout=30)
    assert "api-one Exited (3)" in ps.stdout
    with pytest.raises(docker.errors.ContainerError) as failed:
        client.containers.run("alpine", ["sh", "-c", "echo bad >&2; exit 7"], remove=True)
    assert failed.value.exit_status == 7


def test_detached_server_and_its_logs(client) -> None:  # type: ignore[no-untyped-def]
    ctr = client.containers.run("alpine", ["sh", "-c", "echo ready; sleep 300"], detach=True)
    deadline = time.monotonic() + 20
    while b"ready" not in ctr.logs():
        assert time.monotonic() < deadline, "no log line in 20 s"
        time.sleep(0.1)
    code, out = ctr.exec_run(["sh", "-c", "echo $X; exit 2"], environment={"X": "from-exec"})
    assert (code, out) == (2, b"from-exec\n")
    ctr.reload()
    assert ctr.status == "running"
    assert ctr.attrs["Config"]["Image"]
    ctr.stop(timeout=1)
    ctr.reload()
    assert ctr.status == "exited"
    ctr.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(ctr.id)


def test_pull_and_images(client) -> None:  # type: ignore[no-untyped-def]
    image = client.images.pull("busybox")
    assert image.id.startswith("sha256:")
    tags = {t for i in client.images.list() for t in i.tags}
    assert any(t.endswith("busybox:latest") for t in tags)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("localhost/no-such-image:1")


def test_bad_requests_get_4xx_and_the_service_keeps_serving(
        service: tuple[str, subprocess.Popen[str]]) -> None:
    sock = service[0]
    status, payload = raw(f"{sock}|/v1.41/containers/create", "POST", b"{not json")
    assert status == 400 and b"not valid JSON" in payload
    status, payload = raw(f"{sock}|/v1.41/containers/create", "POST", b'{"Image": 5}')
    assert status == 400 and json.loads(payload)["message"].startswith("Image")
    status, payload = raw(f"{sock}|/v1.41/containers/create", "POST",
                          b'{"Image": "alpine", "HostConfig": {"Binds": "x", "Dns": [1]}}')
    assert status == 400
    status, _ = raw(f"{sock}|/v1.41/containers/create", "POST", b"x" * (5 << 20))
    assert status == 413
    status, payload = raw(f"{sock}|/v1.41/swarm/init", "POST")
    assert status == 501 and b"/v1.41/swarm/init" in payload
    for name in ("..", urllib.parse.quote("../../etc/passwd", safe="")):
        status, payload = raw(f"{sock}|/v1.41/containers/{name}/json")
        assert status in (404, 501) and b"root:" not in payload
    status, payload = raw(f"{sock}|/_ping")
    assert (status, payload) == (200, b"OK")
    assert service[1].poll() is None


def test_another_user_is_refused(service: tuple[str, subprocess.Popen[str]], neighbour) -> None:  # type: ignore[no-untyped-def]
    probe = ("import socket,sys; s=socket.socket(socket.AF_UNIX)\n"
             "try:\n s.connect(sys.argv[1]); print('connected')\n"
             "except PermissionError: print('denied')\n")
    proc = neighbour("/usr/bin/python3", "-c", probe, service[0])
    assert proc.stdout.strip() == "denied", proc.stderr


def test_idle_service_exits(pyman_bin: Path, fresh_env: dict[str, str], tmp_path: Path) -> None:
    sock = tmp_path / "idle.sock"
    proc = subprocess.run([str(pyman_bin), "system", "service", "--time", "1",
                           f"unix://{sock}"], env=fresh_env, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert not sock.exists(), "the socket goes with the service"


def test_tcp_only_on_loopback(pyman_bin: Path, fresh_env: dict[str, str]) -> None:
    proc = subprocess.run([str(pyman_bin), "system", "service", "tcp://0.0.0.0:2375"],
                          env=fresh_env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 125
    assert "loopback only" in proc.stderr and "Traceback" not in proc.stderr


DOCKER_CLI = "/usr/bin/docker"  # Debian's docker.io: only its client is used


def test_the_docker_cli(service: tuple[str, subprocess.Popen[str]], fresh_env: dict[str, str],
                        tmp_path: Path) -> None:
    if not Path(DOCKER_CLI).exists():
        pytest.fail(f"{DOCKER_CLI} is missing: sudo bash scripts/setup-host.sh installs docker.io",
                    pytrace=False)
    env = {**fresh_env, "DOCKER_HOST": f"unix://{service[0]}",
           "DOCKER_CONFIG": str(tmp_path / "docker-config")}

    def docker_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([DOCKER_CLI, *args], env=env, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)

    hi = docker_cli("run", "--rm", "alpine", "echo", "hi")
    assert (hi.returncode, hi.stdout) == (0, "hi\n"), hi.stderr
    both = docker_cli("run", "--rm", "alpine", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (both.returncode, both.stdout, both.stderr) == (3, "out\n", "err\n")
    started = docker_cli("run", "-d", "--name", "cli-web", "alpine", "sh", "-c",
                         "echo serving; sleep 300")
    assert started.returncode == 0, started.stderr
    assert "cli-web" in docker_cli("ps").stdout
    deadline = time.monotonic() + 20
    while "serving" not in docker_cli("logs", "cli-web").stdout:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert any("alpine" in line for line in docker_cli("images").stdout.splitlines()[1:])
    ls = docker_cli("exec", "cli-web", "sh", "-c", "echo in-ctr; echo oops >&2; exit 4")
    assert (ls.returncode, ls.stdout, ls.stderr) == (4, "in-ctr\n", "oops\n")
    assert docker_cli("exec", "-d", "cli-web", "touch", "/tmp/made").returncode == 0
    deadline = time.monotonic() + 10
    while docker_cli("exec", "cli-web", "test", "-e", "/tmp/made").returncode != 0:
        assert time.monotonic() < deadline, "the detached exec did not run"
        time.sleep(0.2)
    assert docker_cli("rm", "-f", "cli-web").returncode == 0
    assert "cli-web" not in docker_cli("ps", "-a").stdout
    missing = docker_cli("logs", "no-such-ctr")
    assert missing.returncode != 0 and "No such container" in missing.stderr

    # `docker pull` (docker.io through the host's registries.conf mirror) and `run -d -p`
    pulled = docker_cli("pull", "busybox")
    assert pulled.returncode == 0 and "busybox" in pulled.stdout, pulled.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    web = docker_cli("run", "-d", "--name", "cli-httpd", "-p", f"127.0.0.1:{port}:80", "busybox",
                     "sh", "-c", "echo from-httpd > /index.html && exec httpd -f -p 80 -h /")
    assert web.returncode == 0, web.stderr
    assert f"127.0.0.1:{port}->80/tcp" in docker_cli("ps").stdout
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                assert answer.read() == b"from-httpd\n"
                break
        except OSError:
            assert time.monotonic() < deadline, "the published port did not answer in 20 s"
            time.sleep(0.2)
    assert docker_cli("rm", "-f", "cli-httpd").returncode == 0


def test_docker_logs_follow_ends_with_the_container(service: tuple[str, subprocess.Popen[str]],
                                                   fresh_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    """`docker logs -f` as Docker's: it ends when the container exits or is removed (a
    restart policy's next run included), and a container that is not running (created) is
    read to the end, not followed."""
    if not Path(DOCKER_CLI).exists():
        pytest.fail(f"{DOCKER_CLI} is missing: sudo bash scripts/setup-host.sh installs docker.io",
                    pytrace=False)
    env = {**fresh_env, "DOCKER_HOST": f"unix://{service[0]}",
           "DOCKER_CONFIG": str(tmp_path / "docker-config")}

    def docker_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([DOCKER_CLI, *args], env=env, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    ran = docker_cli("run", "-d", "--name", "lf-exits", "alpine", "sh", "-c",
                     "echo one; sleep 2; echo two")
    assert ran.returncode == 0, ran.stderr
    t0 = time.monotonic()
    followed = docker_cli("logs", "-f", "lf-exits")
    assert (followed.returncode, followed.stdout) == (0, "one\ntwo\n"), followed.stderr
    assert time.monotonic() - t0 < 30
    # removed while followed: the stream ends too
    ran = docker_cli("run", "-d", "--name", "lf-removed", "alpine", "sh", "-c",
                     "echo here; exec sleep 300")
    assert ran.returncode == 0, ran.stderr
    follow = subprocess.Popen([DOCKER_CLI, "logs", "-f", "lf-removed"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL)
    try:
        assert follow.stdout is not None and follow.stdout.readline() == "here\n"
        assert follow.poll() is None
        assert docker_cli("rm", "-f", "lf-removed").returncode == 0
        assert follow.wait(30) == 0
    finally:
        if follow.poll() is None:
            follow.kill()
        follow.communicate()
    # a restart policy's next run is not followed: the stream ends with the run it followed
    ran = docker_cli("run", "-d", "--name", "lf-restarts", "--restart", "always", "alpine",
                     "sh", "-c", "echo run; sleep 2; exit 3")
    assert ran.returncode == 0, ran.stderr
    t0 = time.monotonic()
    followed = docker_cli("logs", "-f", "lf-restarts")
    assert followed.returncode == 0 and followed.stdout.startswith("run\n"), followed.stderr
    assert time.monotonic() - t0 < 15
    assert docker_cli("rm", "-f", "lf-restarts").returncode == 0
    made = docker_cli("create", "--name", "lf-created", "alpine", "echo", "never")
    assert made.returncode == 0, made.stderr
    at_once = docker_cli("logs", "-f", "lf-created")  # the 60 s timeout would raise
    assert (at_once.returncode, at_once.stdout) == (0, ""), at_once.stderr
    assert docker_cli("rm", "lf-created").returncode == 0


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_socket_activation_and_an_idle_service_costs_no_cpu(
        pyman_bin: Path, fresh_env: dict[str, str], tmp_path: Path) -> None:
    """As systemd hands a socket over (fd 3, LISTEN_PID = the service's pid, LISTEN_FDS=1),
    the service answers on it; left alone it burns no CPU (no polling loop)."""
    path = tmp_path / "activated.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(8)
    fd = listener.fileno()
    env = {**fresh_env, "LISTEN_FDS": "1", "LISTEN_FDNAMES": "pyman.socket"}
    # bash sets LISTEN_PID to its own pid and execs pyman, which keeps that pid
    proc = subprocess.Popen(["bash", "-c", f'export LISTEN_PID=$$; exec "$0" system service '
                             f'--time 0 3<&{fd} {fd}<&-', str(pyman_bin)], env=env,
                            pass_fds=(fd,), stderr=subprocess.PIPE, text=True)
    listener.close()  # the service holds the only copy now
    try:
        client = docker.DockerClient(base_url=f"unix://{path}", timeout=30)
        deadline = time.monotonic() + 20
        while True:
            try:
                assert client.ping() is True
                break
            except docker.errors.APIError:
                raise
            except Exception:  # not answering yet: the interpreter is still starting
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "no answer on the passed socket in 20 s"
                time.sleep(0.1)
        assert client.version()["ApiVersion"]
        client.close()
        time.sleep(1)  # let the answers' work settle
        before = _cpu_ticks(proc.pid)
        time.sleep(3)
        spent = _cpu_ticks(proc.pid) - before
        assert spent <= 2, f"{spent} clock ticks of CPU in 3 s of idleness"
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)
    assert path.exists(), "a socket systemd made is systemd's to remove"
