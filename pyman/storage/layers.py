"""Unpacked layers, one directory per diff_id, shared by every image that has the layer.

``layers/<hex>/diff`` is the layer's tree in overlay form, ``layers/<hex>/layer.json`` its
metadata. A layer is unpacked into ``layers/.tmp-<hex>-<pid>`` and renamed into place when
complete, so a pull killed at any moment never leaves a layer a later command would use.
Files in a layer belong to sub-ids, so creating and removing them happens in the user namespace.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pyman.errors import LayerError
from pyman.storage.atomic import write_json


@dataclass(frozen=True)
class LayerSource:
    blob: Path  # the (compressed) blob in the blob store
    diff_id: str  # sha256 of the uncompressed tar, from the image config


def _hex(diff_id: str) -> str:
    algo, _, hexpart = diff_id.partition(":")
    if algo != "sha256" or len(hexpart) != 64:
        raise LayerError(f"unsupported layer diff_id {diff_id!r}")
    return hexpart


class LayerStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def dir(self, diff_id: str) -> Path:
        return self.root / _hex(diff_id)

    def diff(self, diff_id: str) -> Path:
        return self.dir(diff_id) / "diff"

    def has(self, diff_id: str) -> bool:
        return (self.dir(diff_id) / "layer.json").exists()

    def ensure(self, sources: list[LayerSource]) -> list[str]:
        """Unpack the layers not yet present, in parallel, in one user namespace.

        Returns the warnings the unpacking produced (skipped device nodes ...).
        """
        missing = [s for s in dict.fromkeys(sources) if not self.has(s.diff_id)]
        if not missing:
            return []
        self.root.mkdir(parents=True, exist_ok=True)
        from pyman.rootless.result_pipe import str_list
        from pyman.rootless.userns import run_in_userns

        return run_in_userns(lambda: self._unpack_all(missing), decode=str_list)

    def _unpack_all(self, sources: list[LayerSource]) -> list[str]:
        self._clean_stale()
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(4, len(sources))) as pool:
            results = list(pool.map(self._unpack_one, sources))
        return [w for ws in results for w in ws]

    def _unpack_one(self, src: LayerSource) -> list[str]:
        from pyman.storage.unpack import unpack_layer

        final = self.dir(src.diff_id)
        tmp = self.root / f".tmp-{_hex(src.diff_id)}-{os.getpid()}-{id(src)}"
        (tmp / "diff").mkdir(parents=True)
        try:
            with open(src.blob, "rb") as blob:
                result = unpack_layer(blob, str(tmp / "diff"), src.diff_id)
            write_json(tmp / "layer.json", {"diff_id": result.diff_id, "size": result.size})
            try:
                os.rename(tmp, final)
            except OSError:
                if not self.has(src.diff_id):  # not a concurrent pull that won the race
                    raise
        except LayerError as exc:  # name the layer: an image has many
            raise LayerError(f"layer {src.diff_id[:19]}: "
                             f"{str(exc).removeprefix('layer ')}") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return result.warnings

    def _clean_stale(self) -> None:
        """Remove temporary dirs of pulls that were killed (their pid is gone)."""
        for entry in self.root.glob(".tmp-*"):
            pid = entry.name.split("-")[2] if entry.name.count("-") >= 3 else ""
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)

    def remove(self, diff_ids: list[str]) -> None:
        """Delete layers (inside the user namespace: their files belong to sub-ids)."""
        dirs = [self.dir(d) for d in diff_ids if self.dir(d).exists()]
        if not dirs:
            return

        def rm() -> None:
            for d in dirs:
                # rename first so a half-removed layer never looks complete
                doomed = d.with_name(f".tmp-rm-{os.getpid()}-{d.name}")
                with contextlib.suppress(FileNotFoundError):
                    os.rename(d, doomed)
                    shutil.rmtree(doomed)

        from pyman.rootless.userns import run_in_userns

        run_in_userns(rm)

    def info(self, diff_id: str) -> dict[str, object]:
        """layer.json ({"diff_id", "size"}); a damaged one is named once on stderr and reads
        as {} (size unknown): the layer's tree is unpacked whole before it is written."""
        from pyman.storage import records

        path = self.dir(diff_id) / "layer.json"
        try:
            data = records.read_json(path)
            if data is None:
                return {}
            if not isinstance(data, dict) or not records.fits(data.get("size", 0), "int"):
                raise records.CorruptRecord(path, 'not an object with an integer "size"')
        except records.CorruptRecord as err:
            records.warn(err, "size unknown:")
            return {}
        return data


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
