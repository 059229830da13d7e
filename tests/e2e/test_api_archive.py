"""The API service's archive (docker cp both ways), top, stats and restart policies, through
Debian's docker CLI and docker-py as the unprivileged test user; hostile archive paths and
members get 4xx and the service keeps serving."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import tarfile
import time
import urllib.parse
from pathlib import Path

import pytest
import test_api_service as api

docker = pytest.importorskip("docker", reason="docker-py is in the test extra")
service, client, raw, DOCKER_CLI = api.service, api.client, api.raw, api.DOCKER_CLI  # fixtures


def docker_cli(sock: str, tmp_path: Path, env: dict[str, str], *args: str,
               input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    if not Path(DOCKER_CLI).exists():
        pytest.fail(f"{DOCKER_CLI} is missing: sudo bash scripts/setup-host.sh installs "
                    "docker.io", pytrace=False)
    return subprocess.run([DOCKER_CLI, *args], env={
        **env, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(tmp_path / "dcfg")},
        capture_output=True, timeout=120, input=input,
        stdin=None if input is not None else subprocess.DEVNULL)


def put(sock: str, ctr: str, path: str, data: bytes) -> tuple[int, bytes]:
    return raw(f"{sock}|/v1.41/containers/{ctr}/archive?path="
               f"{urllib.parse.quote(path, safe='')}", "PUT", data)


def tar_of(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def test_docker_cp_both_ways(service, fresh_env: dict[str, str], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sock = service[0]

    def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
        return docker_cli(sock, tmp_path, fresh_env, *args)

    assert cli("run", "-d", "--name", "cp-ctr", "alpine", "sleep", "300").returncode == 0
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f.txt").write_text("into the container\n")
    (src / "top.txt").write_text("top\n")
    done = cli("cp", str(src), "cp-ctr:/tmp/tree")
    assert done.returncode == 0, done.stderr
    assert cli("exec", "cp-ctr", "cat", "/tmp/tree/sub/f.txt").stdout == b"into the container\n"
    done = cli("cp", str(src / "top.txt"), "cp-ctr:/tmp/renamed.txt")
    assert done.returncode == 0, done.stderr
    assert cli("exec", "cp-ctr", "cat", "/tmp/renamed.txt").stdout == b"top\n"
    back = tmp_path / "back"
    done = cli("cp", "cp-ctr:/tmp/tree", str(back))
    assert done.returncode == 0, done.stderr
    assert (back / "sub" / "f.txt").read_text() == "into the container\n"
    done = cli("cp", "cp-ctr:/etc/os-release", str(tmp_path / "osr"))
    assert done.returncode == 0 and b"ID=" in (tmp_path / "osr").read_bytes(), done.stderr
    # tar on stdout and stdin, as `docker cp CTR:PATH -`
    out = cli("cp", "cp-ctr:/tmp/renamed.txt", "-")
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tf:
        assert tf.getnames() == ["renamed.txt"]
    archive = tar_of((member("from-stdin.txt"), b"stdin\n"))
    done = docker_cli(sock, tmp_path, fresh_env, "cp", "-", "cp-ctr:/tmp", input=archive)
    assert done.returncode == 0, done.stderr
    assert cli("exec", "cp-ctr", "cat", "/tmp/from-stdin.txt").stdout == b"stdin\n"
    # symlinks as Docker has them: the link itself, its target with -L, "link/" and "dir/."
    assert cli("exec", "cp-ctr", "sh", "-c", "ln -s /tmp/tree /tmp/tl; "
               "ln -s /tmp/top.txt /tmp/fl; cp /tmp/renamed.txt /tmp/top.txt").returncode == 0
    assert cli("cp", "cp-ctr:/tmp/fl", str(tmp_path / "link")).returncode == 0
    assert (tmp_path / "link").is_symlink() and os.readlink(tmp_path / "link") == "/tmp/top.txt"
    assert cli("cp", "-L", "cp-ctr:/tmp/fl", str(tmp_path / "followed")).returncode == 0
    assert (tmp_path / "followed").read_text() == "top\n"
    assert cli("cp", "cp-ctr:/tmp/tl/", str(tmp_path / "via-link")).returncode == 0
    assert (tmp_path / "via-link" / "sub" / "f.txt").read_text() == "into the container\n"
    assert cli("cp", "cp-ctr:/tmp/tree/.", str(tmp_path / "content")).returncode == 0
    assert sorted(p.name for p in (tmp_path / "content").iterdir()) == ["sub", "top.txt"]
    missing = cli("cp", "cp-ctr:/no/such", str(tmp_path / "x"))
    assert missing.returncode != 0 and b"No such container:path" in missing.stderr
    # a stopped container is copied into and out of too (its filesystem, mounted for it)
    assert cli("stop", "-t", "0", "cp-ctr").returncode == 0
    done = cli("cp", str(src / "top.txt"), "cp-ctr:/stopped.txt")
    assert done.returncode == 0, done.stderr
    done = cli("cp", "cp-ctr:/stopped.txt", str(tmp_path / "stopped.txt"))
    assert done.returncode == 0 and (tmp_path / "stopped.txt").read_text() == "top\n"


def test_archive_head_and_hostile_paths(client, service) -> None:  # type: ignore[no-untyped-def]
    sock = service[0]
    ctr = client.containers.run("alpine", ["sh", "-c", "mkdir /d; echo inside > /etc/motd; "
                                           "ln -s ../../../../../../etc/motd /d/up; "
                                           "sleep 300"], detach=True)
    deadline = time.monotonic() + 20
    while ctr.exec_run(["test", "-L", "/d/up"]).exit_code != 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # docker-py's stat: Docker's PathStat in the header
    found = ctr.get_archive("/d")[1]
    assert found["name"] == "d" and found["mode"] & (1 << 31)  # Go's ModeDir
    # a symlink pointing above the root resolves inside the container, never on the host
    chunks, found = ctr.get_archive("/d/up")
    assert found["linkTarget"] == "/etc/motd" and found["name"] == "motd"
    assert found["mode"] & (1 << 27)  # Go's ModeSymlink: the link's own mode, as Podman
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tf:
        link = tf.getmember("up")  # the link itself, as Docker's archive has it
        assert link.issym() and link.linkname == "../../../../../../etc/motd"
    chunks, _ = ctr.get_archive(found["linkTarget"])  # what docker cp -L asks next
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tf:
        f = tf.extractfile("motd")
        assert f is not None and f.read() == b"inside\n"  # the container's, not the host's
    with pytest.raises(docker.errors.NotFound):
        ctr.get_archive("/no/such")
    # paths climbing out of the root: 400 with a message
    for path in ("../etc/passwd", "/../../etc/shadow", "/d/../../x"):
        status, payload = raw(f"{sock}|/v1.41/containers/{ctr.id}/archive?path="
                              f"{urllib.parse.quote(path, safe='')}")
        assert status == 400 and b"climbs out" in payload, (path, payload)
        status, _ = put(sock, ctr.id, path, tar_of((member("x"), b"x")))
        assert status == 400
    # members escaping the destination, straight or through a symlink they make
    for bad in (tar_of((member("../../../../tmp/escaped"), b"x")),
                tar_of((member("lnk", tarfile.SYMTYPE, "/"), b""),
                       (member("lnk/tmp/escaped"), b"x")),
                tar_of((member("up2", tarfile.SYMTYPE, "../../.."), b""),
                       (member("up2/escaped"), b"x"))):
        status, payload = put(sock, ctr.id, "/d", bad)
        assert status == 400 and b"refusing archive member" in payload, payload
    status, payload = put(sock, ctr.id, "/d", b"not a tar at all")
    assert status == 400 and b"tar archive" in payload
    status, payload = put(sock, ctr.id, "/etc/motd", tar_of((member("x"), b"x")))
    assert status == 400 and b"must be a directory" in payload
    status, _ = put(sock, ctr.id, "/no/such", tar_of((member("x"), b"x")))
    assert status == 404
    # what came before the refused member stays (as Podman's copier), nothing escaped
    assert ctr.exec_run(["find", "/", "-xdev", "-name", "escaped"]).output == b""
    assert not Path("/tmp/escaped").exists()
    # a good one still lands, and the service answers on
    assert ctr.put_archive("/d", tar_of((member("ok.txt"), b"fine\n")))
    assert ctr.exec_run(["cat", "/d/ok.txt"]).output == b"fine\n"
    status, head = raw(f"{sock}|/v1.41/containers/{ctr.id}/archive?path=/d/ok.txt", "HEAD")
    assert status == 200
    assert raw(f"{sock}|/_ping") == (200, b"OK")


def live_children(pid: int) -> list[str]:
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "stat=,args="], capture_output=True,
                         text=True, timeout=30).stdout.splitlines()
    # forked helpers carry the service's command line (the monitors it started do not)
    return [line for line in out if not line.strip().startswith("Z")
            and "system service" in line]


def test_a_client_that_stops_reading(client, service) -> None:  # type: ignore[no-untyped-def]
    """The copy's child gets EPIPE and ends: none is left writing to nobody."""
    import socket as sk

    ctr = client.containers.run("alpine", ["sh", "-c", "head -c 8000000 /dev/urandom > /big; "
                                           "sleep 300"], detach=True)
    deadline = time.monotonic() + 30
    while ctr.exec_run(["sh", "-c", "test $(wc -c < /big) = 8000000"]).exit_code != 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    for _ in range(3):
        with sk.socket(sk.AF_UNIX) as s:
            s.connect(service[0])
            s.sendall(f"GET /v1.41/containers/{ctr.id}/archive?path=/big HTTP/1.1\r\n"
                      "Host: x\r\n\r\n".encode())
            assert b"200 OK" in s.recv(65536)
    deadline = time.monotonic() + 30
    while live_children(service[1].pid):
        assert time.monotonic() < deadline, live_children(service[1].pid)
        time.sleep(0.2)
    assert ctr.get_archive("/big")[1]["size"] == 8000000  # and it serves on


