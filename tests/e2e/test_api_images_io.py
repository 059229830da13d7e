"""Images in and out through the API service: build from a tar context (pyman's own build
engine), save (`docker save`, streamed), load (streamed in), push to the loopback registry;
with docker-py and Debian's docker CLI. A big image goes through save and load while the
service's peak memory stays far below its size."""

from __future__ import annotations

import io
import json
import secrets
import subprocess
import tarfile
import urllib.request
from pathlib import Path

import pytest
import test_api_service as api

docker = pytest.importorskip("docker", reason="docker-py is in the test extra")
service, client, raw, DOCKER_CLI = api.service, api.client, api.raw, api.DOCKER_CLI  # fixtures


def context_tar(files: dict[str, str], gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_build_save_load_with_docker_py(client, service) -> None:  # type: ignore[no-untyped-def]
    dockerfile = ("FROM alpine\nARG WHO=nobody\nRUN echo building for $WHO && "
                  "echo $WHO > /who\nCOPY msg.txt /msg.txt\nLABEL made=api\n"
                  "CMD cat /who /msg.txt\n")
    ctx = context_tar({"Dockerfile": dockerfile, "msg.txt": "from the context\n"}, gz=True)
    image, logs = client.images.build(fileobj=io.BytesIO(ctx), custom_context=True,
                                      encoding="gzip", tag="localhost/api-built:1",
                                      buildargs={"WHO": "docker-py"})
    text = "".join(chunk.get("stream", "") for chunk in logs)
    assert "building for docker-py" in text, text  # RUN's output reaches the client
    assert image.labels["made"] == "api" and "localhost/api-built:1" in image.tags
    assert client.containers.run(image.id, remove=True) == b"docker-py\nfrom the context\n"
    # a failing step: the build's error, and no image
    bad = context_tar({"Dockerfile": "FROM alpine\nRUN exit 3\n"})
    with pytest.raises(docker.errors.BuildError) as failed:
        client.images.build(fileobj=io.BytesIO(bad), custom_context=True,
                            tag="localhost/api-bad:1")
    assert "exit status 3" in str(failed.value)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("localhost/api-bad:1")
    # a context whose members lead out of it is refused
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tf:
        info = tarfile.TarInfo("../../escaped-context")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    status, payload = raw(f"{service[0]}|/v1.41/build?t=localhost/evil:1", "POST",
                          evil.getvalue())
    assert status == 400 and b"refusing archive member" in payload
    # save and load it back
    saved = b"".join(image.save(named=True))
    with tarfile.open(fileobj=io.BytesIO(saved)) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == ["localhost/api-built:1"]
    client.images.remove("localhost/api-built:1")
    loaded = client.images.load(saved)
    assert [i.id for i in loaded] == [image.id]
    status, payload = raw(f"{service[0]}|/v1.41/images/load", "POST", b"not an archive")
    assert status == 400 and json.loads(payload)["message"]
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("localhost/never-was:1").save()
    with pytest.raises(docker.errors.NotFound):
        b"".join(client.api.get_image("localhost/never-was:1"))


def test_push_to_the_loopback_registry(client, registry: str) -> None:  # type: ignore[no-untyped-def]
    image = client.images.pull("alpine")
    repo = f"{registry}/api-pushed/t{secrets.token_hex(4)}"
    assert image.tag(repo, "v1")
    lines = list(client.images.push(repo, tag="v1", stream=True, decode=True))
    assert not [d for d in lines if "error" in d], lines
    digest = next(d["aux"]["Digest"] for d in lines if "aux" in d)
    req = urllib.request.Request(f"http://{registry}/v2/{repo.split('/', 1)[1]}/manifests/v1",
                                 method="HEAD", headers={"Accept": ", ".join((
                                     "application/vnd.oci.image.manifest.v1+json",
                                     "application/vnd.docker.distribution.manifest.v2+json"))})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.headers["Docker-Content-Digest"] == digest
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.push(f"{registry}/api-pushed/never-tagged", tag="v1")


def test_docker_cli_build_save_load_push(service, fresh_env: dict[str, str], tmp_path: Path,  # type: ignore[no-untyped-def]
                                         registry: str) -> None:
    env = {**fresh_env, "DOCKER_HOST": f"unix://{service[0]}", "DOCKER_BUILDKIT": "0",
           "DOCKER_CONFIG": str(tmp_path / "dcfg")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([DOCKER_CLI, *args], env=env, capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    # a 40 MiB layer: save and load stream it, the service never holds it whole
    (ctx / "Dockerfile").write_text("FROM alpine\nRUN head -c 41943040 /dev/urandom > /big\n"
                                    "CMD wc -c /big\n")
    built = cli("build", "-t", "localhost/cli-big:1", str(ctx))
    assert built.returncode == 0, built.stderr
    assert "Successfully tagged localhost/cli-big:1" in built.stdout
    base = peak_rss_kib(service[1].pid)
    archive = tmp_path / "big.tar"
    saved = cli("save", "-o", str(archive), "localhost/cli-big:1")
    assert saved.returncode == 0, saved.stderr
    assert archive.stat().st_size > 40 << 20
    assert cli("rmi", "localhost/cli-big:1").returncode == 0
    loaded = cli("load", "-i", str(archive))
    assert loaded.returncode == 0 and "Loaded image: localhost/cli-big:1" in loaded.stdout, \
        loaded.stderr
    grown = peak_rss_kib(service[1].pid) - base
    assert grown < 20 << 10, f"the service's peak memory grew by {grown} KiB"
    ran = cli("run", "--rm", "localhost/cli-big:1")
    assert ran.stdout.split()[0] == "41943040", ran.stderr
    repo = f"{registry}/api-pushed/cli{secrets.token_hex(4)}:v1"
    assert cli("tag", "alpine", repo).returncode == 0
    pushed = cli("push", repo)
    assert pushed.returncode == 0 and "digest: sha256:" in pushed.stdout, pushed.stderr
