"""Capability names and the sets a container gets (--cap-add, --cap-drop, --privileged).

Stdlib only: the monitor resolves the sets when it writes the bundle, the engine validates
the names when a container is created.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# linux/capability.h, by number: index == capability number
CAP_NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

# containers.conf default_capabilities of Podman 4.3 (/usr/share/containers/containers.conf):
# the fallback when no containers.conf sets them
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
    "CAP_SYS_CHROOT",
)
# the OCI/Docker default set: what `inspect` reports CapAdd and CapDrop against, as Podman does
OCI_DEFAULT_CAPABILITIES = (
    "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP",
    "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
)


class UnknownCapability(ValueError):
    pass


def normalize(name: str) -> str:
    """``net_admin``, ``NET_ADMIN``, ``cap_net_admin`` -> ``CAP_NET_ADMIN``; ``all`` -> ``ALL``."""
    up = name.strip().upper()
    if up == "ALL":
        return "ALL"
    if not up.startswith("CAP_"):
        up = "CAP_" + up
    if up not in CAP_NAMES:
        raise UnknownCapability(up)
    return up


def normalize_all(names: Iterable[str]) -> list[str]:
    """Each name (comma-separated lists too, as Podman takes them), normalized, in order,
    without repeats."""
    out: list[str] = []
    for item in names:
        for name in item.split(","):
            if name.strip():
                cap = normalize(name)
                if cap not in out:
                    out.append(cap)
    return out


def kernel_caps(last_cap_file: str = "/proc/sys/kernel/cap_last_cap") -> list[str]:
    """Every capability this kernel knows (what --privileged and ALL mean)."""
    try:
        with open(last_cap_file) as f:
            last = int(f.read().strip())
    except (OSError, ValueError):
        last = len(CAP_NAMES) - 1
    return list(CAP_NAMES[: last + 1])


def resolve(add: Iterable[str], drop: Iterable[str], *, privileged: bool = False,
            default: Iterable[str] | None = None,
            known: Iterable[str] | None = None) -> list[str]:
    """The bounding set, Podman's rules: --privileged or --cap-add ALL start from every
    capability; --cap-drop ALL starts from none and only the added ones are given back;
    otherwise the default set (containers.conf default_capabilities as recorded at create,
    None: DEFAULT_CAPABILITIES), plus the added, minus the dropped. Sorted by number."""
    default = DEFAULT_CAPABILITIES if default is None else default
    everything = list(known) if known is not None else kernel_caps()
    add, drop = list(add), list(drop)
    if privileged:
        caps = set(everything)
    elif "ALL" in drop:
        caps = set(everything) if "ALL" in add else set()
        caps |= {c for c in add if c != "ALL"}
        return _ordered(caps, everything)
    elif "ALL" in add:
        caps = set(everything)
    else:
        caps = set(default) | set(add)
    caps -= set(drop)
    return _ordered(caps, everything)


def _ordered(caps: set[str], everything: list[str]) -> list[str]:
    return sorted(c for c in caps if c in everything)
