"""Pods: an infra container that holds the shared namespaces (and the published ports), and
member containers that join them.

The infra runs catatonit (``-P``, pause mode) from a one-layer image pyman builds locally from
the host's catatonit, as Podman builds its podman-pause image. Members join the infra's user
namespace (through its monitor) and its network, IPC and UTS namespaces: they reach each
other on localhost and share the hostname and the ports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from pyman.build_info import pause_image
from pyman.config import Paths
from pyman.engine.containers.operations import ContainerService
from pyman.engine.types import ContainerSummary, RunOptions
from pyman.errors import ContainerRunningError, ContainerStateError, PodNotFoundError, PymanError
from pyman.eventlog import emit
from pyman.storage.ids import new_id
from pyman.storage.pods import PodConfig, PodStore

SHAREABLE = ("ipc", "net", "uts")  # the default; pid on request (--share +pid)
JOINABLE = (*SHAREABLE, "pid")
EXIT_POLICIES = ("continue", "stop")


@dataclass
class PodCreateOptions:
    """What `pod create` is asked for."""

    name: str | None = None
    publish: list[str] = field(default_factory=list)
    network: str | None = None
    share: str | None = None  # comma-separated namespaces; None: ipc,net,uts
    labels: dict[str, str] = field(default_factory=dict)
    hostname: str | None = None
    infra_name: str | None = None  # default <pod id[:12]>-infra
    infra_pidfile: str | None = None  # written with the infra's monitor pid at each start
    replace: bool = False  # remove a pod of the same name first
    exit_policy: str = "continue"  # or stop: the pod stops when its last member exits
    infra_image: str | None = None  # None: containers.conf's infra_image, else pyman's pause
    infra_command: str | None = None  # the infra's entrypoint (default: its image's)
    infra: bool = True  # False: no infra, the members share nothing (Podman's --infra=false)
    add_host: list[str] = field(default_factory=list)  # the infra's /etc/hosts, and so the
    dns: list[str] = field(default_factory=list)  # members' (they use the infra's files)
    dns_search: list[str] = field(default_factory=list)
    dns_option: list[str] = field(default_factory=list)


PodStatus = Literal["Created", "Running", "Degraded", "Exited"]  # Podman's, from the members'


@dataclass
class PodSummary:
    """One pod as `pod ps` lists it."""

    id: str
    name: str
    status: PodStatus
    created: float
    infra_id: str
    containers: list[ContainerSummary]
    labels: dict[str, str] = field(default_factory=dict)
    share: list[str] = field(default_factory=list)
    ports: list[dict[str, Any]] = field(default_factory=list)


def pod_status(members: list[ContainerSummary]) -> PodStatus:
    """Podman's pod states, from its containers' (infra included)."""
    states = {c.status for c in members}
    if not states or states == {"created"}:
        return "Created"
    if states <= {"running", "starting"}:
        return "Running"
    if states & {"running", "starting"}:
        return "Degraded"
    return "Exited"


def _write_pidfile(path: str, pid: int) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{pid}\n")
    os.rename(tmp, path)


KERNEL_NAMESPACES = ("cgroup", "ipc", "net", "pid", "uts", "none")


def _share(text: str | None) -> list[str]:
    """--share: a list, or `+ns,...` added to the default (Podman's forms)."""
    if text is None:
        return list(SHAREABLE)
    add = text.startswith("+")
    wanted = [s.strip() for s in text.lstrip("+").split(",") if s.strip()]
    for s in wanted:
        if s not in KERNEL_NAMESPACES:
            raise PymanError(f"invalid kernel namespace to share: {s}. Options are: cgroup, "
                             "ipc, net, pid, uts or none")
        if s not in JOINABLE and s != "none":
            raise PymanError(f"invalid --share {s!r}: pyman pods can share "
                             f"{', '.join(JOINABLE)}")
    wanted = [s for s in wanted if s != "none"]
    return [*SHAREABLE, *(s for s in wanted if s not in SHAREABLE)] if add else wanted


class PodService:
    def __init__(self, paths: Paths, containers: ContainerService) -> None:
        self.paths = paths
        self.containers = containers
        self.store = PodStore(paths.pods)

    # -- create -------------------------------------------------------------------------
    def create(self, opts: PodCreateOptions) -> PodConfig:
        share = _share(opts.share) if opts.infra else []
        if not opts.infra and opts.share:
            raise PymanError("cannot set share namespaces without an infra container")
        if not opts.infra and (opts.publish or opts.network):
            raise PymanError("cannot set pod network or publish ports without an infra "
                             "container: its members get their own")
        if opts.exit_policy not in EXIT_POLICIES:
            raise PymanError("running pod create option: invalid pod exit policy: "
                             f'"{opts.exit_policy}"')
        if opts.publish and "net" not in share:
            raise PymanError("published ports need a shared network namespace: add net to "
                             "--share or leave --share out")
        from pyman.names import check_name
        from pyman.storage.ids import new_name

        if opts.name:  # both names before anything is made or replaced
            check_name(opts.name, "running pod create option")
        if opts.infra_name:
            check_name(opts.infra_name, "running container create option")
        image_name, image, entrypoint = self._infra_image(opts) if opts.infra else (
            "", None, None)
        pid = new_id()

        name = opts.name or new_name({p.name for p in self.store.all()})
        if opts.replace and opts.name:
            self.remove(name, force=True, ignore=True)
        pod = PodConfig(id=pid, name=name, share=share, labels=dict(opts.labels),
                        hostname=opts.hostname or name, exit_policy=opts.exit_policy,
                        infra_pidfile=os.path.abspath(opts.infra_pidfile)
                        if opts.infra_pidfile else "")
        self.store.create(pod)
        if not opts.infra:
            return pod
        try:
            if image is None:
                image = self._pause_image()
            infra = self.containers.create(RunOptions(
                image=image_name, name=opts.infra_name or f"{pid[:12]}-infra",
                network=opts.network, entrypoint=entrypoint,
                publish=list(opts.publish), hostname=pod.hostname, pull="never",
                pod=pid, infra=True, add_host=list(opts.add_host), dns=list(opts.dns),
                dns_search=list(opts.dns_search), dns_option=list(opts.dns_option)), image)
        except BaseException:
            self.store.delete(pid)
            raise
        pod.infra_id = infra.id
        self.store.save(pod)
        emit("pod", "create", id_=pod.id, name=pod.name)
        return pod

    def _infra_image(self, opts: PodCreateOptions) -> tuple[str, Any, str | None]:
        """(name, record or None for pyman's pause image, entrypoint) of the infra: an
        image named by --infra-image or containers.conf's infra_image is pulled if missing
        (before anything is made: a failed pull leaves no pod)."""
        from pyman.containers_conf import current

        conf = current()
        name = opts.infra_image or str(conf.get("engine", "infra_image", "") or "")
        command = opts.infra_command or str(conf.get("engine", "infra_command", "") or "")
        if not name:
            return pause_image(), None, command or None
        return name, self.containers.images.get_or_pull(name), command or None

    def _pause_image(self) -> Any:
        """localhost/podman-pause:<version>-<built> (Podman's name: tools look for it by
        it): catatonit alone, built once from the host's."""
        name = pause_image()
        found = self.containers.images.find_local(name)
        if found is not None:
            return found
        import os
        import tarfile
        import tempfile

        from pyman.engine.specgen.limits import init_binary

        try:  # Podman's rule: containers.conf init_path, helper_binaries_dir, $PATH
            binary = init_binary(None)
        except PymanError:
            from pyman.rootless.packages import install_command

            raise PymanError("catatonit not found (the pods' infra process): install it "
                             f"with `{install_command('catatonit')}`") from None
        from pyman.engine.images.import_export import ImportExport, ImportOptions

        self.paths.data.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.paths.data, suffix=".tar") as tmp:
            with tarfile.open(fileobj=tmp, mode="w") as tar:
                for d in ("dev", "etc", "proc", "run", "sys", "tmp"):
                    info = tarfile.TarInfo(d)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                binary = os.path.realpath(binary)  # /usr/libexec/podman/catatonit: a link
                info = tar.gettarinfo(binary, arcname="catatonit")
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                with open(binary, "rb") as f:
                    tar.addfile(info, f)
            tmp.flush()
            ImportExport(self.paths).import_tarball(ImportOptions(
                source=tmp.name, reference=name,
                changes=['ENTRYPOINT ["/catatonit", "-P"]'],
                message="pyman's pod infra image"))
        image = self.containers.images.find_local(name)
        if image is None:
            raise PymanError(f"{name} was built but cannot be found")
        return image

    # -- queries ------------------------------------------------------------------------
    def members(self, pod: PodConfig, all_: bool = True) -> list[ContainerSummary]:
        """The pod's containers, infra first."""
        found = [s for s in self.containers.summaries(all_) if s.pod == pod.id]
        return sorted(found, key=lambda s: (s.id != pod.infra_id, s.created))

    def summaries(self) -> list[PodSummary]:
        out = []
        for pod in self.store.all():
            members = self.members(pod)
            infra = next((m for m in members if m.id == pod.infra_id), None)
            out.append(PodSummary(pod.id, pod.name, pod_status(members), pod.created,
                                  pod.infra_id, members, pod.labels, pod.share,
                                  infra.ports if infra else []))
        return out

    def get(self, key: str) -> PodSummary:
        pod = self.store.find(key)
        return next(s for s in self.summaries() if s.id == pod.id)

    def inspect(self, key: str) -> dict[str, Any]:
        from pyman.engine.containers.inspect import inspect_ports, rfc3339

        s = self.get(key)
        infra_cfg = self.containers.store.load(s.infra_id) if s.infra_id else None
        return {
            "Id": s.id,
            "Name": s.name,
            "Created": rfc3339(s.created),
            "ExitPolicy": self.store.find(s.id).exit_policy,
            "State": s.status,
            "Hostname": self.store.find(s.id).hostname,
            "Labels": s.labels or {},
            "CreateInfra": bool(s.infra_id),
            "InfraContainerID": s.infra_id,
            "InfraConfig": {
                "PortBindings": inspect_ports(infra_cfg.ports if infra_cfg else []),
                "HostNetwork": bool(infra_cfg and infra_cfg.network == "host"),
                "NetworkMode": infra_cfg.network if infra_cfg else "",
            },
            "SharedNamespaces": [("net" if n == "net" else n) for n in s.share],
            "NumContainers": len(s.containers),
            "Containers": [{"Id": c.id, "Name": c.name, "State": c.status}
                           for c in s.containers],
        }

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, key: str) -> str:
        pod = self.store.find(key)
        for m in self.members(pod):
            if m.status not in ("running", "starting"):
                self.containers.start(self.containers.store.find(m.id), detach=True)
        if pod.infra_pidfile and pod.infra_id:
            # Podman's --infra-conmon-pidfile: what a Type=forking service supervises
            st = self.containers.live_state(pod.infra_id)
            if st.monitor_pid:
                _write_pidfile(pod.infra_pidfile, st.monitor_pid)
        emit("pod", "start", id_=pod.id, name=pod.name)
        return pod.id

    def stop(self, key: str, timeout: float = 10, ignore: bool = False) -> str:
        """Members first, the infra last: it holds what they use. ``ignore``: a missing
        pod is no error (and "" is returned)."""
        pod = self._find(key, ignore)
        if pod is None:
            return ""
        for m in reversed(self.members(pod)):
            self.containers.stop(m.id, timeout)
        emit("pod", "stop", id_=pod.id, name=pod.name)
        return pod.id

    def stop_if_no_members_run(self, key: str, timeout: float = 10) -> str:
        """The exit policy stop, run by a member's monitor at its exit: the infra is
        stopped once no other container of the pod runs."""
        pod = self._find(key, True)
        if pod is None or pod.exit_policy != "stop":
            return ""
        members = self.members(pod)
        if any(m.status in ("running", "starting", "restarting") for m in members
               if m.id != pod.infra_id):
            return ""
        # the infra only: a stop of the exited member would wait for its monitor, which is
        # the one that started us
        if pod.infra_id:
            self.containers.stop(pod.infra_id, timeout)
        return pod.id

    def running_members(self, key: str, what: str) -> tuple[PodConfig, list[str]]:
        """The pod and the ids of its running containers (the infra first); none is
        Podman's error for ``what`` (pause, top ...)."""
        pod = self.store.find(key)
        running = [m.id for m in self.members(pod) if m.status == "running"]
        if not running:
            raise ContainerStateError(f"no running containers in pod {pod.name} to {what}")
        return pod, running

    def top(self, key: str, descriptors: list[str]) -> list[list[str]]:
        """`pod top`: the rows of every running container, one header."""
        from pyman.engine.containers.top import TopService

        _, running = self.running_members(key, "show")
        top = TopService(self.paths)
        rows: list[list[str]] = []
        for cid in running:
            try:
                found = top.top(cid, descriptors)
            except ContainerStateError:
                continue  # it stopped meanwhile
            rows.extend(found if not rows else found[1:])
        return rows

    def find(self, key: str) -> PodConfig:
        return self.store.find(key)  # by name, id or id prefix; else PodNotFoundError

    def stats(self, keys: list[str]) -> None:
        """`pod stats`: a missing pod is said first; then why there is nothing to read
        (pyman gives containers no cgroup of their own yet)."""
        from pyman.runtime.cgroups import delegation

        for key in keys:
            self.store.find(key)
        if not delegation().ok:  # Podman's words: rootless containers have no cgroup to read
            raise PymanError("pod stats is not supported in rootless mode without cgroups v2")
        raise PymanError("pod stats reads the containers' cgroups, which pyman does not give "
                         "them yet on this host: use `pyman pod top` for the processes")

    def pause(self, key: str, on: bool) -> str:
        """`pod pause` / `pod unpause`: each container of the pod in that state."""
        pod = self.store.find(key)
        want = "running" if on else "paused"
        targets = [m.id for m in self.members(pod) if m.status == want]
        if not targets:
            raise ContainerStateError(f"no {want} containers in pod {pod.name} to "
                                      f"{'pause' if on else 'unpause'}")
        for cid in targets:
            self.containers.pause(cid, on)
        return pod.id

    def kill(self, key: str, sig: int) -> str:
        """`pod kill`: the signal to every running container of the pod, as Podman."""
        pod = self.store.find(key)
        running = [m for m in self.members(pod) if m.status == "running"]
        if not running:
            raise ContainerStateError(f"no running containers in pod {pod.name} to kill")
        for m in reversed(running):
            self.containers.kill(m.id, sig)
        emit("pod", "kill", id_=pod.id, name=pod.name)
        return pod.id

    def _find(self, key: str, ignore: bool) -> PodConfig | None:
        """The pod; with ``ignore`` None for a missing one (--ignore: no error)."""
        try:
            return self.store.find(key)
        except PodNotFoundError:
            if ignore:
                return None
            raise

    def restart(self, key: str, timeout: float = 10) -> str:
        self.stop(key, timeout)
        return self.start(key)

    def remove(self, key: str, force: bool = False, timeout: float = 10,
               ignore: bool = False) -> str:
        from pyman.errors import CorruptRecord

        try:
            pod = self._find(key, ignore)
        except CorruptRecord as damaged:
            if not damaged.pod_id:
                raise
            return self._remove_damaged(damaged.pod_id, force, timeout)
        if pod is None:
            return ""
        members = self.members(pod)
        _refuse_running(pod.id, members, force)
        for m in reversed(members):
            if m.id != pod.infra_id:
                self.containers.remove(m.id, force=True, timeout=timeout)
        self.store.delete(pod.id)  # the infra may go once its pod has
        if pod.infra_id and self.containers.store.load(pod.infra_id) is not None:
            self.containers.remove(pod.infra_id, force=True, timeout=timeout)
        emit("pod", "remove", id_=pod.id, name=pod.name)
        return pod.id

    def _remove_damaged(self, pid: str, force: bool, timeout: float) -> str:
        """A pod whose record is damaged: its containers still name it; the infra last."""
        members = [s for s in self.containers.summaries(True) if s.pod == pid]
        _refuse_running(pid, members, force)
        self.store.delete(pid)  # the infra may go once its pod has
        for m in sorted(members, key=lambda m: m.infra):
            self.containers.remove(m.id, force=True, timeout=timeout)
        emit("pod", "remove", id_=pid)
        return pid

    def prune(self) -> list[str]:
        removed = []
        for s in self.summaries():
            if s.status in ("Created", "Exited"):
                try:
                    removed.append(self.remove(s.id))
                except PymanError:
                    continue
        return removed


def _refuse_running(pid: str, members: list[ContainerSummary], force: bool) -> None:
    # as libpod: a running infra alone does not need --force (it is the pod's own)
    running = [m for m in members if m.status in ("running", "starting") and not m.infra]
    if running and not force:
        raise ContainerRunningError(
            f"pod {pid} has containers that are not ready to be removed: cannot remove "
            f"container {running[0].id} as it is running - running or paused "
            "containers cannot be removed without force: container state improper")
