"""What confines a container, as SpecOptions arguments: capabilities, seccomp, no_new_privs,
masked and read-only paths, and --privileged's host devices. Called by the monitor while it
writes the bundle (stdlib only); the engine checked every value at create.
"""

from __future__ import annotations

import os
import stat

from pyman.runtime.capabilities import kernel_caps, resolve
from pyman.runtime.spec import MASKED_PATHS, READONLY_PATHS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyman.monitor.protocol import SpecCfg

# never handed to a rootless container, even privileged (as Podman): the host's ptmx and
# virtual consoles; the runtime makes /dev/pts, /dev/shm and /dev/mqueue itself
_SKIP_DEV_DIRS = ("/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/.lxc", "/dev/.udev")
DEVICE_BIND = ["slave", "nosuid", "noexec", "rw", "rbind"]


def host_devices(root: str = "/dev") -> list[str]:
    """Character and block devices under /dev that this user can open (read or write): what
    --privileged binds into a rootless container. A device the user cannot open would only
    be a node that fails with EACCES inside."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames
                       if os.path.join(dirpath, d) not in _SKIP_DEV_DIRS]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if path == "/dev/ptmx" or path == "/dev/console" or path.startswith("/dev/tty"):
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
                continue
            if os.access(path, os.R_OK) or os.access(path, os.W_OK):
                out.append(path)
    return sorted(out)


def _paths(defaults: tuple[str, ...], unmask: list[str]) -> list[str]:
    if "ALL" in unmask:
        return []
    return [p for p in defaults if p not in unmask]


def confinement(spec: SpecCfg, uid: int) -> dict[str, Any]:
    """SpecOptions keyword arguments from the monitor config's "spec" section."""
    from pyman.runtime.seccomp import container_seccomp

    privileged = bool(spec.get("privileged"))
    cap_add = list(spec.get("cap_add") or [])
    caps = resolve(cap_add, spec.get("cap_drop") or [], privileged=privileged,
                   default=spec.get("default_caps"))
    known = kernel_caps()
    user_caps = known if "ALL" in cap_add else [c for c in cap_add if c in known]
    seccomp_setting = spec.get("seccomp") or ""
    if privileged and not seccomp_setting:
        seccomp_setting = "unconfined"  # as Podman: --privileged runs without a filter
    unmask = ["ALL"] if privileged else list(spec.get("unmask") or [])
    mask = list(spec.get("mask") or [])
    out: dict[str, Any] = {
        "capabilities": caps,
        "user_caps": user_caps if uid != 0 else [],
        "no_new_privileges": bool(spec.get("no_new_privileges")),
        "seccomp": container_seccomp(seccomp_setting, caps),
        "privileged": privileged,
        "masked_paths": _paths(MASKED_PATHS, unmask) + [p for p in mask
                                                         if p not in MASKED_PATHS],
        "readonly_paths": _paths(READONLY_PATHS, unmask),
    }
    return out


def device_mounts(privileged: bool) -> list[tuple[str, str, list[str]]]:
    if not privileged:
        return []
    return [(d, d, list(DEVICE_BIND)) for d in host_devices()]
