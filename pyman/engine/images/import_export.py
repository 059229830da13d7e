"""`import` (a rootfs tarball becomes a one-layer image) and `export` (a container's
filesystem as a tarball, owners as the container sees them)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shlex
import time
from dataclasses import dataclass, field
from typing import IO, Any

from pyman.config import Paths
from pyman.errors import PymanError

LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CHANGE_KEYS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "STOPSIGNAL", "USER", "VOLUME",
               "WORKDIR", "ONBUILD")


@dataclass
class ImportOptions:
    source: str  # a file path, or "-" for stdin
    reference: str | None = None
    changes: list[str] = field(default_factory=list)
    message: str = ""


def apply_changes(changes: list[str]) -> dict[str, Any]:
    """Dockerfile instructions (`--change`) -> the image config's `config` object."""
    cfg: dict[str, Any] = {}
    for change in changes:
        key, _, value = change.strip().partition(" ")
        key, value = key.upper(), value.strip()
        if key not in CHANGE_KEYS or not value:
            raise PymanError(f"invalid --change {change!r}: use one of {', '.join(CHANGE_KEYS)} "
                             "followed by its value, e.g. --change 'CMD [\"/bin/sh\"]'")
        if key in ("CMD", "ENTRYPOINT"):
            cfg["Cmd" if key == "CMD" else "Entrypoint"] = _command(value, change)
        elif key in ("ENV", "LABEL"):
            target = cfg.setdefault("Env" if key == "ENV" else "Labels",
                                    [] if key == "ENV" else {})
            for k, v in _pairs(value, change):
                if key == "ENV":
                    target[:] = [e for e in target if not e.startswith(f"{k}=")] + [f"{k}={v}"]
                else:
                    target[k] = v
        elif key == "EXPOSE":
            for port in value.split():
                cfg.setdefault("ExposedPorts", {})[port if "/" in port else f"{port}/tcp"] = {}
        elif key == "VOLUME":
            vols = json.loads(value) if value.startswith("[") else value.split()
            for v in vols:
                cfg.setdefault("Volumes", {})[v] = {}
        elif key == "ONBUILD":
            cfg.setdefault("OnBuild", []).append(value)
        else:
            cfg[{"USER": "User", "WORKDIR": "WorkingDir", "STOPSIGNAL": "StopSignal"}[key]] = value
    return cfg


def _command(value: str, change: str) -> list[str]:
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise PymanError(f"invalid --change {change!r}: not a JSON array of strings"
                             ) from None
        if not isinstance(parsed, list) or not all(isinstance(p, str) for p in parsed):
            raise PymanError(f"invalid --change {change!r}: not a JSON array of strings")
        return parsed
    return ["/bin/sh", "-c", value]


def _pairs(value: str, change: str) -> list[tuple[str, str]]:
    words = shlex.split(value)
    if words and "=" not in words[0]:  # the legacy `ENV key value` form
        return [(words[0], " ".join(words[1:]))]
    out = []
    for w in words:
        k, eq, v = w.partition("=")
        if not k or not eq:
            raise PymanError(f"invalid --change {change!r}: expected key=value")
        out.append((k, v))
    return out


def _host_platform() -> tuple[str, str]:
    from pyman.image.manifest import Platform

    p = Platform.host()
    return p.os or "linux", p.architecture


