"""wait --condition: block until a container reaches one of Podman's states."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pyman.engine.containers.operations import STOPPING
from pyman.errors import ContainerNotFoundError

if TYPE_CHECKING:
    from pyman.engine.containers.operations import ContainerService


def wait_for(svc: ContainerService, key: str, states: set[str], interval: float = 0.05) -> int:
    """wait --condition: block until the container is in one of ``states`` (Podman's
    names: created, running, paused, stopping, exited, stopped); its exit code."""
    c = svc.store.find(key)
    names = {"created": {"created", "configured"}, "starting": {"created", "configured"},
             "running": {"running"}, "paused": {"paused"},
             "exited": {"exited", "stopped"}, "restarting": {"exited", "stopped"}}
    stopping = svc.store.run_dir(c.id) / STOPPING
    while True:
        st = svc.live_state(c.id)
        now = set(names.get(st.status, {st.status}))
        if st.status == "running" and stopping.exists():
            now = {"stopping"}
        if now & states:
            return st.exit_code if st.exit_code is not None else 0
        time.sleep(interval)
        if svc.store.load(c.id) is None:  # removed meanwhile (--rm)
            raise ContainerNotFoundError(f"no container with name or ID \"{key}\" found: "
                                         "no such container")
