"""The API's archive endpoints (docker cp): a container path looked at (Docker's PathStat),
copied out as tar, and a tar extracted into a container directory, through cp's own code:
every child's root is the container's (copy_enter.py), so no path, symlink or archive member
leads out of it, and the members are checked as cp checks them (copy_tar.extract_tar)."""

from __future__ import annotations

import os
import stat
import tarfile
from datetime import UTC, datetime
from typing import IO, Any

from pyman.engine.copy import tar as ct
from pyman.engine.copy.cp import CopyService, _decode_info, _get, _naming, stat_here
from pyman.engine.copy.enter import ContainerSide
from pyman.errors import NotADirectory, PathMissing, PymanError

# Go's os.FileMode type bits: Docker's clients read the mode with them (IsDir, symlinks)
_GO_TYPES = ((stat.S_ISDIR, 1 << 31), (stat.S_ISLNK, 1 << 27), (stat.S_ISFIFO, 1 << 25),
             (stat.S_ISSOCK, 1 << 24), (stat.S_ISBLK, 1 << 26),
             (stat.S_ISCHR, (1 << 26) | (1 << 21)))


def go_mode(mode: int) -> int:
    out = mode & 0o777
    for test, bit in _GO_TYPES:
        if test(mode):
            out |= bit
    for flag, bit in ((stat.S_ISUID, 1 << 23), (stat.S_ISGID, 1 << 22), (stat.S_ISVTX, 1 << 20)):
        if mode & flag:
            out |= bit
    return out


def _stat_child(path: str) -> dict[str, Any]:
    """In the container's root: cp's look at the path (a final symlink followed inside it),
    plus what Docker's PathStat carries."""
    info = stat_here(path)
    if info["exists"]:
        st = os.stat(os.path.normpath(info["target"]))
        # "link/" and "link/." name the target: only a bare link shows itself
        link = st if path.endswith(("/", "/.")) else os.lstat(os.path.normpath(path))
        # a symlink's own mode and size, its target's name (as Podman: the client sees
        # the link bit and may ask for the target)
        shown = link if stat.S_ISLNK(link.st_mode) else st
        info["details"] = [shown.st_size, shown.st_mode, st.st_mtime_ns, stat.S_ISDIR(st.st_mode)]
    return info


def _link_tar(path: str, out_fd: int) -> bool:
    """In the container's root: ``path`` as a tar of the link itself, if it is one."""
    st = os.lstat(path)
    if not stat.S_ISLNK(st.st_mode):
        return False
    info = tarfile.TarInfo(ct.go_base(path))
    info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
    info.mode, info.mtime = stat.S_IMODE(st.st_mode), int(st.st_mtime)
    info.uid, info.gid = st.st_uid, st.st_gid
    with os.fdopen(os.dup(out_fd), "wb") as out, \
            tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(info)
    return True


class PathArchive(CopyService):
    def _side(self, key: str) -> ContainerSide:
        side = ContainerSide(self.paths, key)
        side.hold()
        return side

    def _lookup(self, side: ContainerSide, path: str) -> tuple[dict[str, Any], str]:
        full = side.absolute("/." if path == "/" else path)
        where = side.where(full)
        inner = where.path
        report = side.run(where, lambda: _stat_child(inner), None, writable=False)
        if not isinstance(report, dict):
            raise PymanError("cp: the helper's report on a path is malformed: refused")
        details = report.pop("details", None)
        info = _decode_info(report)
        if not info.exists:
            raise PathMissing(f"Could not find the file {path} in container {side.key}")
        if not (isinstance(details, list) and len(details) == 4
                and all(isinstance(v, int) for v in details)):
            raise PymanError("cp: the helper's report on a path is malformed: refused")
        target = where.outside(info.target)
        size, mode, mtime_ns, is_dir = details
        if target == "/":  # as its archive's root entry (GetOptions.root_writable)
            mode |= 0o200
        when = datetime.fromtimestamp(mtime_ns / 1e9, UTC)
        return {"name": ct.go_base(target) if target != "/" else ".", "size": size,
                "mode": go_mode(mode), "mtime": when.isoformat().replace("+00:00", "Z"),
                "isDir": bool(is_dir), "linkTarget": target}, target

    def stat(self, key: str, path: str) -> dict[str, Any]:
        """Docker's PathStat of a container path (a final symlink followed, as Podman)."""
        side = self._side(key)
        try:
            return self._lookup(side, path)[0]
        finally:
            side.release()

    def get(self, key: str, path: str, out_fd: int, reader_fd: int = -1) -> None:
        """The path as tar into ``out_fd``, named as Docker's archive names it: the top
        entry takes the name asked for (a symlink followed with "link/" keeps "link"), and
        a symlink named without a trailing "/" is the link itself (the client asks for its
        target when it follows links: docker cp -L). ``reader_fd``, the caller's reading
        end of ``out_fd``'s pipe, is closed in the children that write: one holding it would
        block for ever on a client that stopped reading, never getting EPIPE."""
        side = self._side(key)
        try:
            full = side.absolute("/." if path == "/" else path)
            if not path.endswith(("/", "/.")):
                where = side.where(full)
                inner = os.path.normpath(where.path)
                if side.run(where, lambda: _link_tar(inner, out_fd), None, writable=False,
                            close_in_child=reader_fd, keep_in_child=(out_fd,)) is True:
                    return
            src = self._source_in(side, path)
            where = side.where(src.target)
            keep, name = _naming(src.target, src.is_dir, False, "")
            if name in (".", "/"):  # Docker's names: "dir/." is ".", "./x"; "/" is "/x"
                keep, name = True, "/" if path == "/" else "."
            else:
                name = ct.go_base(full)
            get = ct.GetOptions(keep_dir_names=keep, name=name, chown=self._user_ids(side),
                                excludes=() if where.mount else ct.ROOT_EXCLUDES,
                                ignore_unreadable=side.target is not None,
                                root_writable=os.path.normpath(src.target) == "/")
            inner = where.path

            def produce() -> object:
                with os.fdopen(os.dup(out_fd), "wb") as out:
                    _get(inner, out, get)
                return None

            side.run(where, produce, None, writable=False, close_in_child=reader_fd,
                     keep_in_child=(out_fd,))
        finally:
            side.release()

    def put(self, key: str, path: str, archive: IO[bytes], *, overwrite: bool,
            chown: bool) -> None:
        """A tar (possibly compressed) extracted into the container directory ``path``:
        spooled first (a broken archive is refused before anything is written)."""
        from pyman.engine.copy.stdin import spooled_archive

        side = self._side(key)
        try:
            found, target = self._lookup(side, path)
            if not found["isDir"]:
                raise NotADirectory(f"{path}: extraction point must be a directory")
            spool = spooled_archive(archive)
            try:
                where = side.where(target)
                put = ct.PutOptions(overwrite=overwrite, keep_owners=True,
                                    chown=self._user_ids(side) if chown else None)
                r, w = os.pipe()

                def child() -> object:
                    with os.fdopen(r, "rb") as raw:
                        ct.extract_tar(raw, where.path, put)
                    return None

                def parent() -> None:
                    try:
                        with os.fdopen(w, "wb") as out:
                            spool.feed(out)
                    except BrokenPipeError:
                        pass  # the child stopped reading: it says why

                side.run(where, child, parent, writable=True, close_in_parent=r,
                         close_in_child=w)
            finally:
                spool.close()
        finally:
            side.release()
