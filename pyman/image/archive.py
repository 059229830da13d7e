"""Image archives: docker-archive and oci-archive tarballs, written and read (save / load).

Writing: docker-archive holds each image's config as ``<hex>.json``, its layers as
uncompressed tars named ``<diff_id hex>.tar``, ``manifest.json`` and ``repositories``;
oci-archive an OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/*``).

Reading treats the archive as hostile: only regular files and directories with relative paths
free of ``..`` are accepted, every blob is hashed against its digest and every layer's
uncompressed content against its diff_id before anything reaches the store.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pyman.errors import ArchiveError, PymanError
from pyman.image.manifest import OCI_MANIFEST, ImageManifest, ManifestList, parse_manifest
from pyman.storage.blobs import BlobStore
from pyman.storage.tarstream import LayerStream

REF_NAME = "org.opencontainers.image.ref.name"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MAX_JSON = 8 << 20  # manifests, configs and index files larger than this are refused
CHUNK = 1 << 20


# ---------------------------------------------------------------- writing


@dataclass
class SaveImage:
    names: list[str]
    manifest: bytes  # an image manifest (OCI or Docker schema2)
    config_digest: str
    diff_ids: list[str]
    parsed: ImageManifest = field(init=False)

    def __post_init__(self) -> None:
        parsed = parse_manifest(self.manifest)
        if isinstance(parsed, ManifestList):
            raise PymanError("an index cannot be saved as an image")
        self.parsed = parsed


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tf.addfile(info, io.BytesIO(data))


def _add_dir(tf: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tf.addfile(info)


def _add_file(tf: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size = path.stat().st_size
    info.mode = 0o644
    with open(path, "rb") as f:
        tf.addfile(info, f)


def _uncompressed(blob: Path, diff_id: str, work: Path) -> Path:
    """The layer blob decompressed into ``work``, checked against its diff_id."""
    out = work / diff_id.split(":", 1)[1]
    if out.exists():
        return out
    tmp = out.with_suffix(".part")
    with open(blob, "rb") as raw, open(tmp, "wb") as f:
        stream = LayerStream(raw)
        while chunk := stream.read(CHUNK):
            f.write(chunk)
    if stream.digest != diff_id:
        tmp.unlink()
        raise PymanError(f"layer {diff_id}: the stored blob {blob.name} decompresses to "
                         f"{stream.digest}: the store is corrupt. Pull the image again")
    tmp.rename(out)
    return out


def write_docker_archive(out: IO[bytes], images: list[SaveImage], blobs: BlobStore,
                         work: Path) -> None:
    """Stream a docker-archive of ``images`` to ``out``; ``work`` holds decompressed layers."""
    entries: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    written: set[str] = set()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for img in images:
            layers = []
            for desc, diff_id in zip(img.parsed.layers, img.diff_ids, strict=True):
                name = diff_id.split(":", 1)[1] + ".tar"
                if name not in written:
                    path = _uncompressed(blobs.path(desc.digest), diff_id, work)
                    _add_file(tf, name, path)
                    path.unlink()
                    written.add(name)
                layers.append(name)
            config_name = img.config_digest.split(":", 1)[1] + ".json"
            if config_name not in written:
                _add_bytes(tf, config_name, blobs.read(img.config_digest))
                written.add(config_name)
            entries.append({"Config": config_name, "RepoTags": img.names, "Layers": layers})
            for tagged in img.names:
                repo, _, tag = tagged.rpartition(":")
                top = img.diff_ids[-1].split(":", 1)[1] if img.diff_ids else ""
                repositories.setdefault(repo, {})[tag] = top
        _add_bytes(tf, "manifest.json", json.dumps(entries, separators=(",", ":")).encode())
        _add_bytes(tf, "repositories", json.dumps(repositories, separators=(",", ":")).encode())


def write_oci_archive(out: IO[bytes], img: SaveImage, blobs: BlobStore,
                      uncompressed: Path | None = None) -> None:
    """Stream an oci-archive (OCI image layout) of one image to ``out``. ``uncompressed``:
    a work dir; the layers go in as plain tars (save --uncompressed), named by diff_id."""
    from pyman.image.push import convert_manifest

    manifest = convert_manifest(img.manifest, OCI_MANIFEST)
    plain: dict[str, Path] = {}
    if uncompressed is not None:
        doc = json.loads(manifest)
        for layer, diff_id in zip(doc["layers"], img.diff_ids, strict=True):
            plain[diff_id] = _uncompressed(blobs.path(layer["digest"]), diff_id, uncompressed)
            layer.update(mediaType=OCI_LAYER_TAR, digest=diff_id,
                         size=plain[diff_id].stat().st_size)
        manifest = json.dumps(doc, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    desc: dict[str, Any] = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest)}
    if img.names:
        desc["annotations"] = {REF_NAME: img.names[0]}
    index = {"schemaVersion": 2, "manifests": [desc]}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        _add_dir(tf, "blobs/")
        _add_dir(tf, "blobs/sha256/")
        done: set[str] = set()
        for layer, diff_id in zip(img.parsed.layers, img.diff_ids, strict=True):
            blob = diff_id if plain else layer.digest
            if blob not in done:
                _add_file(tf, f"blobs/sha256/{blob[7:]}",
                          plain[diff_id] if plain else blobs.path(layer.digest))
                done.add(blob)
        _add_bytes(tf, f"blobs/sha256/{img.config_digest[7:]}", blobs.read(img.config_digest))
        _add_bytes(tf, f"blobs/sha256/{digest[7:]}", manifest)
        _add_bytes(tf, "index.json", json.dumps(index, separators=(",", ":")).encode())
        _add_bytes(tf, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')


# ---------------------------------------------------------------- reading


@dataclass
class LoadLayer:
    member: str  # path in the archive
    diff_id: str
    digest: str = ""  # the blob's sha256 (known up front in OCI; measured for docker)
    size: int = 0
    compression: str = "none"


@dataclass
class LoadImage:
    names: list[str]  # as the archive gives them (RepoTags / ref.name), not yet qualified
    config: bytes
    config_digest: str
    layers: list[LoadLayer]
    manifest: bytes | None = None  # OCI: the archive's own manifest; docker: synthesized
    manifest_digest: str = ""
    manifest_media_type: str = OCI_MANIFEST


class _Hashing:
    """A readable file that hashes and counts what is read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.hash.update(data)
        self.size += len(data)
        return data


