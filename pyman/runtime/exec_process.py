"""The OCI process spec of an exec session (``runc exec --process``), derived from the
container's own process in its bundle config.json, so the exec'd command gets what the
container's got (capabilities, rlimits, no-new-privileges, umask, AppArmor ...) unless asked
otherwise. Pure functions over plain data; stdlib only.
"""

from __future__ import annotations

import copy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from pyman.runtime.users import ExecUser

# capability numbers 0..40 in the kernel's order (linux/capability.h)
ALL_CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)


def host_capabilities(last_cap_file: str = "/proc/sys/kernel/cap_last_cap") -> list[str]:
    """Every capability this kernel knows (``--privileged``), as the spec names them."""
    try:
        with open(last_cap_file) as f:
            last = int(f.read().strip())
    except (OSError, ValueError):
        last = len(ALL_CAPABILITIES) - 1
    return ["CAP_" + name for name in ALL_CAPABILITIES[: last + 1]]


def _set_env(env: list[str], key: str, value: str) -> list[str]:
    return [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]


def exec_env(container_env: Sequence[str], extra: Sequence[str], hostname: str = "",
             home: str | None = None) -> list[str]:
    """The container's environment without the HOSTNAME the runtime added for its init (as
    Podman: exec sessions do not get it), then ``home`` as HOME (the ``--user``'s, from its
    passwd entry), then ``extra`` (``--env-file``, then ``-e``), each later one winning."""
    env = [e for e in container_env if not (hostname and e == f"HOSTNAME={hostname}")]
    if home is not None:
        env = _set_env(env, "HOME", home)
    for item in extra:
        key, sep, value = item.partition("=")
        if key and sep:
            env = _set_env(env, key, value)
    return env


def exec_process(
    base: dict[str, Any],
    args: Sequence[str],
    *,
    env: Sequence[str],
    cwd: str | None = None,
    user: ExecUser | None = None,
    terminal: bool = False,
    privileged: bool = False,
    console_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """``base`` is the container's ``process`` object; ``user`` None keeps its user.
    A non-root user gets no effective or permitted capabilities (only the bounding set), as
    the container's own process would; ``privileged`` bounds by every capability there is."""
    proc = copy.deepcopy(base)
    proc["args"] = list(args)
    proc["env"] = list(env)
    proc["terminal"] = terminal
    if cwd:
        proc["cwd"] = cwd
    proc.setdefault("cwd", "/")
    if user is not None:
        spec_user: dict[str, Any] = {"uid": user.uid, "gid": user.gid}
        umask = (base.get("user") or {}).get("umask")
        if umask is not None:
            spec_user["umask"] = umask
        if user.additional_gids:
            spec_user["additionalGids"] = list(user.additional_gids)
        proc["user"] = spec_user
    uid = int((proc.get("user") or {}).get("uid", 0))
    caps = dict(proc.get("capabilities") or {})
    bounding = host_capabilities() if privileged else list(caps.get("bounding") or [])
    root = uid == 0
    proc["capabilities"] = {
        "bounding": bounding,
        "effective": list(bounding) if root else [],
        "permitted": list(bounding) if root else [],
    }
    if console_size is not None and terminal:
        proc["consoleSize"] = {"height": console_size[0], "width": console_size[1]}
    else:
        proc.pop("consoleSize", None)
    return proc
