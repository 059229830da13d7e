"""What a container's monitor is told (monitor.json): rootfs layers and driver, stdio, the
runtime, network, the OCI process and its limits, logs, mounts, joins, restart and notify."""

from __future__ import annotations

from pyman.engine.network.modes import check_network
from pyman.errors import ContainerStateError
from pyman.storage.containers import ContainerConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyman.engine.containers.operations import ContainerService
    from pyman.monitor.protocol import DnsCfg, EtcCfg, JoinCfg, MonitorConfig


def build(svc: ContainerService, c: ContainerConfig, detach: bool, interactive: bool,
                 attach_fd: int | None = None,
                 console_size: tuple[int, int] | None = None) -> MonitorConfig:
    from pyman.runtime.select import select_runtime

    runtime = select_runtime(svc.paths, c.oci_runtime or svc.runtime)
    from pyman.engine.containers.mounts import chown_sources, for_monitor

    mounts, first_use = for_monitor(c.mounts, svc.volumes)
    from pyman.engine.specgen.log_config import size_limit as log_size_limit
    from pyman.engine.specgen.userns import monitor_config
    from pyman.eventlog import monitor_settings

    cfg: MonitorConfig = {
        "events": monitor_settings(c),
        "id": c.id,
        "name": c.name,
        "container_dir": str(svc.store.dir(c.id)),
        "lowers": [str(svc.images.layers.diff(d)) for d in reversed(c.layers)],
        "storage_driver": c.storage_driver,
        "root_mode": c.root_mode,
        "mount_program": svc.paths.mount_program,
        "rm": c.rm,
        "detach": detach,
        "interactive": interactive or c.interactive,
        # the container's stdin: the client's own (an attached `run -i` without a
        # terminal), a pipe the monitor holds for attach clients (-i), or none
        "stdin": "" if c.tty else "inherit" if (
            interactive and not detach and attach_fd is None) else "pipe" if (
            interactive or c.interactive) else "",
        "attach_fd": attach_fd,  # a client connected from the start (monitor/relay.py)
        "tty_stdin": c.tty and (interactive or c.interactive),  # keys reach the pty
        "runtime": {"path": runtime.path, "root": str(svc.paths.runtime_root),
                    "flags": [f"--{f}" for f in svc.options.get("runtime_flags", [])]},
        # --attach: the streams an attached run gets (None: all)
        "attach_streams": c.attach,
        "timeout": c.timeout,
        "preserve_fds": svc.preserve_fds,  # run --preserve-fds: fds 3.. go on to runc
        "containerenv": containerenv(c),
        "network": c.network,
        # a joined netns has its helper already; a joined IPC namespace alone does not
        "network_helper": None if (c.join and "net" in c.share) or c.network == "netavark"
        else check_network(c.network)[1],
        "spec": {"args": c.args, "env": c.env, "cwd": c.workdir, "user": c.user,
                 "check_cwd": c.workdir_given,
                 "hostname": c.hostname,
                 "cap_add": c.cap_add, "cap_drop": c.cap_drop, "privileged": c.privileged,
                 "default_caps": c.default_caps,
                 "no_new_privileges": c.no_new_privileges, "seccomp": c.seccomp,
                 "mask": c.mask, "unmask": c.unmask,
                 "read_only": c.read_only, "read_only_tmpfs": c.read_only_tmpfs,
                 "ipc": c.ipc,
                 "group_add": c.group_add,
                 "init": c.init, "extra_hosts": c.extra_hosts, "ulimits": c.ulimits,
                 "dns": _dns(c),
                 "memory": c.memory, "nano_cpus": c.nano_cpus,
                 "pids_limit": c.pids_limit, "terminal": c.tty,
                 "console_size": list(console_size) if console_size else None},
        "log_path": svc.log_file(c),
        "log_max": log_size_limit(c.log_size),
        "log_driver": c.log_driver,
        "ports": c.ports,
        "mounts": mounts,  # OCI entries: binds, volumes, tmpfs
        "volumes_first_use": first_use,
        "chown": chown_sources(c.mounts, svc.volumes),  # U: the sources to chown
        "volumes_lock": str(svc.volumes.lock_path),
        # anonymous volumes a --rm container's monitor removes with it
        "rm_volumes": [str(svc.volumes.dir(m["source"])) for m in c.mounts
                       if m.get("type") == "volume" and m.get("anonymous")],
        "join": join_cfg(svc, c),
        "restart": ({"policy": c.restart_policy, "retries": c.restart_retries}
                    if c.restart_policy not in ("", "no") else None),
    }
    monitor_config(cfg, c.userns, c.workdir, c.userns_base)  # userns_maps, idmap ...
    keep_id = c.userns == "keep-id"  # plain: the user's own entry
    if keep_id or c.hostusers:
        from pyman.engine.containers.passwd_users import passwd_users

        cfg["passwd_users"] = passwd_users(c.id, keep_id, c.hostusers,
                                           [m["destination"] for m in c.mounts], c.workdir)
    if c.secrets:
        from pyman.engine import secrets

        cfg["secrets"], env = secrets.for_monitor(c.secrets,
                                                  secrets.SecretStore(svc.paths.data))
        cfg["spec"]["env"] = [*cfg["spec"]["env"], *env]
    add_notify(c, cfg)
    if c.healthcheck:
        _health(svc, c, cfg)
    if c.pod and not c.infra:
        cfg["pod_exit"] = _pod_exit(svc, c)
    if c.infra and "ipc" in _pod_share(svc, c):  # the tmpfs its members share as /dev/shm
        cfg["shm_dir"] = str(svc.store.run_dir(c.id) / "shm")
    from pyman.engine.specgen.systemd_opts import add_listen

    add_listen(cfg)
    cfg["etc"] = _etc_files()
    if c.network == "slirp4netns" and not (c.join and "net" in c.share):
        from pyman.engine.network.modes import slirp_options

        cfg["slirp"] = slirp_options(c.network_options)
    if c.network == "netavark" and not c.networks:  # disconnected from all: loopback only
        cfg["network"] = "none"
    elif c.network == "netavark":  # last: it counts this container as a user of the netns
        from pyman.engine.network.user_networks import monitor_config as netavark_config

        cfg["netavark"] = netavark_config(svc, c)
    return cfg

