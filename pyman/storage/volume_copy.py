"""A volume's first use, done by the monitor (root in the container's user namespace, rootfs
mounted): as Podman, give the volume dir the owner and mode of the mount point in the image
(else the container user's), and copy the image's content at the mount point into an empty
volume, owners and modes kept. Stdlib only (the monitor imports it).

The mount point is resolved inside the rootfs: an image's symlink (``/data -> /home/me``)
must never make us read or chown the host's files.
"""

from __future__ import annotations

import os
import shutil
import stat

from pyman.storage.atomic import locked, read_json, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def resolve_in_root(root: str, path: str) -> str | None:
    """``path`` inside ``root`` with every symlink followed as if ``root`` were /; None when
    it does not exist (or loops)."""
    parts = [p for p in path.split("/") if p]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        cur = os.path.join(root, *done, part)
        try:
            st = os.lstat(cur)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > 40:
                return None
            target = os.readlink(cur)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        done.append(part)
    return os.path.join(root, *done)


def to_outer(maps: list[list[int]], cid: int) -> int:
    """A container id through a nested namespace's [[inside, outside, count]] map."""
    for inside, outside, count in maps:
        if inside <= cid < inside + count:
            return outside + cid - inside
    return cid


def _copy_tree(src: str, dst: str) -> None:
    """Copy ``src``'s content into ``dst``: files, dirs, symlinks (not followed), fifos;
    owners, modes and times kept. Device nodes cannot be made in a user namespace: skipped."""
    for entry in os.scandir(src):
        s = entry.path
        d = os.path.join(dst, entry.name)
        st = entry.stat(follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(d, 0o700)
            _copy_tree(s, d)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(s), d)
        elif stat.S_ISREG(mode):
            shutil.copyfile(s, d, follow_symlinks=False)
        elif stat.S_ISFIFO(mode):
            os.mkfifo(d)
        else:
            continue
        os.lchown(d, st.st_uid, st.st_gid)
        if not stat.S_ISLNK(mode):
            os.chmod(d, stat.S_IMODE(mode))
        os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def chown_tree(path: str, uid: int, gid: int) -> None:
    """A ``U`` mount's source: to ``uid``:``gid`` with everything under it, as Podman's
    ChangeHostPathOwnership: nothing is walked when the top already belongs to them, so
    what the user changed below stays. Links are not followed."""
    st = os.lstat(path)
    if (st.st_uid, st.st_gid) == (uid, gid):
        return
    os.lchown(path, uid, gid)
    if not stat.S_ISDIR(st.st_mode):
        return
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(top, name), uid, gid)


def first_use(entries: list[dict[str, Any]], rootfs: str, uid: int, gid: int,
              lock_path: str) -> None:
    """``entries``: {meta, data, dest, copy, uid?, gid?} for each volume still marked for its
    first use; ``uid``/``gid``: the container process's user."""
    with locked(lock_path):
        for e in entries:
            try:
                meta = read_json(e["meta"])
            except ValueError:  # damaged since the start checked it: leave it be
                continue
            if not isinstance(meta, dict):
                continue
            data = e["data"]
            target = resolve_in_root(rootfs, e["dest"])
            st = os.lstat(target) if target else None
            if st is not None and not stat.S_ISDIR(st.st_mode):
                st = None
            if meta.get("needs_chown"):
                owner = (int(e.get("uid", uid)), int(e.get("gid", gid)))
                if st is not None and "uid" not in e:
                    owner = (st.st_uid, st.st_gid)
                os.lchown(data, *owner)
                if st is not None:
                    os.chmod(data, stat.S_IMODE(st.st_mode))
                meta["needs_chown"] = False
            if meta.get("needs_copy_up") and (st is not None or not e.get("copy", True)):
                # as libpod: a destination the image lacks leaves the copy-up for a later
                # container that has content there
                if e.get("copy", True) and target and not os.listdir(data):
                    _copy_tree(target, data)
                meta["needs_copy_up"] = False
            write_json(e["meta"], meta, sync=False)
