"""pause and unpause: the cgroup freezer, where the container has a cgroup of its own.

A rootless container has one only in a cgroup v2 tree delegated to the user (and pyman gives
it one only when it has resource limits, runtime/bundle.py); elsewhere there is nothing to
freeze, and the error says why, as Podman's does on rootless cgroup v1.
"""

from __future__ import annotations

import json
import os

from pyman.errors import ContainerStateError, PymanError
from pyman.runtime.cgroups import CGROUP_ROOT, delegation
from pyman.storage.containers import ContainerConfig, ContainerStore


def container_cgroup(store: ContainerStore, c: ContainerConfig) -> str | None:
    """The freezer file of the container's cgroup (from its OCI config), if it has one."""
    try:
        with open(store.run_dir(c.id) / "config.json") as f:
            spec = json.load(f)
        linux = spec.get("linux") if isinstance(spec, dict) else None
        path = linux.get("cgroupsPath") if isinstance(linux, dict) else None
    except (OSError, ValueError):
        return None
    if not isinstance(path, str):
        return None
    if not path:
        return None
    freeze = os.path.join(CGROUP_ROOT, path.lstrip("/"), "cgroup.freeze")
    return freeze if os.path.exists(freeze) else None


def no_cgroup_error(action: str) -> PymanError:
    d = delegation()
    if "cgroup v1" in d.why or "hybrid" in d.why:
        if action == "pause":
            return PymanError("can not pause containers on rootless containers with cgroup "
                              "V1: this container does not have a cgroup")
        return PymanError("unpause is not supported for cgroupv1 rootless containers")
    why = d.why if not d.ok else "pyman gives one only to containers with resource limits"
    return PymanError(f"can not {action} this container: it has no cgroup to freeze, "
                      f"because {why}")


def freeze(store: ContainerStore, c: ContainerConfig, status: str, on: bool) -> None:
    """Write the freezer; ``status`` is the container's live status (checked here)."""
    action = "pause" if on else "unpause"
    want = "running" if on else "paused"
    path = container_cgroup(store, c)
    if path is None and not on:  # as Podman: nothing here was ever paused
        raise no_cgroup_error(action)
    if status != want:
        raise ContainerStateError(f'"{c.name}" is not {want}, can\'t {action}: container '
                                  "state improper")
    if path is None:
        raise no_cgroup_error(action)
    with open(path, "w") as f:
        f.write("1" if on else "0")
