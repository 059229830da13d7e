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

    from pyman.monitor.protocol import MonitorConfig

RUN_DIR_FILES = ("hosts", "resolv.conf", "hostname")
INIT_PATH = "/run/podman-init"  # where Podman binds catatonit for --init: tools look there
# --read-only: writable scratch space where programs expect it, filled from the image
READ_ONLY_TMPFS = ("/tmp", "/run", "/var/tmp")
TMPFS_OPTIONS = ("rw", "rprivate", "nosuid", "nodev", "tmpcopyup")
RLIM_INFINITY = 2**64 - 1  # the spec's unsigned "unlimited"


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


def spec_options(cfg: MonitorConfig, rootfs: str, run_dir: str) -> SpecOptions:
    from pyman.runtime.confine import confinement, device_mounts
    from pyman.runtime.users import group_ids

    spec = cfg["spec"]
    user = resolve_user(rootfs, spec.get("user") or "")
    env = list(spec["env"])
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")  # as Podman: from the image's passwd entry
    read_only = bool(spec.get("read_only"))
    file_opts = ["bind", "rprivate", "ro", "nosuid", "noexec", "nodev"] if read_only else [
        "bind", "rprivate"]
    mounts = [(os.path.join(run_dir, name), f"/etc/{name}", list(file_opts))
              for name in RUN_DIR_FILES if os.path.exists(os.path.join(run_dir, name))]
    for s in cfg.get("secrets") or []:  # --secret (monitor/runner.py wrote the copies)
        mounts.append((os.path.join(run_dir, "secrets", s["name"]), s["target"],
                       ["bind", "rprivate", "ro", "nosuid", "nodev", "noexec"]))
    if cfg.get("containerenv") is not None:  # Podman's marker: tools look for it
        mounts.append((os.path.join(run_dir, ".containerenv"), "/run/.containerenv",
                       list(file_opts)))
    if cfg.get("passwd_users"):  # keep-id, --hostuser: the users' entries (runtime/keep_id.py)
        mounts += [(os.path.join(run_dir, name), f"/etc/{name}", list(file_opts))
                   for name in ("passwd", "group")
                   if os.path.exists(os.path.join(run_dir, name))]
    mounts = device_mounts(bool(spec.get("privileged"))) + mounts
    args = list(spec["args"])
    if spec.get("init"):
        mounts.append((spec["init"], INIT_PATH, ["bind", "ro", "rprivate"]))
        args = [INIT_PATH, "--", *args]
    taken = {m.get("destination") for m in cfg.get("mounts") or []}
    tmpfs = [(d, TMPFS_OPTIONS) for d in READ_ONLY_TMPFS if d not in taken
             ] if read_only and spec.get("read_only_tmpfs", True) else []
    return SpecOptions(
        rootfs=rootfs,
        args=args,
        env=env,
        cwd=spec.get("cwd") or "/",
        uid=user.uid,
        gid=user.gid,
        additional_gids=additional_gids(spec.get("user") or "", user.gid,
                                        user.additional_gids)
        + [g for g in group_ids(rootfs, spec.get("group_add") or [])
           if g not in user.additional_gids],
        hostname=spec.get("hostname") or "",
        terminal=bool(spec.get("terminal")),
        readonly_rootfs=read_only,
        tmpfs=tmpfs,
        rlimits=rlimits(spec.get("ulimits") or []),
        **resources(cfg),
        network=spec_network(cfg.get("network") or "private"),
        mounts=mounts,
        user_mounts=cfg.get("mounts") or [],
        userns_maps=cfg.get("userns_maps"),
        devpts_gid=5 if gid_mapped(5) else None,
        **confinement(spec, user.uid),
    )


def additional_gids(user_spec: str, gid: int, sgids: list[int]) -> list[int]:
    """As Podman: a container with a user set (--user or the image's USER) also lists its
    primary group among the supplementary ones, first; the default root gets none."""
    if not user_spec:
        return list(sgids)
    return [gid, *(g for g in sgids if g != gid)]


def rlimits(ulimits: list[list[Any]]) -> dict[str, tuple[int, int]] | None:
    """--ulimit over the defaults (NOFILE and NPROC raised to the caller's hard limits)."""
    if not ulimits:
        return None
    from pyman.runtime.spec import caller_rlimits

    out = caller_rlimits()
    for name, soft, hard in ulimits:
        out[name] = (RLIM_INFINITY if soft < 0 else soft, RLIM_INFINITY if hard < 0 else hard)
    return out


