"""Volume operations: create, list with filters, inspect documents, remove, prune.

Lock order, everywhere: the container names lock, then the volumes lock. A container create
takes both while it makes the volumes it names and writes its record, and a volume removal
takes both while it checks that no container uses the volume, so neither sees half of the other.
"""

from __future__ import annotations

import os
import re
from typing import Any

from pyman.config import Paths
from pyman.engine.containers.inspect import rfc3339
from pyman.errors import PymanError, VolumeInUseError
from pyman.eventlog import emit
from pyman.names import check_volume_name
from pyman.storage.atomic import locked
from pyman.storage.containers import ContainerConfig, ContainerStore
from pyman.storage.volumes import VolumeRecord, VolumeStore

# the local driver's options (Podman 4.3): mount(8)-style type/device/o, owner, copy-up
VOLUME_OPTS = ("type", "device", "o", "UID", "GID", "uid", "gid", "copy", "nocopy", "size",
               "inodes")
FILTERS = ("name", "label", "dangling", "driver", "scope", "opt", "until")


def check_options(opts: dict[str, str]) -> None:
    for key in opts:
        if key not in VOLUME_OPTS:
            raise PymanError(f"invalid mount option {key} for driver 'local': invalid argument")
    if "size" in opts or "inodes" in opts:
        raise PymanError("volume options size and inodes not supported. Filesystem does not "
                         "support Project Quota")
    o = opts.get("o", "")
    bind = "bind" in o.split(",") or opts.get("type") == "bind"
    if bind and not opts.get("device"):
        raise PymanError("a volume with o=bind needs --opt device=<host-dir>")
    if bind and not os.path.exists(opts["device"]):  # Podman's words, at create time
        raise PymanError(f"invalid volume option device for driver 'local': stat "
                         f"{opts['device']}: no such file or directory")


