"""The monitor's long wait for a detached container, in a fresh interpreter.

Stdlib only and as few modules as possible: os, select, _signal, time (k8slog). The full
monitor (main.py) execs into this once the container runs; the clean-up code is imported
only when the container has exited.
"""

from __future__ import annotations

import os

from pyman.monitor.k8slog import K8sFileLog
from pyman.monitor.relay import Relay
from pyman.monitor.signals import forward_to, unblock_forwarded


def wait_exit(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            return 125
        code = os.waitstatus_to_exitcode(status)
        return code if code >= 0 else 128 - code


def main(argv: list[str]) -> int:
    """argv: run-dir, container pid, helper exit fd, helper pid, log path, sync fd, log
    max size, then the relay's own arguments (Relay.handover)."""
    run_dir, pid = argv[0], int(argv[1])
    exit_w, helper_pid = int(argv[2]), int(argv[3])
    log_path, sync_fd = argv[4], int(argv[5])

    forward_to(pid)
    unblock_forwarded()  # blocked across the exec
    log = K8sFileLog(log_path, int(argv[6])) if log_path else None
    relay = Relay.from_args(argv[7:], log)
    relay.run()
    code = wait_exit(pid)
    relay.stop_listening()
    if log is not None:
        log.close()
    from pyman.monitor.main import finish

    finish(run_dir, pid, code, exit_w, helper_pid, sync_fd, relay)
    return code  # the container's, as conmon exits: the unit's main process
