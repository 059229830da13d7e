"""Starting a container's monitor and following what it reports.

The monitor is its own process in its own session; the engine only writes its id maps
(newuidmap/newgidmap on its pid) and then reads JSON events from the sync pipe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyman
from pyman.errors import PymanError
from pyman.rootless.userns import host_id_maps, parent_map

if TYPE_CHECKING:
    from pyman.engine.containers.early_monitor import EarlyMonitor
    from pyman.monitor.protocol import MonitorConfig, SyncEvent

EVENTS = ("started", "error", "exited")

MONITOR_MAIN = str(Path(pyman.__file__).resolve().parent / "monitor" / "__main__.py")


class MonitorHandle:
    def __init__(self, proc: subprocess.Popen[bytes], sync_r: int) -> None:
        self.proc = proc
        self.pid = proc.pid
        self._file = os.fdopen(sync_r, "rb")

    def events(self) -> Iterator[SyncEvent]:
        """The monitor's reports (monitor/protocol.py), as they come."""
        for line in self._file:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") in EVENTS:
                yield event  # type: ignore[misc] # its shape is the monitor's, tag checked

    def close(self) -> None:
        self._file.close()


def spawn_monitor(run_dir: Path, cfg: MonitorConfig, *, attach: bool,
                  on_spawn: Callable[[int], None] | None = None,
                  early: EarlyMonitor | None = None,
                  outputs: tuple[int | None, int | None] = (None, None)) -> MonitorHandle:
    """Write monitor.json, start the monitor (or take the one started ``early``), map its
    user namespace. ``on_spawn(pid)`` runs before the monitor is let go (it waits for its id
    maps), to record it. ``outputs``: the fds an attached monitor writes the container's
    stdout and stderr to (None: ours)."""
    from pyman.storage.atomic import write_json

    if early is not None and not early.used and not cfg.get("join") \
            and not cfg.get("netavark") and not cfg.get("preserve_fds") \
            and cfg.get("attach_fd") is None and cfg.get("log_driver") != "passthrough" \
            and attach and (cfg.get("stdin") == "inherit") == early.stdin_inherit \
            and outputs == (None, None) and not cfg.get("listen_fds"):
        write_json(run_dir / "monitor.json", cfg, sync=False)
        try:
            early.mapped()
            if on_spawn is not None:
                on_spawn(early.proc.pid)
        except PymanError:
            early.cancel()
            raise
        early.used = True
        os.write(early.ctl_w, os.fsencode(run_dir))  # which container: the run dir
        os.close(early.ctl_w)
        return MonitorHandle(early.proc, early.sync_r)
    if early is not None:
        early.cancel()  # not the monitor this container needs after all
    # fail early, with the fix, before anything is started; a monitor that joins another
    # container's user namespace finds its maps written already
    maps = None if cfg.get("join") or cfg.get("netavark") else host_id_maps()
    write_json(run_dir / "monitor.json", cfg, sync=False)  # the runtime dir: a tmpfs
    sync_r, sync_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    devnull = subprocess.DEVNULL
    passthrough = cfg.get("log_driver") == "passthrough"
    attach_fd = cfg.get("attach_fd")
    extra: tuple[int, ...] = (attach_fd,) if attach_fd is not None else ()
    extra += tuple(range(3, 3 + max(int(cfg.get("listen_fds") or 0),  # socket activation
                                    int(cfg.get("preserve_fds") or 0))))  # --preserve-fds
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", MONITOR_MAIN, str(run_dir), str(sync_w), str(ctl_r)],
        pass_fds=(sync_w, ctl_r, *extra),
        stdin=None if cfg.get("stdin") == "inherit" else devnull,
        # passthrough: the container writes to the client's own stdout and stderr
        stdout=outputs[0] if attach or passthrough else devnull,
        stderr=outputs[1] if attach or passthrough else devnull,
        start_new_session=True,
        # systemd's socket is the monitor's to use (monitor.json says how), never the OCI
        # runtime's: runc would proxy it and wait for READY=1 itself
        env={k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"},
    )
    os.close(sync_w)
    os.close(ctl_r)
    try:
        if on_spawn is not None:
            on_spawn(proc.pid)
        if maps is not None:
            parent_map(proc.pid, sync_r, ctl_w, maps)
    except PymanError:
        os.close(ctl_w)
        proc.wait()
        os.close(sync_r)
        raise
    os.close(ctl_w)
    return MonitorHandle(proc, sync_r)


def connect_attach(run_dir: str) -> int:
    """A socket connected to a running container's attach socket (monitor/relay.py); a path
    longer than sun_path holds is reached through the run dir's fd. OSError when nothing
    listens there."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    path = os.path.join(run_dir, "attach")
    dir_fd = -1
    if len(os.fsencode(path)) > 107:  # sun_path's size
        dir_fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
        path = f"/proc/self/fd/{dir_fd}/attach"
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    finally:
        if dir_fd >= 0:
            os.close(dir_fd)
    return sock.detach()
