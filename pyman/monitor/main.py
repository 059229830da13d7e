"""The monitor's life: namespaces, rootfs, OCI runtime, network helper, relay, exit status.

Everything the engine needs to know reaches it as JSON lines on the sync pipe: ``started``
(with the container pid), ``error`` (message and exit code) or ``exited`` (code); these and
monitor.json are typed in monitor/protocol.py.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from pyman.errors import PymanError
from pyman.eventlog import from_monitor
from pyman.monitor.k8slog import K8sFileLog
from pyman.monitor.relay import Relay
from pyman.monitor.runner import ContainerRun
from pyman.monitor.signals import FORWARDED, forward_to
from pyman.rootless import libc
from pyman.rootless.enter import child_enter, join_enter

TYPE_CHECKING = False  # typing costs ~15 ms of start-up
if TYPE_CHECKING:
    from pyman.monitor.protocol import MonitorConfig, SyncEvent

LEAN_AFTER = 2.0  # seconds an attached container runs before its monitor slims down


class Sync:
    """The pipe to the engine; it may close any time (detached run, killed client)."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    def send(self, msg: SyncEvent) -> None:
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
    sync = Sync(sync_fd)
    if run_dir == "-":  # started early (engine/monitor_client.EarlyMonitor)
        try:
            child_enter(libc.CLONE_NEWNS, sync_fd, ctl_fd)
            run_dir = os.fsdecode(read_all(ctl_fd))  # then told which container
            if not run_dir:
                raise PymanError("the engine went away before naming the container")
        except PymanError as exc:
            sync.send({"event": "error", "message": str(exc), "code": exc.exit_code})
            return 125
        except OSError:  # the engine went away (a cancelled early start): nobody to tell
            return 125
        finally:
            os.close(ctl_fd)
        with open(os.path.join(run_dir, "monitor.json")) as f:
            cfg = json.load(f)
        return run_container(cfg, run_dir, sync)
    with open(os.path.join(run_dir, "monitor.json")) as f:
        cfg = json.load(f)
    try:
        if cfg.get("join"):  # a pod member, --network container:: the other's namespace
            join_enter(cfg["join"]["userns"], libc.CLONE_NEWNS,
                       cfg["join"].get("mntns") or "")
        elif cfg.get("netavark"):  # on networks: the rootless netns's user namespace
            join_enter(cfg["netavark"]["userns"], libc.CLONE_NEWNS)
        else:
            child_enter(libc.CLONE_NEWNS, sync_fd, ctl_fd)
    except PymanError as exc:
        sync.send({"event": "error", "message": str(exc), "code": exc.exit_code})
        return 125
    finally:
        os.close(ctl_fd)
    return run_container(cfg, run_dir, sync)


def read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    return data


def run_container(cfg: MonitorConfig, run_dir: str, sync: Sync) -> int:
    """In the container's user namespace: start it, relay, wait, clean up."""
    run = ContainerRun(cfg, run_dir)
    try:
        log = open_log(cfg)  # a log that cannot be written is said before anything starts
        pid = run.start()
    except PymanError as exc:
        run.cleanup(None, error=str(exc))
        sync.send({"event": "error", "message": str(exc), "code": exc.exit_code})
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - report anything, never hang the client
        run.cleanup(None, error=str(exc))
        sync.send({"event": "error", "message": f"monitor: {type(exc).__name__}: {exc}",
                   "code": 125})
        return 125

    forward_to(pid)
    if cfg.get("timeout"):
        from pyman.monitor import timeout

        timeout.arm(run_dir, pid, int(cfg["timeout"]))
    if cfg.get("notify"):  # systemd's Type=notify: the monitor is the service's main pid
        from pyman.monitor.sdnotify import started

        why = started(cfg["notify"])
        if why:  # kept for whoever wonders why the unit never became ready
            with open(os.path.join(run_dir, "notify.log"), "a") as f:
                f.write(why + "\n")
    sync.send({"event": "started", "pid": pid})  # first: the client is waiting for it
    detach = bool(cfg.get("detach"))
    from_monitor(cfg, "init")  # written by the monitor, so that they come before its "died"
    from_monitor(cfg, "start")
    if not detach:
        from_monitor(cfg, "attach")
    if detach:
        sync.close()  # the client has gone on; stop writing to it
        lean_exec(run, pid, make_relay(run, cfg, None))
    relay = make_relay(run, cfg, log)
    passthrough = not relay.outputs  # --log-driver passthrough: nothing to relay
    # an attached container that runs on past a few seconds (a shell, a service in the
    # foreground) gets the lean waiter too; short runs finish here without an exec
    if not relay.run(deadline=time.monotonic() + LEAN_AFTER) or passthrough:
        if log is not None:
            log.close()
        lean_exec(run, pid, relay, sync.fd)
    code = exit_code(run_dir, run.wait())
    relay.stop_listening()
    if log is not None:
        log.close()
    restart_or_return(run, code, sync, relay)
    run.cleanup(code)
    after_exit(cfg)
    sync.send({"event": "exited", "code": code})
    relay.finish(code)
    sync.close()
    release_stdio()
    run.delete_runtime_state()
    reap_children()
    return code  # as conmon: a unit's Restart=on-failure sees the container's failure


