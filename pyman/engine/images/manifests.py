"""Manifest lists (`pyman manifest ...`): an index of images, stored as Podman stores one, as
an image of its own with a name, a random id and the list as its manifest (a blob in the
blob store), no config and no layers. `images` lists it; run, inspect, save and push of it
answer as Podman does, with the error that it holds no image of its own.

The entries are local images (their stored manifest, size and platform): pyman adds no image
it has not pulled.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from pyman.config import Paths
from pyman.engine.images.operations import ImageService, tag_name
from pyman.errors import ImageNotFoundError, PymanError
from pyman.image.manifest import DOCKER_LIST
from pyman.storage.images import ImageRecord


@dataclass
class AddOptions:
    arch: str = ""
    os: str = ""
    variant: str = ""
    annotations: dict[str, str] = field(default_factory=dict)


class ManifestService:
    def __init__(self, paths: Paths, images: ImageService | None = None) -> None:
        self.paths = paths
        self.images = images or ImageService(paths)

    # -- reading --------------------------------------------------------------------------
    def find(self, name: str) -> ImageRecord:
        rec = self.images.find_local(name)
        if rec is None:
            raise ImageNotFoundError(f"{name}: image not known")
        if not rec.is_list:
            raise PymanError(f"{name} is an image, not a manifest list: pyman manifest reads "
                             "local lists only")
        return rec

    def exists(self, name: str) -> bool:
        rec = self.images.find_local(name)
        return rec is not None and rec.is_list

    def document(self, rec: ImageRecord) -> dict[str, Any]:
        path = self.paths.blobs / "sha256" / rec.digest.split(":", 1)[1]
        try:
            doc = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise PymanError(f"the manifest list {path} cannot be read ({exc}): remove it "
                             f"(pyman manifest rm {rec.id[:12]}) and create it again") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("manifests", []), list):
            raise PymanError(f"the manifest list {path} is damaged: remove it (pyman manifest "
                             f"rm {rec.id[:12]}) and create it again")
        return doc

    def inspect(self, name: str) -> dict[str, Any]:
        doc = self.document(self.find(name))
        # Go marshals an empty list as null, and Podman prints that
        return {**doc, "manifests": doc.get("manifests") or None}

    # -- writing --------------------------------------------------------------------------
    def _entry(self, image: str, opts: AddOptions) -> dict[str, Any]:
        rec = self.images.find_local(image)
        if rec is None:
            raise ImageNotFoundError(f"{image}: image not known: pull it first (pyman adds "
                                     "local images to manifest lists)")
        if rec.is_list:
            raise PymanError(f"{image} is a manifest list itself: add the images it lists")
        cfg = self.images.config(rec)
        blob = self.paths.blobs / "sha256" / rec.digest.split(":", 1)[1]
        platform = {"architecture": opts.arch or str(cfg.get("architecture", "")),
                    "os": opts.os or str(cfg.get("os", ""))}
        variant = opts.variant or str(cfg.get("variant", ""))
        if variant:
            platform["variant"] = variant
        entry: dict[str, Any] = {"mediaType": rec.manifest_media_type,
                                 "size": blob.stat().st_size, "digest": rec.digest,
                                 "platform": platform}
        if opts.annotations:
            entry["annotations"] = dict(opts.annotations)
        return entry

    def _write(self, doc: dict[str, Any]) -> tuple[str, int]:
        """Store the list as a blob; its digest and size."""
        import hashlib

        from pyman.storage.blobs import BlobStore

        data = json.dumps(doc, indent=4).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        BlobStore(self.paths.blobs).put(digest, data)
        return digest, len(data)

    def create(self, name: str, images: list[str], amend: bool = False) -> str:
        full = tag_name(name)
        existing = self.images.store.find(full)
        if existing is not None:
            if amend and existing.is_list:
                for image in images:
                    self.add(existing.id, image)
                return existing.id
            raise PymanError(f'creating image to hold manifest list: image name "{full}" is '
                             f'already associated with image "{existing.id}": that name is '
                             "already in use")
        entries = [self._entry(i, AddOptions()) for i in images]
        doc = {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": entries}
        digest, size = self._write(doc)
        now = time.time()
        rec = ImageRecord(id=secrets.token_hex(32), names=[full], digest=digest,
                          manifest_media_type=DOCKER_LIST, config_digest="", layers=[],
                          size=size, created=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                           time.gmtime(now)))
        return self.images.store.add(rec).id

    def _update(self, rec: ImageRecord, change: Any) -> str:
        doc = self.document(rec)
        doc["manifests"] = change(list(doc.get("manifests") or []))
        digest, size = self._write(doc)
        with self.images.store.transaction() as images:
            for i in images:
                if i.id == rec.id:
                    i.digest, i.size = digest, size
        self.images.delete_unused_storage()  # the list's former blob
        return rec.id

    def add(self, name: str, image: str, opts: AddOptions | None = None) -> str:
        entry = self._entry(image, opts or AddOptions())

        def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [e for e in entries if e.get("digest") != entry["digest"]] + [entry]

        return self._update(self.find(name), change)

    def remove_entry(self, name: str, digest: str) -> str:
        rec = self.find(name)
        entries = self.document(rec).get("manifests") or []
        if not any(e.get("digest") == digest for e in entries):
            raise PymanError(f"removing from manifest list {name}: no instance {digest} in "
                             "it: see pyman manifest inspect")
        self._update(rec, lambda es: [e for e in es if e.get("digest") != digest])
        return rec.id

    def remove(self, name: str) -> list[str]:
        """manifest rm: the list (never an image), as rmi reports it."""
        rec = self.find(name)
        return self.images.remove(rec.id, lambda _: [], every_name=True)
