"""--userns=auto: the ids a new container gets, apart from every other auto container's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyman.engine.specgen import userns

if TYPE_CHECKING:
    from pyman.engine.containers.operations import ContainerService
    from pyman.storage.images import ImageRecord


def allocate(svc: ContainerService, image: ImageRecord, mode: str) -> tuple[str, int]:
    """(mode with its size, first id in the monitor's namespace)."""
    from pyman.rootless.userns import host_id_maps

    size = userns.auto_size(mode) or userns.image_size(_image_ids(svc, image))
    total = sum(m.count for m in host_id_maps().uid)
    taken = []
    for c in svc.store.all():
        if c.userns.startswith("auto") and c.userns_base:
            taken.append((c.userns_base, userns.auto_size(c.userns)))
    return f"auto:size={size}", userns.pick_auto_base(size, total, taken)


def _image_ids(svc: ContainerService, image: ImageRecord) -> list[int]:
    """The uids and gids the image's /etc/passwd and /etc/group name (the top-most layer
    holding each file), read as the container's files are: resolved inside the layer."""
    from pyman.runtime.inroot import NotReadable, read_in_root

    ids: list[int] = []
    for name in ("etc/passwd", "etc/group"):
        for diff in reversed(image.layers):
            try:
                data = read_in_root(str(svc.images.layers.diff(diff)), name)
            except (NotReadable, OSError):
                data = None
            if data is None:
                continue
            for line in data.decode(errors="replace").splitlines():
                fields = line.split(":")
                if len(fields) > 2 and fields[2].isdigit():
                    ids.append(int(fields[2]))
            break
    return ids
