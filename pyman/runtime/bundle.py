"""Write the OCI bundle's config.json for a container (called by the monitor, stdlib only).

The monitor calls this inside its user namespace with the rootfs mounted, so the image's own
/etc/passwd and /etc/group decide who ``--user`` is.
"""

from __future__ import annotations

import json
import os

from pyman.runtime.spec import SpecOptions, build_spec
from pyman.runtime.users import resolve_user

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RUN_DIR_FILES = ("hosts", "resolv.conf", "hostname")


def gid_mapped(gid: int, gid_map: str = "/proc/self/gid_map") -> bool:
    """Whether ``gid`` exists in this user namespace (devpts' gid=5 needs it)."""
    try:
        with open(gid_map) as f:
            for line in f:
                inside, _outside, count = (int(x) for x in line.split())
                if inside <= gid < inside + count:
                    return True
    except (OSError, ValueError):
        return False
    return False


def spec_network(mode: str) -> str:
    """pyman's network modes onto the spec's: host shares the host netns, none gets an
    empty one, everything else (slirp4netns, pasta) a private one the helper connects."""
    return mode if mode in ("host", "none") else "private"


def spec_options(cfg: dict[str, Any], rootfs: str, run_dir: str) -> SpecOptions:
    from pyman.runtime.confine import confinement, device_mounts

    spec = cfg["spec"]
    user = resolve_user(rootfs, spec.get("user") or "")
    env = list(spec["env"])
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")  # as Podman: from the image's passwd entry
    mounts = [(os.path.join(run_dir, name), f"/etc/{name}", ["bind", "rprivate"])
              for name in RUN_DIR_FILES if os.path.exists(os.path.join(run_dir, name))]
    mounts = device_mounts(bool(spec.get("privileged"))) + mounts
    return SpecOptions(
        rootfs=rootfs,
        args=spec["args"],
        env=env,
        cwd=spec.get("cwd") or "/",
        uid=user.uid,
        gid=user.gid,
        additional_gids=user.additional_gids,
        hostname=spec.get("hostname") or "",
        terminal=bool(spec.get("terminal")),
        readonly_rootfs=bool(spec.get("read_only")),
        network=spec_network(cfg.get("network") or "private"),
        mounts=mounts,
        devpts_gid=5 if gid_mapped(5) else None,
        **confinement(spec, user.uid),
    )


def write_config(cfg: dict[str, Any], rootfs: str, run_dir: str) -> None:
    config = build_spec(spec_options(cfg, rootfs, run_dir))
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump(config, f)
