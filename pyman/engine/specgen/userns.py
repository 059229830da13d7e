"""--userns: the container's user namespace mode.

"" and "host" (rootless, both mean the default): container root is the user, sub-ids from 1.
"nomap": container 0.. are the sub-ids, the user is not mapped. "auto[:size=N]": N ids
(default: the image's highest id + 1, at least 1024) of the sub-ids that no other auto
container holds.
"keep-id[:uid=U,gid=G]": the user's own uid/gid (or U/G) inside, the sub-ids around it, the
process runs as that user, and (without uid=) /etc/passwd and /etc/group get an entry for it,
as Podman does; files it writes to a bind mount belong to the user on the host.
"""

from __future__ import annotations

import os
import pwd
from typing import Any

from pyman.errors import PymanError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyman.monitor.protocol import MonitorConfig

UNSUPPORTED = ("private", "ns", "container")
AUTO_MIN_SIZE = 1024  # Podman's AutoUserNsMinSize


def parse(value: str | None) -> str:
    """The normalized mode stored with the container: "", "keep-id[:uid=..,gid=..]",
    "nomap" or "auto:size=N" (N: 0 until create picks it)."""
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
    if mode == "nomap" and not opts:
        return "nomap"
    if mode == "auto":
        size = 0
        for item in filter(None, opts.split(",")):
            key, eq, num = item.partition("=")
            if key == "size" and num.isdigit() and int(num) > 0:
                size = int(num)
            elif key not in ("uidmapping", "gidmapping"):
                raise PymanError(f"invalid option {item!r} for auto userns: use size=N")
            else:
                raise PymanError(f"--userns=auto:{key}= is not supported by pyman: use "
                                 "auto or auto:size=N")
        return f"auto:size={size}"
    if mode in UNSUPPORTED:
        raise PymanError(f"--userns={value} is not supported by pyman: use keep-id, nomap, "
                         "auto or host")
    raise PymanError(f"unrecognized namespace mode {value} passed")


def inspect_mode(mode: str) -> str:
    """HostConfig.UsernsMode as Podman shows it: "private" for a namespace of its own."""
    return "private" if mode else ""


def auto_size(mode: str) -> int:
    return int(mode.partition("size=")[2] or 0) if mode.startswith("auto") else 0


def pick_auto_base(size: int, total: int, taken: list[tuple[int, int]]) -> int:
    """The first id of the monitor's namespace (1: the first sub-id; 0 is the user) from
    which ``size`` ids overlap no other auto container's range, as Podman gives each
    container ids of its own."""
    base = 1
    for start, count in sorted(taken):
        if base + size <= start:
            break
        base = max(base, start + count)
    if base + size > total:
        raise PymanError(f"--userns=auto: not enough free sub-ids for {size} more (this "
                         f"user has {total - 1}, other auto containers hold "
                         f"{sum(c for _, c in taken)}): remove some or ask for a smaller "
                         "size=")
    return base


def image_size(ids: list[int]) -> int:
    """auto without size=: the image's highest id + 1, at least Podman's minimum."""
    return max([AUTO_MIN_SIZE, *(i + 1 for i in ids if i < 65534)])


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


def nested_maps(mode: str, total: int, base: int = 0) -> list[Any] | None:
    """The container's own user namespace inside the monitor's standard one (ids
    0..total-1: the user, then the sub-ids), uid and gid maps; None for the standard map
    itself."""
    from pyman.rootless.subid import IdMapping

    ids = keep_id_ids(mode)
    if ids is not None:
        from pyman.rootless.subid import keep_id_nested

        return [keep_id_nested(total, ids[0]), keep_id_nested(total, ids[1])]
    if mode == "nomap":
        return [[IdMapping(0, 1, total - 1)]] * 2
    if mode.startswith("auto"):
        return [[IdMapping(0, base, auto_size(mode))]] * 2
    return None


def monitor_config(cfg: MonitorConfig, mode: str, workdir: str, base: int = 0) -> None:
    """The monitor's keys of a namespace of the container's own (keep-id, nomap, auto):
    ``userns_maps``, nested in the monitor's (runc makes it), ``idmap``, how
    fuse-overlayfs shows the layers so their owners look in that namespace as the image
    says (storage/rootfs.py: <id on disk>:<id shown>:<count>); without the user in it
    (nomap, auto) ``reachable_rootfs`` (monitor/runner.py); plain keep-id ``group_entry``
    (runtime/keep_id.py)."""
    from pyman.rootless.userns import host_id_maps

    std = host_id_maps()
    maps = nested_maps(mode, sum(m.count for m in std.uid), base)
    if maps is None:
        return
    nested = dict(zip(("uid", "gid"), maps, strict=True))
    cfg["userns_maps"] = {k: [[m.inside, m.outside, m.count] for m in v]
                          for k, v in nested.items()}
    cfg["idmap"] = {k: ":".join(f"{m.inside}:{m.outside}:{m.count}" for m in v)
                    for k, v in nested.items()}
    if mode == "nomap" or mode.startswith("auto"):  # the user is not in its namespace
        cfg["reachable_rootfs"] = f"/tmp/pyman-rootfs-{os.getuid()}"
    ids = keep_id_ids(mode)
    if ids is not None and ":" not in mode:
        cfg["group_entry"] = {"name": user_name(), "gid": ids[1]}
