"""Container records: what the user asked for (persistent) and what is running (transient).

``<data>/containers/<id>/config.json`` holds the configuration; ``<runtime>/containers/<id>/``
holds state.json (written by the monitor), the OCI bundle and the files bind-mounted into the
container. One file per container, written atomically, so damage never spreads.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pyman.errors import ContainerExistsError, ContainerNotFoundError, CorruptRecord, PymanError
from pyman.storage.atomic import locked, write_json
from pyman.storage.records import salvaged_name, warn


@dataclass
class ContainerConfig:
    """A container's record (containers/<id>/config.json), fixed at create."""

    id: str
    name: str
    image_id: str
    image_name: str
    layers: list[str]  # image layer diff_ids, bottom first
    args: list[str]  # the process the container runs
    entrypoint: list[str]
    cmd: list[str]
    env: list[str]
    workdir: str
    user: str
    hostname: str
    network: str  # pasta | slirp4netns | host | none | netavark (user-defined networks)
    rm: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    # security: capability names normalized (CAP_X, ALL); seccomp "" is pyman's default
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    no_new_privileges: bool = False
    seccomp: str = ""  # "" default profile | "unconfined" | a profile's absolute path
    mask: list[str] = field(default_factory=list)
    unmask: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)  # as inspect shows them
    ports: list[dict[str, Any]] = field(default_factory=list)  # netns/ports.py mappings
    read_only: bool = False
    read_only_tmpfs: bool = True  # with read_only: tmpfs on /run, /tmp, /var/tmp
    init: str = ""  # --init: the host's init binary bound in as /run/podman-init
    extra_hosts: list[str] = field(default_factory=list)  # host:ip
    stop_signal: int = 15
    stop_timeout: int | None = None  # None: 10 s for stop, at once for rm -f
    ulimits: list[list[Any]] = field(default_factory=list)  # [RLIMIT_X, soft, hard]
    memory: int = 0  # bytes
    nano_cpus: int = 0
    pids_limit: int = 0
    # -v/--mount/--tmpfs and the image's volumes: engine.mounts.MountSpec as dicts
    mounts: list[dict[str, Any]] = field(default_factory=list)
    userns: str = ""  # "" (root = the user) | keep-id[:uid=N,gid=N] | nomap | auto:size=N
    userns_base: int = 0  # auto: its first id in the monitor's namespace
    pod: str = ""  # the pod's id: its infra's namespaces are joined (pod.share of them)
    infra: bool = False  # this is the pod's infra container
    join: str = ""  # a container whose namespaces this one joins (the pod's infra, or
    share: list[str] = field(default_factory=list)  # --network container:<id>): ipc,net,uts
    # user-defined networks (network "netavark"): name -> {"aliases": [...]}
    networks: dict[str, Any] = field(default_factory=dict)
    sdnotify: str = "container"  # --sdnotify: container | conmon | ignore
    cgroups: str = "enabled"  # --cgroups: enabled | no-conmon | split | disabled
    create_command: list[str] = field(default_factory=list)  # the argv that created it
    ipc: str = ""  # --ipc (container:X is recorded in join/share)
    group_add: list[str] = field(default_factory=list)  # --group-add: gids or group names
    dns: list[str] = field(default_factory=list)  # --dns, --dns-search, --dns-option
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    image_digest: str = ""  # the image's manifest digest (inspect's ImageDigest)
    restart_policy: str = ""  # "" | no | on-failure | always | unless-stopped
    restart_retries: int = 0  # on-failure:N (0: no limit)
    log_driver: str = "k8s-file"  # k8s-file | json-file | none | passthrough
    log_path: str = ""  # --log-opt path= ("": <data>/containers/<id>/ctr.log)
    log_size: int = 0  # --log-opt max-size= in bytes (0: no limit)
    log_tag: str = ""
    # containers.conf at create: default_capabilities (None: the built-in set) and the
    # storage driver of the rootfs (overlay | vfs: a copy in <dir>/rootfs)
    default_caps: list[str] | None = None
    storage_driver: str = "overlay"
    tty: bool = False  # -t: the container's stdio is a pty the monitor holds
    interactive: bool = False  # -i: its stdin stays open for attached clients
    # the healthcheck (Podman's Config.Healthcheck: Test, Interval, Timeout, StartPeriod in
    # ns, Retries; {} for none) and --health-on-failure (none | kill | restart | stop)
    healthcheck: dict[str, Any] = field(default_factory=dict)
    health_on_failure: str = "none"
    attach: list[str] | None = None  # --attach: the streams an attached run relays
    conmon_pidfile: str = ""  # --conmon-pidfile: the monitor's pid at each start
    oci_runtime: str = ""  # --runtime as given ("": the engine's)
    timeout: int = 0  # --timeout seconds (0: none); such a kill records exit code -1
    hostusers: list[str] = field(default_factory=list)  # --hostuser names or uids
    secrets: list[dict[str, Any]] = field(default_factory=list)  # engine/secrets.py
    # its root dir's permissions (engine/containers/root_mode.py; older records: 0755)
    root_mode: int = 0o755
    workdir_given: bool = False  # --workdir: must exist (the image's is made if missing)
    network_options: list[str] = field(default_factory=list)  # slirp4netns:k=v,... as given
    requires: list[str] = field(default_factory=list)  # --requires: ids started before it


