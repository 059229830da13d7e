"""Compose, unmodified, as the unprivileged test user: Debian's docker-compose over the API
service (DOCKER_HOST=unix://...) and podman-compose (PyPI) with pyman as its podman. A web
server and a client that reaches it by its service name over the project's network; up -d,
ps, logs, down; nothing left behind (containers, pods, networks, volumes, the rootless
netns). And the CLI flags podman-compose uses (create --requires, logs --color)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lifecycle_util import wait_for
from net_util import fetch, free_port

DOCKER_COMPOSE = "/usr/bin/docker-compose"  # Debian's docker-compose package (1.29)
# the test image's busybox wget crashes (static glibc without NSS files): nc speaks HTTP
COMPOSE_FILE = """\
version: "3"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo $$GREETING > /www/index.html && exec httpd -f -p 8080 -h /www"]
    environment:
      GREETING: hello-from-web
    ports:
      - "127.0.0.1:{port}:8080"
    healthcheck:
      test: ["CMD", "test", "-e", "/www/index.html"]
      interval: 1s
    stop_signal: SIGKILL
    volumes:
      - www:/www
  client:
    image: alpine
    command:
      - sh
      - -c
      - |
        for i in $$(seq 1 100); do
          printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 2 web 8080 | grep hello && break
          sleep 0.2
        done
        echo client-done
        exec sleep 300
    stop_signal: SIGKILL
    depends_on:
      - web
volumes:
  www:
