"""The monitor's life: namespaces, rootfs, OCI runtime, network helper, relay, exit status.

Everything the engine needs to know reaches it as JSON lines on the sync pipe:
``started`` (with the container pid), ``error`` (message and exit code) or ``exited`` (code).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from pyman.errors import PymanError
from pyman.monitor.k8slog import K8sFileLog
from pyman.monitor.relay import relay
from pyman.monitor.runner import ContainerRun
from pyman.monitor.signals import FORWARDED, forward_to
from pyman.rootless import libc
from pyman.rootless.enter import child_enter, join_enter

TYPE_CHECKING = False  # typing costs ~15 ms of start-up
if TYPE_CHECKING:
    from typing import Any

LEAN_AFTER = 2.0  # seconds an attached container runs before its monitor slims down


class Sync:
    """The pipe to the engine; it may close any time (detached run, killed client)."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    def send(self, **msg: Any) -> None:
        if self.fd is None:
            return
        try:
            os.write(self.fd, json.dumps(msg).encode() + b"\n")
        except OSError:
            self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def main(argv: list[str]) -> int:
    run_dir, sync_fd, ctl_fd = argv[0], int(argv[1]), int(argv[2])
    os.chdir("/")  # never pin the client's cwd (or fail on one we cannot read later)
    with open(os.path.join(run_dir, "monitor.json")) as f:
        cfg = json.load(f)
    sync = Sync(sync_fd)
    try:
        if cfg.get("join"):  # a pod member, --network container:: the other's namespace
            join_enter(cfg["join"]["userns"], libc.CLONE_NEWNS)
        else:
            child_enter(libc.CLONE_NEWNS, sync_fd, ctl_fd)
    except PymanError as exc:
        sync.send(event="error", message=str(exc), code=exc.exit_code)
        return 125
    finally:
        os.close(ctl_fd)
    run = ContainerRun(cfg, run_dir)
    try:
        log = open_log(cfg)  # a log that cannot be written is said before anything starts
        pid = run.start()
    except PymanError as exc:
        run.cleanup(None, error=str(exc))
        sync.send(event="error", message=str(exc), code=exc.exit_code)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - report anything, never hang the client
        run.cleanup(None, error=str(exc))
        sync.send(event="error", message=f"monitor: {type(exc).__name__}: {exc}", code=125)
        return 125

    forward_to(pid)
    if cfg.get("notify"):  # systemd's Type=notify: the monitor is the service's main pid
        from pyman.monitor.sdnotify import started

        why = started(cfg["notify"])
        if why:  # kept for whoever wonders why the unit never became ready
            with open(os.path.join(run_dir, "notify.log"), "a") as f:
                f.write(why + "\n")
    sync.send(event="started", pid=pid)
    if cfg.get("detach"):
        sync.close()  # the client has gone on; stop writing to it
        lean_exec(run, pid, {fd: (name, None) for name, fd in run.output_fds().items()})
    client = {"stdout": None if cfg.get("detach") else 1,
              "stderr": None if cfg.get("detach") else 2}
    pipes = {fd: (name, client[name]) for name, fd in run.output_fds().items()}
    # an attached container that runs on past a few seconds (a shell, a service in the
    # foreground) gets the lean waiter too; short runs finish here without an exec
    left = relay(pipes, log, deadline=time.monotonic() + LEAN_AFTER)
    if left or not pipes:  # not pipes: passthrough, nothing to relay
        if log is not None:
            log.close()
        lean_exec(run, pid, left, sync.fd)
    code = run.wait()
    if log is not None:
        log.close()
    restart_or_return(run, code, sync)
    run.cleanup(code)
    sync.send(event="exited", code=code)
    sync.close()
    run.delete_runtime_state()
    return 0


def open_log(cfg: dict[str, Any]) -> K8sFileLog | None:
    path = cfg.get("log_path")
    if not path:
        return None  # --log-driver none or passthrough
    try:
        return K8sFileLog(path, int(cfg.get("log_max") or 0))
    except OSError as exc:
        raise PymanError(f"cannot open the container log {path}: {exc.strerror}") from None


def restart_or_return(run: ContainerRun, code: int, sync: Sync) -> None:
    """The restart policy: when it asks for another run, the client gets this run's exit
    code and the monitor carries on (as the lean waiter) without returning here; when not,
    or when the container cannot be started again, it returns for the final clean-up."""
    from pyman.monitor import restart

    if not restart.wanted(run, code):
        return
    sync.send(event="exited", code=code)  # as Podman: an attached run ends at its first exit
    sync.close()
    pid = restart.again(run, code)
    if pid is not None:
        forward_to(pid)
        lean_exec(run, pid, {fd: (name, None) for name, fd in run.output_fds().items()})


def lean_exec(run: ContainerRun, pid: int, pipes: dict[int, tuple[str, int | None]],
              sync_fd: int | None = None) -> None:
    """Become a fresh, small interpreter for the long wait (monitor/lean.py).

    Everything start-up needed (json, subprocess, ctypes, the spec builder) stays resident in
    a Python process for the container's whole life: ~11.6 MiB. exec keeps the pid, the
    children, the subreaper flag and the namespaces, so the lean waiter (~8.7 MiB) carries on
    where this left off and imports the clean-up code only when the container has exited."""
    helper = run.helper
    exit_w = helper.exit_w if helper is not None and helper.exit_w is not None else -1
    helper_pid = 0
    if helper is not None:
        helper_pid = helper.proc.pid if helper.proc is not None else helper.pid
    still = {name: (fd, client) for fd, (name, client) in pipes.items()}
    out_fd, out_client = still.get("stdout", (-1, None))
    err_fd, err_client = still.get("stderr", (-1, None))
    sync = -1 if sync_fd is None else sync_fd
    fds = [out_fd, err_fd, exit_w, sync]
    for fd in fds:
        if fd >= 0:
            os.set_inheritable(fd, True)
    here = os.path.dirname(os.path.abspath(__file__))
    args = [sys.executable, "-I", "-S", os.path.join(here, "__main__.py"), "--lean",
            run.run_dir, str(pid), str(out_fd), str(err_fd), str(exit_w), str(helper_pid),
            run.cfg.get("log_path") or "", str(sync),
            str(-1 if out_client is None else out_client),
            str(-1 if err_client is None else err_client), str(run.cfg.get("log_max") or 0)]
    # the mask survives exec: a signal arriving meanwhile waits for lean.py's handlers
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    os.execv(sys.executable, args)


def finish(run_dir: str, pid: int, code: int, exit_w: int, helper_pid: int,
           sync_fd: int = -1) -> None:
    """After a lean wait: the same clean-up as the full monitor does."""
    from pyman.netns.helpers import Helper
    from pyman.storage.atomic import read_json

    cfg = read_json(os.path.join(run_dir, "monitor.json"))
    run = ContainerRun(cfg, run_dir)
    state = read_json(os.path.join(run_dir, "state.json"))
    if isinstance(state, dict):
        run.state.update(state)
    run.pid, run.created, run.mounted = pid, True, True
    if exit_w >= 0 or helper_pid:
        run.helper = Helper(None, exit_w if exit_w >= 0 else None, helper_pid)
    sync = Sync(sync_fd if sync_fd >= 0 else None)
    restart_or_return(run, code, sync)
    run.cleanup(code)
    sync.send(event="exited", code=code)
    sync.close()
    run.delete_runtime_state()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
