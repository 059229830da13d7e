"""Push an image's stored manifest, config and compressed layers to a registry.

For each blob, as containers/image does: skip it if the repository has it (HEAD), else mount
it from another repository of the same registry that has it (POST ?mount=&from=), else upload
it (monolithic PUT, or PATCHes of ``chunk_size`` with Content-Range then PUT ?digest=). Layers
(a few at once), then the config, the manifest last: a tag never points at missing blobs.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from pyman.errors import PymanError
from pyman.image.manifest import (
    DOCKER_MANIFEST,
    LAYER_GZIP,
    LAYER_ZSTD,
    OCI_MANIFEST,
    ImageManifest,
    ManifestList,
    parse_manifest,
)
from pyman.image.registry_client import RegistryClient
from pyman.storage.blobs import BlobStore

MAX_PARALLEL = 4  # blobs uploading at once, as in pull
DEFAULT_CHUNKED_ABOVE = 64 << 20  # a blob bigger than this goes up in PATCHes of this size
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
# --format; docker is Podman's other name for v2s2
FORMATS = {"oci": OCI_MANIFEST, "v2s2": DOCKER_MANIFEST, "docker": DOCKER_MANIFEST}


class PushEvents:
    """What a push reports; the CLI renders it. The defaults say nothing."""

    def started(self) -> None:
        """The image and its blobs are at hand; the registry comes next."""

    def blob(self, digest: str, kind: str, how: str) -> None:
        """``kind`` blob|config; ``how`` exists|mounted|uploaded."""

    def progress(self, digest: str, done: int, total: int) -> None:
        pass


@dataclass
class PushResult:
    digest: str
    media_type: str
    blobs: dict[str, str] = field(default_factory=dict)  # digest -> exists|mounted|uploaded


def convert_manifest(data: bytes, target: str) -> bytes:
    """The manifest as ``target`` (OCI or Docker schema2) wants it; unchanged if it already is."""
    doc: dict[str, Any] = json.loads(data)
    current = doc.get("mediaType") or (OCI_MANIFEST if "config" in doc else "")
    if current == target:
        return data
    oci = target == OCI_MANIFEST
    out = dict(doc)
    out["mediaType"] = target
    out["config"] = dict(doc["config"], mediaType=OCI_CONFIG if oci else DOCKER_CONFIG)
    layers = []
    for layer in doc.get("layers", []):
        mt = layer.get("mediaType", "")
        if mt in LAYER_ZSTD and not oci:
            raise PymanError(f"layer {layer.get('digest')} is zstd-compressed, which Docker "
                             "schema2 cannot describe: push with --format oci")
        if mt in LAYER_GZIP:
            mt = OCI_GZIP if oci else DOCKER_GZIP
        elif not oci and mt == "application/vnd.oci.image.layer.v1.tar":
            mt = "application/vnd.docker.image.rootfs.diff.tar"
        layers.append(dict(layer, mediaType=mt))
    out["layers"] = layers
    return json.dumps(out, indent=3).encode()


def load_manifest(blobs: BlobStore, digest: str, image: str) -> tuple[bytes, ImageManifest]:
    if not blobs.has(digest):
        raise PymanError(f"{image}: its manifest {digest} is not in the blob store, so it cannot "
                         "be pushed as is. Pull the image again")
    data = blobs.read(digest)
    parsed = parse_manifest(data)
    if isinstance(parsed, ManifestList):
        raise PymanError(f"{image}: the stored manifest {digest} is an index: pushing "
                         "manifest lists is not supported")
    return data, parsed


def missing_blobs(blobs: BlobStore, manifest: ImageManifest) -> list[str]:
    wanted = [manifest.config.digest] + [layer.digest for layer in manifest.layers]
    return [d for d in wanted if not blobs.has(d)]


def push_image(client: RegistryClient, blobs: BlobStore, manifest_data: bytes,
               manifest: ImageManifest, tag: str, *, media_type: str,
               mount_from: dict[str, list[str]] | None = None, chunk_size: int | None = None,
               events: PushEvents | None = None) -> PushResult:
    """Push blobs then the manifest (already in the wanted format) under ``tag``.

    ``mount_from``: blob digest -> repositories of the same registry known to hold it (the
    client must have been made with their pull scopes)."""
    sources = mount_from or {}
    events = events or PushEvents()
    events.started()
    result = PushResult("", media_type)
    config = manifest.config
    # sequentially first: settles the scheme and the auth the parallel uploads then share
    config_there = client.blob_exists(config.digest)
    layers = list(dict.fromkeys((layer.digest, layer.size) for layer in manifest.layers))
    lock = threading.Lock()

    def one(digest: str, size: int, kind: str) -> None:
        how = _push_blob(client, blobs, digest, size, tuple(sources.get(digest, ())),
                         chunk_size, events)
        with lock:
            result.blobs[digest] = how
            events.blob(digest, kind, how)

    if layers:
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(layers))) as pool:
            futures = [pool.submit(one, d, size, "blob") for d, size in layers]
            for f in futures:
                f.result()  # the first failure is raised; the pool finishes the others
    if config.digest not in result.blobs:
        if config_there:
            result.blobs[config.digest] = "exists"
            events.blob(config.digest, "config", "exists")
        else:
            one(config.digest, config.size, "config")
    result.digest = client.put_manifest(tag, manifest_data, media_type)
    return result


def _push_blob(client: RegistryClient, blobs: BlobStore, digest: str, size: int,
               mount_from: tuple[str, ...], chunk_size: int | None,
               events: PushEvents) -> str:
    if client.blob_exists(digest):
        return "exists"
    url = None
    source = next((r for r in mount_from if r != client.repository), None)
    if source is not None:
        mounted, url = client.start_upload(digest, mount_from=source)
        if mounted:
            return "mounted"
        # the registry opened an ordinary upload instead: use it
    if url is None:
        _, url = client.start_upload(digest)
    assert url is not None

    def open_blob() -> BinaryIO:
        return open(blobs.path(digest), "rb")

    client.upload_blob(url, digest, size, open_blob,
                       chunk_size=chunk_size if chunk_size is not None else
                       DEFAULT_CHUNKED_ABOVE,
                       progress=lambda done: events.progress(digest, done, size))
    return "uploaded"

