"""push to `dir:PATH`: containers/image's directory transport (each blob as a file named by
its hex digest, manifest.json, a version file), as `podman push IMAGE dir:PATH` writes it."""

from __future__ import annotations

import os
import shutil
from typing import Any

from pyman.engine.types import PushReport
from pyman.errors import PymanError

VERSION = "Directory Transport Version: 1.1\n"


def push_dir(registry: Any, rec: Any, path: str, image: str, events: Any) -> PushReport:
    from pyman.image.push import load_manifest, missing_blobs
    from pyman.storage.blobs import BlobStore

    if not path:
        raise PymanError("dir: needs a directory path (dir:/some/where)")
    if events is not None and hasattr(events, "started"):
        events.started()
    blobs = BlobStore(registry.paths.blobs)
    data, manifest = load_manifest(blobs, rec.digest, image)
    missing = missing_blobs(blobs, manifest)
    if missing:  # loaded or imported without compressed blobs: compress them again
        data, manifest = registry._rebuild_layers(rec, blobs, data, manifest, set(missing),
                                                  image, events)
    os.makedirs(path, exist_ok=True)
    done: dict[str, str] = {}
    for digest in [layer.digest for layer in manifest.layers] + [manifest.config.digest]:
        target = os.path.join(path, digest.split(":", 1)[-1])
        tmp = target + ".tmp"
        shutil.copyfile(blobs.path(digest), tmp)
        os.replace(tmp, target)
        done[digest] = "uploaded"
        if events is not None and hasattr(events, "blob"):
            kind = "config" if digest == manifest.config.digest else "layer"
            events.blob(digest, kind, "uploaded")
    for name, content in (("manifest.json", data), ("version", VERSION.encode())):
        with open(os.path.join(path, name), "wb") as f:
            f.write(content)
    import hashlib

    return PushReport(f"dir:{path}", "sha256:" + hashlib.sha256(data).hexdigest(), done)