class ImportExport:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def import_tarball(self, opts: ImportOptions, stdin: IO[bytes] | None = None
                       ) -> tuple[str, str]:
        """Store the tarball as a one-layer image; returns (image id, layer digest)."""
        from pyman.engine.images.operations import tag_name
        from pyman.storage.blobs import BlobStore
        from pyman.storage.images import ImageRecord, ImageStore
        from pyman.storage.layers import LayerSource, LayerStore

        name = tag_name(opts.reference) if opts.reference else None
        config_part = apply_changes(opts.changes)
        blobs = BlobStore(self.paths.blobs)
        diff_id = self._store_layer(opts.source, stdin, blobs)
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + \
            f".{time.time_ns() % 1_000_000_000:09d}Z"
        os_name, arch = _host_platform()
        history: dict[str, Any] = {
            "created": created,
            "created_by": f"/bin/sh -c #(nop) ADD file:{diff_id.split(':')[1]} in /"}
        if opts.message:
            history["comment"] = opts.message
        config = json.dumps({"created": created, "architecture": arch, "os": os_name,
                             "config": config_part,
                             "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                             "history": [history]}, separators=(",", ":")).encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        size = blobs.path(diff_id).stat().st_size
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": LAYER_TYPE, "digest": diff_id, "size": size}],
        }, separators=(",", ":")).encode()
        manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        if not blobs.has(config_digest):
            blobs.put(config_digest, config)
        if not blobs.has(manifest_digest):
            blobs.put(manifest_digest, manifest)
        layers = LayerStore(self.paths.layers)
        layers.ensure([LayerSource(blobs.path(diff_id), diff_id)])
        record = ImageRecord(id=config_digest.split(":")[1], names=[name] if name else [],
                             digest=manifest_digest, manifest_media_type=MANIFEST_TYPE,
                             config_digest=config_digest, layers=[diff_id],
                             size=int(str(layers.info(diff_id).get("size", size))),
                             created=created)
        ImageStore(self.paths.data).add(record)
        return record.id, diff_id

    def _store_layer(self, source: str, stdin: IO[bytes] | None, blobs: Any) -> str:
        """Copy the (possibly gzip-compressed) tarball into the blob store, uncompressed,
        named by its sha256, which is also its diff_id."""
        import tarfile

        if source == "-":
            if stdin is None:
                raise PymanError("import from stdin: no input")
            raw: IO[bytes] = stdin
        else:
            try:
                raw = open(source, "rb")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise PymanError(f"cannot read {source}: {exc.strerror}") from None
        blob_dir = blobs.root / "sha256"
        blob_dir.mkdir(parents=True, exist_ok=True)
        tmp = blob_dir / f".import-{os.getpid()}"
        try:
            head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
            stream: Any = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
            sha = hashlib.sha256()
            with open(tmp, "wb") as out:
                while chunk := stream.read(1 << 20):
                    sha.update(chunk)
                    out.write(chunk)
            try:
                with tarfile.open(tmp, "r:") as tf:
                    tf.next()
            except tarfile.TarError:
                raise PymanError(f"{source}: not a tar archive (plain or gzip-compressed): "
                                 "pass a rootfs tarball such as `pyman export` writes"
                                 ) from None
            digest = f"sha256:{sha.hexdigest()}"
            os.replace(tmp, blobs.path(digest))
            return digest
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise PymanError(f"cannot import {source}: {exc}") from None
        finally:
            tmp.unlink(missing_ok=True)
            if raw is not stdin:
                raw.close()

    def export(self, key: str, out_fd: int) -> None:
        """Write the container's filesystem (its upper dir over the image layers) as a tar
        stream to ``out_fd``, from inside the user namespace so owners read as the
        container's (0 for root)."""
        from pyman.rootless.userns import run_in_userns
        from pyman.storage.containers import ContainerStore
        from pyman.storage.layers import LayerStore

        store = ContainerStore(self.paths.containers, self.paths.run_containers)
        c = store.find(key)
        layers = LayerStore(self.paths.layers)
        lowers = [str(store.dir(c.id) / "upper")] if (store.dir(c.id) / "upper").exists() \
            else []
        lowers += [str(layers.diff(d)) for d in reversed(c.layers)]
        if (store.dir(c.id) / "rootfs").is_dir():  # storage driver vfs: its own full copy
            lowers = [str(store.dir(c.id) / "rootfs")]
        run_in_userns(lambda: _tar_overlay(lowers, out_fd))


def _tar_overlay(lowers: list[str], out_fd: int) -> None:
    """In the user and mount namespace: a read-only overlay of ``lowers`` (no upper, so no
    workdir: a running container's own mount is left alone), streamed as tar."""
    import tarfile
    import tempfile

    from pyman.rootless import libc

    if len(lowers) == 1:  # one layer: nothing to merge (overlay needs two lowers)
        os.chdir(lowers[0])
    else:
        target = tempfile.mkdtemp(prefix="pyman-export-")
        base = os.path.commonpath(lowers)
        os.chdir(base)  # mount data is one page: name the layers relative to their parent
        opts = "lowerdir=" + ":".join(os.path.relpath(p, base) for p in lowers) + ",userxattr"
        libc.mount("overlay", target, "overlay", libc.MS_RDONLY, opts)
        os.chdir(target)

    def plain(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if info.ischr() and info.devmajor == 0 and info.devminor == 0:
            return None  # a whiteout of a single layer: nothing below it to hide
        if os.path.basename(info.name) == ".wh..wh..opq":
            return None  # fuse-overlayfs' opaque marker (keep-id containers' upper dirs)
        info.uname = info.gname = ""
        return info

    def add(tf: tarfile.TarFile, path: str) -> None:
        try:
            info = plain(tf.gettarinfo(path))
        except FileNotFoundError:
            # the kernel lists the whiteouts of a directory only the top layer has (one
            # fuse-overlayfs made), and they cannot be looked up: nothing to export
            return
        if info is None:
            return
        if info.isreg():
            with open(path, "rb") as f:
                tf.addfile(info, f)
        else:
            tf.addfile(info)
        if info.isdir():
            for child in sorted(os.listdir(path)):
                add(tf, os.path.join(path, child))

    with os.fdopen(out_fd, "wb", closefd=False) as out, \
            tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for entry in sorted(os.listdir(".")):
            add(tf, entry)
