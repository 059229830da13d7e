"""A container's mounts, from what the user asked to what runc gets and inspect shows.

plan (create: parse, add the image's VOLUMEs, check host paths; nothing made yet) ->
materialize (under the names and volumes locks: make the named volumes on first use and the
anonymous ones) -> for_monitor (start: OCI mount entries plus the first-use work the monitor
does with the rootfs mounted) -> inspect (Podman's Mounts, HostConfig.Binds and .Tmpfs).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from pyman.engine.specgen.mounts import parse_all
from pyman.errors import PymanError
from pyman.storage.mount_spec import MountSpec
from pyman.storage.volumes import VolumeStore

IMAGE_VOLUME_MODES = ("bind", "tmpfs", "ignore")


def plan(volumes: list[str], mounts: list[str], tmpfs: list[str],
         image_volumes: Iterable[str], image_volume: str = "bind") -> list[MountSpec]:
    if image_volume not in IMAGE_VOLUME_MODES:
        raise PymanError(f'invalid image volume type "{image_volume}": use bind, tmpfs or '
                         "ignore")
    specs = parse_all(volumes, mounts, tmpfs)
    taken = {m.destination for m in specs}
    if image_volume != "ignore":
        for path in sorted(image_volumes):
            dest = os.path.normpath(path) if path.startswith("/") else "/" + path
            if dest in taken:
                continue
            taken.add(dest)
            if image_volume == "tmpfs":
                specs.append(MountSpec("tmpfs", dest, source="tmpfs",
                                       options=["rw", "rprivate", "nosuid", "nodev",
                                                "tmpcopyup"]))
            else:
                specs.append(MountSpec("volume", dest, options=["nosuid", "nodev", "rbind"],
                                       anonymous=True))
    for m in specs:
        if m.type == "bind" and not os.path.exists(m.source):
            raise PymanError(f"statfs {m.source}: no such file or directory")
        if m.type == "bind" and m.chown and os.path.realpath(m.source) in DANGEROUS:
            raise PymanError(f"chowning host path {m.source} is not allowed: mount a "
                             "directory below it with U")
    return specs


def materialize(specs: list[MountSpec], store: VolumeStore) -> list[dict[str, Any]]:
    """Make the volumes ``specs`` name (the caller holds the names lock; this takes the
    volumes lock). Returns the specs as the container record stores them."""
    from dataclasses import asdict

    from pyman.names import check_volume_name
    from pyman.storage.volumes import VolumeRecord

    if not any(m.type == "volume" for m in specs):
        return [asdict(m) for m in specs]
    import secrets

    from pyman.eventlog import emit

    made = []
    with store.lock():
        for m in specs:
            if m.type != "volume":
                continue
            if m.anonymous:
                m.source = secrets.token_hex(32)
                store.create(VolumeRecord(name=m.source, anonymous=True))
                made.append(m.source)
            else:
                name = check_volume_name(m.source)
                if not (store.dir(name) / "volume.json").exists():
                    made.append(name)
                store.create(VolumeRecord(name=name), exist_ok=True)
    for name in made:
        emit("volume", "create", name=name)
    return [asdict(m) for m in specs]


def for_monitor(mounts: list[dict[str, Any]], store: VolumeStore
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(OCI mount entries, first-use work) for the monitor's config."""
    oci: list[dict[str, Any]] = []
    first: list[dict[str, Any]] = []
    for raw in mounts:
        m = MountSpec.from_json(raw)
        if m.type != "volume":
            oci.append({"destination": m.destination, "type": m.type, "source": m.source,
                        "options": m.oci_options()})
            continue
        rec = store.load(m.source)
        if rec is None:
            raise PymanError(f'volume "{m.source}" of {m.destination} no longer exists: '
                             "create it again (`pyman volume create`) or remove the container")
        opts = rec.options
        o = [x for x in opts.get("o", "").split(",") if x]
        if opts.get("device") and ("bind" in o or opts.get("type") == "bind"):
            # --opt type=none --opt device=DIR --opt o=bind, or Podman's --opt type=bind
            oci.append({"destination": m.destination, "type": "bind",
                        "source": opts["device"], "options": m.oci_options()})
            continue
        if opts.get("type") == "tmpfs":
            extra = [x for x in o if not x.startswith(("uid=", "gid="))]
            oci.append({"destination": m.destination, "type": "tmpfs", "source": "tmpfs",
                        "options": [*extra, "nosuid", "nodev", m.propagation,
                                    "rw" if m.rw else "ro"]})
            continue
        data = str(store.data_dir(m.source))
        oci.append({"destination": m.destination, "type": "bind", "source": data,
                    "options": m.oci_options()})
        if rec.needs_chown or rec.needs_copy_up:
            entry: dict[str, Any] = {"meta": str(store.dir(m.source) / "volume.json"),
                                     "data": data, "dest": m.destination, "copy": m.copy}
            for key in ("uid", "gid"):
                value = opts.get(key.upper(), opts.get(key))
                if value is not None and value.isdigit():
                    entry[key] = int(value)
            first.append(entry)
    return oci, first


