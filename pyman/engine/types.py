"""What crosses the engine's boundary: options in, reports out. Plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

# what ps needs lives apart, so `ps` does not create every dataclass here (RunOptions ...)
from pyman.engine.containers.summary import (
    BUILD_LABEL as BUILD_LABEL,
)
from pyman.engine.containers.summary import (
    CONTAINER_STATUSES as CONTAINER_STATUSES,
)
from pyman.engine.containers.summary import (
    ContainerStatus as ContainerStatus,
)
from pyman.engine.containers.summary import (
    ContainerSummary as ContainerSummary,
)
from pyman.engine.containers.summary import (
    container_status as container_status,
)
from pyman.engine.containers.summary import (
    is_build_container as is_build_container,
)


@dataclass
class PullOptions:
    """What `pull` is asked for: the reference, platform and registry options."""

    reference: str
    platform: str | None = None  # os/arch[/variant]
    tls_verify: bool | None = None
    quiet: bool = False
    creds: str | None = None  # USERNAME:PASSWORD (--creds); None: stored credentials
    authfile: str | None = None  # --authfile; None: Podman's auth.json locations


@dataclass
class LoginOptions:
    """What `login` is asked for: the registry, the credentials and where they go."""

    registry: str  # host[:port], or host/namespace/repository for scoped credentials
    username: str | None = None
    password: str | None = None
    authfile: str | None = None
    tls_verify: bool | None = None
    cert_dir: str | None = None  # CA (*.crt) and client certs; default: certs.d/<host>


@dataclass
class LoginResult:
    """Where `login` stored the credentials, and whether they were there already."""

    registry: str
    authfile: str
    already: bool = False  # stored credentials were valid and are kept


@dataclass
class PushOptions:
    """What `push` is asked for: the image, its destination and the upload options."""

    image: str
    destination: str | None = None
    tls_verify: bool | None = None
    creds: str | None = None
    authfile: str | None = None
    format: str | None = None  # oci | v2s2; None: as stored
    digestfile: str | None = None
    chunk_size: int | None = None  # upload in PATCHes of this many bytes above it
    cert_dir: str | None = None


@dataclass
class PushReport:
    """What `push` did: the destination, the manifest digest, each blob's fate."""

    destination: str
    digest: str
    blobs: dict[str, str] = field(default_factory=dict)  # digest -> exists|mounted|uploaded


@dataclass
class RunOptions:
    """Everything `run` and `create` were told, as the engine takes it."""

    image: str
    command: list[str] = field(default_factory=list)
    name: str | None = None
    env: list[str] = field(default_factory=list)
    unsetenv: list[str] = field(default_factory=list)  # --unsetenv: defaults/image keys
    unsetenv_all: bool = False  # --unsetenv-all
    ipc: str = ""  # --ipc: "" (shareable) | shareable | private | host | none | container:X
    group_add: list[str] = field(default_factory=list)  # --group-add
    dns: list[str] = field(default_factory=list)  # --dns: name servers (IP addresses)
    dns_search: list[str] = field(default_factory=list)  # --dns-search
    dns_option: list[str] = field(default_factory=list)  # --dns-option / --dns-opt
    systemd: str = "true"  # --systemd: true (for an init command) | false | always
    workdir: str | None = None
    entrypoint: str | None = None  # None: image's; "": none
    user: str | None = None
    hostname: str | None = None
    network: str | None = None
    network_extra: list[str] = field(default_factory=list)  # --network given again
    network_aliases: list[str] = field(default_factory=list)  # --network-alias
    ip: str | None = None  # --ip, on a user-defined network
    mac_address: str | None = None  # --mac-address, on a user-defined network
    rm: bool = False
    detach: bool = False
    interactive: bool = False
    pull: PullPolicy = "missing"
    replace: bool = False  # remove a container holding the name first
    labels: dict[str, str] = field(default_factory=dict)
    # security (engine/specgen/security.py checks them)
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    security_opt: list[str] = field(default_factory=list)
    # networking (issue 6)
    publish: list[str] = field(default_factory=list)  # -p specs
    publish_all: bool = False  # -P: every EXPOSEd port to a free host port
    # rootfs, init, hosts, stop, limits (engine/specgen/limits.py checks them)
    read_only: bool = False
    read_only_tmpfs: bool = True
    init: bool = False
    init_path: str | None = None
    add_host: list[str] = field(default_factory=list)
    stop_signal: str | None = None
    stop_timeout: int | None = None
    # --health-*: engine/health_config.HealthOptions (None: the image's HEALTHCHECK)
    health: Any = None
    ulimit: list[str] = field(default_factory=list)
    memory: str | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    # -v/--volume, --mount and --tmpfs as given (engine/specgen/mounts.py parses them)
    volumes: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    volumes_from: list[str] = field(default_factory=list)  # CONTAINER[:ro|rw]
    requires: list[str] = field(default_factory=list)  # --requires: containers started first
    # the image's VOLUMEs: bind (anonymous volumes) | tmpfs | ignore; "": containers.conf's
    # image_volume_mode, else bind
    image_volume: str = ""
    userns: str = ""  # --userns: "", host or keep-id[:uid=N,gid=N] (engine/specgen/userns.py)
    pod: str | None = None  # --pod: join this pod's namespaces
    infra: bool = False  # the pod's own infra container (engine/pods.py creates it)
    # systemd (engine/sdnotify.py): --cidfile, --sdnotify, --cgroups, the argv recorded
    cidfile: str | None = None  # write the id here; refused if the file exists
    sdnotify: str = "container"  # container | conmon | ignore (Podman's default: container)
    cgroups: str = "enabled"  # enabled | no-conmon | split | disabled
    create_command: list[str] = field(default_factory=list)  # inspect Config.CreateCommand
    restart: str = ""  # --restart: no | on-failure[:N] | always | unless-stopped
    log_driver: str = ""  # --log-driver (engine/specgen/log_config.py); "": k8s-file
    log_opt: list[str] = field(default_factory=list)  # --log-opt key=value
    tty: bool = False  # -t: a pty (relayed through the monitor's attach socket)
    sig_proxy: bool = True  # attached: signals to pyman go on to the container
    attach: list[str] | None = None  # --attach: the streams relayed (None: all)
    attach_none: bool = False  # --attach without stdout and stderr: the id is printed
    preserve_fds: int = 0  # --preserve-fds: fds 3..3+N-1 go into the container
    conmon_pidfile: str | None = None  # the monitor's pid, written at each start
    runtime: str | None = None  # --runtime of this container (a name or a path)
    timeout: int = 0  # --timeout: seconds before the container is killed (0: never)
    hostusers: list[str] = field(default_factory=list)  # --hostuser: passwd entries
    secrets: list[str] = field(default_factory=list)  # --secret specs (engine/secrets.py)
    make_workdir: bool = False  # a missing workdir is made, as an image's (build's WORKDIR)


# newer: pull only when the registry has another manifest than the local image's
PullPolicy = Literal["always", "missing", "never", "newer"]
PULL_POLICIES: tuple[PullPolicy, ...] = get_args(PullPolicy)

@dataclass
class RunResult:
    """How a run ended: the container, its exit code, whether the client detached."""

    id: str
    exit_code: int | None  # None for a detached run
    detached: bool = False  # the client detached (detach keys); the container runs on
