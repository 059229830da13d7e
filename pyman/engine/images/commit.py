"""`commit`: a container's changes (its overlay upper dir) become one more layer on its image.

The upper dir is read from inside the user namespace, so owners are the container's (0 for
its root); overlay's whiteouts (0/0 character devices) and opaque directories (the
user/trusted.overlay.opaque xattr) become the OCI layer's `.wh.` entries. The config is the
image's, with the container's process, environment and labels, then `--change` on top.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pyman.config import Paths
from pyman.engine.images.import_export import LAYER_TYPE, apply_changes
from pyman.errors import PymanError

OPAQUE_XATTRS = ("user.overlay.opaque", "trusted.overlay.opaque")


@dataclass
class CommitOptions:
    container: str
    reference: str | None = None
    changes: list[str] = field(default_factory=list)
    message: str = ""
    author: str = ""
    fmt: str = "oci"  # oci | docker (-f)


def _opaque(path: str) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


class _HashingFile:
    """A file written through a sha256 (the layer's diff_id without reading it again)."""

    def __init__(self, f: Any) -> None:
        self.f, self.sha, self.size = f, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return int(self.f.write(data))


def _tar_upper(upper: str, out_path: str, movable: list[bool] | None = None
               ) -> tuple[str, int]:
    """In the user namespace: the upper dir as an OCI layer tar at ``out_path``; its
    (diff_id, size). ``movable``: whether the dir itself can become the layer's tree (its
    first item set False when it holds what the tar does not carry: fuse-overlayfs' `.wh.`
    files); its extended attributes but the opaque marker are removed for that, as the tar
    leaves them out (overlay's own origin/impure among them)."""
    import tarfile

    check = movable is not None
    flags = movable if movable is not None else [False]
    with open(out_path, "wb") as raw:
        out = _HashingFile(raw)
        with tarfile.open(fileobj=out, mode="w|",  # type: ignore[call-overload]
                          format=tarfile.PAX_FORMAT) as tf:
            for top, dirs, files in os.walk(upper):
                dirs.sort()
                rel_top = os.path.relpath(top, upper)
                if rel_top != ".":
                    tf.add(top, arcname=rel_top, recursive=False)
                if _opaque(top):
                    info = tarfile.TarInfo(os.path.normpath(os.path.join(rel_top,
                                                                         ".wh..wh..opq")))
                    tf.addfile(info)
                if check:
                    _strip_xattrs(top, flags)
                for name in sorted(files) + [d for d in dirs if os.path.islink(
                        os.path.join(top, d))]:
                    path = os.path.join(top, name)
                    arc = os.path.normpath(os.path.join(rel_top, name))
                    st = os.lstat(path)
                    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:  # overlay's whiteout
                        info = tarfile.TarInfo(os.path.join(os.path.dirname(arc),
                                                            ".wh." + name))
                        tf.addfile(info)
                        continue
                    if check and name.startswith(".wh."):
                        flags[0] = False
                    if stat.S_ISSOCK(st.st_mode):
                        if check:
                            os.unlink(path)
                        continue
                    tf.add(path, arcname=arc, recursive=False)
                    if check and not stat.S_ISLNK(st.st_mode):
                        _strip_xattrs(path, flags)
    return f"sha256:{out.sha.hexdigest()}", out.size


def _strip_xattrs(path: str, flags: list[bool]) -> None:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        if name in OPAQUE_XATTRS:
            continue
        try:
            os.removexattr(path, name, follow_symlinks=False)
        except OSError:
            flags[0] = False


def _drop_mount_points(upper: str, lowers: list[str], drop: list[str]) -> None:
    """The runtime's mount points for pyman's own binds (/etc/hosts ...), made in the upper
    dir where the image had none: no part of what the container changed."""
    for rel in drop:
        path = os.path.join(upper, rel.lstrip("/"))
        if any(os.path.lexists(os.path.join(low, rel.lstrip("/"))) for low in lowers):
            continue
        try:
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode):
                os.rmdir(path)  # only if empty
            elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
                os.unlink(path)
        except OSError:
            continue


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def upper_layer(paths: Paths, upper: str, lowers: list[str] | None = None,
                drop: list[str] | None = None, move: bool = False) -> tuple[str, int]:
    """A container's overlay upper dir as one layer: its tar stored as a blob (named by its
    diff_id: it is stored uncompressed) and its tree in the layer store. Returns (diff_id,
    size of the tar). Also `build`'s layer commit; ``drop`` are mount points to leave out
    where none of ``lowers`` has them. ``move`` (a build container, removed next): the upper
    dir itself becomes the layer's tree, in the same user namespace, rather than being
    unpacked again from the tar and then deleted (it is already in overlay's form)."""
    from pyman.rootless.result_pipe import str_list
    from pyman.rootless.userns import run_in_userns
    from pyman.storage.blobs import BlobStore
    from pyman.storage.layers import LayerSource, LayerStore

    blobs = BlobStore(paths.blobs)
    layers = LayerStore(paths.layers)
    (blobs.root / "sha256").mkdir(parents=True, exist_ok=True)
    for old in (blobs.root / "sha256").glob(".commit-*"):  # of commits killed meanwhile
        pid = old.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            old.unlink(missing_ok=True)
    tmp = blobs.root / "sha256" / f".commit-{os.getpid()}-{threading.get_ident()}"
    try:
        def work() -> list[str]:
            _drop_mount_points(upper, lowers or [], drop or [])
            movable = [move]
            diff_id, size = _tar_upper(upper, str(tmp), movable if move else None)
            if movable[0] and not layers.has(diff_id):
                layers.adopt(upper, diff_id, size)
            return [diff_id, str(size)]

        diff_id, size_text = run_in_userns(work, decode=str_list)
        size = int(size_text)
        if not blobs.has(diff_id):
            os.replace(tmp, blobs.path(diff_id))
    finally:
        tmp.unlink(missing_ok=True)
    layers.ensure([LayerSource(blobs.path(diff_id), diff_id)])  # not adopted: unpacked
    return diff_id, size


