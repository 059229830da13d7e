"""The OCI runtime-spec config.json of a rootless container, shaped like Podman 4.3's.

Pure functions over plain data. The monitor imports this on the path of every `pyman run`, so
it stays stdlib-only and lean: no dataclasses (~14 ms of `inspect`), no typing at run time.

The runtime runs as root inside a user namespace the monitor already set up with the full
sub-id map, so the spec asks for no user namespace and no id mappings, and no cgroups: rootless
on cgroup v1 has no delegation (Podman runs such containers with cgroups disabled too).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs ~15 ms of start-up; the monitor builds the spec
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# containers.conf default_capabilities of Podman 4.3 (/usr/share/containers/containers.conf)
DEFAULT_CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETFCAP",
    "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
)
MASKED_PATHS = (
    "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux",
    "/sys/dev/block",
)
READONLY_PATHS = (
    "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)
# containers.conf default_sysctls; only meaningful (and only writable) in our own netns
DEFAULT_SYSCTLS = {"net.ipv4.ping_group_range": "0 0"}
RLIMIT_CEILING = 1048576  # Podman's RLimitDefaultValue
NETWORK_MODES = ("private", "host", "none")


class SpecOptions:
    """What the spec is generated from. ``mounts`` are extra binds (source, destination,
    options), e.g. /etc/hosts, /etc/resolv.conf and /etc/hostname from the run dir."""

    __slots__ = (
        "rootfs", "args", "env", "cwd", "uid", "gid", "additional_gids", "hostname",
        "terminal", "readonly_rootfs", "network", "mounts", "capabilities",
        "no_new_privileges", "annotations", "devpts_gid", "sysctls", "umask", "rlimits",
        "seccomp", "privileged", "masked_paths", "readonly_paths", "user_caps",
        "tmpfs", "resources", "cgroups_path",
        "user_mounts", "userns_maps",
    )

    def __init__(
        self,
        *,
        rootfs: str,
        args: Sequence[str],
        env: Sequence[str] = (),
        cwd: str = "/",
        uid: int = 0,
        gid: int = 0,
        additional_gids: Sequence[int] = (),
        hostname: str = "",
        terminal: bool = False,
        readonly_rootfs: bool = False,
        network: str = "private",
        mounts: Sequence[tuple[str, str, Sequence[str]]] = (),
        capabilities: Sequence[str] = DEFAULT_CAPABILITIES,
        no_new_privileges: bool = False,
        annotations: dict[str, str] | None = None,
        devpts_gid: int | None = 5,
        sysctls: dict[str, str] | None = None,
        umask: int = 0o022,
        rlimits: dict[str, tuple[int, int]] | None = None,
        seccomp: dict[str, Any] | None = None,
        privileged: bool = False,
        masked_paths: Sequence[str] | None = None,
        readonly_paths: Sequence[str] | None = None,
        user_caps: Sequence[str] = (),
        tmpfs: Sequence[tuple[str, Sequence[str]]] = (),
        resources: dict[str, Any] | None = None,
        cgroups_path: str = "",
        user_mounts: Sequence[dict[str, Any]] = (),
        userns_maps: Mapping[str, Sequence[Sequence[int]]] | None = None,
    ) -> None:
        if network not in NETWORK_MODES:
            raise ValueError(f"network mode must be one of {NETWORK_MODES}, not {network!r}")
        self.rootfs = rootfs
        self.args = list(args)
        self.env = list(env)
        self.cwd = cwd or "/"
        self.uid = uid
        self.gid = gid
        self.additional_gids = list(additional_gids)
        self.hostname = hostname
        self.terminal = terminal
        self.readonly_rootfs = readonly_rootfs
        self.network = network
        self.mounts = [(s, d, list(o)) for s, d, o in mounts]
        self.capabilities = list(capabilities)
        self.no_new_privileges = no_new_privileges
        self.annotations = dict(annotations or {})
        # gid=5 (tty) is only valid when mapped: true with the full sub-id map, false when
        # the namespace maps the user alone (the mount then fails with EINVAL)
        self.devpts_gid = devpts_gid
        self.sysctls = dict(DEFAULT_SYSCTLS if sysctls is None else sysctls)
        self.umask = umask
        self.rlimits = rlimits  # None: inherit the caller's, as Podman rootless does
        # the linux.seccomp object (runtime/seccomp.py resolves profiles into it)
        self.seccomp = seccomp
        # --privileged: sysfs and cgroups writable (masks and devices come from the caller)
        self.privileged = privileged
        self.masked_paths = list(MASKED_PATHS if masked_paths is None else masked_paths)
        self.readonly_paths = list(READONLY_PATHS if readonly_paths is None else readonly_paths)
        # capabilities a non-root user really holds (--cap-add): Podman gives them as
        # effective, permitted, inheritable and ambient, so they survive execve
        self.user_caps = list(user_caps)
        # extra tmpfs mounts (destination, options), e.g. --read-only's /run, /tmp, /var/tmp
        self.tmpfs = [(d, list(o)) for d, o in tmpfs]
        # linux.resources and its cgroup: only in a cgroup v2 tree delegated to the user
        # (runtime/cgroups.py); everywhere else rootless containers run without cgroups
        self.resources = resources
        self.cgroups_path = cgroups_path
        # -v/--mount/--tmpfs as OCI mount entries: after the defaults, before ``mounts``
        # (so /etc/hosts still lands on a volume mounted at /etc, as with Podman)
        self.user_mounts = [dict(m) for m in user_mounts]
        # --userns=keep-id: a user namespace of the container's own, nested in the
        # monitor's, {"uid"|"gid": [[container id, monitor-namespace id, count], ...]}
        self.userns_maps = userns_maps


def _cap(name: str) -> str:
    name = name.upper()
    return name if name.startswith("CAP_") else "CAP_" + name


def _process_caps(caps: list[str], opts: SpecOptions) -> dict[str, list[str]]:
    if opts.uid == 0:
        return {"bounding": caps, "effective": list(caps), "permitted": list(caps)}
    given = [_cap(c) for c in opts.user_caps if _cap(c) in caps]
    out = {"bounding": caps, "effective": given, "permitted": list(given)}
    if given:
        out["inheritable"] = list(given)
        out["ambient"] = list(given)
    return out


def caller_rlimits() -> dict[str, tuple[int, int]]:
    """RLIMIT_NOFILE and RLIMIT_NPROC as Podman rootless sets them: soft raised to the
    caller's hard limit (a process may always do that), both capped at 1048576. Never above
    the hard limit: raising it needs CAP_SYS_RESOURCE in the initial user namespace."""
    import resource

    out: dict[str, tuple[int, int]] = {}
    for name in ("RLIMIT_NOFILE", "RLIMIT_NPROC"):
        _soft, hard = resource.getrlimit(getattr(resource, name))
        if hard == resource.RLIM_INFINITY or hard > RLIMIT_CEILING:
            hard = RLIMIT_CEILING
        out[name] = (hard, hard)
    return out


def _mount(dest: str, mtype: str, source: str, options: Iterable[str]) -> dict[str, Any]:
    return {"destination": dest, "type": mtype, "source": source, "options": list(options)}


def default_mounts(opts: SpecOptions) -> list[dict[str, Any]]:
    """/proc, /dev, /sys and friends, in Podman's order and with Podman's options."""
    pts = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
    if opts.devpts_gid is not None:
        pts.append(f"gid={opts.devpts_gid}")
    rw = "rw" if opts.privileged else "ro"
    if opts.network == "host":
        # sysfs can only be mounted by the owner of the netns; the host's is not ours
        sys_mount = _mount("/sys", "bind", "/sys",
                           ["rprivate", "nosuid", "noexec", "nodev", rw, "rbind"])
    else:
        sys_mount = _mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", rw])
    mounts = [
        _mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        _mount("/dev", "tmpfs", "tmpfs",
               ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"]),
        sys_mount,
        _mount("/dev/pts", "devpts", "devpts", pts),
        _mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        # a fresh tmpfs is private to this container's own IPC namespace
        _mount("/dev/shm", "tmpfs", "shm",
               ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
    ]
    if opts.network != "host":
        # as Podman: cgroup-aware programs read it. In a user namespace the runtime binds the
        # host's hierarchies read-only (cgroup v1: a tmpfs of per-controller binds); with the
        # host's /sys bound in, they are already there
        mounts.append(_mount("/sys/fs/cgroup", "cgroup", "cgroup",
                             ["rprivate", "nosuid", "noexec", "nodev", "relatime", rw]))
    return mounts


def build_spec(opts: SpecOptions) -> dict[str, Any]:
    """The config.json for ``opts`` as a dict (json.dump it into the bundle).

    Devices: none are listed. runc and crun always provide null, zero, full, tty, random and
    urandom, and inside a user namespace they bind-mount them from the host (mknod is not
    allowed there) - exactly what Podman rootless relies on.
    """
    caps = [_cap(c) for c in opts.capabilities]
    user: dict[str, Any] = {"uid": opts.uid, "gid": opts.gid, "umask": opts.umask}
    if opts.additional_gids:
        user["additionalGids"] = list(opts.additional_gids)
    limits = caller_rlimits() if opts.rlimits is None else opts.rlimits
    process: dict[str, Any] = {
        "terminal": opts.terminal,
        "user": user,
        "args": list(opts.args),
        "env": list(opts.env),
        "cwd": opts.cwd,
        # inheritable and ambient stay empty: exec'd programs do not keep capabilities.
        # A non-root user gets none at all, only the bounding set (as Podman without
        # --cap-add; the kernel would drop them at execve anyway)
        "capabilities": _process_caps(caps, opts),
        "rlimits": [{"type": k, "hard": h, "soft": s} for k, (s, h) in limits.items()],
    }
    if opts.no_new_privileges:
        process["noNewPrivileges"] = True

    mounts = default_mounts(opts)
    mounts += [_mount(dst, "tmpfs", "tmpfs", o) for dst, o in opts.tmpfs]
    mounts += [dict(m) for m in opts.user_mounts]
    mounts += [_mount(dst, "bind", src, o or ["bind", "rprivate"]) for src, dst, o in opts.mounts]

    namespaces = [{"type": "pid"}]
    if opts.network != "host":  # "none" still gets its own, empty, netns
        namespaces.append({"type": "network"})
    namespaces += [{"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
    masked = list(opts.masked_paths)
    if opts.network == "host" and not opts.privileged:
        masked.insert(0, "/sys/kernel")  # the host's sysfs is bound in: hide its kernel knobs
    linux: dict[str, Any] = {"namespaces": namespaces, "maskedPaths": masked,
                             "readonlyPaths": list(opts.readonly_paths)}
    sysctls = {k: v for k, v in opts.sysctls.items()
               if opts.network != "host" or not k.startswith("net.")}
    if sysctls:
        linux["sysctl"] = sysctls
    if opts.seccomp is not None:
        linux["seccomp"] = opts.seccomp
    if opts.resources:
        linux["resources"] = opts.resources
        linux["cgroupsPath"] = opts.cgroups_path
    if opts.userns_maps:
        namespaces.append({"type": "user"})
        for key, name in (("uid", "uidMappings"), ("gid", "gidMappings")):
            linux[name] = [{"containerID": c, "hostID": h, "size": n}
                           for c, h, n in opts.userns_maps[key]]

    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": opts.rootfs, "readonly": opts.readonly_rootfs},
        "hostname": opts.hostname,
        "mounts": mounts,
        "linux": linux,
    }
    if opts.annotations:
        spec["annotations"] = dict(opts.annotations)
    return spec


# -- what to run ------------------------------------------------------------------------------


def image_process_args(
    entrypoint: Sequence[str] | None,
    cmd: Sequence[str] | None,
    user_entrypoint: Sequence[str] | None = None,
    user_cmd: Sequence[str] | None = None,
) -> list[str]:
    """Docker/Podman semantics: ``--entrypoint`` replaces the image Entrypoint and drops the
    image Cmd (an empty list is ``--entrypoint ''``: no entrypoint at all); a command given
    on the command line replaces the image Cmd."""
    if user_entrypoint is not None:
        ep = list(user_entrypoint)
        args = list(user_cmd or [])
    else:
        ep = list(entrypoint or [])
        args = list(user_cmd) if user_cmd else list(cmd or [])
    return ep + args


def _env_key(item: str) -> str:
    return item.split("=", 1)[0]


def merge_env(
    image_env: Sequence[str],
    user_env: Sequence[str],
    hostname: str | None = None,
    home: str | None = None,
    defaults: Sequence[str] | None = None,
    unset: Sequence[str] = (),
    unset_all: bool = False,
) -> list[str]:
    """The container's environment, in Podman's order: ``container=podman`` (the marker that
    systemd and other tools look for; kept as Podman's value for compatibility), the
    defaults (containers.conf [containers] env; None: PATH and TERM=xterm), then the
    image's, then the user's (each later one wins), then HOME and HOSTNAME when still unset.
    ``KEY`` without ``=`` takes the caller's value, if any. ``unset`` (--unsetenv) drops
    keys of the marker, the defaults and the image's; ``unset_all`` (--unsetenv-all) all of
    them: the user's own still apply, as in Podman."""
    merged: dict[str, str] = {"container": "podman"}
    if defaults is None:
        merged.update(PATH=DEFAULT_PATH, TERM="xterm")
    _add_env(merged, [*(defaults or ()), *image_env])
    for key in list(merged) if unset_all else unset:
        merged.pop(key, None)
    _add_env(merged, user_env)
    if home is not None:
        merged.setdefault("HOME", home)
    if hostname:
        merged.setdefault("HOSTNAME", hostname)
    return [f"{k}={v}" for k, v in merged.items()]


def _add_env(merged: dict[str, str], items: Sequence[str]) -> None:
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            continue
        if not sep:
            host = os.environ.get(key)
            if host is None:
                continue
            value = host
        merged[key] = value
