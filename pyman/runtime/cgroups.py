"""Can this user's containers have resource limits? Only in a cgroup v2 tree delegated to
the user (systemd's user@.service with Delegate=yes): elsewhere a rootless container runs
without cgroups, as Podman's do on cgroup v1 and hybrid hosts."""

from __future__ import annotations

import os
from dataclasses import dataclass

CGROUP_ROOT = "/sys/fs/cgroup"


@dataclass
class Delegation:
    """Whether the user's cgroup v2 tree is delegated, and which controllers."""

    ok: bool
    why: str  # when not ok: the reason, worded to follow "because"
    path: str = ""  # the user's own cgroup directory, when ok
    controllers: tuple[str, ...] = ()


def cgroup_kinds(mountinfo: str) -> set[str]:
    """The cgroup filesystem types mounted ("cgroup" is v1, "cgroup2" the unified tree)."""
    kinds = set()
    for line in mountinfo.splitlines():
        _, sep, post = line.partition(" - ")
        if sep and post.split()[0] in ("cgroup", "cgroup2"):
            kinds.add(post.split()[0])
    return kinds


def own_cgroup(proc_cgroup: str) -> str | None:
    for line in proc_cgroup.splitlines():
        if line.startswith("0::"):
            return line[3:].strip()
    return None


def delegation(mountinfo: str | None = None, proc_cgroup: str | None = None,
               root: str = CGROUP_ROOT) -> Delegation:
    if mountinfo is None:
        mountinfo = _read("/proc/self/mountinfo")
    if proc_cgroup is None:
        proc_cgroup = _read("/proc/self/cgroup")
    kinds = cgroup_kinds(mountinfo)
    if "cgroup" in kinds:
        host = "hybrid cgroups (v1 and v2)" if "cgroup2" in kinds else "cgroup v1"
        return Delegation(False, f"this host has {host}, where rootless containers run "
                                 "without cgroups")
    if "cgroup2" not in kinds:
        return Delegation(False, "no cgroup filesystem is mounted")
    own = own_cgroup(proc_cgroup)
    path = os.path.join(root, (own or "/").lstrip("/"))
    if own is None or not os.access(path, os.W_OK):
        return Delegation(False, "the cgroup v2 tree is not delegated to this user (no "
                                 "systemd user session with Delegate=yes)")
    controllers = tuple(_read(os.path.join(path, "cgroup.controllers")).split())
    return Delegation(True, "", path, controllers)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""
