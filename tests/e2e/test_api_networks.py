"""The API service's networks, volumes and events, driven by docker-py as compose drives
them: a network with a container answering to an alias, another container reaching it by
that name, named and anonymous volumes, and the events of what was done, filtered and
streamed. The service runs as the unprivileged test user on a socket of the test's own."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

docker = pytest.importorskip("docker", reason="docker-py is in the test extra")

SERVE = "echo hi-from-web > /index.html && exec httpd -f -p 80 -h /"
# the test image's busybox wget crashes (static glibc without NSS files): nc speaks HTTP
GET = 'printf "GET /index.html HTTP/1.0\\r\\n\\r\\n" | nc -w 2 {host} 80'


@pytest.fixture
def client(pyman_bin: Path, fresh_env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    sock = tmp_path / "api.sock"
    proc = subprocess.Popen([str(pyman_bin), "system", "service", "--time", "0",
                             f"unix://{sock}"], env=fresh_env, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 20
    while not sock.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the service did not listen in 20 s"
        time.sleep(0.05)
    c = docker.DockerClient(base_url=f"unix://{sock}", timeout=60)
    yield c
    for ctr in c.containers.list(all=True):
        ctr.remove(force=True)
    c.close()
    proc.terminate()
    proc.wait(10)


def get_by_name(client: Any, network: str, host: str) -> bytes:
    out: bytes = client.containers.run("alpine", ["sh", "-c", GET.format(host=host)],
                                       network=network, remove=True)
    return out


def test_networks(client: Any) -> None:
    net = client.networks.create("apinet", labels={"suite": "api"})
    with pytest.raises(docker.errors.APIError) as dup:
        client.networks.create("apinet")
    assert dup.value.status_code == 409
    assert [n.name for n in client.networks.list(filters={"label": "suite=api"})] == ["apinet"]
    assert "bridge" in [n.name for n in client.networks.list()]  # Podman's default network
    assert net.attrs["IPAM"]["Config"][0]["Subnet"].startswith("10.")
    assert net.attrs["Labels"] == {"suite": "api"}
    # as compose creates a service: the network named in HostConfig, the service's name as
    # an alias in NetworkingConfig
    api = client.api
    web = api.create_container(
        "busybox", ["sh", "-c", SERVE], name="api-web",
        host_config=api.create_host_config(network_mode="apinet"),
        networking_config=api.create_networking_config(
            {"apinet": api.create_endpoint_config(aliases=["www"])}))["Id"]
    api.start(web)
    # docker-py 7.1+'s containers.run(network=...) sends NetworkingConfig {"<net>": null}
    quirk = api.create_container("alpine", "true", networking_config={"apinet": None},
                                 host_config=api.create_host_config(network_mode="apinet"))
    api.remove_container(quirk["Id"])
    deadline = time.monotonic() + 20
    while b"hi-from-web" not in get_by_name(client, "apinet", "www"):
        assert time.monotonic() < deadline, "www did not answer by its alias in 20 s"
        time.sleep(0.3)
    assert b"hi-from-web" in get_by_name(client, "apinet", "api-web")  # and by its name
    net.reload()
    assert net.attrs["Containers"][web]["Name"] == "api-web"
    assert net.attrs["Containers"][web]["IPv4Address"].startswith("10.")
    with pytest.raises(docker.errors.APIError) as busy:
        net.remove()
    assert busy.value.status_code == 403 and "active endpoints" in str(busy.value)
    # connected to a second network while it runs, with an alias there
    other = client.networks.create("apinet2")
    other.connect(web, aliases=["elsewhere"])
    assert b"hi-from-web" in get_by_name(client, "apinet2", "elsewhere")
    assert set(api.inspect_container(web)["NetworkSettings"]["Networks"]) == {
        "apinet", "apinet2"}
    other.disconnect(web)
    assert set(api.inspect_container(web)["NetworkSettings"]["Networks"]) == {"apinet"}
    with pytest.raises(docker.errors.APIError) as again:
        other.disconnect(web)
    assert again.value.status_code == 403
    api.remove_container(web, force=True)
    assert client.networks.prune(filters={"label": "suite=api"})["NetworksDeleted"] == [
        "apinet"]
    other.remove()
    with pytest.raises(docker.errors.NotFound):
        client.networks.get("apinet2")
    with pytest.raises(docker.errors.APIError) as builtin:
        client.networks.get("bridge").remove()
    assert builtin.value.status_code == 403


def test_volumes(client: Any) -> None:
    vol = client.volumes.create("apivol", labels={"suite": "api"})
    assert vol.attrs["Mountpoint"].endswith("/apivol/_data")
    assert client.volumes.create("apivol").attrs["Labels"] == {"suite": "api"}  # idempotent
    assert [v.name for v in client.volumes.list(filters={"label": "suite=api"})] == ["apivol"]
    # written through a Binds entry, read through a Mounts one
    client.containers.run("alpine", ["sh", "-c", "echo kept > /data/f"], remove=True,
                          volumes={"apivol": {"bind": "/data", "mode": "rw"}})
    out = client.containers.run("alpine", ["cat", "/data/f"], remove=True, mounts=[
        docker.types.Mount("/data", "apivol", type="volume", read_only=True)])
    assert out == b"kept\n"
    # Config.Volumes: an anonymous volume where no bind is
    anon = client.api.create_container("alpine", "true", volumes=["/anon", "/data"],
                                       host_config=client.api.create_host_config(
                                           binds=["apivol:/data"]))["Id"]
    mounts = {m["Destination"]: m for m in client.api.inspect_container(anon)["Mounts"]}
    assert mounts["/data"]["Name"] == "apivol"
    assert mounts["/anon"]["Type"] == "volume" and mounts["/anon"]["Name"] != "apivol"
    with pytest.raises(docker.errors.APIError) as busy:
        vol.remove()
    assert busy.value.status_code == 409
    client.api.remove_container(anon, v=True)
    vol.remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("apivol")
    client.volumes.create("unused")
    assert client.volumes.prune()["VolumesDeleted"] == ["unused"]


def test_events_filtered_and_streamed(client: Any) -> None:
    since = time.time()
    ctr = client.containers.run("alpine", ["sh", "-c", "exit 3"], detach=True,
                                labels={"suite": "events"})
    assert ctr.wait()["StatusCode"] == 3
    ctr.remove()
    until = int(time.time()) + 1
    seen = list(client.events(since=since, until=until, decode=True,
                              filters={"label": "suite=events"}))
    actions = [e["Action"] for e in seen]
    for a, b in (("create", "start"), ("start", "die"), ("die", "remove")):
        assert actions.index(a) < actions.index(b), actions
    die = next(e for e in seen if e["Action"] == "die")
    assert die["Type"] == "container" and die["id"] == ctr.id
    assert die["Actor"]["Attributes"]["exitCode"] == "3"
    assert die["Actor"]["Attributes"]["suite"] == "events"
    assert isinstance(die["timeNano"], int) and die["time"] == die["timeNano"] // 10**9
    only = list(client.events(since=since, until=until, decode=True,
                              filters={"event": "die", "container": ctr.name}))
    assert [e["Action"] for e in only] == ["die"]
    # streamed: an event comes while the client waits
    stream = client.events(decode=True, filters={"label": "suite=stream"})
    got: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: got.append(next(stream)), daemon=True)
    reader.start()
    time.sleep(0.5)
    made = client.api.create_container("alpine", "true", labels={"suite": "stream"})["Id"]
    reader.join(20)
    stream.close()
    assert got and got[0]["Action"] == "create" and got[0]["id"] == made
    # (docker-py's event stream ends quietly on an error: asked without it)
    bad = client.api._get(client.api._url("/events"), params={"filters": '{"swarm": ["x"]}'})
    assert bad.status_code == 400 and "swarm" in bad.json()["message"]


def test_info_names_the_service_socket(pyman_bin: Path, fresh_env: dict[str, str]) -> None:
    """As Podman's remoteSocket: where `system service` listens without an address (what
    DOCKER_HOST names), and whether a service listens there now."""
    def info() -> list[str]:
        out = subprocess.run([str(pyman_bin), "info", "--format",
                              "{{.Host.RemoteSocket.Path}} {{.Host.RemoteSocket.Exists}}"],
                             env=fresh_env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    path, exists = info()
    assert path == f"/tmp/pyman-run-{os.getuid()}/pyman/pyman.sock"  # XDG_RUNTIME_DIR unset
    assert exists == "false"
    proc = subprocess.Popen([str(pyman_bin), "system", "service", "--time", "0"],
                            env=fresh_env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not Path(path).exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        assert info() == [path, "true"]
        c = docker.DockerClient(base_url=f"unix://{path}")
        assert c.ping()
        c.close()
    finally:
        proc.terminate()
        proc.wait(10)
    assert info() == [path, "false"]
