"""/etc/passwd and /etc/group entries pyman adds (called by the monitor with the rootfs
mounted; stdlib only): --userns=keep-id's user (and group) and --hostuser's users. As
Podman: appended to the container's own files (its writable layer), so tools that replace
them by rename (adduser, useradd) still work; with a read-only rootfs, copies with the lines
added are written to the run dir and bind-mounted over them. A user whose name or uid the
image has already, a group whose gid it has, and files the image lacks get nothing."""

from __future__ import annotations

import os

from pyman.runtime.inroot import NotReadable, append_in_root, read_in_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FILES = ("passwd", "group")


def _has(text: str, field: int, value: object) -> bool:
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) > field and parts[field] == str(value):
            return True
    return False


def passwd_line(e: dict[str, Any]) -> str:
    """Podman's entry: name:*:uid:gid:gecos:home:/bin/sh."""
    return f"{e['name']}:*:{e['uid']}:{e['gid']}:{e.get('gecos', '')}:{e['home'] or '/'}:/bin/sh"


def write_files(rootfs: str, run_dir: str, users: list[dict[str, Any]],
                group: dict[str, Any] | None = None, in_place: bool = True) -> list[str]:
    """Add the entries needed: to the rootfs's files (``in_place``), else to run_dir/passwd
    and run_dir/group to bind over them; the names of the run dir copies written."""
    written = []
    for fname in FILES:
        dest = os.path.join(run_dir, fname)
        try:  # resolved inside the rootfs, never blocking (a FIFO, a device: as missing)
            data = read_in_root(rootfs, f"etc/{fname}")
        except (NotReadable, OSError):
            data = None
        text = None if data is None else data.decode(errors="replace")
        lines: list[str] = []
        if text is not None and fname == "passwd":
            for u in users:
                if not (_has(text, 0, u["name"]) or _has(text, 2, u["uid"])
                        or any(line.split(":")[2] == str(u["uid"]) for line in lines)):
                    lines.append(passwd_line(u))
        elif text is not None and group is not None and not _has(text, 2, group["gid"]):
            lines.append(f"{group['name']}:x:{group['gid']}:{group['name']}")
        added = "\n".join(lines) + "\n"
        if text and not text.endswith("\n"):
            added, text = "\n" + added, text + "\n"
        if lines and in_place and append_in_root(rootfs, f"etc/{fname}", added):
            lines = []  # in the container's own file now
        if not lines:
            try:
                os.unlink(dest)  # a previous start's copy must not hide the image's file
            except FileNotFoundError:
                pass
            continue
        with open(dest, "w") as f:
            f.write((text or "") + "\n".join(lines) + "\n")
        written.append(fname)
    return written
