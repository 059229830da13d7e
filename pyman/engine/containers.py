"""Container operations: create, start (through the monitor), run, list, remove."""

from __future__ import annotations

import os
import shutil
import signal
import time
from typing import Any

from pyman.config import Paths
from pyman.engine.images import ImageService, PullEvents
from pyman.engine.monitor_client import forward_signals, spawn_monitor
from pyman.engine.names import new_id, new_name
from pyman.engine.types import ContainerSummary, RunOptions, RunResult
from pyman.errors import PymanError
from pyman.netns import MODES
from pyman.procinfo import same_process
from pyman.storage.containers import ContainerConfig, ContainerState, ContainerStore
from pyman.storage.images import ImageRecord


def default_network() -> str:
    """pasta where it is installed (as Podman 5 does), else slirp4netns."""
    for mode, binary in (("pasta", "pasta"), ("slirp4netns", "slirp4netns")):
        if shutil.which(binary, path="/usr/bin:/usr/local/bin:/bin"):
            return mode
    return "slirp4netns"


def check_network(mode: str) -> tuple[str, str | None]:
    """Validate the mode; for pasta and slirp4netns also find the helper binary."""
    aliases = {"private": default_network(), "bridge": default_network()}
    mode = aliases.get(mode, mode)
    if mode not in MODES:
        raise PymanError(
            f"unknown network mode {mode!r}: use one of {', '.join(MODES)}"
        )
    if mode in ("pasta", "slirp4netns"):
        from pyman.netns.helpers import check_tun, find_helper

        binary = find_helper(mode)
        check_tun()
        return mode, binary
    return mode, None


class ContainerService:
    def __init__(self, paths: Paths, images: ImageService, *, runtime: str | None = None
                 ) -> None:
        self.paths = paths
        self.images = images
        self.runtime = runtime
        self.store = ContainerStore(paths.containers, paths.run_containers)

    # -- create and start ---------------------------------------------------------------
    def create(self, opts: RunOptions, image: ImageRecord) -> ContainerConfig:
        from pyman.runtime.spec import image_process_args, merge_env

        icfg: dict[str, Any] = self.images.config(image).get("config") or {}
        user_entry = None if opts.entrypoint is None else (
            [opts.entrypoint] if opts.entrypoint else [])
        args = image_process_args(icfg.get("Entrypoint") or [], icfg.get("Cmd") or [],
                                  user_entry, opts.command or None)
        if not args:
            raise PymanError(
                "no command or entrypoint provided, and no CMD or ENTRYPOINT from image"
            )
        cid = new_id()
        hostname = opts.hostname or cid[:12]
        config = ContainerConfig(
            id=cid,
            name=opts.name or new_name({c.name for c in self.store.all()}),
            image_id=image.id,
            image_name=(image.names[0] if image.names else image.id),
            layers=list(image.layers),
            args=args,
            entrypoint=user_entry if user_entry is not None else icfg.get("Entrypoint") or [],
            cmd=opts.command or icfg.get("Cmd") or [],
            env=merge_env(icfg.get("Env") or [], opts.env, hostname),
            workdir=opts.workdir or icfg.get("WorkingDir") or "/",
            user=opts.user if opts.user is not None else icfg.get("User") or "",
            hostname=hostname,
            network=check_network(opts.network or default_network())[0],
            rm=opts.rm,
            labels=dict(icfg.get("Labels") or {}),
        )
        self.store.create(config)
        return config

    def _monitor_cfg(self, c: ContainerConfig, detach: bool, interactive: bool
                     ) -> dict[str, Any]:
        from pyman.runtime.select import select_runtime

        runtime = select_runtime(self.paths, self.runtime)
        return {
            "id": c.id,
            "name": c.name,
            "container_dir": str(self.store.dir(c.id)),
            "lowers": [str(self.images.layers.diff(d)) for d in reversed(c.layers)],
            "rm": c.rm,
            "detach": detach,
            "interactive": interactive,
            "runtime": {"path": runtime.path, "root": str(self.paths.runtime_root)},
            "network": c.network,
            "network_helper": check_network(c.network)[1],
            "spec": {"args": c.args, "env": c.env, "cwd": c.workdir, "user": c.user,
                     "hostname": c.hostname},
            "log_path": str(self.store.dir(c.id) / "ctr.log"),
        }

    def start(self, c: ContainerConfig, *, detach: bool, interactive: bool = False
              ) -> RunResult:
        run_dir = self.store.run_dir(c.id)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.paths.runtime_root.mkdir(parents=True, exist_ok=True)
        try:
            cfg = self._monitor_cfg(c, detach, interactive)
            handle = spawn_monitor(run_dir, cfg, attach=not detach)
        except PymanError:
            if c.rm:
                self.store.delete(c.id)
            raise
        if not detach:
            forward_signals(handle.pid)
        try:
            for event in handle.events():
                kind = event.get("event")
                if kind == "error":
                    err = PymanError(str(event.get("message")))
                    err.exit_code = int(event.get("code", 125))
                    raise err
                if kind == "started" and detach:
                    return RunResult(c.id, None)
                if kind == "exited":
                    return RunResult(c.id, int(event["code"]))
        finally:
            handle.close()
        state = self.store.state(c.id)
        if state.exit_code is not None:
            return RunResult(c.id, state.exit_code)
        raise PymanError(f"the monitor of container {c.name} exited without reporting; "
                         f"see {run_dir}")

    def run(self, opts: RunOptions, events: PullEvents | None = None) -> RunResult:
        image = self.images.get_or_pull(opts.image, opts.pull, events)
        c = self.create(opts, image)
        return self.start(c, detach=opts.detach, interactive=opts.interactive)

    # -- state --------------------------------------------------------------------------
    def live_state(self, cid: str) -> ContainerState:
        """state.json, corrected by what is really running (monitor killed, reboot ...)."""
        st = self.store.state(cid)
        if st.status == "running":
            monitor_ok = same_process(st.monitor_pid, st.monitor_start, st.boot_id)
            if not monitor_ok and not same_process(st.pid, st.pid_start, st.boot_id):
                st.status = "exited"
                if st.exit_code is None:
                    st.exit_code = -1
        return st

    def summaries(self, all_: bool) -> list[ContainerSummary]:
        out: list[ContainerSummary] = []
        for c in self.store.all():
            st = self.live_state(c.id)
            if not all_ and st.status != "running":
                continue
            out.append(ContainerSummary(c.id, c.name, c.image_name, c.args, c.created,
                                        st.status, st.exit_code, st.started_at,
                                        st.finished_at, st.pid))
        return out

    def using_image(self, image_id: str) -> list[str]:
        return [c.name for c in self.store.all() if c.image_id == image_id]

    def remove(self, key: str, force: bool = False) -> str:
        c = self.store.find(key)
        st = self.live_state(c.id)
        if st.status == "running":
            if not force:
                raise PymanError(
                    f"cannot remove container {c.id[:12]} as it is running: stop it first "
                    "or use --force"
                )
            self._kill(st)
        shutil.rmtree(self.paths.runtime_root / c.id, ignore_errors=True)
        self.store.delete(c.id)
        return c.id

    def _kill(self, st: ContainerState) -> None:
        if same_process(st.pid, st.pid_start, st.boot_id):
            try:
                os.kill(st.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and same_process(
            st.monitor_pid, st.monitor_start, st.boot_id
        ):
            time.sleep(0.02)
