"""The permissions of a container's root directory, as containers/storage gives them: its
overlay driver makes each layer's diff dir 0555 (or its parent layer's mode) and a root
entry in the layer's tar sets it; the container's upper dir, whose mode the rootfs root
shows, takes the top layer's.
Recorded in layer.json at unpack (storage/unpack.py); a layer unpacked before that was
recorded is asked its blob's first tar header, which is where the root entry sits."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyman.engine.images.operations import ImageService
    from pyman.storage.images import ImageRecord

DEFAULT = 0o555  # containers/storage's defaultPerms


def image_root_mode(images: ImageService, rec: ImageRecord) -> int:
    mode = DEFAULT
    blobs: list[str] | None = None
    for i, diff_id in enumerate(rec.layers):
        got = images.layers.info(diff_id).get("root_mode")
        if not isinstance(got, int):  # unpacked before it was recorded
            if blobs is None:
                blobs = _layer_blobs(images, rec)
            got = _first_header_mode(images, blobs[i]) if i < len(blobs) else -1
        if got >= 0:
            mode = got
    return mode


def _layer_blobs(images: ImageService, rec: ImageRecord) -> list[str]:
    try:
        path = images.paths.blobs / "sha256" / rec.digest.split(":", 1)[-1]
        layers = json.loads(path.read_bytes()).get("layers") or []
        return [str(d.get("digest", "")) for d in layers]
    except (OSError, ValueError, AttributeError):
        return []


def _first_header_mode(images: ImageService, digest: str) -> int:
    """The root entry's permissions from the (gzip or plain) tar blob; -1 when it has none
    first, or the blob cannot be read."""
    import gzip
    import tarfile

    path = images.paths.blobs / "sha256" / digest.split(":", 1)[-1]
    try:
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if gz else raw
            with tarfile.open(fileobj=stream, mode="r|") as tf:
                first = tf.next()
    except (OSError, tarfile.TarError, EOFError, ValueError):
        return -1
    if first is not None and first.isdir() and first.name.strip("./") == "":
        return first.mode & 0o777
    return -1