def test_docker_cp_of_the_container_root(service, fresh_env: dict[str, str],  # type: ignore[no-untyped-def]
                                         tmp_path: Path) -> None:
    """`docker cp CTR:/ dest`: the root's entry is writable by its owner (Docker's overlay2
    root is 0755), else the client, not root, cannot fill the directory it made for it."""
    sock = service[0]

    def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
        return docker_cli(sock, tmp_path, fresh_env, *args)

    assert cli("run", "-d", "--name", "cp-root", "alpine", "sleep", "300").returncode == 0
    # a root as busybox's image has it
    assert cli("exec", "cp-root", "sh", "-c", "echo mark > /mark; chmod 555 /").returncode == 0
    assert cli("exec", "cp-root", "stat", "-c", "%a", "/").stdout == b"555\n"
    done = cli("cp", "cp-root:/", str(tmp_path / "root"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "root" / "mark").read_text() == "mark\n"
    assert (tmp_path / "root" / "etc" / "os-release").exists()
    assert (tmp_path / "root").stat().st_mode & 0o777 == 0o755
    into = tmp_path / "into"
    into.mkdir()
    done = cli("cp", "cp-root:/", str(into))  # an existing directory: the root's content
    assert done.returncode == 0, done.stderr
    assert (into / "mark").read_text() == "mark\n"
    out = cli("cp", "cp-root:/", "-")
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tf:
        top = tf.getmembers()[0]
    assert top.isdir() and top.mode == 0o755, (top.name, oct(top.mode))


def test_archive_stat_header(client, service) -> None:  # type: ignore[no-untyped-def]
    ctr = client.containers.run("alpine", ["sleep", "300"], detach=True)
    resp = client.api.head(client.api._url("/containers/{0}/archive", ctr.id),
                            params={"path": "/etc/hostname"})
    assert resp.status_code == 200
    found = json.loads(base64.urlsafe_b64decode(resp.headers["X-Docker-Container-Path-Stat"]))
    assert set(found) >= {"name", "size", "mode", "mtime", "linkTarget"}
    assert found["name"] == "hostname" and found["size"] > 0 and not found["mode"] & (1 << 31)


def test_top_stats_and_restart_policy(client, service, fresh_env: dict[str, str],  # type: ignore[no-untyped-def]
                                      tmp_path: Path) -> None:
    ctr = client.containers.run("alpine", ["sh", "-c", "sleep 301 & sleep 302"], detach=True,
                                name="busy")
    deadline = time.monotonic() + 20
    while True:  # until sh's child has exec'd its sleep (before that it shows as sh)
        procs = ctr.top()
        assert "PID" in procs["Titles"] and "COMMAND" in procs["Titles"]
        commands = {p[procs["Titles"].index("COMMAND")].strip() for p in procs["Processes"]}
        if {"sleep 301", "sleep 302"} <= commands:
            break
        assert time.monotonic() < deadline, procs
        time.sleep(0.2)
    ps = ctr.top(ps_args="-o pid,args")
    assert ps["Titles"] == ["PID", "COMMAND"]
    stats = ctr.stats(stream=False)
    assert stats["pids_stats"]["current"] >= 2
    assert stats["memory_stats"]["usage"] > 0 and stats["memory_stats"]["limit"] > 0
    assert stats["cpu_stats"]["system_cpu_usage"] > stats["precpu_stats"].get(
        "system_cpu_usage", 0)
    one = ctr.stats(stream=False, one_shot=True)
    assert one["id"] == ctr.id and one["name"] == "/busy"
    table = docker_cli(service[0], tmp_path, fresh_env, "stats", "--no-stream", "busy")
    assert table.returncode == 0 and b"busy" in table.stdout, table.stderr
    ctr.stop(timeout=0)
    with pytest.raises(docker.errors.APIError) as stopped:
        ctr.stats(stream=False)
    assert stopped.value.status_code == 409
    with pytest.raises(docker.errors.APIError):
        ctr.top()
    # restart policies as HostConfig sends them: the engine restarts, inspect says so
    flaky = client.containers.run(
        "alpine", ["sh", "-c", "echo try; exit 1"], detach=True,
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
    deadline = time.monotonic() + 30
    while True:
        flaky.reload()
        if flaky.attrs["RestartCount"] == 2 and flaky.status == "exited" and \
                flaky.logs() == b"try\n" * 3:
            break
        assert time.monotonic() < deadline, flaky.attrs["State"]
        time.sleep(0.2)
    assert flaky.attrs["HostConfig"]["RestartPolicy"] == {"Name": "on-failure",
                                                         "MaximumRetryCount": 2}
    time.sleep(1)
    flaky.reload()  # no fourth run
    assert flaky.attrs["RestartCount"] == 2 and flaky.logs() == b"try\n" * 3
    always = client.containers.run("alpine", ["sleep", "300"], detach=True,
                                   restart_policy={"Name": "unless-stopped"})
    always.reload()
    assert always.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    with pytest.raises(docker.errors.APIError) as bad:
        client.api.create_container("alpine", host_config={"RestartPolicy": {"Name": "often"}})
    assert bad.value.status_code == 400
