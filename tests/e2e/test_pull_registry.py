"""fetch_image against a real registry (Debian's docker-registry) of our own on 127.0.0.1.

Images are built here in Python (a gzip layer and a plain-tar layer, Docker schema2 and OCI
manifests, an OCI index for amd64 + arm64) and pushed with the distribution API, so every
byte and digest is known. The registry serves plain HTTP, which also exercises the
insecure (https first, then http) path.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from pyman.errors import DigestMismatchError, ImageNotFoundError
from pyman.image.manifest import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Platform
from pyman.image.pull import fetch_image
from pyman.image.registries_conf import RegistriesConf, load_registries_conf
from pyman.storage.blobs import BlobStore

pytestmark = pytest.mark.skipif(shutil.which("docker-registry") is None,
                                reason="docker-registry is not installed")

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- the registry ----


@dataclass
class Registry:
    addr: str
    root: Path  # storage rootdirectory

    def request(self, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection(self.addr, timeout=30)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = sha(data)
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert resp.status == 202, resp.status
        location = resp.getheader("Location", "")
        sep = "&" if "?" in location else "?"
        path = location.split(self.addr, 1)[-1] + f"{sep}digest={digest}"
        resp = self.request("PUT", path, data, {"Content-Type": "application/octet-stream"})
        assert resp.status == 201, resp.status
        return digest

    def push_manifest(self, repo: str, ref: str, data: bytes, media_type: str) -> str:
        resp = self.request("PUT", f"/v2/{repo}/manifests/{ref}", data,
                            {"Content-Type": media_type})
        assert resp.status == 201, (resp.status, resp.reason)
        return sha(data)

    def blob_data_file(self, digest: str) -> Path:
        hexpart = digest.split(":", 1)[1]
        return self.root / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"


@pytest.fixture(scope="session")
def pull_registry(tmp_path_factory: pytest.TempPathFactory):
    """Our own registry (the shared one on :5000 is seeded by scripts; this one by us)."""
    base = tmp_path_factory.mktemp("pull-registry")
    port = free_port()
    cfg = base / "config.yml"
    cfg.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {base / 'storage'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(["docker-registry", "serve", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=open(base / "log", "wb"))
    reg = Registry(f"127.0.0.1:{port}", base / "storage")
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if reg.request("GET", "/v2/").status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"docker-registry did not start: {(base / 'log').read_text()}")
            time.sleep(0.05)
        yield reg
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ---- building images ----


def make_layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o755, 1_700_000_000
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class Pushed:
    manifest_digest: str
    config_digest: str
    layer_digests: list[str]
    diff_ids: list[str]


def push_image(reg: Registry, repo: str, tag: str, *, arch: str = "amd64", docker: bool = False,
               salt: str = "") -> Pushed:
    """Two layers (gzip, then plain tar for OCI) and a config; returns the digests."""
    tar1 = make_layer({"etc/hello.txt": f"hello {arch} {salt}\n".encode(), "bin/x": b"#!/bin/sh\n"})
    tar2 = make_layer({"etc/second.txt": f"second {salt}\n".encode()})
    gz1 = gzip.compress(tar1, mtime=0)
    blobs = [(gz1, DOCKER_GZIP if docker else OCI_GZIP)]
    blobs.append((gzip.compress(tar2, mtime=0), DOCKER_GZIP) if docker else (tar2, OCI_TAR))
    diff_ids = [sha(tar1), sha(tar2)]
    config = json.dumps({
        "architecture": arch, "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/x"], "Env": [f"ARCH={arch}"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }).encode()
    config_digest = reg.push_blob(repo, config)
    layers = [{"mediaType": mt, "digest": reg.push_blob(repo, data), "size": len(data)}
              for data, mt in blobs]
    mt = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": mt,
        "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                   "digest": config_digest, "size": len(config)},
        "layers": layers,
    }).encode()
    digest = reg.push_manifest(repo, tag, manifest, mt)
    return Pushed(digest, config_digest, [str(la["digest"]) for la in layers], diff_ids)


def push_index(reg: Registry, repo: str, tag: str) -> dict[str, Pushed]:
    images = {arch: push_image(reg, repo, f"only-{arch}", arch=arch) for arch in ("amd64", "arm64")}
    entries = []
    for arch, img in images.items():
        size = reg.request("HEAD", f"/v2/{repo}/manifests/{img.manifest_digest}",
                           headers={"Accept": OCI_MANIFEST}).getheader("Content-Length")
        plat = {"os": "linux", "architecture": arch} | ({"variant": "v8"} if arch == "arm64" else {})
        entries.append({"mediaType": OCI_MANIFEST, "digest": img.manifest_digest,
                        "size": int(size or 0), "platform": plat})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    reg.push_manifest(repo, tag, index, OCI_INDEX)
    return images


# ---- helpers ----


def conf_for(tmp_path: Path, text: str) -> RegistriesConf:
    """A registries.conf of our own only (no /etc files)."""
    user = tmp_path / "config"
    user.mkdir(exist_ok=True)
    (user / "registries.conf").write_text(text)
    return load_registries_conf(user, system_dir=tmp_path / "no-etc")


def insecure_conf(tmp_path: Path, reg: Registry) -> RegistriesConf:
    return conf_for(tmp_path, f'unqualified-search-registries = ["{reg.addr}"]\n'
                              f'[[registry]]\nlocation = "{reg.addr}"\ninsecure = true\n')


def store_files(store: BlobStore) -> set[str]:
    d = store.root / "sha256"
    return {p.name for p in d.iterdir()} if d.exists() else set()


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


# ---- tests ----


def test_pull_by_tag_oci(pull_registry: Registry, tmp_path: Path, store: BlobStore) -> None:
    pushed = push_image(pull_registry, "e2e/oci", "v1")
    conf = insecure_conf(tmp_path, pull_registry)
    calls: list[tuple[str, int, int]] = []
    got = fetch_image(conf.resolve(f"{pull_registry.addr}/e2e/oci:v1"), conf, store,
                      progress=lambda d, done, total: calls.append((d, done, total)))
    assert str(got.reference) == f"{pull_registry.addr}/e2e/oci:v1"
    assert got.manifest_digest == pushed.manifest_digest
    assert got.manifest_media_type == OCI_MANIFEST
    assert got.config_digest == pushed.config_digest
    assert got.config["config"]["Env"] == ["ARCH=amd64"]
    assert [la.digest for la in got.layers] == pushed.layer_digests
    assert [la.media_type for la in got.layers] == [OCI_GZIP, OCI_TAR]
    assert got.diff_ids == pushed.diff_ids
    for digest in [pushed.manifest_digest, pushed.config_digest, *pushed.layer_digests]:
        assert store.has(digest)
        assert sha(store.read(digest)) == digest
    assert not any(n.startswith(".tmp") for n in store_files(store))
    finals = {d: (done, total) for d, done, total in calls}
    assert {d for d in finals} == set(pushed.layer_digests)
    assert all(done == total for done, total in finals.values())
    # again: everything is present, nothing is downloaded but progress still completes
    calls.clear()
    again = fetch_image(conf.resolve(f"{pull_registry.addr}/e2e/oci:v1"), conf, store,
                        progress=lambda d, done, total: calls.append((d, done, total)))
    assert again.manifest_digest == got.manifest_digest
    assert sorted(c[0] for c in calls) == sorted(pushed.layer_digests)


def test_pull_docker_schema2_by_short_name(pull_registry: Registry, tmp_path: Path,
                                           store: BlobStore) -> None:
    pushed = push_image(pull_registry, "e2e/docker", "latest", docker=True)
    conf = insecure_conf(tmp_path, pull_registry)
    got = fetch_image(conf.resolve("e2e/docker"), conf, store)
    assert str(got.reference) == f"{pull_registry.addr}/e2e/docker:latest"
    assert got.manifest_media_type == DOCKER_MANIFEST
    assert [la.media_type for la in got.layers] == [DOCKER_GZIP, DOCKER_GZIP]
    assert got.diff_ids == pushed.diff_ids


def test_pull_by_digest(pull_registry: Registry, tmp_path: Path, store: BlobStore) -> None:
    pushed = push_image(pull_registry, "e2e/bydigest", "v1", salt="digest")
    conf = insecure_conf(tmp_path, pull_registry)
    ref = f"{pull_registry.addr}/e2e/bydigest@{pushed.manifest_digest}"
    got = fetch_image(conf.resolve(ref), conf, store)
    assert got.reference.digest == pushed.manifest_digest and got.reference.tag is None
    assert got.manifest_digest == pushed.manifest_digest


def test_index_platform_choice(pull_registry: Registry, tmp_path: Path, store: BlobStore) -> None:
    images = push_index(pull_registry, "e2e/multi", "latest")
    conf = insecure_conf(tmp_path, pull_registry)
    name = f"{pull_registry.addr}/e2e/multi"
    for arch, plat in [("amd64", Platform("linux", "amd64")),
                       ("arm64", Platform("linux", "arm64", "v8"))]:
        got = fetch_image(conf.resolve(name), conf, store, platform=plat)
        assert got.manifest_digest == images[arch].manifest_digest
        assert got.config["architecture"] == arch
    with pytest.raises(Exception, match=r"linux/s390x.*linux/amd64.*linux/arm64/v8"):
        fetch_image(conf.resolve(name), conf, store, platform=Platform("linux", "s390x"))


def test_mirror_serves_under_the_logical_name(pull_registry: Registry, tmp_path: Path,
                                              store: BlobStore) -> None:
    pushed = push_image(pull_registry, "mirrored/team/app", "1.0", salt="mirror")
    conf = conf_for(tmp_path, f"""