"""


def netns_holder() -> Path:
    """The rootless netns's holder record (XDG_RUNTIME_DIR is unset in the suite: pyman's
    runtime dir is its fallback)."""
    return Path(f"/tmp/pyman-run-{os.getuid()}/pyman/rootless-netns/holder.json")


def left_behind(pyman_bin: Path, env: dict[str, str], project: str) -> list[str]:
    def lines(*args: str) -> list[str]:
        out = subprocess.run([str(pyman_bin), *args], env=env, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    found = [f"container {n}" for n in lines("ps", "-a", "--format", "{{.Names}}")]
    found += [f"pod {n}" for n in lines("pod", "ps", "--format", "{{.Name}}")]
    found += [f"network {n}" for n in lines("network", "ls", "--format", "{{.Name}}")
              if n != "podman"]
    found += [f"volume {n}" for n in lines("volume", "ls", "--format", "{{.Name}}")
              if n.startswith(project)]
    if not wait_for(lambda: not netns_holder().exists(), 10):
        found.append("the rootless netns")
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    d.mkdir()
    (d / "docker-compose.yml").write_text(COMPOSE_FILE.format(port=free_port()))
    return d


def published(project: Path) -> int:
    text = (project / "docker-compose.yml").read_text()
    return int(text.split('"127.0.0.1:')[1].split(":")[0])


@pytest.fixture
def api_socket(pyman_bin: Path, fresh_env: dict[str, str], tmp_path: Path
               ) -> Iterator[Path]:
    sock = tmp_path / "api.sock"
    proc = subprocess.Popen([str(pyman_bin), "system", "service", "--time", "0",
                             f"unix://{sock}"], env=fresh_env, stderr=subprocess.PIPE,
                            text=True)
    assert wait_for(lambda: sock.exists() or proc.poll() is not None, 20)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    yield sock
    proc.terminate()
    proc.wait(10)


def test_docker_compose_over_the_api(pyman_bin: Path, fresh_env: dict[str, str],
                                     project: Path, api_socket: Path, tmp_path: Path) -> None:
    if not Path(DOCKER_COMPOSE).exists():
        pytest.fail(f"{DOCKER_COMPOSE} is missing: sudo bash scripts/setup-host.sh installs "
                    "docker-compose", pytrace=False)
    env = {**fresh_env, "DOCKER_HOST": f"unix://{api_socket}",
           "DOCKER_CONFIG": str(tmp_path / "docker-config")}

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([DOCKER_COMPOSE, "-p", "dctest", *args], cwd=project, env=env,
                              capture_output=True, text=True, timeout=180,
                              stdin=subprocess.DEVNULL)

    up = compose("up", "-d")
    assert up.returncode == 0, up.stderr
    try:
        assert wait_for(lambda: "client-done" in compose("logs", "client").stdout, 60)
        logs = compose("logs", "--no-color")
        assert "hello-from-web" in logs.stdout, logs.stdout + logs.stderr
        assert fetch(published(project)) == "hello-from-web\n"  # its published port
        # the healthcheck compose asked for runs: ps reads State.Health
        assert wait_for(lambda: "Up (healthy)" in compose("ps", "web").stdout, 30)
        ps = compose("ps")
        assert ps.returncode == 0, ps.stderr
        rows = [r for r in ps.stdout.splitlines() if r.startswith("dctest_")]
        assert len(rows) == 2 and all(" Up " in r for r in rows), ps.stdout
        again = compose("up", "-d")  # nothing changed: the network and both kept
        assert again.returncode == 0 and again.stderr.count("is up-to-date") == 2, again.stderr
        # a changed service is recreated: the old container renamed out of the way, a new
        # one made and started, the old one removed
        conf = project / "docker-compose.yml"
        conf.write_text(conf.read_text().replace("GREETING: hello-from-web",
                                                 "GREETING: hello-again"))
        changed = compose("up", "-d")
        assert changed.returncode == 0 and "Recreating dctest_web_1" in changed.stderr, (
            changed.stderr)
        assert wait_for(lambda: fetch(published(project)) == "hello-again\n", 20)
        names = subprocess.run([str(pyman_bin), "ps", "-a", "--format", "{{.Names}}"],
                               env=fresh_env, capture_output=True, text=True, timeout=30)
        assert sorted(names.stdout.split()) == ["dctest_client_1", "dctest_web_1"]
    finally:
        down = compose("down", "-v")
    assert down.returncode == 0, down.stderr
    assert "Removing network dctest_default" in down.stderr
    assert left_behind(pyman_bin, fresh_env, "dctest") == []


def test_podman_compose_with_pyman(pyman_bin: Path, fresh_env: dict[str, str],
                                   project: Path) -> None:
    tool = shutil.which("podman-compose", path=str(Path(sys.executable).parent))
    if tool is None:
        pytest.fail("podman-compose is missing: it is in pyman's test extra "
                    "(pip install '.[test]')", pytrace=False)

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([tool, "--podman-path", str(pyman_bin), "-p", "pctest", *args],
                              cwd=project, env=fresh_env, capture_output=True, text=True,
                              timeout=180, stdin=subprocess.DEVNULL)

    up = compose("up", "-d")
    assert up.returncode == 0 and "Error" not in up.stderr, up.stdout + up.stderr
    try:
        assert wait_for(lambda: "client-done" in compose("logs", "client").stdout, 60)
        assert "hello-from-web" in compose("logs", "client").stdout
        ps = compose("ps", "--format", "json")
        assert ps.returncode == 0, ps.stderr
        listed = json.loads(ps.stdout)
        assert sorted(c["Names"][0] for c in listed) == ["pctest_client_1", "pctest_web_1"]
        assert all(c["State"] == "running" for c in listed)
        assert fetch(published(project)) == "hello-from-web\n"
        assert wait_for(lambda: "(healthy)" in compose("ps").stdout, 30)
    finally:
        down = compose("down", "-v")
    assert down.returncode == 0 and "Error" not in down.stderr, down.stdout + down.stderr
    assert left_behind(pyman_bin, fresh_env, "pctest") == []


def test_create_requires(run_pyman, fresh_env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    base = pm("create", "--name", "base", "alpine", "sleep", "300")
    assert base.returncode == 0, base.stderr
    top = pm("create", "--name", "top", "--requires", "base", "alpine", "sleep", "300")
    assert top.returncode == 0, top.stderr
    assert pm("inspect", "--format", "{{.Dependencies}}", "top").stdout.strip() == (
        f"[{base.stdout.strip()}]")
    assert pm("start", "top").returncode == 0  # its dependency is started first
    running = pm("ps", "--format", "{{.Names}}").stdout.split()
    assert sorted(running) == ["base", "top"]
    refused = pm("rm", "-f", "base")
    assert refused.returncode == 125
    assert "has dependent containers which must be removed before it" in refused.stderr
    missing = pm("create", "--requires", "nosuch", "alpine")
    assert missing.returncode == 125
    assert missing.stderr.startswith('Error: "nosuch" is not a valid container, cannot be '
                                     "used as a dependency")
    assert pm("rm", "-f", "top", "base").returncode == 0


def test_logs_color_and_names(run_pyman, fresh_env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    assert pm("run", "--name", "one", "alpine", "sh", "-c", "echo a; echo b").returncode == 0
    assert pm("run", "--name", "two", "alpine", "echo", "c").returncode == 0
    # Podman's colours: the first container light gray, the second red, each line reset
    assert pm("logs", "--color", "one").stdout == "\033[37ma\033[0m\n\033[37mb\033[0m\n"
    both = pm("logs", "--color", "--names", "one", "two").stdout.splitlines()
    assert sorted(both) == ["\033[31mtwo c\033[0m", "\033[37mone a\033[0m",
                            "\033[37mone b\033[0m"]
    plain = pm("logs", "-n", "one", "two").stdout.splitlines()
    assert sorted(plain) == ["one a", "one b", "two c"]


def test_attach_to_a_stopped_container_waits_for_its_next_run(api_socket: Path) -> None:
    """What compose's `up` does with a service that has exited: attach, then start it
    again; the attach gets that run's output and ends at its exit (Docker's server waits;
    only docker's own client refuses a stopped container)."""
    docker = pytest.importorskip("docker", reason="docker-py is in the test extra")
    client = docker.APIClient(base_url=f"unix://{api_socket}", timeout=60)
    uuid = "cat /proc/sys/kernel/random/uuid"
    cid = client.create_container("alpine", ["sh", "-c", f"echo run-$({uuid})"])["Id"]
    client.start(cid)
    assert client.wait(cid)["StatusCode"] == 0
    first = client.logs(cid)
    stream = client.attach(cid, stream=True, logs=False)
    client.start(cid)
    got = b"".join(stream)  # ends with the run
    assert got.startswith(b"run-") and got != first, (first, got)
    assert client.logs(cid).count(b"run-") == 2
    client.remove_container(cid)
    client.close()


