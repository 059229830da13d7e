"""Sanity of the test ground itself (scripts/setup-host.sh): when these fail, the other e2e
failures say little about pyman."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pwd
import stat
import tarfile
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_V2S2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_V2S2, DOCKER_LIST])

EXPECTED_TYPES = {
    "library/alpine:latest": OCI_INDEX,
    "library/busybox:latest": DOCKER_V2S2,
    "pyman-test/layers:latest": DOCKER_V2S2,
    "pyman-test/config:latest": OCI_MANIFEST,
    "pyman-test/user:latest": OCI_MANIFEST,
}


def get(registry: str, path: str, accept: str = ACCEPT) -> tuple[bytes, dict[str, str]]:
    req = urllib.request.Request(f"http://{registry}/v2/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read(), dict(resp.headers.items())


def manifest(registry: str, repo: str, ref: str) -> tuple[dict[str, Any], str]:
    body, headers = get(registry, f"{repo}/manifests/{ref}")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    assert headers["Docker-Content-Digest"] == digest
    return json.loads(body), digest


def blob(registry: str, repo: str, digest: str) -> bytes:
    data, _ = get(registry, f"{repo}/blobs/{digest}", accept="*/*")
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    return data


def layer_members(registry: str, repo: str, digest: str) -> dict[str, tarfile.TarInfo]:
    raw = gzip.decompress(blob(registry, repo, digest))
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        return {m.name: m for m in tf.getmembers()}


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_registry_serves_each_image_with_the_recorded_digest(
    registry: str, test_images: dict[str, str], name: str
) -> None:
    repo, tag = name.rsplit(":", 1)
    m, digest = manifest(registry, repo, tag)
    assert digest == test_images[name]
    assert m["mediaType"] == EXPECTED_TYPES[name]


def test_alpine_is_an_index_of_two_platforms(registry: str, test_images: dict[str, str]) -> None:
    index, _ = manifest(registry, "library/alpine", test_images["library/alpine:latest"])
    plats = {m["platform"]["architecture"]: m["digest"] for m in index["manifests"]}
    assert set(plats) == {"amd64", "arm64"} and plats["amd64"] != plats["arm64"]
    amd, _ = manifest(registry, "library/alpine", plats["amd64"])
    cfg = json.loads(blob(registry, "library/alpine", amd["config"]["digest"]))
    assert cfg["config"]["Cmd"] == ["/bin/sh"] and cfg["os"] == "linux"
    arm, _ = manifest(registry, "library/alpine", plats["arm64"])
    marker = layer_members(registry, "library/alpine", arm["layers"][-1]["digest"])
    assert "arch-arm64" in marker


def test_base_layer_is_busybox_with_users(registry: str) -> None:
    m, _ = manifest(registry, "library/busybox", "latest")
    base = layer_members(registry, "library/busybox", m["layers"][0]["digest"])
    assert base["bin/sh"].issym() and base["bin/sh"].linkname == "busybox"
    assert base["tmp"].mode == 0o1777
    assert (base["home/tester"].uid, base["home/tester"].gid) == (1000, 1000)
    assert all(ti.uid == 0 for n, ti in base.items() if n != "home/tester")


def test_layers_image_has_links_owners_and_whiteouts(registry: str) -> None:
    m, _ = manifest(registry, "pyman-test/layers", "latest")
    assert len(m["layers"]) == 3
    two = layer_members(registry, "pyman-test/layers", m["layers"][1]["digest"])
    assert two["data/hard"].islnk() and two["data/hard"].linkname == "data/keep.txt"
    assert two["data/link"].issym() and two["data/abs"].linkname == "/etc/passwd"
    owned = two["data/owned"]
    assert (owned.uid, owned.gid, owned.mode) == (1000, 1000, 0o640)
    assert (two["data/nobody"].uid, two["data/nobody"].gid) == (65534, 65534)
    assert two["data/suid"].mode == 0o4755
    three = layer_members(registry, "pyman-test/layers", m["layers"][2]["digest"])
    assert {"data/.wh.gone.txt", "opaque/.wh..wh..opq", "opaque/new.txt",
            "data/added.txt"} <= set(three)


def test_config_image_config(registry: str) -> None:
    m, _ = manifest(registry, "pyman-test/config", "latest")
    cfg = json.loads(blob(registry, "pyman-test/config", m["config"]["digest"]))["config"]
    assert cfg["WorkingDir"] == "/srv" and cfg["Entrypoint"] == ["/bin/sh", "-c"]
    assert "GREETING=hello from config" in cfg["Env"]
    assert cfg["Labels"] == {"org.pyman.test": "config"}
    m, _ = manifest(registry, "pyman-test/user", "latest")
    cfg = json.loads(blob(registry, "pyman-test/user", m["config"]["digest"]))["config"]
    assert cfg["User"] == "tester"


def test_docker_io_is_mirrored_to_the_loopback_registry(registry: str) -> None:
    conf = Path("/etc/containers/registries.conf.d/50-pyman-loopback-mirror.conf")
    data = tomllib.loads(conf.read_text())
    docker = [r for r in data["registry"] if r.get("prefix") == "docker.io"]
    assert docker and docker[0]["mirror"] == [{"location": registry, "insecure": True}]


def _subid_count(path: str, user: str, uid: int) -> int:
    total = 0
    for line in Path(path).read_text().splitlines():
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] in (user, str(uid)):
            total += int(parts[2])
    return total


def test_unprivileged_user_with_subids() -> None:
    uid = os.getuid()
    assert uid != 0 and os.geteuid() != 0
    user = pwd.getpwuid(uid).pw_name
    assert _subid_count("/etc/subuid", user, uid) >= 65536
    assert _subid_count("/etc/subgid", user, uid) >= 65536


@pytest.mark.parametrize("tool", ["/usr/bin/newuidmap", "/usr/bin/newgidmap"])
def test_newidmap_tools_are_privileged(tool: str) -> None:
    st = os.stat(tool)
    setuid = bool(st.st_mode & stat.S_ISUID) and st.st_uid == 0
    try:
        caps = bool(os.getxattr(tool, "security.capability"))
    except OSError:
        caps = False
    assert setuid or caps, f"{tool} is neither setuid root nor has file capabilities"


@pytest.mark.parametrize("dev", ["/dev/net/tun", "/dev/fuse"])
def test_devices_usable_by_the_user(dev: str) -> None:
    fd = os.open(dev, os.O_RDWR)
    os.close(fd)


def test_runtimes_and_helpers_present() -> None:
    for tool in ("/usr/sbin/runc", "/usr/bin/slirp4netns", "/usr/bin/pasta",
                 "/usr/bin/fuse-overlayfs"):
        assert os.access(tool, os.X_OK), tool
