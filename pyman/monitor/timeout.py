"""--timeout: the container is killed (SIGKILL, as conmon does) once it has run that long,
and its exit code is then recorded as -1 (Podman's; `run` exits 255).

A forked watchdog sleeps, writes the ``timed-out`` marker and kills the container through a
pidfd taken while the container was still the monitor's unreaped child, so a reused pid is
never hit. It dies with the monitor (PDEATHSIG), so no watchdog outlives its run. The marker
comes first: an exit by SIGKILL with the marker present is the timeout's."""

from __future__ import annotations

import os
import signal
import time

MARKER = "timed-out"


def arm(run_dir: str, pid: int, seconds: int) -> None:
    marker = os.path.join(run_dir, MARKER)
    try:
        os.unlink(marker)  # a previous run's
    except FileNotFoundError:
        pass
    if seconds <= 0:
        return
    pidfd = os.pidfd_open(pid)
    if os.fork() == 0:  # the watchdog
        try:
            from pyman.rootless import libc

            libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
            time.sleep(seconds)
            import select

            if not select.select([pidfd], [], [], 0)[0]:  # readable: it has exited
                with open(marker, "w"):
                    pass
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        finally:
            os._exit(0)
    os.close(pidfd)


def exit_code(run_dir: str, code: int) -> int:
    """The code to record: -1 for a container the timeout killed."""
    if code == 137 and os.path.exists(os.path.join(run_dir, MARKER)):
        return -1
    return code
