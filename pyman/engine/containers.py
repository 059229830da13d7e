"""Container operations: create, start (through the monitor), run, stop, kill, wait, list,
remove, and the reconcile that keeps recorded state honest.

Signals reach the container straight from here (``os.kill`` on the container's init pid,
checked against its recorded start time and boot id): the user owns the container's user
namespace, which gives CAP_KILL over every process in it, whatever uid it runs as. The monitor
only learns of it by reaping the process, so nothing depends on the monitor being alive.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from typing import Any

from pyman.config import Paths
from pyman.engine.images import ImageService, PullEvents
from pyman.engine.monitor_client import forward_signals, spawn_monitor
from pyman.engine.names import new_id
from pyman.engine.types import ContainerSummary, RunOptions, RunResult
from pyman.errors import ContainerStateError, PymanError
from pyman.netns import MODES
from pyman.procinfo import same_process
from pyman.storage.containers import ContainerConfig, ContainerState, ContainerStore
from pyman.storage.images import ImageRecord
from pyman.storage.volumes import VolumeStore

# states a monitor supervises; "restarting": between a run's exit and the policy's next run
ALIVE = ("running", "starting", "paused", "restarting")
STOP_MARKER = "stopping"  # monitor/restart.py: written before stop/kill/rm -f signal
# a client of a container's terminal: given the connected attach socket, relays until the
# container exits (its exit code) or the client detaches (None)
Attach = Callable[[int], "int | None"]


def default_network() -> tuple[str, str]:
    """(mode, why): containers.conf default_rootless_network_cmd when set, else pasta where
    it is installed (as Podman 5 does), else slirp4netns."""
    from pyman.containers_conf import current

    conf = current()
    if conf.default_rootless_network_cmd:
        origin = conf.source("network", "default_rootless_network_cmd")
        return conf.default_rootless_network_cmd, f"default_rootless_network_cmd in {origin}"
    if conf.find_helper("pasta"):
        return "pasta", "pasta is installed"
    return "slirp4netns", "pasta is not installed"


def check_network(mode: str) -> tuple[str, str | None]:
    """Validate the mode; for pasta and slirp4netns also find the helper binary."""
    if mode in ("private", "bridge"):
        mode = default_network()[0]
    if mode.startswith("ns:"):
        path = mode[3:]
        if not os.path.isabs(path) or not os.path.exists(path):
            raise PymanError(f"network namespace {path!r} does not exist: --network ns: "
                             "takes the absolute path of a bound netns file")
        return mode, None
    if mode not in MODES:
        raise PymanError(
            f"unknown network mode {mode!r}: use one of {', '.join(MODES)}, "
            "container:<name|id> or ns:<path>"
        )
    if mode in ("pasta", "slirp4netns"):
        from pyman.netns.helpers import check_tun, find_helper

        binary = find_helper(mode)
        check_tun()
        return mode, binary
    return mode, None


def published_ports(opts: RunOptions, image_config: dict[str, Any], network: str
                    ) -> list[dict[str, Any]]:
    """-p and -P as mappings, free host ports chosen for the unnamed ones (as Podman, at
    create). Modes without a network of their own have nothing to publish to."""
    if not opts.publish and not opts.publish_all:
        return []
    from pyman.netns import ports

    wanted = [m for spec in opts.publish for m in ports.parse_publish(spec)]
    if opts.publish_all:
        taken = {(m["container_port"], m["protocol"]) for m in wanted}
        wanted += [m for m in ports.exposed_ports(image_config.get("ExposedPorts") or {})
                   if (m["container_port"], m["protocol"]) not in taken]
    if network in ("host", "none") or network.startswith(("container:", "ns:")):
        import logging

        logging.getLogger("pyman").warning(
            "Port mappings have been discarded as one of the Host, Container, Pod, and None "
            "network modes are in use")
        return []
    return ports.assign_free(ports.merge(wanted))


def fold_ports(mappings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not mappings:
        return []
    from pyman.netns.ports import fold

    return fold(mappings)


def _default_caps(conf: Any) -> list[str] | None:
    """containers.conf default_capabilities, normalized; None when no file sets them."""
    caps = conf.default_capabilities
    if caps is None:
        return None
    from pyman.runtime.capabilities import UnknownCapability, normalize_all

    try:
        return [c for c in normalize_all(caps) if c != "ALL"]
    except UnknownCapability as exc:
        from pyman.errors import ConfigError

        raise ConfigError(f"{conf.source('containers', 'default_capabilities')}: "
                          f"default_capabilities: unknown capability {exc}") from None


class ContainerService:
    def __init__(self, paths: Paths, images: ImageService, *, runtime: str | None = None
                 ) -> None:
        self.paths = paths
        self.images = images
        self.runtime = runtime
        self.store = ContainerStore(paths.containers, paths.run_containers)
        self.volumes = VolumeStore(paths.volumes)

    # -- create and start ---------------------------------------------------------------
    def create(self, opts: RunOptions, image: ImageRecord) -> ContainerConfig:
        """Record a new container; with ``opts.cidfile`` its id is written there (the file
        is claimed first and removed again if the create fails)."""
        if not opts.cidfile:
            return self._create(opts, image)
        from pyman.engine.systemd_opts import open_cidfile

        fd = open_cidfile(opts.cidfile)
        try:
            config = self._create(opts, image)
            os.write(fd, config.id.encode())
        except BaseException:
            os.close(fd)
            os.unlink(opts.cidfile)
            raise
        os.close(fd)
        return config

    def _create(self, opts: RunOptions, image: ImageRecord) -> ContainerConfig:
        from pyman.containers_conf import current
        from pyman.engine import restart_policy
        from pyman.engine.security import parse as parse_security
        from pyman.engine.systemd_opts import check_cgroups, check_sdnotify
        from pyman.runtime.spec import image_process_args, merge_env

        check_sdnotify(opts.sdnotify)
        check_cgroups(opts.cgroups, bool(opts.memory or opts.cpus or opts.pids_limit))
        restart, retries = restart_policy.parse(opts.restart, opts.rm)
        from pyman.engine import log_config

        log_driver, log_opts = log_config.parse(opts.log_driver, opts.log_opt)
        log_config.check_passthrough(log_driver)
        conf = current()
        sec = parse_security(opts.cap_add, opts.cap_drop, opts.privileged, opts.security_opt)
        default_caps = _default_caps(conf)
        lim = self._limits(opts)
        icfg: dict[str, Any] = self.images.config(image).get("config") or {}
        user_entry = None if opts.entrypoint is None else (
            [opts.entrypoint] if opts.entrypoint else [])
        args = image_process_args(icfg.get("Entrypoint") or [], icfg.get("Cmd") or [],
                                  user_entry, opts.command or None)
        if not args:
            raise PymanError(
                "no command or entrypoint provided, and no CMD or ENTRYPOINT from image"
            )
        join, share, hostname_default, pod_id = self._joined(opts)
        if "net" in share:
            network = f"container:{join}"
        else:
            network = check_network(opts.network or default_network()[0])[0]
        ports = published_ports(opts, icfg, network)
        from pyman.engine import container_mounts

        specs = container_mounts.plan(opts.volumes, opts.mounts, opts.tmpfs,
                                      dict(icfg.get("Volumes") or {}), opts.image_volume)
        from pyman.engine import userns

        userns_mode = userns.parse(opts.userns)
        keep_ids = userns.keep_id_ids(userns_mode)
        workdir = opts.workdir or icfg.get("WorkingDir") or "/"
        cid = new_id()
        hostname = opts.hostname or hostname_default or cid[:12]
        config = ContainerConfig(
            id=cid,
            name=opts.name or "",
            image_id=image.id,
            image_name=(image.names[0] if image.names else image.id),
            layers=list(image.layers),
            args=args,
            entrypoint=user_entry if user_entry is not None else icfg.get("Entrypoint") or [],
            cmd=opts.command or icfg.get("Cmd") or [],
            env=merge_env(icfg.get("Env") or [], opts.env, hostname,
                          home=workdir if keep_ids and opts.user is None else None,
                          defaults=conf.get("containers", "env")),
            workdir=workdir,
            # keep-id runs as the user by default, as Podman does
            user=opts.user if opts.user is not None else (
                f"{keep_ids[0]}:{keep_ids[1]}" if keep_ids else icfg.get("User") or ""),
            hostname=hostname,
            network=network,
            rm=opts.rm,
            labels={**dict(icfg.get("Labels") or {}), **opts.labels},
            cap_add=sec.cap_add, cap_drop=sec.cap_drop, privileged=sec.privileged,
            no_new_privileges=sec.no_new_privileges, seccomp=sec.seccomp, mask=sec.mask,
            unmask=sec.unmask, security_opt=sec.security_opt,
            ports=ports,
            **lim,
            pod=pod_id,
            infra=opts.infra,
            join=join,
            share=share,
            sdnotify=opts.sdnotify,
            cgroups=opts.cgroups,
            create_command=list(opts.create_command),
            restart_policy=restart,
            restart_retries=retries,
            log_driver=log_driver,
            log_path=str(log_opts.get("path", "")),
            log_size=int(log_opts.get("max_size", 0)),
            log_tag=str(log_opts.get("tag", "")),
        )
        config.userns = userns_mode
        config.default_caps = default_caps
        # keep-id shows the layers id-mapped through fuse-overlayfs whatever the driver
        config.storage_driver = "overlay" if keep_ids else self.paths.driver
        config.tty, config.interactive = opts.tty, opts.interactive
        if opts.tty and not any(e.startswith("TERM=") for e in config.env):
            config.env.append("TERM=xterm")  # as Podman gives a container with a terminal
        if opts.stop_signal is None and icfg.get("StopSignal"):
            from pyman.engine.limits import parse_signal

            try:  # the image's STOPSIGNAL, as Podman uses it
                config.stop_signal = parse_signal(str(icfg["StopSignal"]))
            except PymanError:
                pass
        replace = None
        if opts.replace:
            def replace(other: ContainerConfig) -> None:
                self._remove(other, force=True)

        def prepare() -> None:  # under the names lock: the name is ours
            config.mounts = container_mounts.materialize(specs, self.volumes)

        self.store.create(config, replace, prepare)
        return config

    @staticmethod
    def _limits(opts: RunOptions) -> dict[str, Any]:
        """ContainerConfig fields of the rootfs, init, hosts, stop and limit options."""
        from pyman.engine import limits

        memory = limits.parse_memory(opts.memory) if opts.memory else 0
        if opts.cpus is not None and opts.cpus < 0:
            raise PymanError(f"invalid --cpus {opts.cpus}: must be positive")
        nano_cpus = int((opts.cpus or 0) * 1e9)
        pids = opts.pids_limit or 0
        limits.check_limits(memory, nano_cpus, pids)
        if opts.stop_timeout is not None and opts.stop_timeout < 0:
            raise PymanError(f"invalid --stop-timeout {opts.stop_timeout}: must not be "
                             "negative")
        return {
            "read_only": opts.read_only,
            "read_only_tmpfs": opts.read_only_tmpfs,
            "init": limits.init_binary(opts.init_path) if opts.init else "",
            "extra_hosts": limits.parse_add_host(opts.add_host),
            "stop_signal": limits.parse_signal(opts.stop_signal) if opts.stop_signal else 15,
            "stop_timeout": opts.stop_timeout,
            "ulimits": [list(u) for u in limits.default_ulimits(opts.ulimit)],
            "memory": memory,
            "nano_cpus": nano_cpus,
            "pids_limit": pids,
        }
    def _joined(self, opts: RunOptions) -> tuple[str, list[str], str, str]:
        """(container to join, namespaces shared with it, hostname, pod id) for --pod and
        --network container:<name|id>; nothing for a container of its own."""
        if opts.pod and not opts.infra:
            from pyman.storage.pods import PodStore

            pod = PodStore(self.paths.pods).find(opts.pod)
            if opts.publish or opts.publish_all or opts.network:
                raise PymanError(
                    "invalid config provided: published or exposed ports must be defined "
                    "when the pod is created: network cannot be configured when it is shared "
                    "with a pod")
            return (pod.infra_id, list(pod.share), pod.hostname if "uts" in pod.share else "",
                    pod.id)
        if opts.network and opts.network.startswith("container:"):
            target = self.store.find(opts.network.split(":", 1)[1])
            return target.id, ["net"], "", ""
        if opts.infra:
            return "", [], "", opts.pod or ""
        return "", [], "", ""

    def _join_cfg(self, c: ContainerConfig) -> dict[str, Any] | None:
        """Where the monitor finds the namespaces to join: the other container must run
        (it is started first, as Podman starts a pod's infra or a dependency)."""
        if not c.join:
            return None
        target = self.store.find(c.join)
        st = self.live_state(target.id)
        if st.status not in ("running", "starting"):
            self.start(target, detach=True)
            st = self.live_state(target.id)
        if st.status != "running" or not st.pid:
            raise ContainerStateError(
                f"container {target.name} whose namespaces {c.name} shares is not running: "
                f"start it first (pyman start {target.name})")
        kinds = {"net": "network", "ipc": "ipc", "uts": "uts"}
        return {"userns": f"/proc/{st.monitor_pid}/ns/user",
                "ns": {kinds[n]: f"/proc/{st.pid}/ns/{n}" for n in c.share},
                "run_dir": str(self.store.run_dir(target.id))}

    def _monitor_cfg(self, c: ContainerConfig, detach: bool, interactive: bool,
                     attach_fd: int | None = None,
                     console_size: tuple[int, int] | None = None) -> dict[str, Any]:
        from pyman.runtime.select import select_runtime

        runtime = select_runtime(self.paths, self.runtime)
        from pyman.engine.container_mounts import for_monitor

        mounts, first_use = for_monitor(c.mounts, self.volumes)
        from pyman.engine.log_config import size_limit as log_size_limit
        from pyman.engine.userns import monitor_config

        cfg = {
            **monitor_config(c.userns, c.workdir),  # keep-id: idmap for the rootfs, passwd_entry
            "id": c.id,
            "name": c.name,
            "container_dir": str(self.store.dir(c.id)),
            "lowers": [str(self.images.layers.diff(d)) for d in reversed(c.layers)],
            "storage_driver": c.storage_driver,
            "mount_program": self.paths.mount_program,
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
            "runtime": {"path": runtime.path, "root": str(self.paths.runtime_root)},
            "network": c.network,
            "network_helper": None if c.join else check_network(c.network)[1],
            "spec": {"args": c.args, "env": c.env, "cwd": c.workdir, "user": c.user,
                     "hostname": c.hostname,
                     "cap_add": c.cap_add, "cap_drop": c.cap_drop, "privileged": c.privileged,
                     "default_caps": c.default_caps,
                     "no_new_privileges": c.no_new_privileges, "seccomp": c.seccomp,
                     "mask": c.mask, "unmask": c.unmask,
                     "read_only": c.read_only, "read_only_tmpfs": c.read_only_tmpfs,
                     "init": c.init, "extra_hosts": c.extra_hosts, "ulimits": c.ulimits,
                     "memory": c.memory, "nano_cpus": c.nano_cpus,
                     "pids_limit": c.pids_limit, "terminal": c.tty,
                     "console_size": list(console_size) if console_size else None},
            "log_path": self.log_file(c),
            "log_max": log_size_limit(c.log_size),
            "log_driver": c.log_driver,
            "ports": c.ports,
            "mounts": mounts,  # OCI entries: binds, volumes, tmpfs
            "volumes_first_use": first_use,
            "volumes_lock": str(self.volumes.lock_path),
            # anonymous volumes a --rm container's monitor removes with it
            "rm_volumes": [str(self.volumes.dir(m["source"])) for m in c.mounts
                           if m.get("type") == "volume" and m.get("anonymous")],
            "join": self._join_cfg(c),
            "restart": ({"policy": c.restart_policy, "retries": c.restart_retries}
                        if c.restart_policy not in ("", "no") else None),
        }
        self._add_notify(c, cfg)
        return cfg

    @staticmethod
    def _add_notify(c: ContainerConfig, cfg: dict[str, Any]) -> None:
        """Under systemd ($NOTIFY_SOCKET): the monitor sends MAINPID (and READY=1 with
        --sdnotify=conmon); with --sdnotify=container the socket is the container's to use."""
        from pyman.engine import systemd_opts

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

    def start(self, c: ContainerConfig, *, detach: bool, interactive: bool = False,
              attach: Attach | None = None, console_size: tuple[int, int] | None = None,
              sig_proxy: bool = True) -> RunResult:
        """Start ``c`` under a new monitor. Attached (``detach`` false): relay its output
        and return its exit code; detached: return once it runs.

        ``attach`` (for a container with a terminal: required to be attached) gets a
        socket connected to the monitor's relay from the start (monitor/relay.py speaks on
        it) and returns the exit code, or None when the client detached (detach keys);
        ``console_size`` (rows, cols) sizes the terminal from the start."""
        st = self.live_state(c.id)  # reconciles under the lock itself: not inside ours
        self._wait_monitor_gone(st)
        client = mine = None
        if not detach and c.tty and attach is not None:
            import socket

            mine, client = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with self.store.lock(c.id):
                st = self.store.state(c.id)
                if st.status in ALIVE and same_process(st.monitor_pid, st.monitor_start,
                                                       st.boot_id):
                    if mine is not None:
                        mine.close()
                    return RunResult(c.id, None)  # Podman: starting a running one is a no-op
                run_dir = self.store.run_dir(c.id)
                run_dir.mkdir(parents=True, exist_ok=True)
                (run_dir / STOP_MARKER).unlink(missing_ok=True)  # a new start: restarts again
                self.paths.runtime_root.mkdir(parents=True, exist_ok=True)
                try:
                    cfg = self._monitor_cfg(c, detach, interactive,
                                            client.fileno() if client else None,
                                            console_size)
                    handle = spawn_monitor(run_dir, cfg, attach=not detach and client is None,
                                           on_spawn=lambda pid: self._starting(c, pid))
                except PymanError:
                    if c.rm:
                        self.store.delete(c.id)
                    raise
        finally:
            if client is not None:
                client.close()  # the monitor has its copy
        if not detach and sig_proxy:  # --sig-proxy: our signals go on to the container
            forward_signals(handle.pid)
        try:
            for event in handle.events():
                kind = event.get("event")
                if kind == "error":
                    err = PymanError(str(event.get("message")))
                    err.exit_code = int(event.get("code", 125))
                    raise err
                if kind == "started" and detach:
                    return RunResult(c.id, None)
                if kind == "started" and mine is not None and attach is not None:
                    if attach(mine.fileno()) is None:
                        return RunResult(c.id, None, detached=True)
                if kind == "exited":
                    return RunResult(c.id, int(event["code"]))
        finally:
            handle.close()
            if mine is not None:
                mine.close()
        st = self.live_state(c.id)
        if st.exit_code is not None:
            return RunResult(c.id, st.exit_code)
        raise PymanError(f"the monitor of container {c.name} exited without reporting; "
                         f"see {run_dir}")

    def attach(self, key: str) -> tuple[ContainerConfig, ContainerState, int]:
        """A socket connected to the running container's relay (monitor/relay.py)."""
        import socket

        c = self.store.find(key)
        st = self.live_state(c.id)
        refused = ContainerStateError("you can only attach to running containers")
        refused.exit_code = 125
        if st.status != "running":
            raise refused
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        run_dir = str(self.store.run_dir(c.id))
        path = os.path.join(run_dir, "attach")
        dir_fd = -1
        if len(os.fsencode(path)) > 107:  # sun_path's size: through the dir's fd
            dir_fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
            path = f"/proc/self/fd/{dir_fd}/attach"
        try:
            sock.connect(path)
        except OSError as exc:
            sock.close()
            raise refused from exc
        finally:
            if dir_fd >= 0:
                os.close(dir_fd)
        return c, st, sock.detach()

    def _starting(self, c: ContainerConfig, monitor_pid: int) -> None:
        """Recorded before the monitor runs anything: if it dies now, the reconcile finds it."""
        from pyman.procinfo import boot_id, start_time

        self.store.save_state(c.id, ContainerState(
            status="starting", monitor_pid=monitor_pid, monitor_start=start_time(monitor_pid),
            boot_id=boot_id()), persist=not c.rm)
        # conmon.pid's counterpart: the PIDFile= of a `generate systemd` unit without --new
        (self.store.run_dir(c.id) / "monitor.pid").write_text(f"{monitor_pid}\n")

    def log_file(self, c: ContainerConfig) -> str:
        """The container's log file; "" when its driver keeps none."""
        from pyman.engine.log_config import log_file

        return log_file(c.log_driver, c.log_path, str(self.store.dir(c.id)))

    @staticmethod
    def precheck(opts: RunOptions) -> None:
        """What can be refused before an image is pulled."""
        from pyman.engine.systemd_opts import check_cgroups, check_cidfile, check_sdnotify

        check_sdnotify(opts.sdnotify)
        check_cgroups(opts.cgroups, bool(opts.memory or opts.cpus or opts.pids_limit))
        if opts.cidfile:
            check_cidfile(opts.cidfile)
        if opts.restart or opts.rm:
            from pyman.engine.restart_policy import parse

            parse(opts.restart, opts.rm)
        if opts.log_driver or opts.log_opt:
            from pyman.engine import log_config

            log_config.check_passthrough(log_config.parse(opts.log_driver, opts.log_opt)[0])
        if opts.publish:
            from pyman.netns.ports import parse_publish

            for spec in opts.publish:
                parse_publish(spec)

    def run(self, opts: RunOptions, events: PullEvents | None = None,
            attach: Attach | None = None,
            console_size: tuple[int, int] | None = None) -> RunResult:
        self.precheck(opts)
        image = self.images.get_or_pull(opts.image, opts.pull, events)
        c = self.create(opts, image)
        return self.start(c, detach=opts.detach, interactive=opts.interactive,
                          attach=attach, console_size=console_size,
                          sig_proxy=opts.sig_proxy)

    def start_key(self, key: str, *, attach: bool = False, interactive: bool = False,
                  session: Attach | None = None,
                  console_size: tuple[int, int] | None = None,
                  sig_proxy: bool = True) -> RunResult:
        return self.start(self.store.find(key), detach=not attach, interactive=interactive,
                          attach=session, console_size=console_size, sig_proxy=sig_proxy)

    # -- signals, stop, wait ------------------------------------------------------------
    def kill(self, key: str, sig: int = signal.SIGKILL) -> str:
        c = self.store.find(key)
        st = self.live_state(c.id)
        if st.status != "running":
            raise ContainerStateError(
                f"can only kill running containers. {c.id} is in state {st.status}: "
                "container state improper")
        self._mark_stopped(c.id)  # as Podman: a killed container is not restarted
        self._signal(st, sig)
        return c.id

    def _mark_stopped(self, cid: str) -> None:
        """Tell the monitor the user ends this run: no restart policy applies to it."""
        try:
            (self.store.run_dir(cid) / STOP_MARKER).touch()
        except FileNotFoundError:
            pass  # never started here: nothing to restart

    def stop(self, key: str, timeout: float | None = None, sig: int | None = None) -> str:
        """The stop signal, then SIGKILL once ``timeout`` seconds pass; returns when the
        monitor has recorded the exit and gone. Stopping a stopped container is fine.
        None: the container's --stop-signal and --stop-timeout (SIGTERM, 10 s)."""
        c = self.store.find(key)
        if sig is None:
            sig = c.stop_signal or signal.SIGTERM
        if timeout is None:
            timeout = 10 if c.stop_timeout is None else c.stop_timeout
        st = self.live_state(c.id)
        if st.status in ALIVE:
            self._mark_stopped(c.id)  # before any signal: the monitor must not restart it
        for _ in range(5):  # a restart already under way may bring up one more run
            self._stop_run(c, st, timeout, sig)
            again = self._settle(c.id)
            if again is None:
                break
            st = again
        return c.id

    def _settle(self, cid: str, timeout: float = 10) -> ContainerState | None:
        """After a stop: None once the monitor is gone (or does not go in ``timeout``); the
        state when it runs the container again (a restart that began before the stop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.live_state(cid)
            if not same_process(st.monitor_pid, st.monitor_start, st.boot_id):
                return None
            if st.status == "running" and same_process(st.pid, st.pid_start, st.boot_id):
                return st
            time.sleep(0.01)
        return None

    def _stop_run(self, c: ContainerConfig, st: ContainerState, timeout: float, sig: int
                  ) -> None:
        deadline = time.monotonic() + 10
        while st.status in ("starting", "restarting") and time.monotonic() < deadline:
            time.sleep(0.02)  # a start in progress: let it settle, then stop what runs
            st = self.live_state(c.id)
        if st.status == "paused":  # a frozen process cannot act on the stop signal
            self.pause(c.id, on=False)
            st = self.live_state(c.id)
        if st.status == "running":
            if timeout > 0 and self._signal(st, sig):
                if not self._wait_exit(c.id, timeout):
                    import logging

                    logging.getLogger("pyman").warning(
                        "StopSignal %s failed to stop container %s in %g seconds, resorting "
                        "to SIGKILL", signal.Signals(sig).name, c.name, timeout)
            st = self.live_state(c.id)
            if st.status == "running":
                self._signal(st, signal.SIGKILL)
                self._wait_exit(c.id, 30)

    def restart(self, key: str, timeout: float | None = None) -> str:
        c = self.store.find(key)
        self.stop(c.id, timeout)
        self.start(self.store.find(c.id), detach=True)
        return c.id

    def pause(self, key: str, on: bool = True) -> str:
        """Freeze (``on``) or thaw the container's processes (engine/pause.py)."""
        from pyman.engine.pause import freeze

        c = self.store.find(key)
        with self.store.lock(c.id):
            st = self.store.state(c.id)
            freeze(self.store, c, st.status, on)
            st.status = "paused" if on else "running"
            self.store.save_state(c.id, st, persist=not c.rm)
        return c.id

    def rename(self, key: str, new: str) -> str:
        c = self.store.find(key)
        return self.store.rename(c.id, new).id

    def wait(self, key: str, interval: float = 0.05) -> int:
        """Block until the container is not running; its exit code."""
        c = self.store.find(key)
        while True:
            st = self.live_state(c.id)
            if st.status not in ALIVE:  # a restart policy's next run is waited for too
                return st.exit_code if st.exit_code is not None else 0
            time.sleep(interval)
            if self.store.load(c.id) is None:  # removed meanwhile (--rm)
                return st.exit_code if st.exit_code is not None else 0

    def _signal(self, st: ContainerState, sig: int) -> bool:
        if not same_process(st.pid, st.pid_start, st.boot_id):
            return False
        try:
            os.kill(st.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def _wait_exit(self, cid: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.live_state(cid).status != "running":
                return True
            time.sleep(0.02)
        return False

    def _wait_monitor_gone(self, st: ContainerState, timeout: float = 10) -> bool:
        """The monitor records the exit, then deletes the runtime's state: wait for it to go
        before anything reuses the id (start) or removes its files (rm). False: still there
        (a restart policy's next run, or a slow clean-up)."""
        deadline = time.monotonic() + timeout
        while same_process(st.monitor_pid, st.monitor_start, st.boot_id):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    # -- state --------------------------------------------------------------------------
    def live_state(self, cid: str) -> ContainerState:
        """state.json, corrected by what is really running.

        A monitor that is gone while the state says running or starting (killed with -9,
        or a reboot: the boot id differs) leaves an unsupervised container: nobody would
        record its exit, relay its logs or clean up after it. The reconcile kills what is
        left of it (container, network helper), drops the runtime's state, records the
        container as exited (137 when it had to be killed) and honours --rm."""
        st = self.store.state(cid)
        if st.status not in ALIVE:
            return st
        if same_process(st.monitor_pid, st.monitor_start, st.boot_id):
            return st
        return self._reconcile(cid, st)

    def _reconcile(self, cid: str, st: ContainerState) -> ContainerState:
        with self.store.lock(cid):
            st = self.store.state(cid)  # someone else may have done it meanwhile
            if st.status not in ALIVE or same_process(
                    st.monitor_pid, st.monitor_start, st.boot_id):
                return st
            if not st.pid:
                self._adopt_created(cid, st)
            killed = self._signal(st, signal.SIGKILL)
            self._kill_helper(cid, st)
            if killed:
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and same_process(st.pid, st.pid_start,
                                                                   st.boot_id):
                    time.sleep(0.01)
            shutil.rmtree(self.paths.runtime_root / cid, ignore_errors=True)
            was_running = st.status in ("running", "paused", "restarting")
            st.status = "exited" if was_running else "created"
            if was_running and st.exit_code is None:
                st.exit_code = 137 if killed else -1
                st.finished_at = time.time()
            st.error = "the container's monitor is gone (killed, or the host rebooted)"
            c = self.store.load(cid)
            if c is not None and c.rm:
                # its anonymous volumes stay (this may run under the names lock, which
                # their removal takes): `volume prune` removes them
                self.store.delete(cid)
            elif c is not None:
                self.store.save_state(cid, st)
        return st

    def _adopt_created(self, cid: str, st: ContainerState) -> None:
        """A monitor killed between `runtime create` and `start` never recorded the pid:
        the runtime's pid file has it (runc init, waiting to exec). Only a process that
        started after the monitor did can be it (pid reuse)."""
        from pyman.procinfo import start_time

        try:
            pid = int((self.store.run_dir(cid) / "pid").read_text().strip() or 0)
        except (OSError, ValueError):
            return
        started = start_time(pid) if pid > 0 else None
        if started is not None and st.monitor_start is not None and \
                started >= st.monitor_start:
            st.pid, st.pid_start = pid, started

    def _kill_helper(self, cid: str, st: ContainerState) -> None:
        """pasta daemonizes: it outlives a killed monitor unless we end it."""
        from pyman.procinfo import start_time

        try:
            pid = int((self.store.run_dir(cid) / "pasta.pid").read_text().strip() or 0)
        except (OSError, ValueError):
            return
        if pid > 0 and st.boot_id and same_process(pid, start_time(pid), st.boot_id):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if not f.read().startswith(("pasta", "passt")):  # passt.avx2 too
                        return
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass

    def summaries(self, all_: bool) -> list[ContainerSummary]:
        out: list[ContainerSummary] = []
        pod_names: dict[str, str] | None = None
        for c in self.store.all():
            st = self.live_state(c.id)
            if not all_ and st.status != "running":
                continue
            out.append(ContainerSummary(c.id, c.name, c.image_name, c.args, c.created,
                                        st.status, st.exit_code, st.started_at,
                                        st.finished_at, st.pid, c.labels, c.image_id,
                                        st.monitor_pid, c.rm, fold_ports(c.ports), c.pod,
                                        c.infra))
            if c.pod:
                if pod_names is None:
                    from pyman.storage.pods import PodStore

                    pod_names = {p.id: p.name for p in PodStore(self.paths.pods).all()}
                out[-1].pod_name = pod_names.get(c.pod, "")
        return out

    def get(self, key: str) -> tuple[ContainerConfig, ContainerState]:
        c = self.store.find(key)
        return c, self.live_state(c.id)

    def using_image(self, image_id: str) -> list[str]:
        return [c.name for c in self.store.all() if c.image_id == image_id]

    # -- removal ------------------------------------------------------------------------
    def remove(self, key: str, force: bool = False, timeout: float | None = None,
               volumes: bool = False) -> str:
        """``volumes``: its anonymous volumes too (rm -v)."""
        return self._remove(self.store.find(key), force, timeout, volumes)

    def _remove(self, c: ContainerConfig, force: bool, timeout: float | None = None,
                volumes: bool = False) -> str:
        if timeout is None:  # SIGKILL at once, unless the container asked for a grace time
            timeout = c.stop_timeout or 0
        if c.infra and (self.paths.pods / c.pod).is_dir():
            raise PymanError(
                f"container {c.id} is the infra container of pod {c.pod} and cannot be "
                f"removed without removing the pod: use pyman pod rm {c.pod[:12]}")
        st = self.live_state(c.id)
        if st.status in ALIVE:
            if not force:
                err = ContainerStateError(
                    f"cannot remove container {c.id} as it is running - running or paused "
                    "containers cannot be removed without force: container state improper")
                err.exit_code = 2
                raise err
            self.stop(c.id, timeout)
        else:
            self._wait_monitor_gone(st)
        shutil.rmtree(self.paths.runtime_root / c.id, ignore_errors=True)
        self.store.delete(c.id)
        if volumes:
            self._remove_anonymous(c)
        return c.id

    def _remove_anonymous(self, c: ContainerConfig) -> None:
        from pyman.engine.volumes import VolumeService

        VolumeService(self.paths).remove_anonymous(c)

    def prune(self, keep: Callable[[ContainerSummary], bool] | None = None) -> list[str]:
        """Remove every container that is not running, and what killed commands left."""
        self.store.sweep()
        removed = []
        for s in self.summaries(True):
            if s.status in ALIVE or (keep is not None and keep(s)):
                continue
            try:
                removed.append(self._remove(self.store.find(s.id), False))
            except PymanError:
                continue
        return removed