def test_rename(api_socket: Path) -> None:
    docker = pytest.importorskip("docker", reason="docker-py is in the test extra")
    client = docker.APIClient(base_url=f"unix://{api_socket}", timeout=60)
    one = client.create_container("alpine", "true", name="one")["Id"]
    client.create_container("alpine", "true", name="two")
    client.rename(one, "/one-old")  # Docker's names may come with their slash
    assert client.inspect_container(one)["Name"] == "/one-old"
    with pytest.raises(docker.errors.APIError) as taken:
        client.rename(one, "two")
    assert taken.value.status_code == 409
    with pytest.raises(docker.errors.APIError) as bad:
        client.rename(one, "no such name!")
    assert bad.value.status_code == 400
    with pytest.raises(docker.errors.NotFound):
        client.rename("nosuch", "x")
    client.close()


FOLLOW_FILE = """\
version: "3"
services:
  quiet:
    image: alpine
    command: ["sh", "-c", "echo quiet-up; exec sleep 300"]
  polite:
    image: alpine
    command: ["sh", "-c", "trap 'echo polite-bye; exit 0' TERM; echo polite-up; while :; do sleep 0.2; done"]
"""


def test_compose_logs_follow_ends_with_down(fresh_env: dict[str, str], api_socket: Path,
                                            tmp_path: Path) -> None:
    """`docker-compose logs -f` ends once `down` has stopped and removed the containers
    (their follow streams end as Docker's do: at the stop, or at the removal)."""
    if not Path(DOCKER_COMPOSE).exists():
        pytest.fail(f"{DOCKER_COMPOSE} is missing: sudo bash scripts/setup-host.sh installs "
                    "docker-compose", pytrace=False)
    proj = tmp_path / "follow"
    proj.mkdir()
    (proj / "docker-compose.yml").write_text(FOLLOW_FILE)
    env = {**fresh_env, "DOCKER_HOST": f"unix://{api_socket}",
           "DOCKER_CONFIG": str(tmp_path / "docker-config")}

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([DOCKER_COMPOSE, "-p", "lftest", *args], cwd=proj, env=env,
                              capture_output=True, text=True, timeout=180,
                              stdin=subprocess.DEVNULL)

    up = compose("up", "-d")
    assert up.returncode == 0, up.stderr
    out = tmp_path / "follow.out"
    try:
        assert wait_for(lambda: all(w in compose("logs").stdout
                                    for w in ("quiet-up", "polite-up")), 60)
        with out.open("w") as sink:
            follow = subprocess.Popen([DOCKER_COMPOSE, "-p", "lftest", "logs", "-f",
                                       "--no-color"], cwd=proj, env=env, stdout=sink,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            assert wait_for(lambda: "polite-up" in out.read_text(), 30), out.read_text()
            assert follow.poll() is None, out.read_text()  # following the running two
            down = compose("down", "-t", "1")
            assert down.returncode == 0, down.stderr
            assert follow.wait(30) == 0, out.read_text()
        finally:
            if follow.poll() is None:
                follow.kill()
                follow.wait()
        text = out.read_text()
        assert "quiet-up" in text and "polite-bye" in text, text
    finally:
        compose("down", "-t", "0")