def open_log(cfg: MonitorConfig) -> K8sFileLog | None:
    path = cfg.get("log_path")
    if not path:
        return None  # --log-driver none or passthrough
    try:
        return K8sFileLog(path, int(cfg.get("log_max") or 0))
    except OSError as exc:
        raise PymanError(f"cannot open the container log {path}: {exc.strerror}") from None


def restart_or_return(run: ContainerRun, code: int, sync: Sync, relay: Relay | None
                      ) -> None:
    """The restart policy: when it asks for another run, the client gets this run's exit
    code and the monitor carries on (as the lean waiter) without returning here; when not,
    or when the container cannot be started again, it returns for the final clean-up."""
    from pyman.monitor import restart

    from_monitor(run.cfg, "died", exit_code=code)
    if not restart.wanted(run, code):
        return
    sync.send({"event": "exited", "code": code})  # as Podman: an attached run ends at its 1st
    sync.close()
    if relay is not None:
        relay.finish(code)  # attached clients end with this run too
    pid = restart.again(run, code)
    if pid is not None:
        forward_to(pid)
        run.cfg["detach"], run.cfg["attach_fd"] = True, None  # later runs: the log, attaches
        lean_exec(run, pid, make_relay(run, run.cfg, None))


def make_relay(run: ContainerRun, cfg: MonitorConfig, log: K8sFileLog | None) -> Relay:
    """The relay takes over the container's output fds, its stdin and the attach socket.
    A client given at start gets the output on its own stdout/stderr (an attached run
    without a terminal) or through a connected attach socket (``attach_fd``)."""
    direct = {}
    if not cfg.get("detach") and cfg.get("attach_fd") is None:
        streams = cfg.get("attach_streams")  # --attach: only these reach the client
        direct = {k: fd for k, fd in (("stdout", 1), ("stderr", 2))
                  if streams is None or k in streams}
    attach_fd = cfg.get("attach_fd")
    clients = [attach_fd] if attach_fd is not None else []
    stdin = -1
    if run.master >= 0 and cfg.get("tty_stdin"):
        stdin = run.master
    elif run.stdin_w >= 0:
        stdin = run.stdin_w
    relay = Relay(log, {fd: name for name, fd in run.output_fds().items()}, direct,
                  listen=run.listen_attach(), stdin=stdin, master=run.master,
                  clients=clients)
    run.pipes, run.master, run.stdin_w = {}, -1, -1  # the relay owns them now
    return relay


