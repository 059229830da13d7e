"""One real trial of an OCI runtime, run as its own process by pyman.runtime.detect.

    python3 -I -S trial.py <runtime> <bundle> <state-root> <container-id>

Becomes root in a new user + mount namespace (the user's own id mapped alone: no newuidmap
needed, and enough to exercise what matters), then does ``create`` and ``delete --force``
with the bundle the caller wrote, just as the monitor does for a real container. Prints one
JSON line: ``{"ok": bool, "error": "<the runtime's stderr or log>"}``. Self-contained: it
is run by file path with the standard library only.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def enter_userns() -> None:
    uid, gid = os.geteuid(), os.getegid()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWUSER): {os.strerror(err)}")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")


def trial(runtime: str, bundle: str, root: str, cid: str) -> dict[str, object]:
    log = os.path.join(bundle, "runtime.log")
    errf = os.path.join(bundle, "stderr")
    base = [runtime, "--root", root, "--log", log, "--log-format", "json"]
    # stdout/stderr to files, not pipes: the container process would hold a pipe open
    with open(errf, "w") as err:
        try:
            proc = subprocess.run(
                [*base, "create", "--bundle", bundle, "--pid-file",
                 os.path.join(bundle, "pid"), cid],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err, timeout=30, check=False)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = -1
    if code == 0:
        subprocess.run([*base, "delete", "--force", cid], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
                       check=False)
        return {"ok": True, "error": ""}
    text = ""
    for path in (log, errf):
        try:
            with open(path, errors="replace") as f:
                text += f.read() + "\n"
        except OSError:
            pass
    if code == -1:
        text += "create did not finish within 30 s\n"
    return {"ok": False, "error": text.strip() or f"create: exit status {code}"}


def main(argv: list[str]) -> int:
    try:
        enter_userns()
    except OSError as exc:
        print(json.dumps({"ok": False, "error": str(exc), "userns": False}))
        return 0
    print(json.dumps(trial(*argv[:4])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