def commit(paths: Paths, opts: CommitOptions) -> str:
    """Store the container's changes as a new image; returns its id."""
    from pyman.engine.images.operations import tag_name
    from pyman.storage.blobs import BlobStore
    from pyman.storage.containers import ContainerStore
    from pyman.storage.images import ImageRecord, ImageStore
    from pyman.storage.layers import LayerStore

    name = tag_name(opts.reference) if opts.reference else None
    if opts.fmt not in ("oci", "docker"):
        raise PymanError(f"unrecognized image type {opts.fmt!r}: --format oci or docker")
    if opts.message and opts.fmt != "docker":
        raise PymanError("messages are only compatible with the docker image format "
                         "(-f docker)")
    changes = apply_changes(opts.changes)
    store = ContainerStore(paths.containers, paths.run_containers)
    c = store.find(opts.container)
    upper = store.dir(c.id) / "upper"
    if (store.dir(c.id) / "rootfs").is_dir() or not upper.is_dir():
        raise PymanError(f"container {c.name or c.id[:12]} keeps no overlay upper layer "
                         "(storage driver vfs): commit needs the overlay driver")
    images = ImageStore(paths.data)
    base = next((i for i in images.all() if i.id == c.image_id), None)
    if base is None:
        raise PymanError(f"the image of container {c.name or c.id[:12]} ({c.image_id[:12]}) "
                         "is gone: nothing to commit onto")
    blobs = BlobStore(paths.blobs)
    diff_id, size = upper_layer(paths, str(upper))
    config, manifest, mtype = _documents(blobs, base, c, changes, opts, diff_id, size)
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    for digest, data in ((config_digest, config), (manifest_digest, manifest)):
        if not blobs.has(digest):
            blobs.put(digest, data)
    layers = LayerStore(paths.layers)
    all_layers = [*base.layers, diff_id]
    record = ImageRecord(
        id=config_digest.split(":")[1], names=[name] if name else [], digest=manifest_digest,
        manifest_media_type=mtype, config_digest=config_digest, layers=all_layers,
        size=sum(int(str(layers.info(d).get("size", 0))) for d in all_layers),
        created=json.loads(config)["created"])
    images.add(record)
    from pyman.eventlog import container

    container(c, "commit")  # Podman's: a container event, not an image one
    return record.id


