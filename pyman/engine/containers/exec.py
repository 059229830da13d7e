"""exec: run another process in a running container, through ``runc exec``.

The OCI runtime must run where the container was created: in the monitor's user namespace
(where the host user is root and the container's namespaces belong) and its mount namespace
(where the rootfs is mounted, so ``--user`` names resolve against the image's /etc/passwd).
A forked child joins both (``rootless.nsenter``), writes the process spec into a memfd and
execs the runtime, with pyman's own stdio passed straight through when there is no terminal:
no relay, nothing between the command and the caller but the runtime's wait.

With ``tty``, pyman listens on the runtime's ``--console-socket``, receives the pty master
and hands it to the caller's ``attach`` (the CLI relays it to the local terminal).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyman import eventlog
from pyman.config import Paths
from pyman.engine.containers import sig_proxy
from pyman.errors import ContainerStateError, PymanError, from_exit_code
from pyman.procinfo import same_process
from pyman.storage.containers import ContainerStore

# Podman 4.3 answers an exec it refuses before any session exists with 255, not 125
EXIT_EXEC_REFUSED = 255

NOT_RUNNING = "can only create exec sessions on running containers: container state improper"

# (pty master, fd readable once the runtime exited) -> relay until the session ends
Attach = Callable[[int, int], None]


@dataclass
class ExecOptions:
    command: list[str]
    env: list[str] = field(default_factory=list)  # KEY=VALUE: --env-file entries, then -e
    user: str | None = None  # user[:group]; None: the container's
    workdir: str | None = None  # None: the container's
    interactive: bool = False
    tty: bool = False
    detach: bool = False
    privileged: bool = False
    # where an attached session without a terminal writes (a library caller's, the API's
    # pipes); None: ours
    stdout_fd: int | None = None
    stderr_fd: int | None = None
    stdin_fd: int | None = None  # with ``interactive``: the session's input (the API's pipe)


@dataclass
class ExecResult:
    session_id: str
    exit_code: int | None  # None: detached


@dataclass
class ExecTarget:
    """A running container, as exec needs it."""

    id: str
    name: str
    monitor_pid: int
    monitor_start: int | None
    boot_id: str
    container_dir: str
    runtime: str
    runtime_root: str
    process: dict[str, Any]  # the container's own OCI process
    hostname: str
    cap_add: list[str] = field(default_factory=list)
    pid: int = 0  # the container's init, as the host sees it
    pid_start: int | None = None
    run_dir: str = ""  # keep-id's own passwd and group live there (bound over the image's)
    event: dict[str, Any] = field(default_factory=dict)  # its part of exec's events

    @property
    def rootfs(self) -> str:
        return os.path.join(self.container_dir, "merged")

    def alive(self) -> bool:
        return same_process(self.monitor_pid, self.monitor_start, self.boot_id)


def refused(message: str, code: int = EXIT_EXEC_REFUSED) -> PymanError:
    return ContainerStateError(message, exit_code=code)




def last_runtime_error(log: bytes) -> str:
    """The last error a runtime wrote to its JSON log (runc and crun both do)."""
    msg = ""
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
            msg = str(entry.get("msg", ""))
    return msg


class ExecService:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.store = ContainerStore(paths.containers, paths.run_containers)

    def target(self, key: str, not_running: str = NOT_RUNNING,
               code: int = EXIT_EXEC_REFUSED) -> ExecTarget:
        """The running container ``key`` names; else ``not_running`` (exit ``code``)."""
        from pyman.errors import CorruptRecord
        from pyman.storage.records import fits, read_json

        c = self.store.find(key)
        st = self.store.state(c.id)
        alive = same_process(st.monitor_pid, st.monitor_start, st.boot_id)
        if st.status in ("running", "starting") and not alive:
            from pyman.engine import Engine

            Engine(self.paths).containers.live_state(c.id)  # reconcile: it is not running
        if st.status != "running" or not alive:
            raise refused(not_running, code)
        run_dir = self.store.run_dir(c.id)
        try:  # a damaged file names itself: restarting the container writes both afresh
            monitor = read_json(run_dir / "monitor.json")
            bundle = read_json(run_dir / "config.json")
        except CorruptRecord as err:
            raise PymanError(f"{err}: restart the container (`pyman restart`)") from None
        rt = monitor.get("runtime") if isinstance(monitor, dict) else None
        if not (isinstance(bundle, dict) and isinstance(bundle.get("process"), dict)
                and isinstance(rt, dict) and fits(rt.get("path"), "str")
                and fits(rt.get("root"), "str")):
            raise PymanError(f"container {c.name} has no usable OCI bundle in {run_dir}: "
                             "restart it (`pyman restart`)")
        return ExecTarget(
            id=c.id, name=c.name, monitor_pid=st.monitor_pid, monitor_start=st.monitor_start,
            boot_id=st.boot_id, container_dir=str(self.store.dir(c.id)),
            runtime=monitor["runtime"]["path"], runtime_root=monitor["runtime"]["root"],
            process=bundle["process"], hostname=c.hostname,
            cap_add=list(c.cap_add), pid=st.pid, pid_start=st.pid_start,
            run_dir=str(run_dir), event=eventlog.container_fields(c))

    def run(self, key: str, opts: ExecOptions, attach: Attach | None = None,
            console_size: tuple[int, int] | None = None) -> ExecResult:
        """Run ``opts.command`` in container ``key``. Returns its exit code (None when
        detached). With ``opts.tty``, ``attach`` gets the pty master to relay;
        ``console_size`` (rows, cols) sizes the terminal from the start."""
        if not opts.command:
            raise refused("must provide a non-empty command to start an exec session: "
                          "invalid argument")
        t = self.target(key)
        from pyman.rootless.nsenter import open_namespaces

        try:
            ns_fds = open_namespaces(t.monitor_pid, ("user", "mnt"))
        except OSError as exc:
            raise refused(f"{NOT_RUNNING} ({exc.strerror})") from None
        try:
            if not t.alive():  # the pid was reused between reading the state and opening
                raise refused(NOT_RUNNING)
            return self._session(t, opts, ns_fds, attach, console_size)
        finally:
            for fd in ns_fds:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _session(self, t: ExecTarget, opts: ExecOptions, ns_fds: list[int],
                 attach: Attach | None, console_size: tuple[int, int] | None) -> ExecResult:
        session = os.urandom(32).hex()
        tty = opts.tty and not opts.detach  # a detached session has no one to relay to
        console = None
        pid_file = None
        if tty:
            # runc takes a console socket only when it detaches; as its subreaper, pyman
            # gets the process when runc exits, and waits for it itself
            from pyman.rootless import libc
            from pyman.runtime.console import ConsoleSocket

            libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
            console = ConsoleSocket(str(self.paths.runtime), "exec")
            pid_file = str(self.paths.runtime / f"exec-{session[:16]}.pid")
        log_fd = os.memfd_create("pyman-exec-log")
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child execs or reports and exits
                os.close(err_r)
                _child(t, opts, tty, ns_fds, log_fd, err_w,
                       console.path if console else None, pid_file, console_size)
            os.close(err_w)
            err_w = -1
            with os.fdopen(err_r, "rb") as f:
                err_r = -1
                # EOF: the runtime was exec'd (close-on-exec); the record is bounded and
                # checked, as every helper's report (rootless/result_pipe.py)
                report = f.read(1 << 16)
            if report:
                os.waitpid(pid, 0)
                status, _, message = report.decode(errors="replace").partition("\n")
                raise from_exit_code(message or "exec: the child failed without a message",
                                     int(status) if status.isdigit() and int(status) < 256
                                     else 125)
            eventlog.emit("container", "exec", **t.event)
            if console is not None and pid_file is not None:
                code = self._wait_tty(pid, console, pid_file, attach)
            else:
                code = self._wait(pid)
        finally:
            for fd in (err_r, err_w):
                if fd >= 0:
                    os.close(fd)
            if console is not None:
                console.close()
            if pid_file is not None:
                try:
                    os.unlink(pid_file)
                except OSError:
                    pass
        os.lseek(log_fd, 0, os.SEEK_SET)
        with os.fdopen(log_fd, "rb") as f:
            failure = last_runtime_error(f.read())
        if not opts.detach:
            eventlog.emit("container", "exec_died", **t.event, exit_code=code)
        if code != 0 and failure:
            from pyman.runtime.failure import runtime_failure

            raise runtime_failure(t.runtime, failure, starting=False)
        return ExecResult(session, None if opts.detach else code)

    def _wait(self, pid: int) -> int:
        """Wait for the runtime (which waits for the process and exits with its code),
        passing on the signals meant for the session."""
        previous = sig_proxy.forward(pid, skip_terminal=True)
        try:
            _, status = os.waitpid(pid, 0)
        finally:
            sig_proxy.restore(previous)
        return exit_code(status)

    def _wait_tty(self, runtime_pid: int, console: Any, pid_file: str,
                  attach: Attach | None) -> int:
        """The runtime sends the pty master, starts the process and exits; the process,
        reparented to pyman, is relayed and waited for."""
        runtime_fd = os.pidfd_open(runtime_pid)
        try:
            try:
                master = console.receive(abort_fd=runtime_fd)
            except PymanError:
                master = -1  # the runtime failed first: its log says why
        finally:
            os.close(runtime_fd)
        try:
            _, status = os.waitpid(runtime_pid, 0)
            if exit_code(status) != 0 or master < 0:
                return exit_code(status) or 125
            with open(pid_file) as f:
                pid = int(f.read().strip())
            previous = sig_proxy.forward(pid, skip_terminal=True)
            pidfd = os.pidfd_open(pid)
            try:
                if attach is not None:
                    attach(master, pidfd)
                _, status = os.waitpid(pid, 0)
            finally:
                os.close(pidfd)
                sig_proxy.restore(previous)
        finally:
            if master >= 0:
                os.close(master)
        return exit_code(status)


def exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def _child(t: ExecTarget, opts: ExecOptions, tty: bool, ns_fds: list[int], log_fd: int,
           err_w: int, console_path: str | None, pid_file: str | None,
           console_size: tuple[int, int] | None) -> None:
    """In the forked child: join the monitor's namespaces, build the process spec, exec the
    runtime. Whatever fails is written to ``err_w`` as "<exit code>\\n<message>"."""
    code, message = 125, "exec: the child died unexpectedly"
    try:
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP,
                    signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        from pyman.rootless.nsenter import join
        from pyman.runtime.exec_process import exec_env, exec_process

        join(list(ns_fds))
        from pyman.runtime.inroot import not_regular

        for rel in ("etc/passwd", "etc/group"):  # runc reads both, whatever the user
            if not_regular(t.rootfs, rel):
                raise refused(f"/{rel} in container {t.name} is not a regular file: the OCI "
                              "runtime would block reading it")
        user = None
        if opts.user is not None:
            from pyman.runtime.users import resolve_user

            try:
                user = resolve_user(t.rootfs, opts.user, t.run_dir)
            except PymanError as exc:  # as Podman: no session was created
                raise PymanError(str(exc), exit_code=EXIT_EXEC_REFUSED) from None
        env = exec_env(t.process.get("env") or [], opts.env, t.hostname,
                       None if user is None else user.home)
        proc = exec_process(t.process, opts.command, env=env, cwd=opts.workdir, user=user,
                            terminal=tty, privileged=opts.privileged,
                            user_caps=t.cap_add, console_size=console_size)
        spec_fd = os.memfd_create("pyman-exec-process", 0)
        data = json.dumps(proc).encode()
        while data:
            data = data[os.write(spec_fd, data):]
        os.set_inheritable(log_fd, True)
        if opts.detach or tty:
            null = os.open(os.devnull, os.O_RDWR)
            # a detached process must not hold the caller's pipes open; with a terminal
            # the runtime's own stderr would only repeat what its log says
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.close(null)
        elif not opts.interactive:
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
        elif opts.stdin_fd is not None:
            os.dup2(opts.stdin_fd, 0)
        if not (opts.detach or tty):
            for given, target in ((opts.stdout_fd, 1), (opts.stderr_fd, 2)):
                if given is not None:
                    os.dup2(given, target)
        argv = [t.runtime, "--root", t.runtime_root, "--log", f"/proc/self/fd/{log_fd}",
                "--log-format", "json", "exec", "--process", f"/proc/self/fd/{spec_fd}"]
        if opts.detach or console_path is not None:
            argv.append("--detach")
        if console_path is not None:
            argv += ["--tty", "--console-socket", console_path]
        if pid_file is not None:
            argv += ["--pid-file", pid_file]
        argv.append(t.id)
        os.execv(t.runtime, argv)
    except PymanError as exc:
        code, message = exc.exit_code, str(exc)
    except OSError as exc:
        message = f"exec: cannot run {t.runtime}: {exc.strerror or exc}"
    except BaseException as exc:  # noqa: BLE001 - the parent must hear of anything
        message = f"exec: {type(exc).__name__}: {exc}"
    try:
        os.write(err_w, f"{code}\n{message}".encode())
    finally:
        os._exit(code)
