"""Where a systemd user manager runs, a container's healthcheck is timed by a transient
timer, as Podman does (`systemd-run --user --unit <id> --on-unit-inactive=<interval>
--timer-property=AccuracySec=1s <pyman> healthcheck run <id>`), removed with the container;
elsewhere (no systemd, as in most containers and CI) the container's monitor runs it."""

from __future__ import annotations

import os
import shutil
import subprocess


def user_manager() -> bool:
    """Whether `systemctl --user` reaches a running user manager."""
    if shutil.which("systemctl") is None or shutil.which("systemd-run") is None:
        return False
    if not os.path.exists("/run/systemd/system"):  # systemd is not PID 1
        return False
    try:
        r = subprocess.run(["systemctl", "--user", "is-system-running"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return False
    state = r.stdout.decode(errors="replace").strip()
    return state in ("running", "degraded", "starting")


def create(cid: str, interval: str, argv: list[str]) -> bool:
    """Start the timer; False when systemd refused (the monitor runs the checks then)."""
    remove(cid)  # a timer of an earlier start of this container
    cmd = ["systemd-run", "--user", f"--setenv=PATH={os.environ.get('PATH', '')}",
           "--unit", cid, f"--on-unit-inactive={interval}",
           "--timer-property=AccuracySec=1s", *argv]
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    if r.returncode != 0:
        return False
    # as Podman: the service runs once at once, the timer repeats it
    subprocess.run(["systemctl", "--user", "restart", f"{cid}.service"],
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    return True


def remove(cid: str) -> None:
    """Stop the container's timer and service, if any (no error when there are none)."""
    try:
        subprocess.run(["systemctl", "--user", "stop", f"{cid}.timer", f"{cid}.service"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        pass