def pyman_argv(svc: ContainerService) -> list[str]:
    """pyman run again by a monitor, on this store (the monitor may sit in a user namespace
    where the runtime dir's fallback would be another: the roots are named)."""
    import sys

    return [sys.executable, "-m", "pyman", "--root", str(svc.paths.data.parent),
            "--runroot", str(svc.paths.runtime.parent)]


def _health(svc: ContainerService, c: ContainerConfig, cfg: MonitorConfig) -> None:
    """At each start: the status is "starting"; the checks are timed by a systemd user
    timer where a user manager runs, else by the monitor (``health``)."""
    from pyman.engine.health.check import set_status

    set_status(svc.store.dir(c.id), "starting")
    interval = int(c.healthcheck.get("Interval") or 0)
    if interval <= 0:  # --health-interval disable: only `pyman healthcheck run`
        return
    argv = [*pyman_argv(svc), "healthcheck", "run", c.id]
    from pyman.engine.health import timer as health_timer

    if health_timer.user_manager():
        from pyman.engine.health.config import go_duration_text

        if health_timer.create(c.id, go_duration_text(interval), argv):
            cfg["health_timer"] = c.id  # stopped at the container's exit, as Podman's
            return
    cfg["health"] = {"interval": interval / 1e9, "argv": argv}


def _pod_share(svc: ContainerService, c: ContainerConfig) -> list[str]:
    from pyman.errors import PodNotFoundError
    from pyman.storage.pods import PodStore

    try:
        return PodStore(svc.paths.pods).find(c.pod).share
    except PodNotFoundError:
        return []


def _pod_exit(svc: ContainerService, c: ContainerConfig) -> list[str] | None:
    """A member of a pod with the exit policy stop: the command its monitor runs at the
    final exit (it stops the pod when no other member runs)."""
    from pyman.errors import PodNotFoundError
    from pyman.storage.pods import PodStore

    try:
        pod = PodStore(svc.paths.pods).find(c.pod)
    except PodNotFoundError:
        return None
    if pod.exit_policy != "stop":
        return None
    return [*pyman_argv(svc), "pod", "stop", "--if-no-members-run", pod.id]


