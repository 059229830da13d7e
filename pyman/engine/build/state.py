"""A build's image states and its layer cache.

Every instruction turns one state (an image config plus its layers) into the next; each state
is stored as a config blob and a manifest blob, so a state is an image in all but a name. The
cache maps a key (the parent state, the instruction, the build args in scope, the digest of
what COPY/ADD read) to the state it produced: `build-cache/<key>.json`, written atomically
once the state's blobs and layers are stored, so a build killed at any moment leaves only
complete entries, and the next build reuses them. An entry whose layers or blobs are gone
(an image removed, a prune) is a miss.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from pyman.config import Paths
from pyman.engine.images.import_export import CONFIG_TYPE, LAYER_TYPE, MANIFEST_TYPE
from pyman.storage.images import ImageRecord

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
_TO_OCI = {"application/vnd.docker.image.rootfs.diff.tar.gzip":
           "application/vnd.oci.image.layer.v1.tar+gzip",
           "application/vnd.docker.image.rootfs.diff.tar": LAYER_TYPE}
_TO_DOCKER = {v: k for k, v in _TO_OCI.items()}
_TO_DOCKER["application/vnd.oci.image.layer.v1.tar+zstd"] = \
    "application/vnd.oci.image.layer.v1.tar+zstd"


def now() -> str:
    t = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1_000_000_000)) + \
        f".{t % 1_000_000_000:09d}Z"


@dataclass
class State:
    config: dict[str, Any]  # the whole OCI image config (rootfs and history included)
    layers: list[dict[str, Any]]  # the manifest's layer descriptors, bottom first
    id: str = ""  # hex of the config digest once stored; "" for an unstored scratch

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def cfg(self) -> dict[str, Any]:
        """The `config` object (Env, Cmd ...), made if missing."""
        inner = self.config.get("config")
        if not isinstance(inner, dict):
            inner = self.config["config"] = {}
        return inner

    def child(self) -> State:
        return State(json.loads(json.dumps(self.config)), [dict(x) for x in self.layers])


def scratch() -> State:
    from pyman.build.plan import host_platform

    os_, arch, variant = host_platform()
    config: dict[str, Any] = {"architecture": arch, "os": os_, "config": {},
                              "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    if variant:
        config["variant"] = variant
    return State(config, [])


def manifest_bytes(state: State, fmt: str = "oci", annotations: dict[str, str] | None = None
                   ) -> tuple[bytes, bytes, str]:
    """(config bytes, manifest bytes, manifest media type) in ``fmt`` (oci | docker)."""
    config = json.dumps(state.config, separators=(",", ":")).encode()
    table = _TO_DOCKER if fmt == "docker" else _TO_OCI
    layers = [{**d, "mediaType": table.get(d["mediaType"], d["mediaType"])}
              for d in state.layers]
    mtype = DOCKER_MANIFEST if fmt == "docker" else MANIFEST_TYPE
    manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": mtype,
                "config": {"mediaType": DOCKER_CONFIG if fmt == "docker" else CONFIG_TYPE,
                           "size": len(config),
                           "digest": "sha256:" + hashlib.sha256(config).hexdigest()},
                "layers": layers}
    if annotations and fmt != "docker":
        manifest["annotations"] = annotations
    return config, json.dumps(manifest, separators=(",", ":")).encode(), mtype


class StateStore:
    def __init__(self, paths: Paths) -> None:
        from pyman.storage.blobs import BlobStore
        from pyman.storage.layers import LayerStore

        self.paths = paths
        self.blobs = BlobStore(paths.blobs)
        self.layer_store = LayerStore(paths.layers)
        self.cache_dir = paths.data / "build-cache"

    def save(self, state: State, fmt: str = "oci", annotations: dict[str, str] | None = None
             ) -> ImageRecord:
        """Store the state's config and manifest blobs; its record (not in images.json)."""
        config, manifest, mtype = manifest_bytes(state, fmt, annotations)
        cdig = "sha256:" + hashlib.sha256(config).hexdigest()
        mdig = "sha256:" + hashlib.sha256(manifest).hexdigest()
        for digest, data in ((cdig, config), (mdig, manifest)):
            if not self.blobs.has(digest):
                self.blobs.put(digest, data)
        state.id = cdig.split(":")[1]
        size = 0
        for d in state.diff_ids:
            try:
                size += int(str(self.layer_store.info(d).get("size", 0)))
            except (ValueError, OSError):
                pass
        return ImageRecord(id=state.id, names=[], digest=mdig, manifest_media_type=mtype,
                           config_digest=cdig, layers=state.diff_ids, size=size,
                           created=str(state.config.get("created", "")))

    def from_image(self, rec: ImageRecord) -> State:
        """The state of a stored image (a FROM's base)."""
        from pyman.errors import PymanError

        try:
            config = json.loads(self.blobs.path(rec.config_digest).read_bytes())
            manifest = json.loads(self.blobs.path(rec.digest).read_bytes())
        except (OSError, ValueError) as exc:
            raise PymanError(f"cannot read image {rec.id[:12]}: {exc}: remove it (pyman rmi "
                             f"-f {rec.id[:12]}) and pull it again") from None
        return State(config, list(manifest.get("layers") or []), rec.id)

    def empty_layer(self) -> str:
        """A layer with nothing in it (an empty tar), stored once; its diff_id."""
        data = b"\0" * 10240  # what tarfile writes for an archive without members
        diff_id = "sha256:" + hashlib.sha256(data).hexdigest()
        if not self.layer_store.has(diff_id):
            from pyman.storage.layers import LayerSource

            if not self.blobs.has(diff_id):
                self.blobs.put(diff_id, data)
            self.layer_store.ensure([LayerSource(self.blobs.path(diff_id), diff_id)])
        return diff_id

    # -- the cache ---------------------------------------------------------------------
    def key(self, parent: State, text: str, args: dict[str, str], extra: str = "") -> str:
        doc = json.dumps([parent.id, text, sorted(args.items()), extra])
        return hashlib.sha256(doc.encode()).hexdigest()

    def lookup(self, key: str) -> State | None:
        path = self.cache_dir / f"{key}.json"
        try:
            entry = json.loads(path.read_text())
            cdig, layers = entry["config"], entry["layers"]
            config = json.loads(self.blobs.path(cdig).read_bytes())
        except (OSError, ValueError, KeyError, TypeError):
            return None
        state = State(config, layers, cdig.split(":")[1])
        if not all(self.layer_store.has(d) for d in state.diff_ids) or \
                not all(self.blobs.has(d["digest"]) for d in layers):
            return None
        return state

    def remember(self, key: str, state: State) -> None:
        from pyman.storage.atomic import write_json

        self.cache_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.cache_dir / f"{key}.json",
                   {"config": f"sha256:{state.id}", "layers": state.layers})
