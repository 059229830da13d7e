"""Named volumes: ``<data>/volumes/<name>/_data`` plus ``volume.json`` (the metadata).

A volume is created in a hidden ``.new-*`` dir and renamed into place, so it appears whole or
not at all; removal renames it to ``.rm-*`` first. ``volumes.lock`` serializes creates and
removes (and the monitor's first-use bookkeeping, see volume_copy.py).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyman.errors import CorruptRecord, VolumeExistsError, VolumeNotFoundError
from pyman.names import NAME_RE, check_volume_name
from pyman.storage.atomic import locked, write_json
from pyman.storage.records import warn

META = "volume.json"


@dataclass
class VolumeRecord:
    """A named volume's record."""

    name: str
    driver: str = "local"
    created: float = field(default_factory=time.time)
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False
    # Podman's first-use flags: copy the image's content at the mount point into the
    # (empty) volume, and give the volume dir the owner and mode of that mount point
    needs_copy_up: bool = True
    needs_chown: bool = True


class VolumeStore:
    def __init__(self, root: Path) -> None:
        self.root = root  # <data>/volumes
        self.lock_path = root / "volumes.lock"

    def dir(self, name: str) -> Path:
        return self.root / name

    def data_dir(self, name: str) -> Path:
        return self.root / name / "_data"

    def lock(self) -> locked:
        return locked(self.lock_path)

    def names(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.root)
                          if e.is_dir(follow_symlinks=False) and NAME_RE.fullmatch(e.name))
        except FileNotFoundError:
            return []

    def load(self, name: str) -> VolumeRecord | None:
        if not NAME_RE.fullmatch(name):
            return None
        from pyman.storage import records

        path = self.dir(name) / META
        try:
            rec = records.load(VolumeRecord, path)
            if rec is not None and rec.name != name:
                raise CorruptRecord(path, f"its name is not {name}")
        except CorruptRecord as err:
            err.args = (f"{err}: `pyman volume rm -f {name}` removes the volume",)
            raise
        return rec

    def get(self, name: str) -> VolumeRecord:
        rec = self.load(name)
        if rec is None:
            raise VolumeNotFoundError(f'no volume with name "{name}" found: no such volume')
        return rec

    def all(self) -> list[VolumeRecord]:
        """The usable records; each damaged one is named once on stderr and left out."""
        out = []
        for name in self.names():
            try:
                rec = self.load(name)
            except CorruptRecord as err:
                warn(err, f"skipping volume {name}:")
                continue
            if rec is not None:
                out.append(rec)
        return out

    def create(self, rec: VolumeRecord, exist_ok: bool = False) -> VolumeRecord:
        """Write the volume; the caller holds ``lock()``. With ``exist_ok`` an existing
        volume of that name is returned instead."""
        check_volume_name(rec.name)
        old = self.load(rec.name)
        if old is not None:
            if exist_ok:
                return old
            raise VolumeExistsError(
                f"volume with name {rec.name} already exists: volume already exists")
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".new-{os.urandom(8).hex()}"  # not the name: it may be 255 long
        try:
            tmp.mkdir(mode=0o700)
            (tmp / "_data").mkdir(mode=0o755)
            write_json(tmp / META, asdict(rec), sync=False)
            os.rename(tmp, self.dir(rec.name))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return rec

    def save(self, rec: VolumeRecord) -> None:
        write_json(self.dir(rec.name) / META, asdict(rec), sync=False)

    def delete(self, name: str) -> None:
        """Remove the volume; its files may belong to sub-ids (written by a container)."""
        src = self.dir(name)
        doomed = self.root / f".rm-{os.urandom(8).hex()}"
        try:
            os.rename(src, doomed)
        except FileNotFoundError:
            return
        rmtree_any(doomed)

    def sweep(self, min_age: float = 60) -> None:
        """What a killed create or remove left (hidden dirs older than ``min_age``)."""
        now = time.time()
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return
        for e in entries:
            if e.name.startswith((".new-", ".rm-")):
                try:
                    if now - e.stat(follow_symlinks=False).st_mtime >= min_age:
                        rmtree_any(Path(e.path))
                except FileNotFoundError:
                    continue


def rmtree_any(path: Path) -> None:
    """Remove a tree; files a container wrote belong to sub-ids: then in the user namespace."""
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except PermissionError:
        from pyman.rootless.userns import run_in_userns

        run_in_userns(lambda: shutil.rmtree(path, ignore_errors=True))
