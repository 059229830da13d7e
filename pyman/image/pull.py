"""Fetch an image from a registry into the blob store: manifest, config and layers, verified.

Candidates (short-name expansions) and their endpoints (mirrors, then the primary) are tried in
order until one serves the manifest; from then on that endpoint is used and any failure is
final, as in containers/image. Layers download in parallel, straight into the blob store.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from pyman.errors import ImageNotFoundError, ManifestError, PymanError, RegistryError
from pyman.image.auth import CredentialsFor
from pyman.image.manifest import (
    CONFIG_TYPES,
    ImageManifest,
    LayerDescriptor,
    ManifestList,
    Platform,
    check_layer_media_type,
    choose_platform,
    diff_ids_of,
    parse_manifest,
)
from pyman.image.reference import Reference
from pyman.image.registries_conf import Endpoint, RegistriesConf
from pyman.image.registry_client import RegistryClient
from pyman.storage.blobs import BlobStore

Progress = Callable[[str, int, int], None]
# given the layers and their diff_ids once the config is read (before any download thread
# starts), returns what to call with each layer digest whose blob is complete
LayersKnown = Callable[[list[LayerDescriptor], list[str]], Callable[[str], None]]
MAX_PARALLEL = 4
MAX_CONFIG = 8 << 20

__all__ = ["FetchedImage", "LayerDescriptor", "fetch_image"]


@dataclass
class FetchedImage:
    reference: Reference  # as the user names it, even when a mirror served it
    manifest_digest: str
    manifest_media_type: str
    config_digest: str
    config: dict[str, Any]
    layers: list[LayerDescriptor]
    diff_ids: list[str]
    list_digest: str | None = None  # the index/manifest list it was chosen from, if any


class _Cancelled(Exception):
    pass


def fetch_image(candidates: list[Reference], conf: RegistriesConf, blobs: BlobStore, *,
                platform: Platform | None = None, tls_verify: bool | None = None,
                progress: Progress | None = None,
                credentials: CredentialsFor | None = None,
                have_layer: Callable[[str], bool] | None = None,
                layers_known: LayersKnown | None = None) -> FetchedImage:
    """Pull the first candidate any endpoint serves; raise ImageNotFoundError if none does.

    ``have_layer(diff_id)`` says a layer is already unpacked (its diff_id was verified then):
    its blob is not downloaded again, as Podman skips layers that already exist.
    ``layers_known`` lets the caller start on each layer as soon as its blob is complete."""
    failures: list[tuple[Reference, PymanError]] = []
    for ref in candidates:
        try:
            endpoints = conf.endpoints(ref)
        except RegistryError as exc:
            failures.append((ref, exc))
            continue
        for ep in endpoints:
            creds = credentials(ep.host, ep.repository) if credentials else None
            client = RegistryClient(ep.host, ep.repository, insecure=_insecure(ep, tls_verify),
                                    credentials=creds, insecure_host=conf.insecure_host)
            try:
                digest, manifest, list_digest = _resolve_manifest(client, ref, blobs, platform)
            except (ImageNotFoundError, RegistryError) as exc:
                if isinstance(exc, ManifestError):
                    raise  # the image exists but cannot be used: trying elsewhere won't help
                failures.append((ref, exc))
                continue
            fetched = _fetch_content(client, ref, digest, manifest, blobs, progress,
                                     have_layer, layers_known)
            fetched.list_digest = list_digest
            return fetched
    raise _not_found(candidates, failures)


def has_newer(candidates: list[Reference], conf: RegistriesConf, have: set[str], *,
              credentials: CredentialsFor | None = None, tls_verify: bool | None = None
              ) -> bool:
    """--pull=newer (libimage's rule): does any candidate's registry serve a manifest for
    this platform whose digest is none of ``have``? A candidate that cannot be reached or
    read counts as not newer (the local image is used then)."""
    for ref in candidates:
        try:
            endpoints = conf.endpoints(ref)
        except RegistryError:
            continue
        for ep in endpoints:
            creds = credentials(ep.host, ep.repository) if credentials else None
            client = RegistryClient(ep.host, ep.repository, insecure=_insecure(ep, tls_verify),
                                    credentials=creds, insecure_host=conf.insecure_host)
            try:
                got = client.get_manifest(ref.digest or ref.tag or "latest")
                parsed = parse_manifest(got.data, got.media_type)
                digest = got.digest
                if isinstance(parsed, ManifestList):
                    digest = choose_platform(parsed, None).digest
            except PymanError:
                continue
            if digest not in have:
                return True
            break  # this candidate is up to date; the next may not be
    return False


def _insecure(ep: Endpoint, tls_verify: bool | None) -> bool:
    return ep.insecure if tls_verify is None else not tls_verify


def _resolve_manifest(client: RegistryClient, ref: Reference, blobs: BlobStore,
                      platform: Platform | None
                      ) -> tuple[str, ImageManifest, str | None]:
    """Fetch the manifest (through an index if needed) and store its bytes; returns the
    image manifest's digest, the manifest, and the index's digest when there was one."""
    got = client.get_manifest(ref.digest or ref.tag or "latest")
    parsed = parse_manifest(got.data, got.media_type)
    list_digest = None
    if isinstance(parsed, ManifestList):
        list_digest = got.digest
        if not blobs.has(got.digest):
            blobs.put(got.digest, got.data)  # Podman keeps it too: `save`/`push` may want it
        entry = choose_platform(parsed, platform)
        got = client.get_manifest(entry.digest)
        parsed = parse_manifest(got.data, got.media_type or entry.media_type)
        if isinstance(parsed, ManifestList):
            raise ManifestError(f"{client.name}: an index inside an index is not supported")
    if not blobs.has(got.digest):
        blobs.put(got.digest, got.data)
    return got.digest, parsed, list_digest


def _fetch_content(client: RegistryClient, ref: Reference, manifest_digest: str,
                   manifest: ImageManifest, blobs: BlobStore,
                   progress: Progress | None,
                   have_layer: Callable[[str], bool] | None = None,
                   layers_known: LayersKnown | None = None) -> FetchedImage:
    cfg = manifest.config
    if cfg.media_type and cfg.media_type not in CONFIG_TYPES:
        raise ManifestError(f"{ref}: not a container image (config type {cfg.media_type})")
    if cfg.size > MAX_CONFIG:
        raise ManifestError(f"{ref}: image config of {cfg.size} bytes is too large")
    for layer in manifest.layers:
        check_layer_media_type(layer.media_type)
    if not blobs.has(cfg.digest):
        blobs.put_stream(cfg.digest, client.iter_blob(cfg.digest, cfg.size))
    config = _load_config(blobs, cfg.digest)
    diff_ids = diff_ids_of(config)
    if len(diff_ids) != len(manifest.layers):
        raise ManifestError(f"{ref}: the manifest has {len(manifest.layers)} layers but the "
                            f"config lists {len(diff_ids)} diff_ids")
    todo = []
    for layer, diff_id in zip(manifest.layers, diff_ids, strict=True):
        if have_layer is not None and have_layer(diff_id) and not blobs.has(layer.digest):
            if progress:
                progress(layer.digest, layer.size, layer.size)
        else:
            todo.append(layer)
    ready = layers_known(list(manifest.layers), diff_ids) if layers_known else None
    _download_layers(client, todo, blobs, progress, ready)
    return FetchedImage(ref, manifest_digest, manifest.media_type, cfg.digest, config,
                        list(manifest.layers), diff_ids)


def _load_config(blobs: BlobStore, digest: str) -> dict[str, Any]:
    try:
        config = json.loads(blobs.read(digest))
    except ValueError as exc:
        raise ManifestError(f"image config {digest} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ManifestError(f"image config {digest} is not a JSON object")
    return config


def _download_layers(client: RegistryClient, layers: list[LayerDescriptor], blobs: BlobStore,
                     progress: Progress | None,
                     ready: Callable[[str], None] | None = None) -> None:
    lock = threading.Lock()
    stop = threading.Event()

    def report(digest: str, done: int, total: int) -> None:
        if progress is not None:
            with lock:  # callers need not be thread-safe
                progress(digest, done, total)

    todo: dict[str, LayerDescriptor] = {}
    for layer in layers:
        if blobs.has(layer.digest):
            report(layer.digest, layer.size, layer.size)
            if ready is not None:
                ready(layer.digest)
        else:
            todo.setdefault(layer.digest, layer)
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(todo))) as pool:
        futures = [pool.submit(_download_one, client, layer, blobs, report, stop, ready)
                   for layer in todo.values()]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        errors = [e for f in done if (e := f.exception()) is not None]
        if errors:
            stop.set()  # the other downloads give up at their next chunk
            for f in futures:
                f.cancel()
    real = [e for e in errors if not isinstance(e, _Cancelled)]
    if real:
        raise real[0]


def _download_one(client: RegistryClient, layer: LayerDescriptor, blobs: BlobStore,
                  report: Progress, stop: threading.Event,
                  ready: Callable[[str], None] | None) -> None:
    done = 0
    report(layer.digest, 0, layer.size)
    with blobs.writer(layer.digest) as w:
        for chunk in client.iter_blob(layer.digest, layer.size):
            if stop.is_set():
                raise _Cancelled()
            w.write(chunk)
            done += len(chunk)
            report(layer.digest, done, layer.size)
    if ready is not None:  # the writer verified and stored it
        ready(layer.digest)


def _not_found(candidates: list[Reference], failures: list[tuple[Reference, PymanError]]
               ) -> ImageNotFoundError:
    if not failures:
        return ImageNotFoundError("no image names to try")
    if len(candidates) == 1:
        reasons = "; ".join(str(e) for _, e in failures)
        return ImageNotFoundError(f"initializing source docker://{candidates[0]}: {reasons}")
    names = ", ".join(str(c) for c in candidates)
    if all(isinstance(e, ImageNotFoundError) for _, e in failures):
        return ImageNotFoundError(f"image not found in any of the names tried: {names}")
    reasons = "; ".join(f"{ref}: {e}" for ref, e in failures)
    return ImageNotFoundError(f"pulling failed for every name tried ({names}): {reasons}")
