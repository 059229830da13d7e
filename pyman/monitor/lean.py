"""The monitor's long wait for a detached container, in a fresh interpreter.

Stdlib only and as few modules as possible: os, select, _signal, time (k8slog). The full
monitor (main.py) execs into this once the container runs; the clean-up code is imported
only when the container has exited.
"""

from __future__ import annotations

import os

from pyman.monitor.k8slog import K8sFileLog
from pyman.monitor.relay import relay
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
    run_dir, pid = argv[0], int(argv[1])
    out_fd, err_fd, exit_w, helper_pid = (int(a) for a in argv[2:6])
    log_path = argv[6]
    sync_fd, out_client, err_client = (int(a) for a in argv[7:10])

    forward_to(pid)
    unblock_forwarded()  # blocked across the exec
    log = K8sFileLog(log_path, int(argv[10])) if log_path else None
    pipes: dict[int, tuple[str, int | None]] = {}
    for fd, stream, client in ((out_fd, "stdout", out_client), (err_fd, "stderr", err_client)):
        if fd >= 0:
            pipes[fd] = (stream, client if client >= 0 else None)
    relay(pipes, log)
    code = wait_exit(pid)
    if log is not None:
        log.close()
    from pyman.monitor.main import finish

    finish(run_dir, pid, code, exit_w, helper_pid, sync_fd)
    return 0
