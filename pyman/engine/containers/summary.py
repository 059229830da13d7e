"""One container as `ps` lists it (re-exported by pyman.engine.types): apart from the
options dataclasses, so listing containers creates only this one at import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from pyman.engine.containers.operations import ContainerService

# The label on `pyman build`'s containers (the build's pid and start time). They are what
# Podman calls external containers: `ps`, `rm --all`, `container prune` and `container
# exists` leave them out unless asked (--external), as Podman leaves out Buildah's.
BUILD_LABEL = "io.pyman.build"


def is_build_container(labels: dict[str, str] | None) -> bool:
    return labels is not None and BUILD_LABEL in labels


ContainerStatus = Literal["created", "starting", "running", "restarting", "paused", "exited"]
CONTAINER_STATUSES: tuple[ContainerStatus, ...] = get_args(ContainerStatus)


def container_status(recorded: str) -> ContainerStatus:
    """A recorded state's status as a report's: one a newer pyman wrote, unknown here, is
    "exited" (nothing here would supervise it)."""
    return next((s for s in CONTAINER_STATUSES if s == recorded), "exited")


@dataclass
class ContainerSummary:
    """One container as `ps` lists it: its record and state together."""

    id: str
    name: str
    image: str
    command: list[str]
    created: float
    status: ContainerStatus
    exit_code: int | None
    started_at: float | None
    finished_at: float | None
    pid: int
    labels: dict[str, str] = field(default_factory=dict)
    image_id: str = ""
    monitor_pid: int = 0
    auto_remove: bool = False
    # Podman's PortMapping: host_ip, container_port, host_port, range, protocol
    ports: list[dict[str, Any]] = field(default_factory=list)
    pod: str = ""  # pod id
    infra: bool = False
    pod_name: str = ""
    health: str = ""  # a running container's healthcheck status ("" without one)


def summaries(svc: ContainerService, all_: bool, external: bool = True) -> list[ContainerSummary]:
    """The containers as `ps` lists them; ``external``: with the build's containers
    (Podman's external ones)."""
    from pyman.engine.network.modes import fold_ports

    out: list[ContainerSummary] = []
    pod_names: dict[str, str] | None = None
    for c in svc.store.all():
        if not external and is_build_container(c.labels):
            continue
        st = svc.live_state(c.id)
        if not all_ and st.status != "running":
            continue
        out.append(ContainerSummary(c.id, c.name, c.image_name, c.args, c.created,
                                    container_status(st.status), st.exit_code, st.started_at,
                                    st.finished_at, st.pid, c.labels, c.image_id,
                                    st.monitor_pid, c.rm, fold_ports(c.ports), c.pod,
                                    c.infra))
        if c.pod:
            if pod_names is None:
                from pyman.storage.pods import PodStore

                pod_names = {p.id: p.name for p in PodStore(svc.paths.pods).all()}
            out[-1].pod_name = pod_names.get(c.pod, "")
    return out