def parse_kv(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


class VolumeService:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.store = VolumeStore(paths.volumes)
        self.containers = ContainerStore(paths.containers, paths.run_containers)

    def names_lock(self) -> locked:
        return locked(self.containers.names_lock)

    # -- create -------------------------------------------------------------------------
    def create(self, name: str | None = None, *, labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None, driver: str = "local",
               ignore: bool = False) -> VolumeRecord:
        if driver != "local":
            raise PymanError(f"volume {name or ''} uses volume plugin {driver} but it could "
                             f"not be retrieved: no volume plugin with name {driver} "
                             "available: required plugin missing")
        opts = dict(options or {})
        check_options(opts)
        # as Podman: o=uid=N,gid=N owns the volume like UID=/GID= (Quadlet's User=/Group=)
        for item in opts.get("o", "").split(","):
            key, eq, value = item.partition("=")
            if eq and key in ("uid", "gid"):
                if not value.isdigit():
                    raise PymanError(f"cannot convert {key.upper()} {value} to integer: "
                                     f'strconv.Atoi: parsing "{value}": invalid syntax')
                opts[key.upper()] = value
        if name:  # "" is no name, as in Podman: a generated one
            check_volume_name(name)
        rec = VolumeRecord(name=name or os.urandom(32).hex(), labels=dict(labels or {}),
                           options=opts, anonymous=False)
        if "nocopy" in opts:
            rec.needs_copy_up = False
        with self.store.lock():
            existed = ignore and bool(name) and self.exists(rec.name)
            rec = self.store.create(rec, exist_ok=ignore)
        if not existed:
            emit("volume", "create", name=rec.name)
        return rec

    def ensure(self, name: str | None, anonymous: bool) -> VolumeRecord:
        """A volume a container names (created on first use) or a new anonymous one; the
        caller holds the volumes lock."""
        if name is None:
            return self.store.create(VolumeRecord(name=os.urandom(32).hex(), anonymous=True))
        return self.store.create(VolumeRecord(name=name), exist_ok=True)

    # -- read ---------------------------------------------------------------------------
    def get(self, name: str) -> VolumeRecord:
        return self.store.get(name)

    def find(self, name: str) -> VolumeRecord | None:
        """The volume of that name; None when there is none."""
        return self.store.load(name)

    def data_dir(self, name: str) -> str:
        """`volume mount`: where a local volume's data is (always there, never mounted)."""
        return str(self.store.data_dir(self.store.get(name).name))

    def export(self, name: str, out_fd: int) -> None:
        """The volume's data as tar on ``out_fd``."""
        from pyman.engine.volumes.archive import export_volume

        export_volume(self.store, name, out_fd)

    def import_tar(self, name: str, in_fd: int, source: str) -> None:
        """A tar (plain or compressed) from ``in_fd`` unpacked into the volume."""
        from pyman.engine.volumes.archive import import_volume

        import_volume(self.store, name, in_fd, source)

    def exists(self, name: str) -> bool:
        try:
            return self.store.load(name) is not None
        except PymanError:
            return True

    def users(self, name: str, configs: list[ContainerConfig] | None = None) -> list[str]:
        """Ids of the containers that mount volume ``name``."""
        configs = self.containers.all() if configs is None else configs
        return [c.id for c in configs
                if any(m.get("type") == "volume" and m.get("source") == name
                       for m in getattr(c, "mounts", []) or [])]

    def used(self) -> set[str]:
        """Names of the volumes some container mounts."""
        return {m.get("source", "") for c in self.containers.all() for m in c.mounts
                if m.get("type") == "volume"}

    def ls(self, filters: list[str] | None = None) -> list[VolumeRecord]:
        wanted: dict[str, list[str]] = {}
        for item in filters or []:
            key, eq, value = item.partition("=")
            if key not in FILTERS:
                raise PymanError(f'"{key}" is an invalid volume filter')
            if not eq:
                raise PymanError(f"invalid filter {item!r}: use key=value")
            wanted.setdefault(key, []).append(value)
        recs = self.store.all()
        used: set[str] | None = None
        if "dangling" in wanted:
            used = self.used()
        return [r for r in recs if _matches(r, wanted, used)]

    def inspect(self, rec: VolumeRecord) -> dict[str, Any]:
        """Podman's `volume inspect` document."""
        doc: dict[str, Any] = {
            "Name": rec.name,
            "Driver": rec.driver,
            "Mountpoint": str(self.store.data_dir(rec.name)),
            "CreatedAt": rfc3339(rec.created),
            "Labels": dict(rec.labels),
            "Scope": "local",
            "Options": dict(rec.options),
        }
        if rec.anonymous:
            doc["Anonymous"] = True
        doc["MountCount"] = 0
        if rec.needs_copy_up:
            doc["NeedsCopyUp"] = True
        if rec.needs_chown:
            doc["NeedsChown"] = True
        return doc

    # -- remove -------------------------------------------------------------------------
    def remove(self, name: str, *, force: bool = False,
               remove_container: Any = None) -> str:
        """Remove volume ``name``. In use: an error naming the containers, unless ``force``,
        which first removes them with ``remove_container(id)``. A damaged record goes too."""
        self._known(name)
        if force and remove_container is not None:
            for cid in self.users(name):
                remove_container(cid)
        with self.names_lock(), self.store.lock():
            self._known(name)
            users = self.users(name)
            if users:
                raise VolumeInUseError(
                    f"volume {name} is being used by the following container(s): "
                    f"{', '.join(users)}: volume is being used")
            self.store.delete(name)
        emit("volume", "remove", name=name)
        return name

    def _known(self, name: str) -> None:
        """The volume exists (``get``'s error if not); a damaged record counts: removing it
        is the cure its warning names."""
        from pyman.errors import CorruptRecord

        try:
            self.store.get(name)
        except CorruptRecord:
            pass

    def remove_anonymous(self, c: ContainerConfig) -> None:
        """The anonymous volumes of a removed container (rm -v, --rm), unless another
        container mounts one of them too."""
        names = [m["source"] for m in c.mounts if m.get("type") == "volume"
                 and m.get("anonymous") and m.get("source")]
        if not names:
            return
        with self.names_lock(), self.store.lock():
            configs = [o for o in self.containers.all() if o.id != c.id]
            for name in names:
                if not self.users(name, configs):
                    self.store.delete(name)
                    emit("volume", "remove", name=name)

    def prune(self, filters: list[str] | None = None) -> list[str]:
        """Every volume no container uses (matching ``filters``: label=)."""
        self.store.sweep()
        removed = []
        with self.names_lock(), self.store.lock():
            used = self.used()
            for rec in self.ls(filters):
                if rec.name not in used:
                    self.store.delete(rec.name)
                    removed.append(rec.name)
                    emit("volume", "remove", name=rec.name)
                    emit("volume", "prune", name=rec.name)
        return removed


def _label_match(labels: dict[str, str], spec: str) -> bool:
    key, eq, value = spec.partition("=")
    return key in labels and (not eq or labels[key] == value)


def _matches(r: VolumeRecord, wanted: dict[str, list[str]], used: set[str] | None) -> bool:
    """Podman's volume filters: values of one key are ORed, different keys ANDed."""
    for key, values in wanted.items():
        if key == "name":
            ok = any(re.search(v, r.name) for v in values)
        elif key == "label":
            ok = all(_label_match(r.labels, v) for v in values)
        elif key == "driver":
            ok = r.driver in values
        elif key == "scope":
            ok = "local" in values
        elif key == "opt":
            ok = any(_label_match(r.options, v) for v in values)
        elif key == "dangling":
            want = values[-1].lower() in ("true", "1")
            ok = (r.name not in (used or set())) == want
        else:  # until
            ok = all(r.created < parse_when(v) for v in values)
        if not ok:
            return False
    return True


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_when(value: str) -> float:
    """A filter's time: epoch seconds, a Go duration before now (24h, 90m), or RFC 3339."""
    import time
    from datetime import datetime

    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    parts = _DURATION.findall(value)
    if parts and "".join(n + u for n, u in parts) == value:
        return time.time() - sum(float(n) * _UNIT[u] for n, u in parts)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise PymanError(f"invalid time {value!r} in a filter: use a timestamp, a duration "
                         "(24h) or an RFC 3339 time") from None
