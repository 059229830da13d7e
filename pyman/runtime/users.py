"""Resolve a container's ``User`` (``uid``, ``uid:gid``, ``name``, ``name:group`` ...) against the
image's own /etc/passwd and /etc/group, with the rules and messages of runc's user package,
which Podman uses. Stdlib only: the monitor calls this once the rootfs is mounted.
"""

from __future__ import annotations

from pyman.errors import CommandCannotRunError, PymanError
from pyman.runtime.inroot import NotReadable, read_in_root


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


def read_entries(rootfs: str, rel: str) -> tuple[list[list[str]], str]:
    """Colon-separated records of a passwd/group file resolved inside ``rootfs`` (never
    outside it, never blocking: runtime/inroot.py), and why the file was refused ("" when it
    was read or is missing: a missing file has no records)."""
    try:
        data = read_in_root(rootfs, rel)
    except NotReadable as exc:
        return [], f"/{rel} in the container is refused: {exc}"
    except OSError as exc:
        return [], f"/{rel} in the container cannot be read: {exc.strerror or exc}"
    lines = (data or b"").decode(errors="replace").splitlines()
    return [line.split(":") for line in (x.strip() for x in lines)
            if line and not line.startswith("#")], ""


def _int(value: str) -> int | None:
    try:
        n = int(value, 10)
    except ValueError:
        return None
    return n if 0 <= n <= 0x7FFFFFFF else None


def resolve_user(rootfs: str, spec: str, files_dir: str = "") -> ExecUser:
    """``spec`` as in ``--user``/image ``User``; "" means root. Unknown names raise
    CommandCannotRunError (exit 126, as in Podman) with runc's message, e.g. ``unable to
    find user tester: no matching entries in passwd file``. Unknown numeric ids are used as
    they are (gid 0, HOME /). ``files_dir``: a passwd and group there (keep-id's, written by
    the monitor and bound over the image's) are the ones the container sees."""

    def read(name: str) -> tuple[list[list[str]], str]:
        if files_dir:
            own = read_entries(files_dir, name)
            if own[0] or own[1]:
                return own
        return read_entries(rootfs, f"etc/{name}")

    user_arg, _, group_arg = (spec or "").partition(":")
    uid, gid, home = 0, 0, "/"
    name: str | None = None
    user_arg = user_arg or "0"  # "" and ":gid" mean root
    numeric = _int(user_arg)
    if numeric is None and not user_arg.isdigit():
        entries, why = read("passwd")
        for e in entries:
            if len(e) >= 4 and e[0] == user_arg:
                uid, gid = _int(e[2]) or 0, _int(e[3]) or 0
                home = e[5] if len(e) > 5 and e[5] else "/"
                name = e[0]
                break
        else:
            raise CommandCannotRunError(
                f"unable to find user {user_arg}: no matching entries in passwd file"
                + (f" ({why})" if why else ""))
    elif numeric is None:
        raise PymanError(f"invalid user {user_arg}: uid out of range")
    else:
        uid = numeric
        for e in read("passwd")[0]:
            if len(e) >= 4 and _int(e[2]) == uid:
                gid = _int(e[3]) or 0
                home = e[5] if len(e) > 5 and e[5] else "/"
                name = e[0]
                break

    sgids: list[int] = []
    if group_arg:
        gnum = _int(group_arg)
        entries, why = read("group")
        for e in entries:
            if len(e) >= 3 and (e[0] == group_arg or (gnum is not None and _int(e[2]) == gnum)):
                gid = _int(e[2]) or 0
                break
        else:
            if gnum is None:
                raise CommandCannotRunError(
                    f"unable to find group {group_arg}: no matching entries in group file"
                    + (f" ({why})" if why else ""))
            gid = gnum
    elif name is not None:
        # supplementary groups: those listing the user as a member (runc's GetExecUser)
        for e in read("group")[0]:
            if len(e) >= 4 and name in e[3].split(","):
                g = _int(e[2])
                if g is not None and g not in sgids:
                    sgids.append(g)
    return ExecUser(uid, gid, sgids, home)


def group_ids(rootfs: str, groups: list[str]) -> list[int]:
    """--group-add: numbers as they are, names from the image's /etc/group (runc's
    message for one it lacks)."""
    out: list[int] = []
    for group in groups:
        gid = _int(group)
        if gid is None:
            entries, why = read_entries(rootfs, "etc/group")
            for e in entries:
                if len(e) >= 3 and e[0] == group:
                    gid = _int(e[2])
                    break
            if gid is None:
                raise CommandCannotRunError(
                    f"unable to find group {group}: no matching entries in group file"
                    + (f" ({why})" if why else ""))
        if gid not in out:
            out.append(gid)
    return out
