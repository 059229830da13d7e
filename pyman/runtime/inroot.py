"""Read a small file of a container's filesystem from outside it, safely.

The path is resolved as if the container's root were / (openat2 with RESOLVE_IN_ROOT; where
the kernel lacks it, a walk one component at a time that follows symlinks by hand and never
lets ``..`` climb above the root), so an image's ``/etc/passwd -> /home/you/.ssh/id_rsa`` or
``-> ../../../etc/shadow`` names a file of the container, never the host's. The file is
opened non-blocking and must be a regular file of bounded size: a FIFO or a device cannot
hang or feed the reader. Stdlib only: the monitor reads through this.
"""

from __future__ import annotations

import errno
import os
import stat

MAX_SIZE = 8 << 20  # /etc/passwd and /etc/group: far below this even for big directories

_SYS_OPENAT2 = {"x86_64": 437, "aarch64": 437}
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_IN_ROOT = 0x10
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_openat2_works: bool | None = None  # None: not tried yet


class NotReadable(Exception):
    """The file exists but is not something to read (a FIFO, a device, too big, a loop)."""


def _openat2(root_fd: int, rel: str, flags: int = _OPEN_FLAGS) -> int | None:
    """An fd of ``rel`` resolved in ``root_fd``; None when openat2 is not available."""
    global _openat2_works
    if _openat2_works is False:
        return None
    nr = _SYS_OPENAT2.get(os.uname().machine)
    if nr is None:
        _openat2_works = False
        return None
    import ctypes

    # struct open_how: three u64 (flags, mode, resolve)
    how = (ctypes.c_uint64 * 3)(flags, 0, _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS)
    from pyman.rootless.libc import libc

    syscall = libc().syscall
    syscall.restype = ctypes.c_long
    for _ in range(16):  # EAGAIN: a rename raced with ".." resolution; try again
        fd = syscall(ctypes.c_long(nr), ctypes.c_int(root_fd), ctypes.c_char_p(os.fsencode(rel)),
                     ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
        if fd >= 0:
            _openat2_works = True
            return int(fd)
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EPERM) and not _openat2_works:
            _openat2_works = False  # an old kernel, or a seccomp filter that hides it
            return None
        if err != errno.EAGAIN:
            raise OSError(err, os.strerror(err), rel)
    raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN), rel)


def _walk(root_fd: int, rel: str, flags: int = _OPEN_FLAGS) -> int:
    """Without openat2: component by component with O_PATH|O_NOFOLLOW from ``root_fd``;
    symlinks are read and their targets resolved the same way, ``/`` and ``..`` stop at the
    root. The last component is opened with O_NOFOLLOW, so a swap after the check fails."""
    todo = [p for p in rel.split("/") if p]
    stack: list[int] = []  # O_PATH fds of the directories below the root
    hops = 0
    try:
        while todo:
            part = todo.pop(0)
            cur = stack[-1] if stack else root_fd
            if part == ".":
                continue
            if part == "..":
                if stack:
                    os.close(stack.pop())
                continue
            fd = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=cur)
            try:
                mode = os.fstat(fd).st_mode
                if stat.S_ISLNK(mode):
                    hops += 1
                    if hops > 40:
                        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), rel)
                    target = os.readlink(part, dir_fd=cur)
                    if target.startswith("/"):
                        while stack:
                            os.close(stack.pop())
                    todo = [p for p in target.split("/") if p] + todo
                    continue
                if todo:
                    if not stat.S_ISDIR(mode):
                        raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), rel)
                    stack.append(fd)
                    fd = -1
                    continue
            finally:
                if fd >= 0:
                    os.close(fd)
            return os.open(part, flags | os.O_NOFOLLOW, dir_fd=cur)
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), rel)
    finally:
        for fd in stack:
            os.close(fd)


def not_regular(root: str, rel: str) -> bool:
    """Whether ``rel`` in ``root`` exists but is no regular file (a FIFO, a device, a loop):
    what a reader inside the container (runc's user lookup) would block on."""
    try:
        fd = _open_in_root(root, rel)
    except NotReadable:
        return True
    except OSError:
        return False
    if fd is None:
        return False
    try:
        return not stat.S_ISREG(os.fstat(fd).st_mode)
    finally:
        os.close(fd)


def _open_in_root(root: str, rel: str, flags: int = _OPEN_FLAGS) -> int | None:
    """An fd (non-blocking, read-only unless ``flags`` say) of ``rel`` resolved in ``root``;
    None when missing."""
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fd = _openat2(root_fd, rel, flags)
            if fd is None:
                fd = _walk(root_fd, rel, flags)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            if exc.errno == errno.ELOOP:
                raise NotReadable("it is a symlink loop") from None
            if exc.errno == errno.EXDEV:  # a magic link (/proc/self/...) in the image
                raise NotReadable("it leads through /proc") from None
            raise
    finally:
        os.close(root_fd)
    return fd


def read_in_root(root: str, rel: str, limit: int = MAX_SIZE) -> bytes | None:
    """The content of ``rel`` resolved inside ``root``; None when it does not exist. Raises
    NotReadable for what is not a regular file of at most ``limit`` bytes, or loops."""
    fd = _open_in_root(root, rel)
    if fd is None:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotReadable("it is not a regular file")
        if st.st_size > limit:
            raise NotReadable(f"it is larger than {limit >> 20} MiB")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise NotReadable(f"it is larger than {limit >> 20} MiB")
        return b"".join(chunks)
    finally:
        os.close(fd)


def is_dir_in_root(root: str, rel: str) -> bool | None:
    """Whether ``rel`` resolved inside ``root`` is a directory; None when it is missing."""
    try:
        fd = _open_in_root(root, rel)
    except NotReadable:
        return False
    if fd is None:
        return None
    try:
        return stat.S_ISDIR(os.fstat(fd).st_mode)
    finally:
        os.close(fd)


def append_in_root(root: str, rel: str, text: str) -> bool:
    """Append ``text`` to the regular file ``rel`` resolved inside ``root``; False when it
    is missing or not a regular file (nothing written)."""
    try:
        fd = _open_in_root(root, rel, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK |
                           os.O_NOCTTY | os.O_CLOEXEC)
    except (NotReadable, OSError):
        return False
    if fd is None:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        data = text.encode()
        while data:
            data = data[os.write(fd, data):]
        return True
    finally:
        os.close(fd)
