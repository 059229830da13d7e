"""`volume export` and `volume import`: a volume's data as a tar stream, both ways.

Both run as root in a fully mapped user namespace, so owners in the archive are the ones
containers see (0 for root) and an import lands them as they were. The import goes through
the layer unpacker: every entry stays inside the volume (``..``, absolute names and
symlinks in the archive cannot reach the host's files).
"""

from __future__ import annotations

import os

from pyman.errors import PymanError
from pyman.storage.volumes import VolumeRecord, VolumeStore


def _data_dir(store: VolumeStore, name: str) -> str:
    rec: VolumeRecord = store.get(name)
    kind = rec.options.get("type", "")
    o = rec.options.get("o", "").split(",")
    if kind and kind != "tmpfs" or "bind" in o:
        # as Podman: its data lives where a running container mounts it, not in the store
        raise PymanError(f"volume is using a driver {rec.driver} and volume is not mounted "
                         f"on {store.data_dir(rec.name)}")
    if kind == "tmpfs":
        raise PymanError(f"volume {rec.name} is a tmpfs: it keeps no data outside a "
                         "running container")
    return str(store.data_dir(rec.name))


def export_volume(store: VolumeStore, name: str, out_fd: int) -> None:
    """Stream volume ``name``'s data as tar to ``out_fd``."""
    from pyman.engine.images.import_export import _tar_overlay
    from pyman.rootless.userns import run_in_userns

    data = _data_dir(store, name)
    run_in_userns(lambda: _tar_overlay([data], out_fd))


def import_volume(store: VolumeStore, name: str, in_fd: int, source: str) -> None:
    """Unpack the tar (plain or compressed) read from ``in_fd`` into volume ``name``; files
    already there stay unless the archive replaces them."""
    from pyman.rootless.userns import run_in_userns

    data = _data_dir(store, name)

    def unpack() -> None:
        from pyman.errors import LayerError
        from pyman.storage.unpack import unpack_layer

        with os.fdopen(in_fd, "rb", closefd=False) as raw:
            try:
                unpack_layer(raw, data, None)  # type: ignore[arg-type]
            except LayerError as exc:
                raise PymanError(f"importing {source} into volume {name}: {exc}") from None

    run_in_userns(unpack)
