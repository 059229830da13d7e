"""Run a command with mount(2) refused (EPERM) by a seccomp filter, as a security module
that lets user namespaces be made but takes their capabilities away does (Ubuntu 24.04's
AppArmor restriction): `python3 deny_mount.py CMD ARGS...`. x86_64 only.

The filter holds for the command and everything it starts, and only for them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E
NR_MOUNT = 165  # x86_64
LD_ABS_W, JEQ_K, RET_K = 0x20, 0x15, 0x06
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def deny_mount() -> None:
    prog = [
        (LD_ABS_W, 0, 0, 4),                    # seccomp_data.arch
        (JEQ_K, 0, 2, AUDIT_ARCH_X86_64),       # another arch: allow
        (LD_ABS_W, 0, 0, 0),                    # seccomp_data.nr
        (JEQ_K, 1, 0, NR_MOUNT),
        (RET_K, 0, 0, RET_ALLOW),
        (RET_K, 0, 0, RET_ERRNO | errno.EPERM),
    ]
    filters = (SockFilter * len(prog))(*[SockFilter(*f) for f in prog])
    fprog = SockFprog(len(prog), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or libc.prctl(
            PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter")


if __name__ == "__main__":
    deny_mount()
    os.execvp(sys.argv[1], sys.argv[1:])
