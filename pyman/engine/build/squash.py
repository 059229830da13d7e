"""--squash (the build's new layers as one, on the base's) and --squash-all (one layer in all).

The layers are merged from their unpacked trees (overlay form: whiteouts are 0/0 character
devices, opaque directories carry the overlay xattr) in the user namespace, bottom to top,
into one OCI layer tar; an upper layer's whiteout or opaque directory drops what the lower
new layers had there and is kept as a `.wh.` entry for what the base has.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from typing import TYPE_CHECKING

from pyman.engine.build.state import State
from pyman.engine.images.commit import _opaque
from pyman.engine.images.import_export import LAYER_TYPE

if TYPE_CHECKING:
    from pyman.engine.build.builder import Builder

_WHITEOUT = ""  # a marker: the path is whited out


def _merge(diffs: list[str], out_path: str) -> str:
    """In the user namespace: the layer trees ``diffs`` (bottom first) as one layer tar."""
    entries: dict[str, str] = {}  # rel -> the diff dir it comes from, or _WHITEOUT
    opaque: set[str] = set()
    for d in diffs:
        for top, dirs, files in os.walk(d):
            dirs.sort()
            rel_top = os.path.relpath(top, d)
            for name in [*dirs, *files]:
                rel = os.path.normpath(os.path.join(rel_top, name))
                st = os.lstat(os.path.join(top, name))
                gone = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
                is_dir = stat.S_ISDIR(st.st_mode)
                if gone or not is_dir or _opaque(os.path.join(top, name)):
                    for key in [k for k in entries if k.startswith(rel + "/")]:
                        del entries[key]
                        opaque.discard(key)
                if gone:
                    entries[rel] = _WHITEOUT
                    continue
                entries[rel] = d
                if is_dir and _opaque(os.path.join(top, name)):
                    opaque.add(rel)
    with tarfile.open(out_path, "w", format=tarfile.PAX_FORMAT) as tf:
        for rel in sorted(entries):
            src = entries[rel]
            if src == _WHITEOUT:
                tf.addfile(tarfile.TarInfo(os.path.join(os.path.dirname(rel),
                                                        ".wh." + os.path.basename(rel))))
                continue
            path = os.path.join(src, rel)
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                continue
            tf.add(path, arcname=rel, recursive=False)
            if rel in opaque:
                tf.addfile(tarfile.TarInfo(os.path.join(rel, ".wh..wh..opq")))
    return out_path


def squash(b: Builder, state: State, base_count: int) -> State:
    """``state`` with its layers from ``base_count`` on as one layer (0: all of them)."""
    from pyman.rootless.userns import run_in_userns
    from pyman.storage.layers import LayerSource

    store = b.states
    diff_ids = state.diff_ids
    if len(diff_ids) - base_count <= 1:
        return state
    diffs = [str(store.layer_store.diff(d)) for d in diff_ids[base_count:]]
    (store.blobs.root / "sha256").mkdir(parents=True, exist_ok=True)
    tmp = store.blobs.root / "sha256" / f".squash-{os.getpid()}"
    try:
        run_in_userns(lambda: _merge(diffs, str(tmp)))
        sha = hashlib.sha256()
        with open(tmp, "rb") as f:
            while chunk := f.read(1 << 20):
                sha.update(chunk)
        diff_id, size = f"sha256:{sha.hexdigest()}", tmp.stat().st_size
        if not store.blobs.has(diff_id):
            os.replace(tmp, store.blobs.path(diff_id))
    finally:
        tmp.unlink(missing_ok=True)
    store.layer_store.ensure([LayerSource(store.blobs.path(diff_id), diff_id)])
    new = state.child()
    new.layers = [*new.layers[:base_count],
                  {"mediaType": LAYER_TYPE, "digest": diff_id, "size": size}]
    new.config["rootfs"] = {"type": "layers", "diff_ids": [*diff_ids[:base_count], diff_id]}
    # one non-empty history entry per layer: the squashed steps become empty ones
    history = new.config.get("history") or []
    kept, seen = [], 0
    for h in history:
        if not h.get("empty_layer"):
            seen += 1
            if seen > base_count:
                h = {**h, "empty_layer": True}
        kept.append(h)
    new.config["history"] = kept
    b.history(new, "/bin/sh -c #(nop) squashed by pyman build", empty=False)
    b.record(new)
    return new