def containerenv(c: ContainerConfig) -> str | None:
    """/run/.containerenv (Podman's): empty, or with --privileged what the container is;
    None where a mount at /run (or on the file) would hide it, as Podman leaves it out."""
    dests = {m.get("destination") for m in c.mounts}
    if dests & {"/run", "/run/.containerenv"} or (c.read_only and c.read_only_tmpfs):
        return None  # a tmpfs on /run
    if not c.privileged:
        return ""
    from pyman import __version__

    return (f'engine="podman-{__version__}"\nname="{c.name}"\nid="{c.id}"\n'
            f'image="{c.image_name}"\nimageid="{c.image_id.removeprefix("sha256:")}"\n'
            "rootless=1\n")
def _dns(c: ContainerConfig) -> DnsCfg:
    """containers.conf's dns_servers, dns_searches, dns_options, then the container's own
    (as Podman: read at each start; given servers replace the network's and the host's)."""
    from pyman.containers_conf import current

    conf = current()

    def conf_list(key: str) -> list[str]:
        value = conf.get("containers", key, None) or []
        return [str(v) for v in value] if isinstance(value, list) else []

    return {"servers": conf_list("dns_servers") + c.dns,
            "search": conf_list("dns_searches") + c.dns_search,
            "options": conf_list("dns_options") + c.dns_options}


def _etc_files() -> EtcCfg:
    """containers.conf's say on /etc/hosts (netns/files.py for_container)."""
    from pyman.containers_conf import current

    conf = current()
    return {"base_hosts_file": str(conf.get("containers", "base_hosts_file", "") or ""),
            "host_containers_internal_ip": str(
                conf.get("containers", "host_containers_internal_ip", "") or ""),
            "no_hosts": conf.get("containers", "no_hosts", False) is True}




def add_notify(c: ContainerConfig, cfg: MonitorConfig) -> None:
    """Under systemd ($NOTIFY_SOCKET): the monitor sends MAINPID (and READY=1 with
    --sdnotify=conmon); with --sdnotify=container the socket is the container's to use."""
    from pyman.engine.specgen import systemd_opts

    notify = systemd_opts.notify_config(c.sdnotify)
    if notify is None:
        return
    cfg["notify"] = notify
    if c.sdnotify == "container":
        mount = systemd_opts.container_mount(notify["socket"])
        if mount is not None:
            cfg["mounts"].append(mount)
        where = notify["socket"] if mount is None else systemd_opts.CONTAINER_SOCKET
        cfg["spec"]["env"] = [*cfg["spec"]["env"], f"NOTIFY_SOCKET={where}"]


def join_cfg(svc: ContainerService, c: ContainerConfig) -> JoinCfg | None:
    """Where the monitor finds the namespaces to join: the other container must run
    (it is started first, as Podman starts a pod's infra or a dependency)."""
    if not c.join:
        return None
    target = svc.store.find(c.join)
    st = svc.live_state(target.id)
    if st.status not in ("running", "starting"):
        svc.start(target, detach=True)
        st = svc.live_state(target.id)
    if st.status != "running" or not st.pid:
        raise ContainerStateError(
            f"container {target.name} whose namespaces {c.name} shares is not running: "
            f"start it first (pyman start {target.name})")
    kinds = {"net": "network", "ipc": "ipc", "uts": "uts", "pid": "pid"}
    run_dir = svc.store.run_dir(target.id)
    out: JoinCfg = {"userns": f"/proc/{st.monitor_pid}/ns/user",
           "ns": {kinds[n]: f"/proc/{st.pid}/ns/{n}" for n in c.share},
           "run_dir": str(run_dir)}
    if target.infra and "ipc" in c.share:  # the pod's /dev/shm, in the infra's mounts
        out["mntns"] = f"/proc/{st.monitor_pid}/ns/mnt"
        out["shm"] = str(run_dir / "shm")
    return out
