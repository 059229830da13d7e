"""The image store: names and tags -> image ids, in one small JSON file under a lock.

An image id is the hex of its config digest, as in Podman. An image is recorded only after all
its layers are unpacked, so a name never points at something incomplete.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyman.storage.atomic import locked, write_json


@dataclass
class ImageRecord:
    """An image of images.json: its names, manifest, config and layers."""

    id: str  # hex of the config digest
    names: list[str]  # full references: docker.io/library/alpine:latest
    digest: str  # manifest digest
    manifest_media_type: str
    config_digest: str
    layers: list[str]  # diff_ids, bottom first
    size: int  # bytes unpacked
    created: str  # the image config's "created"
    pulled: float = field(default_factory=time.time)
    digests: list[str] = field(default_factory=list)  # repo@digest names
    list_digest: str | None = None  # the manifest list / index it was pulled through
    # every name it had, the current ones first, then the newest gone (containers/storage's
    # NamesHistory: `images --format {{.History}}`, inspect's NamesHistory)
    names_history: list[str] = field(default_factory=list)

    @property
    def is_list(self) -> bool:
        """A manifest list (`manifest create`): an index of images, no config, no layers."""
        return not self.config_digest


class ImageStore:
    def __init__(self, data_dir: Path) -> None:
        self.file = data_dir / "images.json"
        self.lock = data_dir / "images.lock"

    def _load(self) -> list[ImageRecord]:
        """The usable records; a damaged entry is named once on stderr and skipped (the next
        write drops it). A file that is not a list of images at all is one error naming it
        and the fix: the layers stay, a pull records the images again."""
        from pyman.errors import CorruptRecord, StorageError
        from pyman.storage import records

        try:
            raw = records.read_json(self.file)
            if raw is None:
                return []
            entries = raw.get("images") if isinstance(raw, dict) else None
            if not isinstance(entries, list):
                raise CorruptRecord(self.file, 'no "images" list')
        except CorruptRecord as err:
            raise StorageError(
                f"the image list {self.file} is damaged ({err.why}): move it aside and pull "
                "the images again (their layers are reused)") from None
        out = []
        for i, entry in enumerate(entries):
            try:
                out.append(records.parse(ImageRecord, entry, f"{self.file} (entry {i + 1})"))
            except CorruptRecord as err:
                records.warn(err, "skipping")
        return out

    def _save(self, images: list[ImageRecord]) -> None:
        for i in images:
            i.names_history = list(dict.fromkeys([*i.names, *i.names_history]))
        write_json(self.file, {"images": [asdict(i) for i in images]})

    def all(self) -> list[ImageRecord]:
        return self._load()

    @contextmanager
    def transaction(self) -> Iterator[list[ImageRecord]]:
        """Load under the lock, let the caller change the list, save it atomically."""
        with locked(self.lock):
            images = self._load()
            yield images
            self._save(images)

    def add(self, record: ImageRecord, newest_manifest: bool = False) -> ImageRecord:
        """Record an image; names it takes are removed from other images (they get re-tagged).
        ``newest_manifest``: an image with this id already there takes the record's manifest
        (a build or commit writing it again, e.g. with other annotations or format)."""
        with self.transaction() as images:
            for other in images:
                if other.id != record.id:
                    other.names = [n for n in other.names if n not in record.names]
            existing = next((i for i in images if i.id == record.id), None)
            if existing is None:
                images.append(record)
                return record
            existing.names += [n for n in record.names if n not in existing.names]
            existing.digests += [d for d in record.digests if d not in existing.digests]
            existing.list_digest = record.list_digest or existing.list_digest
            if newest_manifest:
                existing.digest = record.digest
                existing.manifest_media_type = record.manifest_media_type
            return existing

    def find(self, key: str) -> ImageRecord | None:
        """By exact name, by id or unique id prefix (>= 3 chars), or by repo@digest."""
        images = self._load()
        key_id = key.removeprefix("sha256:")
        for img in images:
            if key in img.names or key in img.digests or img.id == key_id:
                return img
        if len(key_id) >= 3 and all(c in "0123456789abcdef" for c in key_id):
            hits = [i for i in images if i.id.startswith(key_id)]
            if len(hits) == 1:
                return hits[0]
        return None
