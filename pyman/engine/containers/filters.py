"""Podman's container filters (ps, container prune, start --filter) and the `ps` listing
they apply to: values of one key are ORed, different keys ANDed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyman.errors import PymanError

if TYPE_CHECKING:
    from pyman.engine.containers.operations import ContainerService
    from pyman.engine.types import ContainerSummary


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    """``--filter key=value`` words, by key."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise PymanError(f"invalid filter {item!r}: use key=value")
        out.setdefault(key, []).append(value)
    return out


def state_name(status: str) -> str:
    """The state Podman shows (ps's State, --filter status=) of a recorded status."""
    return {"starting": "created", "restarting": "exited"}.get(status, status)


def _label_match(labels: dict[str, str], spec: str) -> bool:
    key, eq, value = spec.partition("=")
    return key in labels and (not eq or labels[key] == value)


def matches(c: ContainerSummary, filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "status":  # "stopped": Podman's name for those that ran and exited
            state = state_name(c.status)
            ok = state in values or (state == "exited" and "stopped" in values)
        elif key == "name":
            import re

            ok = any(re.search(v, c.name) for v in values)
        elif key == "id":
            ok = any(c.id.startswith(v) for v in values)
        elif key == "label":
            ok = all(_label_match(c.labels, v) for v in values)
        elif key == "health":  # healthy | unhealthy | starting | none (no healthcheck)
            ok = (c.health or "none") in values
        elif key == "exited":
            ok = c.status == "exited" and str(c.exit_code) in values
        elif key == "ancestor":
            ok = any(v in (c.image, c.image_id) or c.image_id.startswith(v)
                     or c.image.split("/")[-1].split(":")[0] == v for v in values)
        else:
            raise PymanError(f"{key} is an invalid filter")
        if not ok:
            return False
    return True


def listing(svc: ContainerService, filters: list[str], all_: bool,
            last: int = -1, external: bool = False) -> list[ContainerSummary]:
    """`ps`: the containers (running ones, or ``all_``) that pass the filters, in creation
    order, the ``last`` N created when N >= 0; each with its health, and a pod member
    without ports of its own shows its pod's. ``external``: builds' containers too (in
    any state, as Podman's external ones)."""
    from pyman.engine.health.state import health_status

    wanted = parse_filters(filters)
    # as Podman: only a status filter looks past the running ones without --all
    show_all = all_ or "status" in wanted or last >= 0
    items = svc.summaries(show_all or external, external=external)
    if external and not show_all:
        from pyman.engine.containers.summary import is_build_container

        items = [c for c in items if c.status == "running" or is_build_container(c.labels)]
    pod_ports = {c.pod: c.ports for c in items if c.infra}
    for c in items:
        c.health = health_status(c.status, svc.store.dir(c.id))
        if c.pod and not c.ports:
            c.ports = pod_ports.get(c.pod, [])
    items = [c for c in items if matches(c, wanted)]
    if last >= 0:
        items = items[len(items) - last:] if last else []
    return items


def every_id(svc: ContainerService) -> tuple[list[str], list[str]]:
    """`rm --all`: the ids of the containers (not builds'), and of the damaged records
    (named, as rm is their cure)."""
    return ([c.id for c in svc.summaries(True, external=False)],
            [e.cid for e in svc.store.scan()[1]])
