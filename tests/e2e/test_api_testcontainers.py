"""testcontainers-python, unmodified, against pyman's API socket, as a test suite's fixture
uses it: a container with a published port, a log line waited for, a request over
127.0.0.1, the teardown. Ryuk (its reaper) is disabled: it is an image from Docker Hub,
which the test machines cannot reach; the library's own teardown removes the container."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import test_api_service as api

pytest.importorskip("testcontainers", reason="testcontainers is in the test extra")
service = api.service  # the fixture

FIXTURE = r'''
import sys, time, urllib.request
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

server = (DockerContainer("alpine")
          .with_exposed_ports(8080)
          .with_env("GREETING", "hello from a testcontainer")
          .with_command(["sh", "-c", "mkdir -p /www && echo $GREETING > /www/index.html && "
                         "httpd -f -p 8080 -h /www & echo server-ready; wait"])
          .waiting_for(LogMessageWaitStrategy("server-ready")))
with server:
    host, port = server.get_container_host_ip(), int(server.get_exposed_port(8080))
    print("id", server.get_wrapped_container().id)
    deadline = time.monotonic() + 30
    while True:  # the log line comes as httpd starts: it may take a moment to listen
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
            break
        except OSError:
            assert time.monotonic() < deadline, "no answer on the published port"
            time.sleep(0.2)
    print("host", host)
    print("body", body.decode().strip())
print("torn down")
'''


def test_testcontainers_fixture(service, fresh_env: dict[str, str], pyman_bin: Path) -> None:  # type: ignore[no-untyped-def]
    env = {**fresh_env, "DOCKER_HOST": f"unix://{service[0]}",
           "TESTCONTAINERS_RYUK_DISABLED": "true",
           # these test machines are containers themselves (/.dockerenv), where the library
           # would look for a Docker bridge's gateway; on a plain host this is its default
           "TESTCONTAINERS_CONNECTION_MODE": "docker_host"}
    done = subprocess.run([sys.executable, "-c", FIXTURE],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert lines["body"] == "hello from a testcontainer"
    assert lines["host"] in ("localhost", "127.0.0.1")
    assert done.stdout.splitlines()[-1] == "torn down"
    ps = subprocess.run([str(pyman_bin), "ps", "-a", "-q", "--no-trunc"], env=fresh_env,
                        capture_output=True, text=True, timeout=60)
    assert ps.returncode == 0 and lines["id"] not in ps.stdout and not ps.stdout.strip()
