"""Unpack one layer tar into a directory, confined to it, in overlay's on-disk form.

Runs as root inside a user namespace that has the full sub-id map, so owners land as the
image says. Every path is walked component by component with O_NOFOLLOW from the layer root:
nothing a layer contains (``..``, symlinks, hard links) can make us touch a file outside it.
Whiteouts become overlay whiteouts (0/0 character devices) and opaque dirs get the
``user.overlay.opaque`` xattr (overlay mounted with ``userxattr`` in a user namespace).

Hostile layers get one line naming the entry, never a traceback: names over NAME_MAX/PATH_MAX,
hard links to directories and any other refusal of the kernel are LayerErrors. GNU sparse
files (old 'S' and PAX 0.0/0.1/1.0, which tarfile parses into ``TarInfo.sparse``) are written
sparse: tarfile's own reader would write every hole out as zeros. The root entry's mode and
owner are never applied: the layer dir is ours, not the image's.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from pyman.errors import LayerError
from pyman.storage.tarstream import LayerStream

OPAQUE_XATTR = "user.overlay.opaque"
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OVERLAY_XATTRS = ("user.overlay.", "trusted.overlay.")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
NAME_MAX = 255  # bytes in one path component (Linux)
PATH_MAX = 4096  # bytes in a path, its terminating NUL included


@dataclass
class UnpackResult:
    diff_id: str
    size: int
    warnings: list[str] = field(default_factory=list)
    root_mode: int | None = None  # the root entry's permissions (the rootfs root's)


def shown(name: str) -> str:
    """An entry's name for a message: absolute, and cut short when it is huge."""
    name = "/" + name.lstrip("/")
    return name if len(name) <= 100 else f"{name[:80]}... ({len(name)} characters)"


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def split_name(name: str) -> tuple[str, ...]:
    """Tar member name -> path components; absolute names are confined, ``..`` and names no
    Linux path can hold refused."""
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise LayerError(f"layer entry {name!r} points outside the layer (contains '..')")
    if _nbytes(name) >= PATH_MAX:
        raise LayerError(f"layer entry {shown(name)} has a name longer than PATH_MAX "
                         f"({PATH_MAX - 1} bytes)")
    if any(_nbytes(p) > NAME_MAX for p in parts):
        raise LayerError(f"layer entry {shown(name)} has a path component longer than "
                         f"NAME_MAX ({NAME_MAX} bytes)")
    return parts


class _Tree:
    """Directory fds of the layer being unpacked, opened without following symlinks."""

    def __init__(self, root: str) -> None:
        self.root_fd = os.open(root, _DIR_FLAGS)
        self._cache: OrderedDict[tuple[str, ...], int] = OrderedDict()

    def dir_fd(self, parts: tuple[str, ...], create: bool = True) -> int:
        if not parts:
            return self.root_fd
        fd = self._cache.get(parts)
        if fd is not None:
            self._cache.move_to_end(parts)
            return fd
        parent = self.dir_fd(parts[:-1], create)
        name = parts[-1]
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(name, 0o755, dir_fd=parent)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise LayerError(
                    f"layer entry path /{'/'.join(parts)} goes through a symlink or a "
                    "non-directory: refusing a layer that could write outside itself"
                ) from None
            raise
        self._cache[parts] = fd
        if len(self._cache) > 128:
            os.close(self._cache.popitem(last=False)[1])
        return fd

    def forget(self) -> None:
        """Drop cached fds after a removal: a cached dir may no longer be in the tree."""
        for fd in self._cache.values():
            os.close(fd)
        self._cache.clear()

    def close(self) -> None:
        self.forget()
        os.close(self.root_fd)


def _remove(tree: _Tree, parent_fd: int, name: str) -> None:
    try:
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        tree.forget()
        path = f"/proc/self/fd/{parent_fd}/{name}"
        shutil.rmtree(path)
    else:
        os.unlink(name, dir_fd=parent_fd)


def _owner_error(member: tarfile.TarInfo) -> LayerError:
    return LayerError(
        f"layer entry /{member.name.lstrip('/')} is owned by {member.uid}:{member.gid}, outside "
        "the ids mapped from /etc/subuid and /etc/subgid: give the user a larger range there "
        "(as root: `usermod --add-subuids START-END --add-subgids START-END USER` with 65536 "
        "ids; `pyman system check` suggests a free range)"
    )


