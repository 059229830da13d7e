"""--userns=keep-id's /etc/passwd and /etc/group entries for the user (called by the monitor
with the rootfs mounted; stdlib only). As Podman: copies of the image's files with a line
added, written to the run dir and bind-mounted over the originals, so the image and the
container's writable layer stay untouched. Nothing is added when the id is already there or
the image has no such file."""

from __future__ import annotations

import os

from pyman.runtime.inroot import NotReadable, read_in_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FILES = ("passwd", "group")


def _has_id(text: str, field: int, value: int) -> bool:
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) > field and parts[field] == str(value):
            return True
    return False


def write_files(rootfs: str, run_dir: str, entry: dict[str, Any]) -> list[str]:
    """Write run_dir/passwd and run_dir/group where an entry is needed; their names."""
    name, uid, gid, home = entry["name"], entry["uid"], entry["gid"], entry["home"] or "/"
    lines = {"passwd": (2, uid, f"{name}:*:{uid}:{gid}::{home}:/bin/sh"),
             "group": (2, gid, f"{name}:x:{gid}:{name}")}
    written = []
    for fname in FILES:
        dest = os.path.join(run_dir, fname)
        try:  # resolved inside the rootfs, never blocking (a FIFO, a device: as missing)
            data = read_in_root(rootfs, f"etc/{fname}")
        except (NotReadable, OSError):
            data = None
        text = None if data is None else data.decode(errors="replace")
        field, value, line = lines[fname]
        if text is None or _has_id(text, field, value):
            try:
                os.unlink(dest)  # a previous start's copy must not hide the image's file
            except FileNotFoundError:
                pass
            continue
        if text and not text.endswith("\n"):
            text += "\n"
        with open(dest, "w") as f:
            f.write(text + line + "\n")
        written.append(fname)
    return written