class ArchiveReader:
    """A validated view of an archive's members (regular files only, safe names)."""

    def __init__(self, path: Path, label: str) -> None:
        self.label = label
        try:
            self.tar = tarfile.open(path, mode="r:*")
            members = self.tar.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            why = " ".join(str(exc).split()) if not isinstance(exc, tarfile.TarError) \
                else "not a tar archive, plain or compressed"
            # Podman's words first (scripts look for them), then what pyman found
            raise ArchiveError(f"{label}: payload does not match any of the supported image "
                               f"formats: not a docker-archive or oci-archive tarball ({why})"
                               ) from None
        self.files: dict[str, tarfile.TarInfo] = {}
        self.links: dict[str, str] = {}  # docker's legacy <id>/layer.tar -> ../<diff>.tar
        for m in members:
            name = _safe_name(m.name, label)
            if m.isdir():
                continue
            if m.issym() and not m.linkname.startswith("/"):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(name), m.linkname))
                if target != ".." and not target.startswith("../"):
                    self.links[name] = target  # only ever looked up in the archive itself
                    continue
            if not m.isreg():
                raise ArchiveError(f"{label}: archive member {m.name!r} is a hard link, a special "
                                   "file or a symlink out of the archive: refusing it")
            if name in self.files:
                raise ArchiveError(f"{label}: archive member {m.name!r} appears twice")
            self.files[name] = m

    def close(self) -> None:
        self.tar.close()

    def _member(self, name: str) -> tarfile.TarInfo | None:
        name = _safe_name(name, self.label)
        for _ in range(8):  # a symlink to a symlink ...: a few hops, never a loop
            if name not in self.links:
                break
            name = self.links[name]
        return self.files.get(name)

    def has(self, name: str) -> bool:
        return self._member(name) is not None

    def open(self, name: str) -> IO[bytes]:
        member = self._member(name)
        if member is None:
            raise ArchiveError(f"{self.label}: the archive lacks {name!r}: it is incomplete")
        f = self.tar.extractfile(member)
        assert f is not None
        return f

    def read_json_bytes(self, name: str) -> bytes:
        member = self._member(name)
        if member is not None and member.size > MAX_JSON:
            raise ArchiveError(f"{self.label}: {name} is too large ({member.size} bytes)")
        return self.open(name).read()

    def read_json(self, name: str) -> Any:
        data = self.read_json_bytes(name)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ArchiveError(f"{self.label}: {name} is not valid JSON ({exc})") from None

    def chunks(self, name: str) -> Iterator[bytes]:
        f = self.open(name)
        while chunk := f.read(CHUNK):
            yield chunk


def _safe_name(name: str, label: str) -> str:
    if name.startswith("/") or "\\" in name:
        raise ArchiveError(f"{label}: archive member {name!r} has an absolute path: refusing "
                           "a hostile archive")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{label}: archive member {name!r} points outside the archive "
                           "(..): refusing a hostile archive")
    return "/".join(parts)


def _digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _config_diff_ids(reader: ArchiveReader, config: bytes, what: str) -> list[str]:
    from pyman.image.manifest import diff_ids_of

    try:
        doc = json.loads(config)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        return diff_ids_of(doc)
    except (ValueError, PymanError) as exc:
        raise ArchiveError(f"{reader.label}: {what} is not a valid image config ({exc})") from None