def _documents(blobs: Any, base: Any, c: Any, changes: dict[str, Any], opts: CommitOptions,
               diff_id: str, size: int) -> tuple[bytes, bytes, str]:
    """The new image's config and manifest (bytes as stored), the manifest's type."""
    try:
        config: dict[str, Any] = json.loads(blobs.path(base.config_digest).read_bytes())
        base_manifest: dict[str, Any] = json.loads(blobs.path(base.digest).read_bytes())
    except (OSError, ValueError) as exc:
        raise PymanError(f"cannot read the image of the container: {exc}") from None
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + \
        f".{time.time_ns() % 1_000_000_000:09d}Z"
    cfg = dict(config.get("config") or {})
    cfg.update({"Env": list(c.env), "Cmd": list(c.cmd) or None, "WorkingDir": c.workdir})
    cfg["Entrypoint"] = list(c.entrypoint) or None
    if c.labels:
        cfg["Labels"] = {**(cfg.get("Labels") or {}), **c.labels}
    for key, value in changes.items():
        if key in ("Labels", "ExposedPorts", "Volumes"):
            cfg[key] = {**(cfg.get(key) or {}), **value}
        elif key == "Env":
            keys = {e.split("=", 1)[0] for e in value}
            cfg["Env"] = [e for e in cfg.get("Env") or [] if e.split("=", 1)[0] not in keys]
            cfg["Env"] += value
        else:
            cfg[key] = value
    history = {"created": created, "created_by": " ".join(c.args)}
    if opts.message:  # Docker's format only (checked before): the config's comment too
        history["comment"] = opts.message
        config["comment"] = opts.message
    if opts.author:
        history["author"] = opts.author
        config["author"] = opts.author
    config.update({
        "created": created, "config": {k: v for k, v in cfg.items() if v is not None},
        "rootfs": {"type": "layers",
                   "diff_ids": [*(config.get("rootfs") or {}).get("diff_ids", []), diff_id]},
        "history": [*(config.get("history") or []), history],
    })
    from pyman.engine.build.state import State, manifest_bytes

    layers = [*base_manifest.get("layers", []),
              {"mediaType": LAYER_TYPE, "digest": diff_id, "size": size}]
    return manifest_bytes(State(config, layers), opts.fmt)


def _walk_changes(upper: str, lowers: list[str]) -> dict[str, list[str]]:
    """In the user namespace: Podman's diff of the upper dir against the image's layers."""
    out: dict[str, list[str]] = {"changed": [], "added": [], "deleted": []}

    def below(rel: str) -> bool:
        return any(os.path.lexists(os.path.join(lower, rel)) for lower in lowers)

    for top, dirs, files in os.walk(upper):
        rel_top = os.path.relpath(top, upper)
        for name in dirs + files:
            rel = os.path.normpath(os.path.join(rel_top, name))
            st = os.lstat(os.path.join(top, name))
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                out["deleted"].append("/" + rel)
            else:
                out["changed" if below(rel) else "added"].append("/" + rel)
    return {k: sorted(v) for k, v in out.items()}


def _changes(value: object) -> dict[str, list[str]]:
    """The helper's report, checked: the three lists of paths and nothing else."""
    from pyman.errors import ResultError
    from pyman.rootless.result_pipe import str_list

    if not isinstance(value, dict) or set(value) != {"changed", "added", "deleted"}:
        raise ResultError("the diff helper's report is not the three lists: refused")
    return {k: str_list(v) for k, v in value.items()}


def diff(paths: Paths, key: str) -> dict[str, list[str]]:
    """`diff`: what the container changed (added, changed, deleted paths), as Podman lists
    it; the mount points the runtime made for pyman's own binds are not the user's."""
    from pyman.rootless.userns import run_in_userns
    from pyman.storage.containers import ContainerStore
    from pyman.storage.layers import LayerStore

    store = ContainerStore(paths.containers, paths.run_containers)
    c = store.find(key)
    upper = store.dir(c.id) / "upper"
    if (store.dir(c.id) / "rootfs").is_dir():
        raise PymanError(f"container {c.name or c.id[:12]} keeps no overlay upper layer "
                         "(storage driver vfs): diff needs the overlay driver")
    if not upper.is_dir():
        return {"changed": [], "added": [], "deleted": []}
    layers = LayerStore(paths.layers)
    lowers = [str(layers.diff(d)) for d in reversed(c.layers)]
    found = run_in_userns(lambda: _walk_changes(str(upper), lowers), decode=_changes)
    ours = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv",
            "/etc/localtime", *(m.get("destination", "") for m in c.mounts)}
    found["added"] = [p for p in found["added"]
                      if p not in ours and not any(o.startswith(p + "/") for o in ours)]
    # libpod's initInodes: what the engine itself makes in every container, in any list
    return {k: [p for p in v if p not in INIT_INODES] for k, v in found.items()}


INIT_INODES = frozenset(("/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/proc",
                         "/run", "/run/notify", "/run/.containerenv", "/run/secrets",
                         "/run/podman-init", "/sys", "/etc/mtab"))