def lean_exec(run: ContainerRun, pid: int, relay: Relay, sync_fd: int | None = None) -> None:
    """Become a fresh, small interpreter for the long wait (monitor/lean.py).

    Everything start-up needed (json, subprocess, ctypes, the spec builder) stays resident in
    a Python process for the container's whole life: ~11.6 MiB. exec keeps the pid, the
    children, the subreaper flag and the namespaces, so the lean waiter (~8.3 MiB) carries on
    where this left off and imports the clean-up code only when the container has exited."""
    helper = run.helper
    exit_w = helper.exit_w if helper is not None and helper.exit_w is not None else -1
    helper_pid = 0
    if helper is not None:
        helper_pid = helper.proc.pid if helper.proc is not None else helper.pid
    sync = -1 if sync_fd is None else sync_fd
    health = run.cfg.get("health")  # the healthcheck's interval and command, for lean.py
    health_arg = "\x1f".join([str(health["interval"]), *health["argv"]]) if health else ""
    for fd in (exit_w, sync):
        if fd >= 0:
            os.set_inheritable(fd, True)
    here = os.path.dirname(os.path.abspath(__file__))
    args = [sys.executable, "-I", "-S", os.path.join(here, "__main__.py"), "--lean",
            run.run_dir, str(pid), str(exit_w), str(helper_pid),
            run.cfg.get("log_path") or "", str(sync), str(run.cfg.get("log_max") or 0),
            health_arg, *relay.handover()]
    # the mask survives exec: a signal arriving meanwhile waits for lean.py's handlers
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    os.execv(sys.executable, args)


def finish(run_dir: str, pid: int, code: int, exit_w: int, helper_pid: int,
           sync_fd: int = -1, relay: Relay | None = None) -> None:
    """After a lean wait: the same clean-up as the full monitor does."""
    from pyman.netns.helpers import Helper
    from pyman.storage.atomic import read_json

    cfg = read_json(os.path.join(run_dir, "monitor.json"))
    run = ContainerRun(cfg, run_dir)
    try:
        state = read_json(os.path.join(run_dir, "state.json"))
    except ValueError:  # damaged meanwhile: this run's own state (what it started) stands
        state = None
    if isinstance(state, dict):
        run.state.update(state)
    run.pid, run.created, run.mounted = pid, True, True
    if exit_w >= 0 or helper_pid:
        run.helper = Helper(None, exit_w if exit_w >= 0 else None, helper_pid)
    sync = Sync(sync_fd if sync_fd >= 0 else None)
    code = exit_code(run_dir, code)
    restart_or_return(run, code, sync, relay)
    run.cleanup(code)
    after_exit(cfg)
    sync.send({"event": "exited", "code": code})
    sync.close()
    if relay is not None:
        relay.finish(code)
    release_stdio()
    run.delete_runtime_state()
    reap_children()


def after_exit(cfg: MonitorConfig) -> None:
    """The container's final exit is recorded: a pod member of a pod whose exit policy is
    stop has pyman stop the pod once no other member runs (``pod_exit``: its command), and
    a healthcheck's systemd timer is stopped. Started on their own, not waited for."""
    pod_exit = cfg.get("pod_exit")
    cmds = [pod_exit] if pod_exit else []
    if cfg.get("health_timer"):  # the healthcheck's systemd timer ends with the run
        unit = cfg["health_timer"]
        cmds.append(["systemctl", "--user", "stop", f"{unit}.timer", f"{unit}.service"])
    if not cmds:
        return
    import subprocess

    for argv in cmds:
        try:
            subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError:
            pass  # the pod stays up / the timer's checks fail "not running": both harmless


def exit_code(run_dir: str, code: int) -> int:
    """-1 for a container --timeout killed (monitor/timeout.py)."""
    if code != 137:
        return code
    from pyman.monitor.timeout import exit_code as timed

    return timed(run_dir, code)


def reap_children(timeout: float = 5) -> None:
    """Network helpers stopped without waiting (runner.cleanup) exit meanwhile: reap them
    (the monitor is their subreaper), rather than leave zombies to an init that may not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # none left
        if pid == 0:
            time.sleep(0.005)


def release_stdio() -> None:
    """The output is all relayed: let go of the client's stdout and stderr (an attached run
    inherits them), so a caller reading them to EOF is not kept waiting for `runtime
    delete`."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (1, 2):
        os.dup2(null, fd)
    os.close(null)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
