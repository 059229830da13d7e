"""Resolve a container's ``User`` (``uid``, ``uid:gid``, ``name``, ``name:group`` ...) against the
image's own /etc/passwd and /etc/group, with the rules and messages of runc's user package,
which Podman uses. Stdlib only: the monitor calls this once the rootfs is mounted.
"""

from __future__ import annotations

import os

from pyman.errors import CommandCannotRunError, PymanError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


class ExecUser:
    """Who the container process runs as."""

    __slots__ = ("uid", "gid", "additional_gids", "home")

    def __init__(self, uid: int, gid: int, additional_gids: list[int], home: str) -> None:
        self.uid = uid
        self.gid = gid
        self.additional_gids = additional_gids
        self.home = home

    def __repr__(self) -> str:
        return (f"ExecUser(uid={self.uid}, gid={self.gid}, "
                f"additional_gids={self.additional_gids}, home={self.home!r})")


def _entries(path: str) -> Iterator[list[str]]:
    """Colon-separated records of a passwd/group file; a missing file has none.
    The path is resolved inside the rootfs without following symlinks out of it."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            yield line.split(":")


def _in_rootfs(rootfs: str, rel: str) -> str:
    # /etc/passwd may be an absolute symlink meant for the container's root, not the host's
    path = os.path.join(rootfs, rel)
    for _ in range(8):
        if not os.path.islink(path):
            break
        target = os.readlink(path)
        base = rootfs if target.startswith("/") else os.path.dirname(path)
        path = os.path.normpath(os.path.join(base, target.lstrip("/")))
        if not (path + "/").startswith(rootfs.rstrip("/") + "/"):
            return os.path.join(rootfs, rel)  # escapes the rootfs: treat as absent
    return path


def _int(value: str) -> int | None:
    try:
        n = int(value, 10)
    except ValueError:
        return None
    return n if 0 <= n <= 0x7FFFFFFF else None


def resolve_user(rootfs: str, spec: str) -> ExecUser:
    """``spec`` as in ``--user``/image ``User``; "" means root. Unknown names raise
    CommandCannotRunError (exit 126, as in Podman) with runc's message, e.g. ``unable to
    find user tester: no matching entries in passwd file``. Unknown numeric ids are used as
    they are (gid 0, HOME /)."""
    user_arg, _, group_arg = (spec or "").partition(":")
    uid, gid, home = 0, 0, "/"
    name: str | None = None
    user_arg = user_arg or "0"  # "" and ":gid" mean root
    numeric = _int(user_arg)
    if numeric is None and not user_arg.isdigit():
        for e in _entries(_in_rootfs(rootfs, "etc/passwd")):
            if len(e) >= 4 and e[0] == user_arg:
                uid, gid = _int(e[2]) or 0, _int(e[3]) or 0
                home = e[5] if len(e) > 5 and e[5] else "/"
                name = e[0]
                break
        else:
            raise CommandCannotRunError(
                f"unable to find user {user_arg}: no matching entries in passwd file")
    elif numeric is None:
        raise PymanError(f"invalid user {user_arg}: uid out of range")
    else:
        uid = numeric
        for e in _entries(_in_rootfs(rootfs, "etc/passwd")):
            if len(e) >= 4 and _int(e[2]) == uid:
                gid = _int(e[3]) or 0
                home = e[5] if len(e) > 5 and e[5] else "/"
                name = e[0]
                break

    sgids: list[int] = []
    if group_arg:
        gnum = _int(group_arg)
        for e in _entries(_in_rootfs(rootfs, "etc/group")):
            if len(e) >= 3 and (e[0] == group_arg or (gnum is not None and _int(e[2]) == gnum)):
                gid = _int(e[2]) or 0
                break
        else:
            if gnum is None:
                raise CommandCannotRunError(
                    f"unable to find group {group_arg}: no matching entries in group file")
            gid = gnum
    elif name is not None:
        # supplementary groups: those listing the user as a member (runc's GetExecUser)
        for e in _entries(_in_rootfs(rootfs, "etc/group")):
            if len(e) >= 4 and name in e[3].split(","):
                g = _int(e[2])
                if g is not None and g not in sgids:
                    sgids.append(g)
    return ExecUser(uid, gid, sgids, home)
