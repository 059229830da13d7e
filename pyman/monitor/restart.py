"""The restart policy (--restart no|on-failure[:N]|always|unless-stopped), applied by the
monitor when its container exits. Imported only then: the lean waiter never carries it.

Podman's rules: a container the user stopped (``pyman stop``, ``kill``, ``rm -f``: the engine
writes STOP_MARKER into the run dir before it signals) is not restarted; on-failure restarts
only a non-zero exit, at most N times (0: no limit); always and unless-stopped restart any
exit. A restart keeps the name, id, rootfs, mounts and log; the runtime container and the
network helper are new.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyman.monitor.runner import ContainerRun

STOP_MARKER = "stopping"
HEALTH_RESTART = "health-restart"  # --health-on-failure=restart: run it again, whatever policy


def wanted(run: ContainerRun, code: int) -> bool:
    if os.path.exists(os.path.join(run.run_dir, HEALTH_RESTART)):
        os.unlink(os.path.join(run.run_dir, HEALTH_RESTART))
        return not os.path.exists(os.path.join(run.run_dir, STOP_MARKER))
    policy = run.cfg.get("restart")
    name = policy["policy"] if policy else ""
    if name in ("", "no"):
        return False
    if os.path.exists(os.path.join(run.run_dir, STOP_MARKER)):
        return False
    if name == "on-failure":
        if code == 0:
            return False
        retries = policy["retries"] if policy else 0
        if retries > 0 and int(run.state.get("restart_count") or 0) >= retries:
            return False
    return True


def detach_stdio() -> None:
    """The client that started the first run has its answer: later runs write only to the
    log, and a pipe the client's caller reads must see its end."""
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def again(run: ContainerRun, code: int) -> int | None:
    """Record the exit and start the container again: its new pid, or None when it could
    not be started (the error is in the state; the caller records the exit for good)."""
    detach_stdio()
    run.cfg["interactive"] = False
    count = int(run.state.get("restart_count") or 0) + 1
    run.state["restart_count"] = count
    run._save(status="restarting", exit_code=code, finished_at=time.time(), pid=0,
              pid_start=None)
    try:
        pid = run.relaunch()
    except Exception as exc:  # noqa: BLE001 - recorded; the container stays exited
        run.state["error"] = f"restart {count} failed: {exc}"
        run.delete_runtime_state()
        return None
    from pyman.eventlog import from_monitor

    from_monitor(run.cfg, "init")  # as Podman's restart of a container that exited
    from_monitor(run.cfg, "start")
    return pid
