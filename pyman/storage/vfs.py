"""storage.conf driver = "vfs": the container's rootfs is a full copy of its image's layers.

Made on the container's first use (start, cp, export need it), as root in the monitor's user
namespace (owners as the layers have them), in ``<container>/rootfs.tmp`` renamed to
``<container>/rootfs`` when complete; later starts bind-mount it. No overlay of any kind is
mounted, so it works where neither kernel overlay nor fuse-overlayfs does (at the price of a
copy per container, as with Podman's vfs). Layers are kept in overlay's form (whiteouts are
0/0 character devices, opaque dirs carry ``user.overlay.opaque``); applying one layer over
the copy: whiteouts remove, opaque dirs are emptied first, a file replacing a directory (or
the reverse) removes it, then ``cp -a`` copies the layer (owners, modes, times, xattrs,
hard links) and the whiteouts it copied are removed. Stdlib only.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

from pyman.errors import StorageError

OPAQUE_XATTR = "user.overlay.opaque"
ROOTFS = "rootfs"


def rootfs_dir(container_dir: str) -> str:
    return os.path.join(container_dir, ROOTFS)


def _remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _prepare(layer: str, dest: str, whiteouts: list[str]) -> None:
    """Make ``dest`` ready for ``cp -a layer/. dest``; note the whiteouts cp will copy."""
    stack = [""]
    while stack:
        rel = stack.pop()
        src_dir = os.path.join(layer, rel)
        dst_dir = os.path.join(dest, rel)
        dst_is_dir = os.path.isdir(dst_dir) and not os.path.islink(dst_dir)
        if rel and dst_is_dir and _opaque(src_dir):
            for name in os.listdir(dst_dir):
                _remove(os.path.join(dst_dir, name))
        with os.scandir(src_dir) as entries:
            for e in entries:
                st = e.stat(follow_symlinks=False)
                sub = os.path.join(rel, e.name)
                target = os.path.join(dest, sub)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    whiteouts.append(target)
                    if dst_is_dir:
                        _remove(target)
                    continue
                if not dst_is_dir:
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(sub)
                    continue
                try:
                    tst = os.lstat(target)
                except FileNotFoundError:
                    tst = None
                if stat.S_ISDIR(st.st_mode):
                    if tst is not None and not stat.S_ISDIR(tst.st_mode):
                        os.unlink(target)
                    stack.append(sub)
                elif tst is not None and stat.S_ISDIR(tst.st_mode):
                    shutil.rmtree(target)


def materialize(lowers: list[str], container_dir: str) -> str:
    """The container's rootfs copy (``lowers`` top layer first), made if it is not there."""
    dest = rootfs_dir(container_dir)
    if os.path.isdir(dest):
        return dest
    tmp = dest + ".tmp"
    _remove(tmp)  # what a killed copy left
    os.mkdir(tmp, 0o755)
    for layer in reversed(lowers):
        whiteouts: list[str] = []
        _prepare(layer, tmp, whiteouts)
        proc = subprocess.run(["cp", "-a", "--", layer + "/.", tmp + "/"],
                              capture_output=True, check=False)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            raise StorageError(f"cannot copy the image into the container's vfs rootfs: "
                               f"{err[-1] if err else f'cp exit {proc.returncode}'}")
        for w in whiteouts:
            _remove(w)
    os.rename(tmp, dest)
    return dest
