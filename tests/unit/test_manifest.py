"""Manifest parsing and platform choice."""

import json

import pytest

from pyman.errors import PymanError
from pyman.image import manifest as m
from pyman.image.manifest import (
    ImageManifest,
    ManifestError,
    ManifestList,
    Platform,
    check_layer_media_type,
    choose_platform,
    diff_ids_of,
    parse_manifest,
)


def dig(c: str) -> str:
    return "sha256:" + c * 64


def image_manifest(mt=m.OCI_MANIFEST, with_mt=True, layer_mt="application/vnd.oci.image.layer.v1.tar+gzip"):
    doc = {
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dig("c"), "size": 12},
        "layers": [{"mediaType": layer_mt, "digest": dig("1"), "size": 100},
                   {"mediaType": layer_mt, "digest": dig("2"), "size": 200}],
    }
    if with_mt:
        doc["mediaType"] = mt
    return json.dumps(doc).encode()


def entry(c, arch, variant=None, os="linux"):
    p = {"os": os, "architecture": arch}
    if variant:
        p["variant"] = variant
    return {"mediaType": m.OCI_MANIFEST, "digest": dig(c), "size": 500, "platform": p}


def index(*entries, mt=m.OCI_INDEX):
    return json.dumps({"schemaVersion": 2, "mediaType": mt, "manifests": list(entries)}).encode()


@pytest.mark.parametrize("mt", [m.OCI_MANIFEST, m.DOCKER_MANIFEST])
def test_image_manifest(mt):
    parsed = parse_manifest(image_manifest(mt), mt)
    assert isinstance(parsed, ImageManifest)
    assert parsed.media_type == mt
    assert parsed.config.digest == dig("c") and parsed.config.size == 12
    assert [(lay.digest, lay.size) for lay in parsed.layers] == [(dig("1"), 100), (dig("2"), 200)]


def test_media_type_from_body_when_header_is_generic():
    parsed = parse_manifest(image_manifest(m.DOCKER_MANIFEST), "application/json; charset=utf-8")
    assert parsed.media_type == m.DOCKER_MANIFEST
    # OCI may omit mediaType altogether: the shape decides
    assert parse_manifest(image_manifest(with_mt=False)).media_type == m.OCI_MANIFEST
    bare_index = json.dumps({"schemaVersion": 2, "manifests": [entry("a", "amd64")]}).encode()
    assert isinstance(parse_manifest(bare_index), ManifestList)


@pytest.mark.parametrize("mt", [m.OCI_INDEX, m.DOCKER_LIST])
def test_index(mt):
    parsed = parse_manifest(index(entry("a", "amd64"), entry("b", "arm64", "v8"), mt=mt), mt)
    assert isinstance(parsed, ManifestList)
    assert [str(d.platform) for d in parsed.manifests] == ["linux/amd64", "linux/arm64/v8"]


@pytest.mark.parametrize("mt", m.SCHEMA1)
def test_schema1_refused(mt):
    body = json.dumps({"schemaVersion": 1, "name": "x", "fsLayers": []}).encode()
    with pytest.raises(ManifestError, match="schema 1"):
        parse_manifest(body, mt)
    with pytest.raises(ManifestError, match="schema 1"):
        parse_manifest(body, "application/json")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (json.dumps({"mediaType": m.OCI_MANIFEST, "config": {"digest": dig("c"), "size": 1}}).encode(), "layers"),
        (json.dumps({"mediaType": m.OCI_MANIFEST, "config": {"digest": "nope", "size": 1}, "layers": []}).encode(), "bad digest"),
        (json.dumps({"mediaType": m.OCI_MANIFEST, "config": {"digest": dig("c"), "size": -1}, "layers": []}).encode(), "bad size"),
        (json.dumps({"mediaType": "application/x-other"}).encode(), "unsupported manifest media type"),
    ],
)
def test_malformed(body, why):
    with pytest.raises(ManifestError, match=why):
        parse_manifest(body)


MULTI = parse_manifest(index(
    entry("a", "amd64"), entry("b", "arm64", "v8"), entry("c", "arm", "v6"), entry("d", "arm", "v7"),
    entry("e", "amd64", os="windows"), entry("f", "unknown", os="unknown"),
))


@pytest.mark.parametrize(
    ("wanted", "digest"),
    [
        (Platform("linux", "amd64"), dig("a")),
        (Platform("linux", "arm64", "v8"), dig("b")),
        (Platform("linux", "arm", "v7"), dig("d")),
        (Platform("linux", "arm", "v6"), dig("c")),
        (Platform("windows", "amd64"), dig("e")),
    ],
)
def test_choose_platform(wanted, digest):
    assert choose_platform(MULTI, wanted).digest == digest


def test_arm_v7_host_falls_back_to_v6_and_arm64_accepts_no_variant():
    only_v6 = parse_manifest(index(entry("c", "arm", "v6")))
    assert choose_platform(only_v6, Platform("linux", "arm", "v7")).digest == dig("c")
    no_variant = parse_manifest(index(entry("b", "arm64")))
    assert choose_platform(no_variant, Platform("linux", "arm64", "v8")).digest == dig("b")
    with pytest.raises(ManifestError):
        choose_platform(parse_manifest(index(entry("d", "arm", "v7"))), Platform("linux", "arm", "v6"))


def test_no_matching_platform_lists_available():
    with pytest.raises(ManifestError) as exc:
        choose_platform(MULTI, Platform("linux", "s390x"))
    msg = str(exc.value)
    assert "linux/s390x" in msg
    assert "linux/amd64" in msg and "linux/arm64/v8" in msg and "linux/arm/v7" in msg


def test_host_platform(monkeypatch):
    for machine, expected in [("x86_64", "linux/amd64"), ("aarch64", "linux/arm64/v8"),
                              ("armv7l", "linux/arm/v7"), ("i686", "linux/386"), ("riscv64", "linux/riscv64")]:
        monkeypatch.setattr(m._platform, "machine", lambda machine=machine: machine)
        assert str(Platform.host()) == expected
    monkeypatch.setattr(m._platform, "machine", lambda: "x86_64")
    assert choose_platform(MULTI).digest == dig("a")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("linux/amd64", "linux/amd64"), ("linux/arm64", "linux/arm64/v8"), ("linux/arm/v7", "linux/arm/v7"),
     ("arm64", "linux/arm64/v8"), ("linux/x86_64", "linux/amd64"), ("linux/arm", "linux/arm")],
)
def test_platform_parse(text, expected):
    assert str(Platform.parse(text)) == expected


@pytest.mark.parametrize("text", ["", "linux/", "a/b/c/d"])
def test_platform_parse_invalid(text):
    with pytest.raises(PymanError, match="os/arch"):
        Platform.parse(text)


def test_layer_media_types():
    for mt in m.LAYER_GZIP + m.LAYER_TAR + m.LAYER_ZSTD:
        check_layer_media_type(mt)
    with pytest.raises(ManifestError, match="unsupported layer"):
        check_layer_media_type("application/vnd.cncf.helm.chart.content.v1.tar+gzip")


def test_diff_ids():
    assert diff_ids_of({"rootfs": {"type": "layers", "diff_ids": [dig("1")]}}) == [dig("1")]
    with pytest.raises(ManifestError, match="diff_ids"):
        diff_ids_of({"rootfs": {}})
