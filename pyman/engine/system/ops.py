"""`system reset` and `system migrate`: the user's whole store at once.

Files in layers, upper dirs and volumes belong to sub-ids, so removing trees happens inside
the user namespace, as every removal in pyman does.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pyman.engine import Engine
from pyman.errors import PymanError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyman.storage.blobs import BlobStore


def reset(engine: Engine) -> list[str]:
    """Stop and remove every pod and container (and their volumes), every network but the
    default one, then the store and the runtime dir whole (images, volumes, records that
    are damaged too). Returns what could not be done, as warnings."""
    from pyman.netns.networks import DEFAULT_NAME, NetworkStore

    warnings: list[str] = []
    for pod in engine.pods.summaries():
        try:
            engine.pods.remove(pod.id, force=True, timeout=0, ignore=True)
        except PymanError as exc:
            warnings.append(str(exc))
    for c in engine.containers.summaries(True):
        try:
            engine.containers.remove(c.id, force=True, timeout=0, volumes=True)
        except PymanError as exc:
            warnings.append(str(exc))
    try:
        store = NetworkStore()
        for doc in store.all():
            if doc["name"] != DEFAULT_NAME:
                store.remove(doc["name"])
    except (PymanError, OSError) as exc:
        warnings.append(f"networks: {exc}")
    p = engine.paths
    doomed = [p.data, p.runtime] + ([p.volumes] if p.volume_path else [])
    remove_trees([d for d in doomed if d.exists()])
    left = [str(d) for d in doomed if d.exists()]
    if left:
        warnings.append(f"could not remove {', '.join(left)}: remove it as root")
    return warnings


def remove_trees(dirs: list[Path]) -> None:
    """Remove whole trees whose files may belong to sub-ids: in the user namespace, then
    what is left (the user's own files, when the namespace cannot be made) from here."""
    from pyman.rootless.userns import run_in_userns

    def rm() -> None:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)

    try:
        run_in_userns(rm)
    except PymanError:
        pass  # no user namespace (no sub-ids any more): take what is ours
    rm()


@dataclass
class Migration:
    stale_layers: list[str] = field(default_factory=list)  # diff ids re-unpacked
    moved_to: str = ""  # where the old trees went (root removes them)
    stale_containers: list[str] = field(default_factory=list)  # names with old-range files
    unrecoverable: list[str] = field(default_factory=list)  # layers without their blob


def _mapped_ids() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The host ids the user's namespaces map now: (start, count) for uids and gids."""
    from pyman.rootless.userns import host_id_maps

    maps = host_id_maps()
    return [(m.outside, m.count) for m in maps.uid], [(m.outside, m.count) for m in maps.gid]


def _foreign(root: Path, uids: list[tuple[int, int]], gids: list[tuple[int, int]]) -> bool:
    """Whether a file under ``root`` belongs to an id outside the current maps (seen from the
    host: such files were made with another sub-id range). Unreadable dirs are skipped:
    they are checked by their own owner."""
    def inside(i: int, ranges: list[tuple[int, int]]) -> bool:
        return any(start <= i < start + count for start, count in ranges)

    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
        for name in dirnames + filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if not inside(st.st_uid, uids) or not inside(st.st_gid, gids):
                return True
    return False


def migrate(engine: Engine) -> Migration:
    """After the user's sub-id range changed: layers whose files belong to ids outside the
    current range are unpacked again from their blobs (the old trees are moved aside, for
    root to remove: the user owns them no more); containers holding such files are named."""
    import time

    from pyman.storage.blobs import BlobStore
    from pyman.storage.layers import LayerSource

    out = Migration()
    uids, gids = _mapped_ids()
    layers = engine.images.layers
    root = engine.paths.layers
    if root.exists():
        for d in sorted(root.iterdir()):
            if not d.name.startswith(".") and _foreign(d / "diff", uids, gids):
                out.stale_layers.append(f"sha256:{d.name}")
    blobs = BlobStore(engine.paths.blobs)
    sources: dict[str, LayerSource] = {}
    for rec in engine.images.store.all():
        for diff_id, digest in zip(rec.layers, _layer_digests(blobs, rec.digest), strict=False):
            if diff_id in out.stale_layers and blobs.has(digest):
                sources[diff_id] = LayerSource(blobs.path(digest), diff_id)
    out.unrecoverable = [d for d in out.stale_layers if d not in sources]
    if sources:
        from pyman.rootless.userns import run_in_userns

        try:  # the new range works: only then is anything moved
            run_in_userns(lambda: None)
        except PymanError as exc:
            raise PymanError(f"{len(sources)} layer(s) hold files of another sub-id range, "
                             "but no user namespace can be made with the current one, so "
                             f"nothing was changed: {exc}") from None
        aside = engine.paths.data / f"migrated-{int(time.time())}"
        aside.mkdir(mode=0o700)
        for diff_id in out.stale_layers:
            if diff_id in sources:
                os.rename(layers.dir(diff_id), aside / diff_id.split(":")[1])
        out.moved_to = str(aside)
        layers.ensure(list(sources.values()))
    for c in engine.containers.summaries(True):
        upper = engine.paths.containers / c.id / "upper"
        if upper.exists() and _foreign(upper, uids, gids):
            out.stale_containers.append(c.name)
    return out


def _layer_digests(blobs: BlobStore, manifest_digest: str) -> list[str]:
    """The layer blob digests of a stored manifest, in order ([] when it cannot be read)."""
    import json

    try:
        doc = json.loads(blobs.path(manifest_digest).read_bytes())
        return [str(layer["digest"]) for layer in doc.get("layers", [])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
