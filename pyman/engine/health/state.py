"""What `ps` and `rm` need of healthchecks, without importing the check's machinery."""

from __future__ import annotations

from typing import Any


def health_status(status: str, container_dir: Any) -> str:
    """A running container's healthcheck status (healthy | unhealthy | starting), for
    ps' STATUS and --filter health=; "" without a healthcheck (no results file) or when
    it is not running."""
    if status != "running":
        return ""
    from pyman.engine.health.check import read_results

    return str(read_results(container_dir)["Status"])


def health_timer_remove(c: Any) -> None:
    """A removed container's systemd timer goes with it (only where a user manager runs)."""
    from pyman.engine.health import timer as health_timer

    if health_timer.user_manager():
        health_timer.remove(c.id)
