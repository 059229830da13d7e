"""The container's root filesystem: overlay of the image layers and a writable upper dir.

Kernel overlay inside the user namespace (``userxattr``: whiteouts and opaque dirs as the
unpacker wrote them) where the kernel allows it, else fuse-overlayfs. Called by the monitor,
as root in its user and mount namespace. Stdlib only.
"""

from __future__ import annotations

import os
import subprocess

from pyman.errors import StorageError
from pyman.rootless import libc


def _prepare(container_dir: str) -> tuple[str, str]:
    upper = os.path.join(container_dir, "upper")
    work = os.path.join(container_dir, "work")
    for d in (upper, work, os.path.join(container_dir, "merged")):
        os.makedirs(d, mode=0o755, exist_ok=True)
    return upper, work


def mount_rootfs(lowers: list[str], container_dir: str, target: str) -> str:
    """Mount the overlay at ``target``; ``lowers`` top layer first. Returns the driver used."""
    upper, work = _prepare(container_dir)
    # mount(2) data is limited to a page: name the layers relative to their common parent
    # (the layer store), as Podman does, so deep images still fit
    base = os.path.commonpath(lowers) if len(lowers) > 1 else os.path.dirname(lowers[0])
    rel = [os.path.relpath(p, base) for p in lowers]
    opts = f"lowerdir={':'.join(rel)},upperdir={upper},workdir={work}"
    os.chdir(base)
    try:
        return _mount(opts, target)
    finally:
        os.chdir("/")  # the monitor lives in "/", like any daemon


def _mount(opts: str, target: str) -> str:
    try:
        libc.mount("overlay", target, "overlay", 0, opts + ",userxattr")
        return "overlay"
    except OSError as kernel_err:
        import shutil

        fuse = shutil.which("fuse-overlayfs")
        if not fuse:
            raise StorageError(
                f"cannot mount the container's overlay rootfs ({kernel_err.strerror}) and "
                "fuse-overlayfs is not installed: `apt-get install fuse-overlayfs`"
            ) from None
        if not os.access("/dev/fuse", os.R_OK | os.W_OK):
            raise StorageError(
                f"kernel overlay failed ({kernel_err.strerror}) and /dev/fuse is not accessible, "
                "so fuse-overlayfs cannot run: as root run `chmod 0666 /dev/fuse`"
            ) from None
        proc = subprocess.run([fuse, "-o", opts, target], capture_output=True, check=False)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"
            raise StorageError(f"fuse-overlayfs failed to mount the rootfs: {err}") from None
        return "fuse-overlayfs"


def unmount_rootfs(target: str) -> None:
    try:
        libc.umount(target, libc.MNT_DETACH)
    except OSError:
        pass  # the mount namespace dies with the monitor anyway