def resources(cfg: MonitorConfig) -> dict[str, Any]:
    """linux.resources for --memory, --cpus, --pids-limit (the engine only lets them through
    where the user has a delegated cgroup v2 tree), in a cgroup next to the monitor's own."""
    spec = cfg["spec"]
    res: dict[str, Any] = {}
    if spec.get("memory"):
        res["memory"] = {"limit": int(spec["memory"])}
    if spec.get("nano_cpus"):
        period = 100000
        res["cpu"] = {"quota": int(spec["nano_cpus"]) * period // 10**9, "period": period}
    if spec.get("pids_limit"):
        res["pids"] = {"limit": int(spec["pids_limit"])}
    if not res:
        return {}
    from pyman.runtime.cgroups import own_cgroup

    with open("/proc/self/cgroup") as f:
        own = own_cgroup(f.read()) or "/"
    return {"resources": res,
            "cgroups_path": os.path.join(os.path.dirname(own), f"pyman-{cfg['id']}")}


def join_namespaces(config: dict[str, Any], paths: dict[str, str]) -> None:
    """Namespaces of another container (a pod's infra): by path, as runc joins them. A
    shared UTS namespace keeps the other's hostname; a shared netns its sysctls."""
    for ns in config["linux"]["namespaces"]:
        if ns["type"] in paths:
            ns["path"] = paths[ns["type"]]
    if "uts" in paths:
        config.pop("hostname", None)
    if "network" in paths:
        sysctl = {k: v for k, v in config["linux"].get("sysctl", {}).items()
                  if not k.startswith("net.")}
        if sysctl:
            config["linux"]["sysctl"] = sysctl
        else:
            config["linux"].pop("sysctl", None)


def monitor_makes_netns(cfg: MonitorConfig) -> bool:
    """pasta's netns is made by the monitor before `runtime create` (netns/helpers.new_netns)
    so that pasta configures it meanwhile; not for a container with a user namespace of its
    own (keep-id): its netns must belong to that namespace (sysfs mounts only there), so
    the runtime makes it, and pasta comes after create."""
    return cfg.get("network") == "pasta" and not cfg.get("userns_maps")


def ipc_mode(config: dict[str, Any], ipc: str) -> None:
    """--ipc host: the host's IPC namespace, its /dev/shm and /dev/mqueue bound in (an
    mqueue can only be mounted by the namespace's owner); none: its own, without /dev/shm."""
    mounts = config["mounts"]
    if ipc == "host":
        config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"]
                                         if n["type"] != "ipc"]
        shared = ("/dev/shm", "/dev/mqueue")
        config["mounts"] = [m for m in mounts if m["destination"] not in shared
                            or os.path.isdir(m["destination"])]  # a host may have no mqueue
        for m in config["mounts"]:
            if m["destination"] in shared:
                m.update(type="bind", source=m["destination"],
                         options=["rbind", "nosuid", "noexec", "nodev"])
    elif ipc == "none":
        config["mounts"] = [m for m in mounts if m["destination"] != "/dev/shm"]


def write_config(cfg: MonitorConfig, rootfs: str, run_dir: str) -> None:
    config = build_spec(spec_options(cfg, rootfs, run_dir))
    size = cfg["spec"].get("console_size")
    if cfg["spec"].get("terminal") and size:  # the attaching client's window, from the start
        config["process"]["consoleSize"] = {"height": size[0], "width": size[1]}
    ipc_mode(config, cfg["spec"].get("ipc") or "")
    shm = cfg.get("shm_dir") or (cfg.get("join") or {}).get("shm")
    if shm:  # a pod's: the infra monitor's tmpfs (members see it in their copy of its mounts)
        for m in config["mounts"]:
            if m["destination"] == "/dev/shm":
                m.update(type="bind", source=shm, options=["rbind", "nosuid", "noexec",
                                                           "nodev"])
    join = cfg.get("join")
    if join:
        join_namespaces(config, join["ns"])
    if str(cfg.get("network")).startswith("ns:"):  # --network ns:<path>
        join_namespaces(config, {"network": cfg["network"][3:]})
    if monitor_makes_netns(cfg) or cfg.get("network") == "netavark":  # made by the monitor
        for ns in config["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = os.path.join(run_dir, "netns")
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump(config, f)