def chown_sources(mounts: list[dict[str, Any]], store: VolumeStore) -> list[str]:
    """The host paths of the ``U`` mounts, which the monitor gives to the container's user."""
    out: list[str] = []
    for raw in mounts:
        m = MountSpec.from_json(raw)
        if not m.chown or m.type == "tmpfs":
            continue
        if m.type == "bind":
            out.append(m.source)
            continue
        rec = store.load(m.source)
        if rec is None or rec.options.get("type") == "tmpfs":
            continue
        opts = rec.options
        bind = "bind" in opts.get("o", "").split(",") or opts.get("type") == "bind"
        out.append(opts["device"] if bind and opts.get("device")
                   else str(store.data_dir(m.source)))
    return out


# Podman's pkg/chown DangerousHostPath: the system's own trees are never chowned by U
DANGEROUS = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/media",
             "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp",
             "/usr", "/var", "/var/lib", "/var/log")


def inspect(mounts: list[dict[str, Any]], store: VolumeStore
            ) -> tuple[list[dict[str, Any]], list[str], dict[str, str]]:
    """Podman's (Mounts, HostConfig.Binds, HostConfig.Tmpfs): volumes, then binds; tmpfs
    mounts only in Tmpfs."""
    specs = [MountSpec.from_json(raw) for raw in mounts]
    docs: list[dict[str, Any]] = []
    binds: list[str] = []
    tmpfs: dict[str, str] = {}
    for m in sorted(specs, key=lambda m: (m.type != "volume", m.destination)):
        if m.type == "tmpfs":
            tmpfs[m.destination] = ",".join(m.options)
            continue
        opts = ["rw" if m.rw else "ro", m.propagation, *m.options]
        binds.append(f"{m.source}:{m.destination}:{','.join(opts)}")
        vol = m.type == "volume"
        doc: dict[str, Any] = {"Type": m.type}
        if vol:
            doc["Name"] = m.source
        doc.update({
            "Source": str(store.data_dir(m.source)) if vol else m.source,
            "Destination": m.destination,
            "Driver": "local" if vol else "",
            "Mode": "",
            "Options": list(m.options),
            "RW": m.rw,
            "Propagation": m.propagation,
        })
        docs.append(doc)
    return docs, binds, tmpfs


def default_mounts(opts: Any, path: str) -> Any:
    """--default-mounts-file: each SRC:DEST line a read-only bind in every container, unless
    the container mounts something there itself."""
    import dataclasses

    from pyman.errors import PymanError

    try:
        with open(path, encoding="utf-8") as f:
            lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    except OSError as exc:
        raise PymanError(f"--default-mounts-file {path}: {exc.strerror}") from None
    taken = {v.split(":")[1] if ":" in v else v for v in opts.volumes}
    extra = []
    for line in lines:
        src, _, dest = line.partition(":")
        if dest and dest not in taken and os.path.exists(src):
            extra.append(f"{src}:{dest}:ro")
    return dataclasses.replace(opts, volumes=[*extra, *opts.volumes])
