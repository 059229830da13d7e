"""Container operations: create, start (through the monitor), run, stop, kill, wait, list,
remove. The record a create makes is built in container_config.py, what the monitor is told in
monitor_config.py; container_state.py keeps recorded state honest (the reconcile) and sends
the signals stop and kill use, so nothing depends on the monitor being alive."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from pyman import eventlog
from pyman.config import Paths
from pyman.engine.containers.sig_proxy import Handlers, forward, restore
from pyman.engine.containers.state import ALIVE, StateKeeper, drop_runtime_state, running_refusal
from pyman.engine.containers.summary import ContainerSummary
from pyman.errors import ContainerStateError, PymanError, from_exit_code
from pyman.netns import is_named
from pyman.procinfo import same_process
from pyman.storage.containers import ContainerConfig, ContainerState, ContainerStore
from pyman.storage.images import ImageRecord
from pyman.storage.volumes import VolumeStore

if TYPE_CHECKING:  # the monitor's modules load when a container starts, not for ps or rm
    from pyman.engine.containers.early_monitor import EarlyMonitor
    from pyman.engine.images.operations import ImageService, PullEvents
    from pyman.engine.types import RunOptions, RunResult

STOP_MARKER = "stopping"  # monitor/restart.py: written before stop/kill/rm -f signal
STOPPING = "stop-in-progress"  # a `stop` is waiting for the exit: inspect says "stopping"
# a client of a container's terminal: given the connected attach socket, relays until the
# container exits (its exit code) or the client detaches (None)
Attach = Callable[[int], "int | None"]

EARLY = "pyman.engine.containers.early_monitor"


class ContainerService:
    def __init__(self, paths: Paths, images: ImageService | Callable[[], ImageService], *,
                 runtime: str | None = None) -> None:
        """``images``: the service, or how to get it when first needed (ps, rm, stop never
        need it: its imports are a fifth of ps's start-up)."""
        self.paths = paths
        self._images = images
        self.runtime = runtime
        self.options: dict[str, Any] = {}  # runtime_flags, default_mounts_file (Engine's)
        self.preserve_fds = 0  # run --preserve-fds: this client's fds 3.. go in
        self.store = ContainerStore(paths.containers, paths.run_containers)
        self.states = StateKeeper(self.store, paths)
        self.volumes = VolumeStore(paths.volumes)

    @property
    def images(self) -> ImageService:
        if callable(self._images):
            self._images = self._images()
        return self._images

    # -- create and start ---------------------------------------------------------------
    def create(self, opts: RunOptions, image: ImageRecord) -> ContainerConfig:
        """Record a new container; with ``opts.cidfile`` its id is written there (the file
        is claimed first and removed again if the create fails)."""
        if not opts.cidfile:
            return self._create(opts, image)
        from pyman.engine.specgen.systemd_opts import open_cidfile

        fd = open_cidfile(opts.cidfile)
        try:
            config = self._create(opts, image)
            os.write(fd, config.id.encode())
        except BaseException:
            os.close(fd)
            os.unlink(opts.cidfile)
            raise
        os.close(fd)
        return config

    def _create(self, opts: RunOptions, image: ImageRecord) -> ContainerConfig:
        from pyman.engine.containers import mounts as container_mounts
        from pyman.engine.containers.config import build

        config, specs = build(self, opts, image)
        replace = None
        if opts.replace:
            def replace(other: ContainerConfig) -> None:
                self._remove(other, force=True)

        def prepare() -> None:  # under the names lock: the name is ours
            config.mounts = container_mounts.materialize(specs, self.volumes)

        self.store.create(config, replace, prepare)
        eventlog.container(config, "create")
        return config

    def start(self, c: ContainerConfig, *, detach: bool, interactive: bool = False,
              attach: Attach | None = None, console_size: tuple[int, int] | None = None,
              sig_proxy: bool = True, early: EarlyMonitor | None = None,
              stdout: BinaryIO | None = None, stderr: BinaryIO | None = None) -> RunResult:
        """Start ``c`` under a new monitor. Attached (``detach`` false): relay its output
        and return its exit code; detached: return once it runs.

        ``attach`` (for a container with a terminal: required to be attached) gets a
        socket connected to the monitor's relay from the start (monitor/relay.py speaks on
        it) and returns the exit code, or None when the client detached (detach keys);
        ``console_size`` (rows, cols) sizes the terminal from the start; ``stdout`` and
        ``stderr`` (binary file objects) take an attached container's output instead of
        ours (engine/containers/output_streams.py)."""
        from pyman.engine.types import RunResult

        for dep in map(self.store.find, c.requires):  # --requires: run first, as Podman's
            if self.live_state(dep.id).status not in ("running", "starting"):
                self.start(dep, detach=True)
        st = self.live_state(c.id)  # reconciles under the lock itself: not inside ours
        self.states.wait_monitor_gone(st)
        client = mine = None
        if not detach and c.tty and attach is not None:
            import socket

            mine, client = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        from pyman.engine.containers.output_streams import Outputs

        outputs = Outputs(None, None) if detach else Outputs(stdout, stderr)
        previous: Handlers = {}
        try:
            with self.store.lock(c.id):
                st = self.store.state(c.id)
                if st.status in ALIVE and same_process(st.monitor_pid, st.monitor_start,
                                                       st.boot_id):
                    if mine is not None:
                        mine.close()
                    return RunResult(c.id, None)  # Podman: starting a running one is a no-op
                run_dir = self.store.run_dir(c.id)
                run_dir.mkdir(parents=True, exist_ok=True)
                (run_dir / STOP_MARKER).unlink(missing_ok=True)  # a new start: restarts again
                (run_dir / STOPPING).unlink(missing_ok=True)  # a stop that died on the way
                self.paths.runtime_root.mkdir(parents=True, exist_ok=True)
                from pyman.engine.containers import monitor_config
                from pyman.engine.containers.monitor_client import spawn_monitor

                try:
                    cfg = monitor_config.build(self, c, detach, interactive,
                                            client.fileno() if client else None,
                                            console_size)
                    handle = spawn_monitor(run_dir, cfg, attach=not detach and client is None,
                                           on_spawn=lambda pid: self._starting(c, pid),
                                           early=early, outputs=outputs.fds)
                except PymanError:
                    if c.rm:
                        self.store.delete(c.id)
                    raise
        finally:
            if client is not None:
                client.close()  # the monitor has its copy
            outputs.handed_on()
        if not detach and sig_proxy:  # --sig-proxy: our signals go on to the container
            previous = forward(handle.pid)
        try:
            for event in handle.events():
                if event["event"] == "error":
                    raise from_exit_code(event["message"], event["code"])
                if event["event"] == "started" and detach:
                    return RunResult(c.id, None)
                if event["event"] == "started" and mine is not None and attach is not None:
                    if attach(mine.fileno()) is None:
                        return RunResult(c.id, None, detached=True)
                if event["event"] == "exited":
                    return RunResult(c.id, event["code"])
        finally:
            handle.close()
            restore(previous)
            outputs.finish()
            if mine is not None:
                mine.close()
        st = self.live_state(c.id)
        if st.exit_code is not None:
            return RunResult(c.id, st.exit_code)
        raise PymanError(f"the monitor of container {c.name} exited without reporting; "
                         f"see {run_dir}")

    def attach(self, key: str) -> tuple[ContainerConfig, ContainerState, int]:
        """A socket connected to the running container's relay (monitor/relay.py)."""
        c = self.store.find(key)
        st = self.live_state(c.id)
        refused = ContainerStateError("you can only attach to running containers")
        if st.status != "running":
            raise refused
        from pyman.engine.containers.monitor_client import connect_attach

        try:
            sock = connect_attach(str(self.store.run_dir(c.id)))
        except OSError as exc:
            raise refused from exc
        eventlog.container(c, "attach")
        return c, st, sock

    def _starting(self, c: ContainerConfig, monitor_pid: int) -> None:
        """Recorded before the monitor runs anything: if it dies now, the reconcile finds it."""
        from pyman.procinfo import boot_id, start_time

        self.store.save_state(c.id, ContainerState(
            status="starting", monitor_pid=monitor_pid, monitor_start=start_time(monitor_pid),
            boot_id=boot_id()), persist=not c.rm)
        # conmon.pid's counterpart (PIDFile= of generate systemd's units), --conmon-pidfile
        for path in filter(None, (str(self.store.run_dir(c.id) / "monitor.pid"),
                                  c.conmon_pidfile)):
            with open(path, "w") as f:
                f.write(f"{monitor_pid}\n")

    def log_file(self, c: ContainerConfig) -> str:
        """The container's log file; "" when its driver keeps none."""
        from pyman.engine.specgen.log_config import log_file

        return log_file(c.log_driver, c.log_path, str(self.store.dir(c.id)))

    @staticmethod
    def precheck(opts: RunOptions) -> None:
        """What is refused before an image is pulled (imported here: ps and rm skip it)."""
        from pyman.engine.specgen.precheck import precheck

        precheck(opts)

    def run(self, opts: RunOptions | None = None, events: PullEvents | None = None,
            attach: Attach | None = None, console_size: tuple[int, int] | None = None, *,
            stdout: BinaryIO | None = None, stderr: BinaryIO | None = None,
            **options: Any) -> RunResult:
        """Pull if need be, create, start; attached, the exit code. ``opts`` or its fields
        as keywords (``remove`` for ``rm``): ``run(image="alpine", command=["true"])``."""
        if opts is None:
            from pyman.engine.types import RunOptions

            opts = RunOptions(**{"rm" if k == "remove" else k: v for k, v in options.items()})
        elif options:
            raise TypeError(f"run() takes RunOptions or keywords, not both: {sorted(options)}")
        self.precheck(opts)
        early, self.preserve_fds = None, opts.preserve_fds
        if stdout is None and stderr is None and not (opts.detach or opts.tty or opts.pod
                                                      or opts.preserve_fds
                or (opts.network or "").startswith("container:") or is_named(opts.network)):
            from pyman.engine.containers import early_monitor

            early = early_monitor.take(stdin_inherit=opts.interactive)
            early.map_ids()  # while the image is found and the container written
        elif is_named(opts.network) and EARLY in sys.modules:
            sys.modules[EARLY].drop()  # a guess from the raw words
        try:
            image = self.images.get_or_pull(opts.image, opts.pull, events)
            c = self.create(opts, image)
            return self.start(c, detach=opts.detach, interactive=opts.interactive,
                              attach=attach, console_size=console_size,
                              sig_proxy=opts.sig_proxy, early=early, stdout=stdout,
                              stderr=stderr)
        finally:
            if early is not None:
                early.cancel()  # nothing if start() took it

    def start_key(self, key: str, *, attach: bool = False, interactive: bool = False,
                  session: Attach | None = None,
                  console_size: tuple[int, int] | None = None,
                  sig_proxy: bool = True) -> RunResult:
        return self.start(self.store.find(key), detach=not attach, interactive=interactive,
                          attach=session, console_size=console_size, sig_proxy=sig_proxy)

    # -- signals, stop, wait ------------------------------------------------------------
    def kill(self, key: str, sig: int = signal.SIGKILL) -> str:
        c = self.store.find(key)
        st = self.live_state(c.id)
        if st.status != "running":
            raise ContainerStateError(
                f"can only kill running containers. {c.id} is in state {st.status}: "
                "container state improper")
        self._mark_stopped(c.id)  # as Podman: a killed container is not restarted
        self.states.signal(st, sig)
        eventlog.container(c, "kill")
        return c.id

    def _mark_stopped(self, cid: str) -> None:
        """Tell the monitor the user ends this run: no restart policy applies to it."""
        try:
            (self.store.run_dir(cid) / STOP_MARKER).touch()
        except FileNotFoundError:
            pass  # never started here: nothing to restart

    def stop(self, key: str, timeout: float | None = None, sig: int | None = None) -> str:
        """The stop signal, then SIGKILL once ``timeout`` seconds pass; returns when the
        monitor has recorded the exit and gone. Stopping a stopped container is fine.
        None: the container's --stop-signal and --stop-timeout (SIGTERM, 10 s)."""
        c = self.store.find(key)
        if sig is None:
            sig = c.stop_signal or signal.SIGTERM
        if timeout is None:
            timeout = 10 if c.stop_timeout is None else c.stop_timeout
        st = self.live_state(c.id)
        stopping = self.store.run_dir(c.id) / STOPPING
        if st.status in ALIVE:
            self._mark_stopped(c.id)  # before any signal: the monitor must not restart it
            with contextlib.suppress(FileNotFoundError):
                stopping.touch()
        try:
            for _ in range(5):  # a restart already under way may bring up one more run
                self._stop_run(c, st, timeout, sig)
                again = self._settle(c.id)
                if again is None:
                    break
                st = again
        finally:
            stopping.unlink(missing_ok=True)
        if st.status in ALIVE:
            eventlog.container(c, "stop")
        return c.id

    def _settle(self, cid: str, timeout: float = 10) -> ContainerState | None:
        """After a stop: None once the monitor is gone (or does not go in ``timeout``); the
        state when it runs the container again (a restart that began before the stop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.live_state(cid)
            if not same_process(st.monitor_pid, st.monitor_start, st.boot_id):
                return None
            if st.status == "running" and same_process(st.pid, st.pid_start, st.boot_id):
                return st
            time.sleep(0.01)
        return None

    def _stop_run(self, c: ContainerConfig, st: ContainerState, timeout: float, sig: int
                  ) -> None:
        deadline = time.monotonic() + 10
        while st.status in ("starting", "restarting") and time.monotonic() < deadline:
            time.sleep(0.02)  # a start in progress: let it settle, then stop what runs
            st = self.live_state(c.id)
        if st.status == "paused":  # a frozen process cannot act on the stop signal
            self.pause(c.id, on=False)
            st = self.live_state(c.id)
        if st.status == "running":
            if timeout > 0 and self.states.signal(st, sig):
                if not self.states.wait_exit(c.id, timeout):
                    import logging

                    logging.getLogger("pyman").warning(
                        "StopSignal %s failed to stop container %s in %g seconds, resorting "
                        "to SIGKILL", signal.Signals(sig).name, c.name, timeout)
            st = self.live_state(c.id)
            if st.status == "running":
                self.states.signal(st, signal.SIGKILL)
                self.states.wait_exit(c.id, 30)

    def restart(self, key: str, timeout: float | None = None) -> str:
        c = self.store.find(key)
        eventlog.container(c, "restart")
        self.stop(c.id, timeout)
        self.start(self.store.find(c.id), detach=True)
        return c.id

    def pause(self, key: str, on: bool = True) -> str:
        """Freeze (``on``) or thaw the container's processes (engine/containers/pause.py)."""
        from pyman.engine.containers.pause import freeze

        c = self.store.find(key)
        with self.store.lock(c.id):
            st = self.store.state(c.id)
            freeze(self.store, c, st.status, on)
            st.status = "paused" if on else "running"
            self.store.save_state(c.id, st, persist=not c.rm)
        eventlog.container(c, "pause" if on else "unpause")
        return c.id

    def rename(self, key: str, new: str) -> str:
        c = self.store.rename(self.store.find(key).id, new)
        eventlog.container(c, "rename")
        return c.id

    def wait(self, key: str, interval: float = 0.05) -> int:
        """Block until the container is not running; its exit code."""
        c = self.store.find(key)
        while True:
            st = self.live_state(c.id)
            if st.status not in ALIVE:  # a restart policy's next run is waited for too
                return st.exit_code if st.exit_code is not None else 0
            time.sleep(interval)
            if self.store.load(c.id) is None:  # removed meanwhile (--rm)
                return st.exit_code if st.exit_code is not None else 0

    def wait_for(self, key: str, states: set[str], interval: float = 0.05) -> int:
        """wait --condition (engine/containers/wait.py)."""
        from pyman.engine.containers.wait import wait_for

        return wait_for(self, key, states, interval)

    # -- state --------------------------------------------------------------------------
    def live_state(self, cid: str) -> ContainerState:
        return self.states.live(cid)

    def summaries(self, all_: bool, external: bool = True) -> list[ContainerSummary]:
        """``external``: with the build's containers (Podman's external ones)."""
        from pyman.engine.containers.summary import summaries

        return summaries(self, all_, external)

    def find(self, key: str) -> ContainerConfig:
        return self.store.find(key)  # by name, id or id prefix; else ContainerNotFoundError

    def get(self, key: str) -> tuple[ContainerConfig, ContainerState]:
        return (c := self.store.find(key)), self.live_state(c.id)

    def using_image(self, image_id: str) -> list[str]:
        """The ids of the containers made from the image."""
        return [c.id for c in self.store.all() if c.image_id == image_id]

    # -- removal ------------------------------------------------------------------------
    def remove(self, key: str, force: bool = False, timeout: float | None = None,
               volumes: bool = False) -> str:
        """``volumes``: its anonymous volumes too (rm -v)."""
        from pyman.errors import CorruptRecord

        try:
            c = self.store.find(key)
        except CorruptRecord as err:
            if not err.cid:
                raise
            return self._remove_damaged(err.cid, force)
        return self._remove(c, force, timeout, volumes)

    def _remove_damaged(self, cid: str, force: bool) -> str:
        """A container whose record is damaged: how it was meant to stop is unknown, so a
        live one is killed (its monitor records the exit and cleans up), then its files go."""
        st = self.live_state(cid)
        if st.status in ALIVE:
            if not force:
                raise running_refusal(cid)
            self._mark_stopped(cid)
            self.states.signal(st, signal.SIGKILL)
        self.states.wait_monitor_gone(st)
        shutil.rmtree(self.paths.runtime_root / cid, ignore_errors=True)
        self.store.delete(cid)
        eventlog.emit("container", "remove", id_=cid)
        return cid

    def remove_depend(self, key: str, force: bool = False, timeout: float | None = None,
                      volumes: bool = False) -> list[str]:
        """rm --depend: the containers that join this one's namespaces first (theirs
        before them), then it; the ids removed, in that order."""
        c = self.store.find(key)
        removed: list[str] = []
        for dep in self._dependents(c):
            removed += self.remove_depend(dep.id, force, timeout, volumes)
        return [*removed, self._remove(c, force, timeout, volumes)]

    def _dependents(self, c: ContainerConfig) -> list[ContainerConfig]:
        return [o for o in self.store.all() if c.id in (o.join, *o.requires) and o.id != c.id]

    def _remove(self, c: ContainerConfig, force: bool, timeout: float | None = None,
                volumes: bool = False) -> str:
        if timeout is None:  # SIGKILL at once, unless the container asked for a grace time
            timeout = c.stop_timeout or 0
        if c.infra and (self.paths.pods / c.pod).is_dir():
            raise PymanError(
                f"container {c.id} is the infra container of pod {c.pod} and cannot be "
                f"removed without removing the pod: use pyman pod rm {c.pod[:12]}")
        deps = self._dependents(c)
        if deps:  # Podman's words (define.ErrCtrExists), exit 125
            raise PymanError(
                f"container {c.id} has dependent containers which must be removed before it: "
                f"{', '.join(d.id for d in deps)}: container already exists")
        st = self.live_state(c.id)
        if st.status in ALIVE:
            if not force:
                raise running_refusal(c.id)
            self.stop(c.id, timeout)
        else:
            self.states.wait_monitor_gone(st)
        drop_runtime_state(self.paths, c)
        self.store.delete(c.id)
        eventlog.container(c, "remove")
        if volumes:
            self._remove_anonymous(c)
        return c.id

    def _remove_anonymous(self, c: ContainerConfig) -> None:
        from pyman.engine.volumes.operations import VolumeService

        VolumeService(self.paths).remove_anonymous(c)

    def prune(self, keep: Callable[[ContainerSummary], bool] | None = None) -> list[str]:
        """Remove every container that is not running, and what killed commands left."""
        self.store.sweep()
        removed = []
        for s in self.summaries(True, external=False):
            if s.status in ALIVE or (keep is not None and keep(s)):
                continue
            try:
                removed.append(self._remove(self.store.find(s.id), False))
            except PymanError:
                continue
        return removed