@dataclass
class PortRecord:  # one of ContainerConfig.ports, as netns/ports.py writes them
    host_ip: str
    host_port: int
    container_port: int
    protocol: str


def _check_nested(config: ContainerConfig, path: Path) -> None:
    """The record's lists of objects are what their readers take them for."""
    from pyman.storage import records

    for p in config.ports:
        records.parse(PortRecord, p, path)
    for u in config.ulimits:  # [RLIMIT_X name, soft, hard]
        if not (len(u) == 3 and records.fits(u[0], "str") and records.fits(u[1], "int")
                and records.fits(u[2], "int")):
            raise CorruptRecord(path, f"'ulimits' holds {str(u)[:40]}")
    if config.mounts:
        from pyman.storage.mount_spec import MountSpec  # what the dicts are read as

        for m in config.mounts:
            records.parse(MountSpec, m, path)


@dataclass
class ContainerState:
    """A container's changing state (state.json), written by its monitor."""

    status: str = "created"  # created | starting | running | restarting | paused | exited
    pid: int = 0
    pid_start: int | None = None
    monitor_pid: int = 0
    monitor_start: int | None = None
    boot_id: str = ""
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    error: str = ""
    restart_count: int = 0  # restarts by the policy since the last start


class ContainerStore:
    def __init__(self, data_dir: Path, run_dir: Path) -> None:
        self.root = data_dir  # <data>/containers
        self.run_root = run_dir  # <runtime>/containers
        self.names_lock = data_dir / "names.lock"

    def dir(self, cid: str) -> Path:
        return self.root / cid

    def run_dir(self, cid: str) -> Path:
        return self.run_root / cid

    def ids(self) -> list[str]:
        try:
            return [e.name for e in os.scandir(self.root) if len(e.name) == 64]
        except FileNotFoundError:
            return []

    def load(self, cid: str) -> ContainerConfig | None:
        """The record, None when there is none; CorruptRecord (``cid`` set) when damaged."""
        from pyman.storage import records

        path = self.dir(cid) / "config.json"
        try:
            config = records.load(ContainerConfig, path)
            if config is not None and config.id != cid:
                raise CorruptRecord(path, f"its id is not {cid}")
            if config is not None:
                _check_nested(config, path)
        except CorruptRecord as err:
            err.cid = cid
            err.args = (f"{err}: `pyman rm -f {cid[:12]}` removes the container",)
            raise
        if config is None and self.dir(cid).is_dir():  # the file is gone, the dir stays
            gone = CorruptRecord(path, "missing", f"`pyman rm -f {cid[:12]}` removes the "
                                 "container")
            gone.cid = cid
            raise gone
        return config

    def scan(self) -> tuple[list[ContainerConfig], list[CorruptRecord]]:
        """Every record, oldest first, and the damaged ones apart."""
        good, bad = [], []
        for cid in self.ids():
            try:
                c = self.load(cid)
            except CorruptRecord as err:
                bad.append(err)
                continue
            if c is not None:
                good.append(c)
        return sorted(good, key=lambda c: c.created), bad

    def all(self) -> list[ContainerConfig]:
        """The usable records; each damaged one is named once on stderr and left out."""
        good, bad = self.scan()
        for err in bad:
            warn(err, f"skipping container {err.cid[:12]}:")
        return good

    def find(self, key: str) -> ContainerConfig:
        """By full id, name, or unique id prefix, as Podman resolves them. A damaged record
        that ``key`` names (its id, a prefix, or the name its torn file still shows) is a
        CorruptRecord saying how to remove it."""
        configs, bad = self.scan()
        for c in configs:
            if key in (c.id, c.name):
                return c
        for err in bad:
            if key and (key == err.cid or key == salvaged_name(err.path)):
                raise err
        hits: list[Any] = [c for c in configs if c.id.startswith(key)] if key else []
        hits += [e for e in bad if e.cid.startswith(key)] if key else []
        if len(hits) == 1:
            if isinstance(hits[0], CorruptRecord):
                raise hits[0]
            return hits[0]  # type: ignore[no-any-return]
        if len(hits) > 1:
            raise PymanError(f"more than one container matches id prefix {key!r}: be more precise")
        raise ContainerNotFoundError(
            f'no container with name or ID "{key}" found: no such container')

    def create(self, config: ContainerConfig, replace: Any = None, prepare: Any = None
               ) -> None:
        """Record a new container; exactly one of two creates with the same name wins.

        An empty ``config.name`` gets a generated one, chosen under the lock so parallel
        creates never collide. ``replace(existing)`` (``--replace``) is called under the lock
        to remove a container holding the name. ``prepare()`` runs under the lock once the
        name is known to be free (it makes the volumes the container names). The record
        appears whole or not at all: it is written in a hidden dir renamed into place."""
        from pyman.names import check_name
        from pyman.storage.ids import new_name

        if config.name:  # every path that makes a container comes through here
            check_name(config.name, "running container create option")
        self.root.mkdir(parents=True, exist_ok=True)
        with locked(self.names_lock):
            taken = {c.name: c for c in self.all()}
            if not config.name:
                config.name = new_name(set(taken))
            other = taken.get(config.name)
            if other is not None and replace is not None:
                replace(other)
            elif other is not None:
                raise ContainerExistsError(
                    f"the container name \"{config.name}\" is already in use by {other.id}. "
                    "You have to remove that container to be able to reuse that name: "
                    "that name is already in use"
                )
            if prepare is not None:
                prepare()
            tmp = self.root / f".new-{config.id}"
            tmp.mkdir()
            write_json(tmp / "config.json", asdict(config), sync=False)
            os.rename(tmp, self.dir(config.id))

    def rename(self, cid: str, new: str) -> ContainerConfig:
        """Give the container ``cid`` the name ``new``, under the names lock (so two renames
        or a create cannot both take it); the record is rewritten atomically."""
        from pyman.names import check_name

        check_name(new)
        with locked(self.names_lock):
            config = self.load(cid)
            if config is None:
                raise ContainerNotFoundError(
                    f'no container with name or ID "{cid}" found: no such container')
            other = next((c for c in self.all() if c.name == new and c.id != cid), None)
            if other is not None:
                raise ContainerExistsError(
                    f"renaming container {cid}: name {new} already in use, cannot rename "
                    f"container {cid}: container already exists")
            config.name = new
            write_json(self.dir(cid) / "config.json", asdict(config))
        return config

    def state(self, cid: str) -> ContainerState:
        """The monitor's state.json; after a reboot (runtime dir gone) its copy in the data
        dir, whose old boot id tells the reconcile that nothing of it is running."""
        st = _read_state(self.run_dir(cid) / "state.json")
        if st is None:
            st = _read_state(self.dir(cid) / "state.json")
        return st if st is not None else ContainerState()

    def save_state(self, cid: str, state: ContainerState, persist: bool = True) -> None:
        write_json(self.run_dir(cid) / "state.json", asdict(state), sync=False)
        if persist and self.dir(cid).is_dir():
            write_json(self.dir(cid) / "state.json", asdict(state), sync=False)

    def lock(self, cid: str) -> Any:
        return locked(self.run_root / f"{cid}.lock")

    def delete(self, cid: str) -> None:
        """Remove the record; the writable layer belongs to sub-ids, so that is done in the
        user namespace when plain removal cannot."""
        cdir = self.dir(cid)
        shutil.rmtree(self.run_dir(cid), ignore_errors=True)
        if cdir.exists():
            doomed = cdir.with_name(f".rm-{cid}")
            os.rename(cdir, doomed)
            _rmtree(doomed)
        try:
            os.unlink(self.run_root / f"{cid}.lock")
        except FileNotFoundError:
            pass

    def sweep(self, min_age: float = 60) -> list[str]:
        """Remove what a pyman killed mid-command left: `.rm-<id>` dirs (a removal that was
        cut short) and `.new-<id>` dirs (a create that never got renamed into place) older
        than ``min_age`` seconds, so a create in progress is never touched."""
        swept = []
        now = time.time()
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        for e in entries:
            if not e.name.startswith((".rm-", ".new-")):
                continue
            try:
                if now - e.stat(follow_symlinks=False).st_mtime < min_age:
                    continue
            except FileNotFoundError:
                continue
            _rmtree(Path(e.path))
            swept.append(e.name)
        return swept


def _rmtree(path: Path) -> None:
    """Files of a writable layer belong to sub-ids: remove in the user namespace if need be."""
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except PermissionError:
        from pyman.rootless.userns import run_in_userns

        run_in_userns(lambda: shutil.rmtree(path, ignore_errors=True))


def _read_state(path: Path) -> ContainerState | None:
    """A state file; one left empty or torn by a power cut, or damaged otherwise, reads as
    absent (named once on stderr). The files are written without fsync: the runtime dir is a
    tmpfs that a reboot empties anyway, and the data-dir copy is only a hint for after a
    reboot."""
    from pyman.storage import records

    try:
        return records.load(ContainerState, path)
    except CorruptRecord as err:
        if err.why != "empty":  # a power cut's empty file is no news
            warn(err, "ignoring")
        return None