def read_docker_archive(reader: ArchiveReader) -> list[LoadImage]:
    entries = reader.read_json("manifest.json")
    if not isinstance(entries, list) or not entries:
        raise ArchiveError(f"{reader.label}: manifest.json lists no images")
    images = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) \
                or not isinstance(entry.get("Layers"), list):
            raise ArchiveError(f"{reader.label}: manifest.json has a malformed entry")
        config = reader.read_json_bytes(entry["Config"])
        digest = _digest_of(config)
        stem = os.path.basename(entry["Config"]).removesuffix(".json")
        if len(stem) == 64 and all(c in "0123456789abcdef" for c in stem) \
                and stem != digest[7:]:
            raise ArchiveError(f"{reader.label}: config {entry['Config']} has digest {digest}: "
                               "the archive is corrupt")
        diff_ids = _config_diff_ids(reader, config, entry["Config"])
        if len(diff_ids) != len(entry["Layers"]):
            raise ArchiveError(f"{reader.label}: {entry['Config']} lists {len(diff_ids)} layers "
                               f"but manifest.json {len(entry['Layers'])}")
        layers = [LoadLayer(str(member), diff_id)
                  for member, diff_id in zip(entry["Layers"], diff_ids, strict=True)]
        tags = entry.get("RepoTags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ArchiveError(f"{reader.label}: manifest.json has malformed RepoTags")
        images.append(LoadImage(list(tags), config, digest, layers))
    return images


def read_oci_archive(reader: ArchiveReader) -> list[LoadImage]:
    index = reader.read_json("index.json")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise ArchiveError(f"{reader.label}: index.json lists no images")
    images = []
    for desc in manifests:
        if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
            raise ArchiveError(f"{reader.label}: index.json has a malformed entry")
        data = reader.read_json_bytes(_blob_name(reader, desc["digest"]))
        if _digest_of(data) != desc["digest"]:
            raise ArchiveError(f"{reader.label}: manifest {desc['digest']} does not match its "
                               "digest: the archive is corrupt")
        try:
            parsed = parse_manifest(data, desc.get("mediaType"))
        except PymanError as exc:
            raise ArchiveError(f"{reader.label}: {exc}") from None
        if isinstance(parsed, ManifestList):
            raise ArchiveError(f"{reader.label}: nested indexes in an oci-archive are not "
                               "supported")
        config = reader.read_json_bytes(_blob_name(reader, parsed.config.digest))
        if _digest_of(config) != parsed.config.digest:
            raise ArchiveError(f"{reader.label}: config {parsed.config.digest} does not match "
                               "its digest: the archive is corrupt")
        diff_ids = _config_diff_ids(reader, config, parsed.config.digest)
        if len(diff_ids) != len(parsed.layers):
            raise ArchiveError(f"{reader.label}: the manifest has {len(parsed.layers)} layers "
                               f"but the config {len(diff_ids)}")
        layers = [LoadLayer(_blob_name(reader, d.digest), diff_id, d.digest, d.size)
                  for d, diff_id in zip(parsed.layers, diff_ids, strict=True)]
        annotations = desc.get("annotations") or {}
        name = annotations.get(REF_NAME) if isinstance(annotations, dict) else None
        images.append(LoadImage([name] if isinstance(name, str) and name else [], config,
                                parsed.config.digest, layers, data, desc["digest"],
                                parsed.media_type))
    return images


def _blob_name(reader: ArchiveReader, digest: str) -> str:
    from pyman.storage.blobs import check_digest

    try:
        return f"blobs/sha256/{check_digest(digest)}"
    except PymanError as exc:
        raise ArchiveError(f"{reader.label}: {exc}") from None


def read_archive(reader: ArchiveReader) -> tuple[str, list[LoadImage]]:
    """(format, images) of an archive; nothing is verified beyond the JSON yet."""
    if reader.has("manifest.json"):
        return "docker-archive", read_docker_archive(reader)
    if reader.has("index.json"):
        return "oci-archive", read_oci_archive(reader)
    raise ArchiveError(f"{reader.label}: payload does not match any of the supported image "
                       "formats (docker-archive, oci-archive)")


def verify_layer(reader: ArchiveReader, layer: LoadLayer) -> None:
    """Hash a layer member: its bytes against the blob digest (when known), its uncompressed
    content against the diff_id. Fills in digest, size and compression."""
    from pyman.errors import LayerError

    raw = _Hashing(reader.open(layer.member))
    try:
        stream = LayerStream(raw)  # type: ignore[arg-type]
        stream.drain()
    except LayerError as exc:
        raise ArchiveError(f"{reader.label}: layer {layer.member}: {exc}") from None
    digest = "sha256:" + raw.hash.hexdigest()
    if layer.digest and digest != layer.digest:
        raise ArchiveError(f"{reader.label}: layer blob {layer.member} has digest {digest}, "
                           f"expected {layer.digest}: the archive is corrupt")
    if stream.digest != layer.diff_id:
        raise ArchiveError(f"{reader.label}: layer {layer.member} has diff_id {stream.digest}, "
                           f"the config says {layer.diff_id}: the archive is corrupt")
    layer.digest, layer.size, layer.compression = digest, raw.size, stream.compression


def docker_manifest(img: LoadImage) -> bytes:
    """An OCI manifest for an image from a docker-archive (which carries none)."""
    types = {"none": OCI_LAYER_TAR, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": img.config_digest,
                   "size": len(img.config)},
        "layers": [{"mediaType": types[layer.compression], "digest": layer.digest,
                    "size": layer.size} for layer in img.layers],
    }
    return json.dumps(doc, separators=(",", ":")).encode()

