"""Thin ctypes bindings for the syscalls Python 3.11 lacks (unshare, setns, mount, prctl).

Stdlib only: the monitor imports this module.
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19

MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc: ctypes.CDLL | None = None


def libc() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        # a fixed soname: find_library would run ldconfig, milliseconds on every start
        _libc = ctypes.CDLL("libc.so.6", use_errno=True)
    return _libc


def _check(result: int, what: str, target: str | None = None) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", target)


def unshare(flags: int) -> None:
    _check(libc().unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(libc().setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    def enc(s: str | None) -> bytes | None:
        return None if s is None else os.fsencode(s)

    res = libc().mount(
        enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)
    )
    _check(res, f"mount {fstype or ''} {target}".replace("  ", " "), target)


def umount(target: str, flags: int = 0) -> None:
    _check(libc().umount2(os.fsencode(target), ctypes.c_int(flags)), "umount", target)


def prctl(option: int, arg2: int = 0) -> None:
    fn = libc().prctl
    _check(
        fn(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(0), ctypes.c_ulong(0),
           ctypes.c_ulong(0)),
        "prctl",
    )


IN_MODIFY, IN_MOVED_TO, IN_CREATE = 0x2, 0x80, 0x100


def inotify_watch(path: str) -> int:
    """A non-blocking inotify fd that wakes when files in the directory ``path`` are written,
    created or renamed into it (events follows its log this way)."""
    fd = libc().inotify_init1(ctypes.c_int(os.O_NONBLOCK | os.O_CLOEXEC))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"inotify_init1: {os.strerror(err)}")
    if libc().inotify_add_watch(ctypes.c_int(fd), os.fsencode(path),
                                ctypes.c_uint32(IN_MODIFY | IN_MOVED_TO | IN_CREATE)) < 0:
        err = ctypes.get_errno()
        os.close(fd)
        raise OSError(err, f"inotify_add_watch: {os.strerror(err)}", path)
    return int(fd)