[[registry]]
prefix = "registry.example.invalid"
location = "registry.example.invalid"
[[registry.mirror]]
location = "{pull_registry.addr}/mirrored"
insecure = true
""")
    got = fetch_image(conf.resolve("registry.example.invalid/team/app:1.0"), conf, store)
    assert str(got.reference) == "registry.example.invalid/team/app:1.0"
    assert got.manifest_digest == pushed.manifest_digest


def test_mirror_without_the_image_falls_back_to_primary(pull_registry: Registry, tmp_path: Path,
                                                        store: BlobStore) -> None:
    pushed = push_image(pull_registry, "primary/app", "2", salt="primary")
    conf = conf_for(tmp_path, f"""
[[registry]]
prefix = "logical.example.invalid"
location = "{pull_registry.addr}/primary"
insecure = true
[[registry.mirror]]
location = "{pull_registry.addr}/empty-mirror"
insecure = true
""")
    got = fetch_image(conf.resolve("logical.example.invalid/app:2"), conf, store)
    assert got.manifest_digest == pushed.manifest_digest
    assert str(got.reference) == "logical.example.invalid/app:2"


def test_missing_image(pull_registry: Registry, tmp_path: Path, store: BlobStore) -> None:
    conf = insecure_conf(tmp_path, pull_registry)
    with pytest.raises(ImageNotFoundError, match=r"e2e/nothing.*manifest unknown"):
        fetch_image(conf.resolve(f"{pull_registry.addr}/e2e/nothing:latest"), conf, store)
    push_image(pull_registry, "e2e/tagged", "exists", salt="tag")
    with pytest.raises(ImageNotFoundError, match="manifest unknown"):
        fetch_image(conf.resolve(f"{pull_registry.addr}/e2e/tagged:absent"), conf, store)
    two = conf_for(tmp_path, f'unqualified-search-registries = ["{pull_registry.addr}", "{pull_registry.addr}"]\n'
                             f'[[registry]]\nlocation = "{pull_registry.addr}"\ninsecure = true\n')
    with pytest.raises(ImageNotFoundError) as exc:
        fetch_image(two.resolve("e2e/nothing"), two, store)
    assert "not found in any of the names tried" in str(exc.value)
    assert "\n" not in str(exc.value)
    assert store_files(store) == set()


def test_tampered_layer_is_refused(pull_registry: Registry, tmp_path: Path, store: BlobStore) -> None:
    pushed = push_image(pull_registry, "e2e/tampered", "v1", salt="tamper")
    data_file = pull_registry.blob_data_file(pushed.layer_digests[0])
    original = data_file.read_bytes()
    data_file.write_bytes(bytes([original[0] ^ 0xFF]) + original[1:])  # same size, other bytes
    conf = insecure_conf(tmp_path, pull_registry)
    try:
        with pytest.raises(DigestMismatchError) as exc:
            fetch_image(conf.resolve(f"{pull_registry.addr}/e2e/tampered:v1"), conf, store)
    finally:
        data_file.write_bytes(original)
    assert pushed.layer_digests[0] in str(exc.value)
    assert not store.has(pushed.layer_digests[0])
    assert not any(n.startswith(".tmp") for n in store_files(store))


def test_tampered_manifest_pulled_by_digest(pull_registry: Registry, tmp_path: Path,
                                            store: BlobStore) -> None:
    pushed = push_image(pull_registry, "e2e/tampered-manifest", "v1", salt="tamper-manifest")
    data_file = pull_registry.blob_data_file(pushed.manifest_digest)
    original = data_file.read_bytes()
    data_file.write_bytes(original.replace(b'"schemaVersion": 2', b'"schemaVersion":  2'))
    conf = insecure_conf(tmp_path, pull_registry)
    ref = f"{pull_registry.addr}/e2e/tampered-manifest@{pushed.manifest_digest}"
    try:
        with pytest.raises(DigestMismatchError, match=pushed.manifest_digest):
            fetch_image(conf.resolve(ref), conf, store)
    finally:
        data_file.write_bytes(original)
    assert store_files(store) == set()


def test_insecure_handling(pull_registry: Registry, tmp_path: Path, store: BlobStore) -> None:
    pushed = push_image(pull_registry, "e2e/insecure", "v1", salt="insecure")
    name = f"{pull_registry.addr}/e2e/insecure:v1"
    secure = conf_for(tmp_path, "")
    # TLS required by default: a plain-HTTP registry is not spoken to over HTTP
    with pytest.raises(ImageNotFoundError, match=f"pinging container registry {pull_registry.addr}"):
        fetch_image(secure.resolve(name), secure, store)
    assert store_files(store) == set()
    # --tls-verify=false allows it
    got = fetch_image(secure.resolve(name), secure, store, tls_verify=False)
    assert got.manifest_digest == pushed.manifest_digest
    # --tls-verify=true overrides insecure = true in registries.conf
    insecure = insecure_conf(tmp_path, pull_registry)
    with pytest.raises(ImageNotFoundError):
        fetch_image(insecure.resolve(name), insecure, store, tls_verify=True)


def test_connection_refused_names_the_host(tmp_path: Path, store: BlobStore) -> None:
    addr = f"127.0.0.1:{free_port()}"
    conf = conf_for(tmp_path, f'[[registry]]\nlocation = "{addr}"\ninsecure = true\n')
    with pytest.raises(ImageNotFoundError, match=f"{addr}.*connection refused"):
        fetch_image(conf.resolve(f"{addr}/x:1"), conf, store)


def test_concurrent_pulls_share_the_store(pull_registry: Registry, tmp_path: Path,
                                          store: BlobStore) -> None:
    pushed = push_image(pull_registry, "e2e/concurrent", "v1", salt="concurrent")
    conf = insecure_conf(tmp_path, pull_registry)
    results: list[str] = []
    errors: list[BaseException] = []

    def pull() -> None:
        try:
            ref = conf.resolve(f"{pull_registry.addr}/e2e/concurrent:v1")
            results.append(fetch_image(ref, conf, store).manifest_digest)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=pull) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [pushed.manifest_digest] * 4
    assert not any(n.startswith(".tmp") for n in store_files(store))
