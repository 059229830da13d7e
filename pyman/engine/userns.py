"""--userns: the container's user namespace mode.

"" and "host" (rootless, both mean the default): container root is the user, sub-ids from 1.
"keep-id[:uid=U,gid=G]": the user's own uid/gid (or U/G) inside, the sub-ids around it, the
process runs as that user, and (without uid=) /etc/passwd and /etc/group get an entry for it,
as Podman does; files it writes to a bind mount belong to the user on the host.
"""

from __future__ import annotations

import os
import pwd
from typing import Any

from pyman.errors import PymanError

UNSUPPORTED = ("auto", "nomap", "private", "ns", "container")


def parse(value: str | None) -> str:
    """The normalized mode stored with the container ("" or "keep-id[:uid=..,gid=..]")."""
    value = (value or "").strip()
    if value in ("", "host"):
        return ""
    mode, _, opts = value.partition(":")
    if mode == "keep-id":
        for item in filter(None, opts.split(",")):
            key, eq, num = item.partition("=")
            if key not in ("uid", "gid") or not eq or not num.isdigit():
                raise PymanError(f"invalid --userns option {item!r}: keep-id takes uid=N "
                                 "and gid=N")
        return value
    if mode in UNSUPPORTED:
        raise PymanError(f"--userns={value} is not supported by pyman: use keep-id or host")
    raise PymanError(f"unrecognized namespace mode {value} passed")


def keep_id_ids(mode: str) -> tuple[int, int] | None:
    """(uid, gid) the user is inside for keep-id; None for the default map."""
    if not mode.startswith("keep-id"):
        return None
    uid, gid = os.getuid(), os.getgid()
    for item in filter(None, mode.partition(":")[2].split(",")):
        key, _, num = item.partition("=")
        if key == "uid":
            uid = int(num)
        else:
            gid = int(num)
    return uid, gid


def user_name() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def monitor_config(mode: str, workdir: str) -> dict[str, Any]:
    """Keys for the monitor's config. keep-id: ``userns_maps``, the container's own user
    namespace nested in the monitor's standard one (runc makes it), ``idmap``, how
    fuse-overlayfs shows the layers so their owners look in that namespace as the image
    says (storage/rootfs.py), and ``group_entry`` (runtime/keep_id.py)."""
    ids = keep_id_ids(mode)
    if ids is None:
        return {}
    from pyman.rootless.subid import keep_id_nested
    from pyman.rootless.userns import host_id_maps

    std = host_id_maps()
    nested = {"uid": keep_id_nested(sum(m.count for m in std.uid), ids[0]),
              "gid": keep_id_nested(sum(m.count for m in std.gid), ids[1])}
    extra: dict[str, Any] = {
        "userns_maps": {k: [[m.inside, m.outside, m.count] for m in v]
                        for k, v in nested.items()},
        # fuse-overlayfs' uidmapping= is <id on disk>:<id shown>:<count>: a file the image
        # gives to container id c is stored as c in the monitor's namespace, and must be
        # shown as the id that the nested namespace maps c to
        "idmap": {k: ":".join(f"{m.inside}:{m.outside}:{m.count}" for m in v)
                  for k, v in nested.items()},
    }
    if ":" not in mode:  # plain keep-id: a passwd and group entry for the user
        extra["group_entry"] = {"name": user_name(), "gid": ids[1]}
    return extra
