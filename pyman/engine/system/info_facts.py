"""The parts of `pyman info` read from the machine and the config files: memory, uptime,
the container monitor (conmon's slot), registries.conf, the store's filesystem."""

from __future__ import annotations

import os
import sys
from typing import Any

from pyman import __version__

# Filesystem names as containers/storage's graphStatus shows them (its names for the
# statfs magic numbers); /proc/self/mountinfo gives the kernel's.
_FS_NAMES = {"ext2": "extfs", "ext3": "extfs", "ext4": "extfs", "overlay": "overlayfs",
             "fuse.fuse-overlayfs": "fuse-overlayfs", "fuseblk": "fuseblk"}


def memory() -> dict[str, int]:
    """/proc/meminfo's totals in bytes, under Podman's keys."""
    fields: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                key, _, rest = line.partition(":")
                words = rest.split()
                if words:
                    fields[key] = int(words[0]) * (1024 if words[1:] == ["kB"] else 1)
    except (OSError, ValueError):
        return {}
    return {"memFree": fields.get("MemFree", 0),
            "memTotal": fields.get("MemTotal", 0), "swapFree": fields.get("SwapFree", 0),
            "swapTotal": fields.get("SwapTotal", 0)}


def uptime() -> str:
    """Podman's wording: `5h 3m 2.00s (Approximately 0.21 days)`."""
    try:
        with open("/proc/uptime", encoding="ascii") as f:
            seconds = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return ""
    whole = float(int(seconds))
    hours = float(int(seconds // 3600))
    text = f"{hours:.0f}h {(whole % 3600) / 60:.0f}m {whole % 60:.2f}s"
    return text + (f" (Approximately {hours / 24:.2f} days)" if hours >= 1 else "")


def monitor() -> dict[str, str]:
    """What Podman's info calls conmon: the process that watches each container. pyman's is
    its own monitor (pyman/monitor), run by this Python interpreter; no conmon is used."""
    import pyman

    main = os.path.join(os.path.dirname(os.path.realpath(pyman.__file__)), "monitor",
                        "__main__.py")
    return {"package": f"pyman {__version__}", "path": main,
            "version": f"pyman monitor {__version__} (run by {sys.executable} -I -S; "
                       "it takes conmon's place)"}


def registries() -> dict[str, Any]:
    """registries.conf as Podman's info shows it: each [[registry]] by prefix, and the
    unqualified-search registries under `search` when any are set (sorted, as Go's YAML
    writes a map)."""
    from pyman.image.registries_conf import load_registries_conf

    conf = load_registries_conf()
    out: dict[str, Any] = {}
    for prefix, reg in conf.registries.items():
        mirrors = [{"Insecure": m.insecure, "Location": m.location,
                    "PullFromMirror": m.pull_from_mirror} for m in reg.mirrors]
        out[prefix] = {"Blocked": reg.blocked, "Insecure": reg.insecure,
                       "Location": reg.location, "MirrorByDigestOnly": reg.mirror_by_digest_only,
                       "Mirrors": mirrors or None, "Prefix": reg.prefix, "PullFromMirror": ""}
    if conf.search:
        out["search"] = list(conf.search)
    return dict(sorted(out.items()))


def backing_filesystem(path: str) -> str:
    """The type of the filesystem ``path`` is on: the longest mount point above it in
    /proc/self/mountinfo (the last one mounted there wins)."""
    real = os.path.realpath(path)
    best, fstype = -1, ""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) < 5 or not right:
                    continue
                point = fields[4].replace("\\040", " ")
                inside = real == point or real.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= best:
                    best, fstype = len(point), right.split()[0]
    except OSError:
        return ""
    return _FS_NAMES.get(fstype, fstype)


def graph_status(data: str, driver: str) -> dict[str, str]:
    """containers/storage's graphStatus for the overlay driver: the backing filesystem;
    pyman reads a container's changes from its upper dir (a native diff) and never uses
    metacopy. vfs has none, as in containers/storage."""
    if driver != "overlay":
        return {}
    return {"Backing Filesystem": backing_filesystem(data), "Native Overlay Diff": "true",
            "Using metacopy": "false"}


def space(data: str) -> dict[str, int]:
    """graphRootAllocated / graphRootUsed: the size and the used bytes of the store's
    filesystem (statvfs), as Podman reports them."""
    try:
        st = os.statvfs(data)
    except OSError:
        return {}
    return {"graphRootAllocated": st.f_blocks * st.f_frsize,
            "graphRootUsed": (st.f_blocks - st.f_bfree) * st.f_frsize}
