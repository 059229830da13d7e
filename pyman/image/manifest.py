"""Image manifests and indexes (Docker schema2 and OCI), and choosing a platform from an index."""

from __future__ import annotations

import json
import platform as _platform
from dataclasses import dataclass
from typing import Any

from pyman.errors import ManifestError, PymanError

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)

LAYER_GZIP = (
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
)
LAYER_TAR = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
)
LAYER_ZSTD = (
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
)
CONFIG_TYPES = (
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.image.config.v1+json",
)

# uname -m -> (GOARCH, variant), as the OCI image spec names platforms.
_MACHINE = {
    "x86_64": ("amd64", None), "amd64": ("amd64", None),
    "aarch64": ("arm64", "v8"), "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"), "armv7": ("arm", "v7"), "armhf": ("arm", "v7"),
    "armv6l": ("arm", "v6"), "armv5tel": ("arm", "v5"),
    "i386": ("386", None), "i486": ("386", None), "i586": ("386", None), "i686": ("386", None),
    "ppc64le": ("ppc64le", None), "s390x": ("s390x", None), "riscv64": ("riscv64", None),
    "mips64": ("mips64", None),
}
# Variants a CPU also runs, best first (an arm v7 runs v6 and v5 images).
_COMPATIBLE = {("arm", "v7"): ["v7", "v6", "v5"], ("arm", "v6"): ["v6", "v5"],
               ("arm64", "v8"): ["v8"]}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        out = f"{self.os}/{self.architecture}"
        return f"{out}/{self.variant}" if self.variant else out

    @classmethod
    def host(cls) -> Platform:
        arch, variant = _MACHINE.get(_platform.machine().lower(), (_platform.machine(), None))
        return cls("linux", arch, variant)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``os/arch[/variant]`` (as --platform takes it), or a bare ``arch``."""
        parts = text.strip().lower().split("/")
        if len(parts) == 1 and parts[0]:
            parts = ["linux", parts[0]]
        if len(parts) not in (2, 3) or not all(parts):
            raise PymanError(f"invalid platform {text!r}: expected os/arch[/variant]")
        arch, variant = _MACHINE.get(parts[1], (parts[1], None))
        if len(parts) == 3:
            variant = parts[2]
        elif arch != "arm64":
            variant = None  # let any variant match, e.g. linux/arm takes the best arm image
        return cls(parts[0], arch, variant)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None


@dataclass(frozen=True)
class LayerDescriptor:
    digest: str
    media_type: str
    size: int


@dataclass(frozen=True)
class ImageManifest:
    media_type: str
    config: Descriptor
    layers: list[LayerDescriptor]


@dataclass(frozen=True)
class ManifestList:
    media_type: str
    manifests: list[Descriptor]


def parse_manifest(data: bytes, media_type: str | None = None) -> ImageManifest | ManifestList:
    """Parse manifest bytes; ``media_type`` is the Content-Type, trusted only if specific."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"malformed manifest: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ManifestError("malformed manifest: not a JSON object")
    mt = _media_type(doc, media_type)
    if mt in SCHEMA1:
        raise ManifestError(
            "the image uses the Docker schema 1 manifest format, which is deprecated and not "
            "supported: ask its publisher to push it again with a current tool"
        )
    if mt in INDEX_TYPES:
        return ManifestList(mt, [_descriptor(d, with_platform=True)
                                 for d in _list(doc, "manifests")])
    if mt in (OCI_MANIFEST, DOCKER_MANIFEST):
        config = _descriptor(doc.get("config"))
        layers = [LayerDescriptor(d.digest, d.media_type, d.size)
                  for d in map(_descriptor, _list(doc, "layers"))]
        return ImageManifest(mt, config, layers)
    raise ManifestError(f"unsupported manifest media type {mt!r}")


def _media_type(doc: dict[str, Any], header: str | None) -> str:
    header = (header or "").split(";", 1)[0].strip()
    if header in MANIFEST_TYPES or header in SCHEMA1:
        return header
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if doc.get("schemaVersion") == 1:
        return SCHEMA1[0]
    # OCI documents may omit mediaType; tell them apart by shape.
    return OCI_INDEX if "manifests" in doc else OCI_MANIFEST


def _list(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key)
    if not isinstance(value, list):
        raise ManifestError(f"malformed manifest: {key!r} is missing or not a list")
    return value


def _descriptor(d: Any, with_platform: bool = False) -> Descriptor:
    if not isinstance(d, dict):
        raise ManifestError("malformed manifest: a descriptor is not an object")
    mt, digest, size = d.get("mediaType"), d.get("digest"), d.get("size")
    if not isinstance(digest, str) or ":" not in digest:
        raise ManifestError(f"malformed manifest: bad digest {digest!r}")
    if not isinstance(size, int) or size < 0:
        raise ManifestError(f"malformed manifest: bad size {size!r} for {digest}")
    plat = _platform_of(d.get("platform")) if with_platform else None
    return Descriptor(mt if isinstance(mt, str) else "", digest, size, plat)


def _platform_of(p: Any) -> Platform | None:
    if not isinstance(p, dict):
        return None
    variant = p.get("variant")
    return Platform(str(p.get("os", "")), str(p.get("architecture", "")),
                    str(variant) if variant else None)


def choose_platform(index: ManifestList, wanted: Platform | None = None) -> Descriptor:
    """The index entry that best fits ``wanted`` (default: this host)."""
    want = wanted or Platform.host()
    variants = _COMPATIBLE.get((want.architecture, want.variant or ""),
                               [want.variant] if want.variant else [])
    best: tuple[int, Descriptor] | None = None
    for d in index.manifests:
        p = d.platform
        if p is None or p.os != want.os or p.architecture != want.architecture:
            continue
        rank = _variant_rank(p.variant, variants)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, d)
    if best is None:
        avail = ", ".join(sorted({str(d.platform) for d in index.manifests if d.platform}))
        raise ManifestError(
            f"no image found in manifest list for platform {want}; "
            f"available: {avail or 'none'}: choose one with --platform"
        )
    return best[1]


def _variant_rank(variant: str | None, compatible: list[str]) -> int | None:
    if not compatible:  # no preference: any variant
        return 0
    if variant in compatible:
        return compatible.index(variant)
    return len(compatible) if variant is None else None


def check_layer_media_type(media_type: str) -> None:
    """Refuse layers pyman cannot unpack, before downloading them."""
    if media_type in LAYER_GZIP or media_type in LAYER_TAR or media_type in LAYER_ZSTD:
        return
    raise ManifestError(f"unsupported layer media type {media_type!r}")


def diff_ids_of(config: dict[str, Any]) -> list[str]:
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ManifestError("malformed image config: rootfs.diff_ids is missing or not a list")
    return list(ids)
