"""The monitor's long wait for a detached container, in a fresh interpreter.

Stdlib only and as few modules as possible: os, select, _signal, time (k8slog). The full
monitor (main.py) execs into this once the container runs; the clean-up code is imported
only when the container has exited. A container with a healthcheck (and no systemd user
manager to time it) gets it run here at its interval: `pyman healthcheck run` as a child,
one at a time, the first at once (as Podman's timer starts its unit).
"""

from __future__ import annotations

import os
import time

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


def _spawn(argv: list[str]) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child execs
        try:
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 1 << 16)  # not the relay's fds: clients must see them close
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    return pid


def _done(pid: int) -> bool:
    """Whether child ``pid`` has exited (and is reaped)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True


def _exited(pid: int) -> bool:
    """Whether the container's process has exited, leaving it to be reaped."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def health_loop(relay: Relay, pid: int, spec: str) -> None:
    """Relay (as relay.run does) until the container's output ends or it exits, running the
    healthcheck command every interval meanwhile."""
    interval_s, *argv = spec.split("\x1f")
    interval = max(float(interval_s), 0.5)
    next_at = time.monotonic()
    checker = 0
    while True:
        if relay.outputs:
            if relay.run(deadline=next_at):
                break
        elif _exited(pid):
            break
        elif time.monotonic() < next_at:
            time.sleep(min(0.5, max(next_at - time.monotonic(), 0)))
            continue
        if checker and _done(checker):
            checker = 0
        if not checker:  # one at a time: a slow check delays the next one
            checker = _spawn(argv)
        next_at = time.monotonic() + interval
    if checker and not _done(checker):
        try:
            os.kill(checker, 9)  # its container is gone: nothing left to check
        except ProcessLookupError:
            pass
        _done_wait(checker)


def _done_wait(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def main(argv: list[str]) -> int:
    """argv: run-dir, container pid, helper exit fd, helper pid, log path, sync fd, log
    max size, the healthcheck ("" or interval and command, \\x1f-separated), then the
    relay's own arguments (Relay.handover)."""
    run_dir, pid = argv[0], int(argv[1])
    exit_w, helper_pid = int(argv[2]), int(argv[3])
    log_path, sync_fd = argv[4], int(argv[5])

    forward_to(pid)
    unblock_forwarded()  # blocked across the exec
    log = K8sFileLog(log_path, int(argv[6])) if log_path else None
    relay = Relay.from_args(argv[8:], log)
    if argv[7]:
        health_loop(relay, pid, argv[7])
    relay.run()
    code = wait_exit(pid)
    relay.stop_listening()
    if log is not None:
        log.close()
    from pyman.monitor.main import finish

    finish(run_dir, pid, code, exit_w, helper_pid, sync_fd, relay)
    return code  # the container's, as conmon exits: the unit's main process
