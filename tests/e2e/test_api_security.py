"""The API service under hostile and heavy use: unknown fields and bad bodies get 4xx with a
message and the service serves on; TCP is loopback only, with a warning, and reachable by
other local users (hence the warning) while the unix socket is not; 50 clients creating,
starting and removing containers at once leave a store `pyman ps` agrees with."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import test_api_service as api

docker = pytest.importorskip("docker", reason="docker-py is in the test extra")
service, client, raw = api.service, api.client, api.raw  # fixtures


def test_unknown_fields_and_bad_bodies(service, client) -> None:  # type: ignore[no-untyped-def]
    sock = service[0]
    for body, named in ((b'{"Image": "alpine", "Imgae": "x"}', b"Imgae"),
                        (b'{"Image": "alpine", "HostConfig": {"Privilegd": true}}',
                         b"HostConfig.Privilegd")):
        status, payload = raw(f"{sock}|/v1.41/containers/create", "POST", body)
        assert status == 400 and named in json.loads(payload)["message"].encode(), payload
    # Docker's own fields pyman has no use for are fine, in Go's any-case spelling too
    status, payload = raw(f"{sock}|/v1.41/containers/create", "POST", json.dumps({
        "Image": "alpine", "Cmd": ["true"], "StdinOnce": False, "Volumes": {},
        "hostconfig": {"OomKillDisable": False, "ShmSize": 0}}).encode())
    assert status == 201, payload
    ctr = client.containers.run("alpine", ["sleep", "300"], detach=True)
    status, payload = raw(f"{sock}|/v1.41/containers/{ctr.id}/exec", "POST",
                          b'{"Cmd": ["true"], "Detatch": true}')
    assert status == 400 and b"Detatch" in payload
    for body in (b"[1, 2]", b'"text"', b"null", b"{" * 100000, b"\xff\xfe"):
        status, payload = raw(f"{sock}|/v1.41/containers/create", "POST", body)
        assert status == 400 and json.loads(payload)["message"], (body[:10], payload)
    status, _ = raw(f"{sock}|/v1.41/containers/{ctr.id}/exec", "POST", b"x" * (5 << 20))
    assert status == 413
    assert raw(f"{sock}|/_ping") == (200, b"OK")
    assert service[1].poll() is None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tcp_is_loopback_only_and_says_so(pyman_bin: Path, fresh_env: dict[str, str],  # type: ignore[no-untyped-def]
                                          neighbour) -> None:
    port = free_port()
    proc = subprocess.Popen([str(pyman_bin), "system", "service", "--time", "0",
                             f"tcp://127.0.0.1:{port}"], env=fresh_env,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        warning = proc.stderr.readline()
        assert "unauthenticated" in warning, warning
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        listening = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
        mine = [f[1] for f in listening if f[3] == "0A" and int(f[1].split(":")[1], 16) == port]
        assert mine == [f"0100007F:{port:04X}"], mine  # 127.0.0.1 only, nothing else
        # what the warning is about: another local user reaches it
        probe = ("import sys,urllib.request;print(urllib.request.urlopen("
                 "f'http://127.0.0.1:{sys.argv[1]}/_ping', timeout=10).read().decode())")
        other = neighbour("/usr/bin/python3", "-c", probe, str(port))
        assert other.stdout.strip() == "OK", other.stderr
    finally:
        proc.terminate()
        proc.wait(10)


def test_fifty_clients_at_once(service, pyman_bin: Path, fresh_env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    sock = f"unix://{service[0]}"
    docker.DockerClient(base_url=sock).images.pull("alpine")
    errors: list[str] = []
    made: dict[int, str] = {}

    def one(i: int) -> None:
        c = docker.DockerClient(base_url=sock, timeout=300)
        try:
            ctr = c.containers.create("alpine", ["sleep", "120"], name=f"crowd{i}",
                                      network_mode="none", labels={"crowd": "1"})
            made[i] = ctr.id
            ctr.start()
            if i % 2:  # half go again at once: create, start, remove under load
                ctr.remove(force=True)
        except Exception as exc:  # noqa: BLE001 - every client's failure is reported
            errors.append(f"{i}: {exc}")
        finally:
            c.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not errors, errors

    def pyman_ps() -> dict[str, str]:
        done = subprocess.run([str(pyman_bin), "ps", "-a", "--format", "json"], env=fresh_env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and not done.stderr, done.stderr
        return {c["Names"][0]: c["State"] for c in json.loads(done.stdout)}

    left = pyman_ps()
    assert left == {f"crowd{i}": "running" for i in range(0, 50, 2)}
    via_api = docker.DockerClient(base_url=sock).containers.list(all=True,
                                                                 filters={"label": "crowd"})
    assert {c.name: c.status for c in via_api} == left
    # and all of them away, at once
    threads = [threading.Thread(target=lambda i=i: docker.DockerClient(base_url=sock).api
                                .remove_container(made[i], force=True))
               for i in range(0, 50, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert pyman_ps() == {}
    store = Path(fresh_env["XDG_DATA_HOME"]) / "pyman" / "containers"
    half_made = [p.name for p in store.iterdir() if p.is_dir()] if store.exists() else []
    assert not half_made, half_made
    assert raw(f"{service[0]}|/_ping") == (200, b"OK")
