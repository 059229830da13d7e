"""What a user namespace allows here, tried for real (`pyman system check`).

    python3 -I -S probe.py <store-dir>

Unshares a user + mount namespace (the user's own id mapped alone: no newuidmap, so this
tells the kernel's verdict apart from the sub-id setup's), mounts a tmpfs (Ubuntu 24.04's
AppArmor restriction lets the unshare through and takes the capabilities away, so only a
mount shows it), then kernel overlay with ``userxattr`` on dirs made in ``<store-dir>``, as the
monitor mounts a rootfs. Prints one JSON line: ``{"userns": "" | "<errno name>: <why>",
"mount": ..., "overlay": ...}`` ("" is success; "-" not tried). Standard library only: it is
run by file path.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import sys
import tempfile

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MNT_DETACH = 2


def _err(what: str) -> str:
    code = ctypes.get_errno()
    return f"{errno.errorcode.get(code, str(code))}: {what}: {os.strerror(code)}"


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def probe(store: str) -> dict[str, str]:
    result = {"userns": "-", "mount": "-", "overlay": "-"}
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        result["userns"] = _err("unshare(CLONE_NEWUSER)")
        return result
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    except OSError as exc:
        result["userns"] = f"{errno.errorcode.get(exc.errno or 0, '')}: id map: {exc.strerror}"
        return result
    result["userns"] = ""
    os.makedirs(store, exist_ok=True)
    base = tempfile.mkdtemp(prefix=".check-", dir=store)
    try:
        dirs = {n: os.path.join(base, n) for n in ("lower", "upper", "work", "merged")}
        for d in dirs.values():
            os.mkdir(d)

        def mount(src: bytes, target: str, fstype: bytes, data: bytes | None) -> int:
            return int(libc.mount(src, target.encode(), fstype, 0, data))

        if mount(b"tmpfs", dirs["merged"], b"tmpfs", None) != 0:
            result["mount"] = _err("mount tmpfs")
            return result
        libc.umount2(dirs["merged"].encode(), MNT_DETACH)
        result["mount"] = ""
        opts = (f"lowerdir={dirs['lower']},upperdir={dirs['upper']},"
                f"workdir={dirs['work']},userxattr")
        if mount(b"overlay", dirs["merged"], b"overlay", opts.encode()) != 0:
            result["overlay"] = _err("mount overlay")
        else:
            libc.umount2(dirs["merged"].encode(), MNT_DETACH)
            result["overlay"] = ""
    finally:
        shutil.rmtree(base, ignore_errors=True)  # the work dir's contents are ours here
    return result


def main(argv: list[str]) -> int:
    print(json.dumps(probe(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
