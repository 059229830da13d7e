"""The engine -> monitor hand-off, typed: monitor.json (engine/monitor_config.py writes it,
the monitor and the helpers it runs read it) and the events on the sync pipe (the monitor
writes them, engine/monitor_client.py reads them).

Types only, for mypy on both sides: the monitor names them under ``TYPE_CHECKING`` and
never imports this module when it runs (typing costs its start-up ~15 ms), so it stays a
stdlib-only ``python3 -I -S`` program. The keys are JSON's: lists, not tuples.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict


class RuntimeCfg(TypedDict):
    path: str  # the OCI runtime's binary
    root: str  # its --root (the state dirs)
    flags: list[str]  # --runtime-flag values, as --FLAG


class DnsCfg(TypedDict):
    servers: list[str]
    search: list[str]
    options: list[str]


class SpecCfg(TypedDict, total=False):
    """The OCI process and its confinement (runtime/bundle.py makes config.json of it)."""

    args: list[str]
    env: list[str]
    cwd: str
    user: str
    check_cwd: bool  # -w given: a missing dir is an error, not made
    hostname: str
    cap_add: list[str]
    cap_drop: list[str]
    privileged: bool
    default_caps: list[str] | None
    no_new_privileges: bool
    seccomp: str
    mask: list[str]
    unmask: list[str]
    read_only: bool
    read_only_tmpfs: bool
    ipc: str
    group_add: list[str]
    init: str  # --init: the host's init binary, bound in as /run/podman-init
    extra_hosts: list[str]
    ulimits: list[list[Any]]  # [RLIMIT_X, soft, hard]
    dns: DnsCfg
    memory: int
    nano_cpus: int
    pids_limit: int
    terminal: bool
    console_size: list[int] | None


class JoinCfg(TypedDict, total=False):
    """Another container's namespaces (a pod member, --network container:)."""

    userns: str  # /proc/<its monitor>/ns/user
    ns: dict[str, str]  # OCI namespace type -> /proc/<pid>/ns/<kind>
    run_dir: str
    mntns: str  # the pod's /dev/shm lives in the infra's mounts
    shm: str


class RestartCfg(TypedDict):
    policy: str  # on-failure | always | unless-stopped
    retries: int


class HealthCfg(TypedDict):
    interval: float  # seconds
    argv: list[str]  # `pyman healthcheck run <id>`


class NotifyCfg(TypedDict):
    mode: str  # --sdnotify: conmon | container
    socket: str  # $NOTIFY_SOCKET ("@name": abstract)


class EventsCfg(TypedDict):
    path: str  # the events log
    max: int  # its size limit (0: none)
    ctr: dict[str, Any]  # the container's fields of each event (eventlog.container_fields)


class EtcCfg(TypedDict):
    base_hosts_file: str
    host_containers_internal_ip: str
    no_hosts: bool


class UsernsCfg(TypedDict, total=False):
    """A user namespace of the container's own (engine/userns.monitor_config)."""

    userns_maps: dict[str, list[list[int]]]  # uid/gid -> [inside, outside, count]
    idmap: dict[str, str]  # fuse-overlayfs's uidmapping/gidmapping
    reachable_rootfs: str  # nomap, auto: where the user still reaches the rootfs
    group_entry: dict[str, Any]  # keep-id: the user's group (name, gid)


class MonitorConfig(UsernsCfg, total=False):
    """monitor.json."""

    events: EventsCfg | None
    id: str
    name: str
    container_dir: str
    lowers: list[str]  # layer dirs, top first
    storage_driver: str
    root_mode: int | None
    mount_program: str
    rm: bool
    detach: bool
    interactive: bool
    stdin: Literal["", "inherit", "pipe"]
    attach_fd: int | None
    tty_stdin: bool
    runtime: RuntimeCfg
    attach_streams: list[str] | None  # --attach's streams; None: all
    timeout: int
    preserve_fds: int
    containerenv: str | None
    network: str
    network_helper: str | None
    spec: SpecCfg
    log_path: str | None
    log_max: int
    log_driver: str
    ports: list[dict[str, Any]]
    mounts: list[dict[str, Any]]  # OCI mount entries
    volumes_first_use: list[dict[str, Any]]
    chown: list[str]
    volumes_lock: str
    rm_volumes: list[str]
    join: JoinCfg | None
    restart: RestartCfg | None
    passwd_users: list[dict[str, Any]]
    secrets: list[dict[str, Any]]
    notify: NotifyCfg
    health: HealthCfg
    health_timer: str
    pod_exit: list[str] | None
    shm_dir: str
    listen_fds: int
    etc: EtcCfg
    slirp: dict[str, object]
    netavark: dict[str, Any]


# the sync pipe: one JSON object a line, monitor -> engine


class StartedEvent(TypedDict):
    event: Literal["started"]
    pid: int  # the container's init, in the host's pid namespace


class ErrorEvent(TypedDict):
    event: Literal["error"]
    message: str
    code: int  # the exit code it means (125, 126, 127): errors.from_exit_code


class ExitedEvent(TypedDict):
    event: Literal["exited"]
    code: int


SyncEvent = StartedEvent | ErrorEvent | ExitedEvent
