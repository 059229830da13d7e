"""`system df`: what images, containers and volumes take on disk, as Podman reports it.

Image sizes are the records' (the unpacked layers); a container's is its overlay upper dir
and a volume's its data, both summed from inside the user namespace (their files belong to
sub-ids, and some directories are not readable from outside).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from pyman.engine import Engine


def _tree_size(path: str) -> int:
    total = 0
    for top, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except OSError:
                continue
    return total


def _sizes(paths: list[str]) -> list[int]:
    """Sizes of the trees at ``paths`` (0 for a missing one), summed in the user namespace."""
    if not any(os.path.isdir(p) for p in paths):
        return [0 for _ in paths]
    from pyman.rootless.userns import run_in_userns

    return run_in_userns(lambda: [_tree_size(p) if os.path.isdir(p) else 0 for p in paths],
                         decode=_int_list)


def _int_list(value: object) -> list[int]:
    """The helper's report, checked: one size per path."""
    from pyman.errors import ResultError

    if not isinstance(value, list) or not all(type(v) is int and v >= 0 for v in value):
        raise ResultError("the size helper's report is not a list of sizes: refused")
    return value


@dataclass
class DiskUsage:
    images: list[dict[str, Any]] = field(default_factory=list)
    containers: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)


def disk_usage(engine: Engine) -> DiskUsage:
    out = DiskUsage()
    summaries = engine.containers.summaries(True)
    configs = {c.id: c for c in engine.containers.store.all()}
    volumes = engine.volumes.ls()
    tree_paths = [str(engine.containers.store.dir(c.id) / "upper") for c in summaries]
    tree_paths += [str(engine.volumes.store.data_dir(v.name)) for v in volumes]
    sizes = _sizes(tree_paths)
    for view in engine.images.views():
        rec = view.record
        users = [c for c in summaries if c.image_id == rec.id]
        out.images.append({"record": rec, "created": view.created, "size": rec.size,
                           "containers": len(users)})
    volume_users: dict[str, int] = {}
    for c, size in zip(summaries, sizes, strict=False):
        cfg = configs.get(c.id)
        names = [m.get("source", "") for m in (cfg.mounts if cfg else [])
                 if m.get("type") == "volume"]
        for name in names:
            volume_users[name] = volume_users.get(name, 0) + 1
        out.containers.append({"summary": c, "size": size, "volumes": len(names)})
    for v, size in zip(volumes, sizes[len(summaries):], strict=False):
        out.volumes.append({"name": v.name, "links": volume_users.get(v.name, 0),
                            "size": size})
    return out