class _Unpacker:
    def __init__(self, dest: str) -> None:
        self.tree = _Tree(dest)
        self.dir_times: list[tuple[tuple[str, ...], float]] = []
        self.warnings: list[str] = []
        self.devices: list[str] = []
        self.whiteouts: set[tuple[str, ...]] = set()
        self.root_mode: int | None = None

    def entry(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        try:
            self._entry(tf, m)
        except OSError as exc:  # the kernel refused: one line naming the entry
            raise LayerError(f"cannot unpack layer entry {shown(m.name)}: "
                             f"{exc.strerror or exc}") from None

    def _entry(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        parts = split_name(m.name)
        if not parts:
            # the root entry ("./", "/"): only its time. Its mode and owner would be the
            # layer dir's, which is ours (a 07777 root would open it to everyone); its
            # permissions are recorded for the container's root (storage/rootfs.py)
            if m.isdir():
                self.dir_times.append(((), m.mtime))
                self.root_mode = m.mode & 0o777
            return
        base = parts[-1]
        parent = self.tree.dir_fd(parts[:-1])
        if base == OPAQUE_MARKER:
            os.setxattr(parent, OPAQUE_XATTR, b"y")
            return
        if base.startswith(WHITEOUT_PREFIX):
            target = base[len(WHITEOUT_PREFIX):]
            if not target or target in (".", "..") or target.startswith(WHITEOUT_PREFIX):
                raise LayerError(f"layer has a malformed whiteout {m.name!r}")
            _remove(self.tree, parent, target)
            os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=parent)
            self.whiteouts.add(parts[:-1] + (target,))
            return
        if m.isdir():
            self._dir(parent, base, parts, m)
            return
        _remove(self.tree, parent, base)
        if m.isreg():
            self._file(tf, parent, base, m)
        elif m.issym():
            if _nbytes(m.linkname) >= PATH_MAX:
                raise LayerError(f"layer entry {shown(m.name)} is a symlink with a target longer "
                                 f"than PATH_MAX ({PATH_MAX - 1} bytes)")
            os.symlink(m.linkname, base, dir_fd=parent)
            self._lchown(parent, base, m)
            os.utime(base, (m.mtime, m.mtime), dir_fd=parent, follow_symlinks=False)
        elif m.islnk():
            self._hardlink(parent, base, m)
        elif m.isfifo():
            os.mkfifo(base, m.mode & 0o7777, dir_fd=parent)
            self._lchown(parent, base, m)
        elif m.ischr() or m.isblk():
            self.devices.append("/" + "/".join(parts))  # reported once, in finish()
        else:
            self.warnings.append(f"skipped /{'/'.join(parts)}: unsupported tar entry type")

    def _dir(self, parent: int, base: str, parts: tuple[str, ...], m: tarfile.TarInfo) -> None:
        try:
            st = os.stat(base, dir_fd=parent, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                _remove(self.tree, parent, base)
        except FileNotFoundError:
            pass
        fd = self.tree.dir_fd(parts)
        self._meta_fd(fd, m)
        if parts in self.whiteouts:
            # whited out, then re-created in this layer: the lower layers' content stays hidden
            os.setxattr(fd, OPAQUE_XATTR, b"y")
        self.dir_times.append((parts, m.mtime))

    def _file(self, tf: tarfile.TarFile, parent: int, base: str, m: tarfile.TarInfo) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(base, flags, 0o600, dir_fd=parent)
        try:
            if m.sparse is not None:
                self._sparse(tf, fd, m)
            elif (src := tf.extractfile(m)) is not None:
                with os.fdopen(os.dup(fd), "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            self._meta_fd(fd, m)
            os.utime(fd, (m.mtime, m.mtime))
        finally:
            os.close(fd)

    def _sparse(self, tf: tarfile.TarFile, fd: int, m: tarfile.TarInfo) -> None:
        """Write only the data segments, at their offsets; the holes stay holes. Read from
        the archive itself: tarfile's reader of a sparse member cannot seek in a stream."""
        # empty segments carry nothing (old GNU headers have four slots, unused ones zero)
        sparse = [(o, n) for o, n in cast("list[tuple[int, int]]", m.sparse) if n]
        # what the archive holds for this member: the data of the segments, nothing more
        stored = tf.offset - m.offset_data
        end = 0
        for offset, length in sparse:
            if offset < end or length < 0 or offset + length > m.size:
                raise LayerError(f"layer entry {shown(m.name)} has a corrupt sparse map")
            end = offset + length
        if sum(n for _, n in sparse) > stored:
            raise LayerError(f"layer entry {shown(m.name)} has a sparse map promising more "
                             "data than the archive holds")
        data = m.offset_data  # the segments' data follow each other in the archive
        for offset, length in sparse:
            tf.fileobj.seek(data)  # type: ignore[union-attr]
            data += length
            left = length
            while left:
                chunk = tf.fileobj.read(min(left, 1 << 20))  # type: ignore[union-attr]
                if not chunk:
                    raise LayerError(f"layer entry {shown(m.name)} is truncated")
                os.pwrite(fd, chunk, offset + length - left)
                left -= len(chunk)
        os.ftruncate(fd, m.size)  # the trailing hole, and the file's real size

    def _meta_fd(self, fd: int, m: tarfile.TarInfo) -> None:
        try:
            os.fchown(fd, m.uid, m.gid)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise _owner_error(m) from None
            raise
        os.fchmod(fd, m.mode & 0o7777)  # after chown: chown clears set-id bits
        for key, value in m.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                self._xattr(fd, key[len("SCHILY.xattr."):], value, m)

    def _xattr(self, fd: int, name: str, value: str, m: tarfile.TarInfo) -> None:
        if name.startswith(OVERLAY_XATTRS):
            # overlay's own metadata (opaque, redirect, metacopy) comes from whiteouts only:
            # a layer must not steer the mount
            self.warnings.append(f"ignored xattr {name} on /{m.name.lstrip('/')}")
            return
        raw = value.encode("utf-8", "surrogateescape")
        try:
            os.setxattr(fd, name, raw)
        except OSError as exc:
            self.warnings.append(f"could not set xattr {name} on /{m.name.lstrip('/')}: "
                                 f"{exc.strerror}")

    def _lchown(self, parent: int, base: str, m: tarfile.TarInfo) -> None:
        try:
            os.chown(base, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise _owner_error(m) from None
            raise

    def _hardlink(self, parent: int, base: str, m: tarfile.TarInfo) -> None:
        target = split_name(m.linkname)
        if not target:
            raise LayerError(f"layer hard link {m.name!r} has an empty target")
        try:
            src_parent = self.tree.dir_fd(target[:-1], create=False)
            st = os.stat(target[-1], dir_fd=src_parent, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                raise LayerError(f"layer entry {shown(m.name)} is a hard link to the directory "
                                 f"{shown(m.linkname)}: hard links to directories are refused")
            os.link(target[-1], base, src_dir_fd=src_parent, dst_dir_fd=parent,
                    follow_symlinks=False)
        except FileNotFoundError:
            raise LayerError(
                f"layer hard link /{m.name.lstrip('/')} points to /{m.linkname.lstrip('/')}, "
                "which is not in the same layer"
            ) from None

    def finish(self) -> None:
        if self.devices:
            shown = ", ".join(self.devices[:3]) + (", ..." if len(self.devices) > 3 else "")
            self.warnings.append(f"skipped {len(self.devices)} device node(s) ({shown}): "
                                 "rootless cannot create them")
        # directory times last: creating entries inside a directory changes its mtime
        for parts, mtime in reversed(self.dir_times):
            try:
                os.utime(self.tree.dir_fd(parts, create=False), (mtime, mtime))
            except FileNotFoundError:
                pass
        self.tree.close()


def unpack_layer(blob: BinaryIO, dest: str, expected_diff_id: str | None) -> UnpackResult:
    """Unpack ``blob`` (gzip or plain tar) into the empty directory ``dest``."""
    stream = LayerStream(blob)
    unpacker = _Unpacker(dest)
    try:
        # plain mode over the stream's forward-only seek (tarstream.py): no copying buffer
        with tarfile.open(fileobj=stream, mode="r:") as tf:  # type: ignore[call-overload]
            for member in tf:
                unpacker.entry(tf, member)
    except (tarfile.TarError, ValueError) as exc:  # ValueError: tarfile's sparse header parse
        raise LayerError(f"the layer is not a valid tar archive: {exc}") from None
    finally:
        unpacker.finish()
    stream.drain()
    if expected_diff_id and stream.digest != expected_diff_id:
        raise LayerError(
            f"layer content has digest {stream.digest} but the image config promises "
            f"{expected_diff_id}: the image is corrupt"
        )
    return UnpackResult(stream.digest, stream.size, unpacker.warnings, unpacker.root_mode)
