"""Pieces of push and auth that need no registry: manifest conversion, challenges, keys."""

from __future__ import annotations

import json

import pytest

from pyman.engine.images.registry import registry_key
from pyman.errors import PymanError
from pyman.image.manifest import DOCKER_MANIFEST, OCI_MANIFEST, parse_manifest
from pyman.image.push import convert_manifest
from pyman.image.registry_client import RegistryClient, parse_challenge

DOCKER = json.dumps({
    "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 3,
               "digest": "sha256:" + "a" * 64},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 5,
                "digest": "sha256:" + "b" * 64}],
}).encode()


def test_convert_docker_to_oci_and_back() -> None:
    oci = convert_manifest(DOCKER, OCI_MANIFEST)
    doc = json.loads(oci)
    assert doc["mediaType"] == OCI_MANIFEST
    assert doc["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert doc["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert doc["layers"][0]["digest"] == "sha256:" + "b" * 64
    parsed = parse_manifest(oci, OCI_MANIFEST)
    assert parsed.media_type == OCI_MANIFEST
    back = json.loads(convert_manifest(oci, DOCKER_MANIFEST))
    assert back["layers"][0]["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    assert convert_manifest(DOCKER, DOCKER_MANIFEST) == DOCKER  # untouched: same digest


def test_zstd_layers_cannot_become_docker() -> None:
    doc = json.loads(convert_manifest(DOCKER, OCI_MANIFEST))
    doc["layers"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+zstd"
    with pytest.raises(PymanError, match="zstd.*--format oci"):
        convert_manifest(json.dumps(doc).encode(), DOCKER_MANIFEST)


def test_parse_challenge() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.example/token", "service": "registry.example",
                      "scope": "repository:a/b:pull"}
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_scopes() -> None:
    c = RegistryClient("r.test", "team/app", push=True, mount_from=("team/app", "lib/base"))
    assert c.scopes == ["repository:team/app:pull,push", "repository:lib/base:pull"]
    assert RegistryClient("r.test", "team/app").scopes == ["repository:team/app:pull"]
    assert RegistryClient("r.test", "").scopes == []  # login to a whole registry


@pytest.mark.parametrize(("given", "key"), [
    ("r.test:5000", "r.test:5000"),
    ("https://r.test/", "r.test"),
    ("r.test/team/app", "r.test/team/app"),
    ("index.docker.io", "docker.io"),
])
def test_registry_key(given: str, key: str) -> None:
    assert registry_key(given) == key


@pytest.mark.parametrize("bad", ["", "r.test/team/app:tag", "r.test/app@sha256:" + "a" * 64])
def test_registry_key_refuses(bad: str) -> None:
    with pytest.raises(PymanError):
        registry_key(bad)


def test_blob_locations(tmp_path) -> None:
    from pyman.image.blob_locations import KEEP, BlobLocations

    locs = BlobLocations(tmp_path / "locations.json")
    assert locs.repositories("sha256:a", "r.test") == []
    locs.record("r.test", "team/a", ["sha256:a", "sha256:b"])
    locs.record("other.test:5000", "x", ["sha256:a"])
    locs.record("r.test", "team/b", ["sha256:a"])
    assert locs.repositories("sha256:a", "r.test") == ["team/b", "team/a"]
    assert locs.repositories("sha256:a", "other.test:5000") == ["x"]
    for i in range(10):
        locs.record("r.test", f"n{i}", ["sha256:b"])
    assert len(locs.repositories("sha256:b", "r.test")) == KEEP
    (tmp_path / "locations.json").write_text("{broken")
    assert locs.repositories("sha256:a", "r.test") == []  # a cache: corrupt means empty
