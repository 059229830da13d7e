"""A container's recorded state, kept honest: state.json corrected by what really runs, the
reconcile after a lost monitor, and the signals and waits stop and rm build on.

Signals reach the container straight from here (``os.kill`` on the container's init pid,
checked against its recorded start time and boot id): the user owns the container's user
namespace, which gives CAP_KILL over every process in it, whatever uid it runs as.
"""

from __future__ import annotations

import os
import shutil
import time
from signal import SIGKILL

from pyman.config import Paths
from pyman.errors import ContainerRunningError, ContainerStateError, StorageError
from pyman.procinfo import same_process
from pyman.storage.containers import ContainerConfig, ContainerState, ContainerStore

# states a monitor supervises; "restarting": between a run's exit and the policy's next run
ALIVE = ("running", "starting", "paused", "restarting")


class StateKeeper:
    def __init__(self, store: ContainerStore, paths: Paths) -> None:
        self.store = store
        self.paths = paths

    def signal(self, st: ContainerState, sig: int) -> bool:
        if not same_process(st.pid, st.pid_start, st.boot_id):
            return False
        try:
            os.kill(st.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def wait_exit(self, cid: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.live(cid).status != "running":
                return True
            time.sleep(0.02)
        return False

    def wait_monitor_gone(self, st: ContainerState, timeout: float = 10) -> bool:
        """The monitor records the exit, then deletes the runtime's state: wait for it to go
        before anything reuses the id (start) or removes its files (rm). False: still there
        (a restart policy's next run, or a slow clean-up)."""
        deadline = time.monotonic() + timeout
        while same_process(st.monitor_pid, st.monitor_start, st.boot_id):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def live(self, cid: str) -> ContainerState:
        """state.json, corrected by what is really running.

        A monitor that is gone while the state says running or starting (killed with -9,
        or a reboot: the boot id differs) leaves an unsupervised container: nobody would
        record its exit, relay its logs or clean up after it. The reconcile kills what is
        left of it (container, network helper), drops the runtime's state, records the
        container as exited (137 when it had to be killed) and honours --rm."""
        st = self.store.state(cid)
        if st.status not in ALIVE:
            return st
        if same_process(st.monitor_pid, st.monitor_start, st.boot_id):
            return st
        return self.reconcile(cid, st)

    def reconcile(self, cid: str, st: ContainerState) -> ContainerState:
        with self.store.lock(cid):
            st = self.store.state(cid)  # someone else may have done it meanwhile
            if st.status not in ALIVE or same_process(
                    st.monitor_pid, st.monitor_start, st.boot_id):
                return st
            if not st.pid:
                self._adopt_created(cid, st)
            killed = self.signal(st, SIGKILL)
            self._kill_helper(cid, st)
            self._leave_networks(cid)
            if killed:
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and same_process(st.pid, st.pid_start,
                                                                   st.boot_id):
                    time.sleep(0.01)
            shutil.rmtree(self.paths.runtime_root / cid, ignore_errors=True)
            was_running = st.status in ("running", "paused", "restarting")
            st.status = "exited" if was_running else "created"
            if was_running and st.exit_code is None:
                st.exit_code = 137 if killed else -1
                st.finished_at = time.time()
            st.error = "the container's monitor is gone (killed, or the host rebooted)"
            try:
                c = self.store.load(cid)
            except StorageError:  # a damaged record: `rm -f` removes it, nothing to save
                c = None
            from pyman import eventlog

            if c is not None and was_running:  # what its monitor would have written
                eventlog.container(c, "died", exit_code=st.exit_code or 0)
            if c is not None and c.rm:
                # its anonymous volumes stay (this may run under the names lock, which
                # their removal takes): `volume prune` removes them
                self.store.delete(cid)
                eventlog.container(c, "remove")
            elif c is not None:
                self.store.save_state(cid, st)
        return st

    def _adopt_created(self, cid: str, st: ContainerState) -> None:
        """A monitor killed between `runtime create` and `start` never recorded the pid:
        the runtime's pid file has it (runc init, waiting to exec). Only a process that
        started after the monitor did can be it (pid reuse)."""
        from pyman.procinfo import start_time

        try:
            pid = int((self.store.run_dir(cid) / "pid").read_text().strip() or 0)
        except (OSError, ValueError):
            return
        started = start_time(pid) if pid > 0 else None
        if started is not None and st.monitor_start is not None and \
                started >= st.monitor_start:
            st.pid, st.pid_start = pid, started

    def _leave_networks(self, cid: str) -> None:
        """On user-defined networks: its names, addresses and its share of the rootless
        netns (the last one out ends it), as its monitor would have done."""
        from pyman.storage.atomic import read_json

        try:
            cfg = read_json(self.store.run_dir(cid) / "monitor.json")
        except (OSError, ValueError):
            return  # torn: nothing to learn from it (a new netns user never counts it)
        if isinstance(cfg, dict) and isinstance(cfg.get("netavark"), dict):
            from pyman.netns.netavark import forget

            forget(cfg["netavark"], cid)

    def _kill_helper(self, cid: str, st: ContainerState) -> None:
        """pasta daemonizes: it outlives a killed monitor unless we end it. Its pid file
        names the daemon once the namespace is configured, which it does while the runtime
        creates the container: a monitor killed meanwhile leaves a pasta that has written
        no pid file yet, or is forking its daemon. So every pasta of ours whose command line
        names this container's netns is killed too, looked for again until none is left."""
        from pyman.procinfo import start_time

        run_dir = self.store.run_dir(cid)
        try:
            pid = int((run_dir / "pasta.pid").read_text().strip() or 0)
        except (OSError, ValueError):
            pid = 0
        doomed = set()
        if pid > 0 and st.boot_id and same_process(pid, start_time(pid), st.boot_id):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().startswith(("pasta", "passt")):  # passt.avx2 too
                        doomed.add(pid)
            except OSError:
                pass
        for _ in range(5):
            doomed.update(_pastas_on(str(run_dir / "netns")))
            if not doomed:
                return
            for found in doomed:
                try:
                    os.kill(found, SIGKILL)
                except OSError:
                    pass
            doomed = set()
            time.sleep(0.02)


def _pastas_on(netns: str) -> list[int]:
    """Our pasta processes whose command line names ``netns`` (a dead monitor's)."""
    found = []
    uid, want = os.getuid(), os.fsencode(netns)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/comm", "rb") as f:
                if not f.read().startswith((b"pasta", b"passt")):
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if want in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def drop_runtime_state(paths: Paths, c: ContainerConfig) -> None:
    """A removed container's OCI runtime state dir, and its healthcheck's systemd timer
    (where a user manager runs one)."""
    shutil.rmtree(paths.runtime_root / c.id, ignore_errors=True)
    if c.healthcheck:
        from pyman.engine.health.state import health_timer_remove

        health_timer_remove(c)


def running_refusal(cid: str) -> ContainerStateError:
    """rm of a running container without --force: Podman's words (and exit 2)."""
    return ContainerRunningError(
        f"cannot remove container {cid} as it is running - running or paused containers "
        "cannot be removed without force: container state improper")
