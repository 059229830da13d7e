"""A container's monitor started before its container exists.

`pyman run` (attached, without a terminal or namespaces to join) spends ~90 ms importing,
parsing and writing the container before it needs the monitor; the monitor's own interpreter
start (~30 ms) and its id maps (~10 ms) can happen meanwhile. entry.py starts it from the
bare command line, before anything else is imported (`prestart`); the engine takes it
(`take`), writes its id maps in a thread while it resolves the image and writes the
container, then names the container on the control pipe (monitor_client.spawn_monitor). A
run that goes another way cancels it: the monitor reads EOF and exits, or is killed.

Imports: os, subprocess, sys, threading (all loaded by the CLI anyway).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pyman

MONITOR_MAIN = os.path.join(os.path.dirname(os.path.abspath(pyman.__file__)), "monitor",
                            "__main__.py")
_prestarted: EarlyMonitor | None = None


class EarlyMonitor:
    def __init__(self, *, stdin_inherit: bool) -> None:
        self.stdin_inherit = stdin_inherit
        self.sync_r, sync_w = os.pipe()
        ctl_r, self.ctl_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", MONITOR_MAIN, "-", str(sync_w), str(ctl_r)],
                pass_fds=(sync_w, ctl_r),
                stdin=None if stdin_inherit else subprocess.DEVNULL,
                start_new_session=True,
                env={k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"},
            )
        except BaseException:
            for fd in (self.sync_r, self.ctl_w):
                os.close(fd)
            raise
        finally:
            os.close(sync_w)
            os.close(ctl_r)
        self.used = False
        self._mapping: threading.Thread | None = None
        self._error: BaseException | None = None

    def map_ids(self) -> None:
        """Write the monitor's id maps in the background (newuidmap/newgidmap once it has
        unshared); mapped() waits for them."""

        def work() -> None:
            from pyman.rootless.userns import host_id_maps, parent_map

            try:
                parent_map(self.proc.pid, self.sync_r, self.ctl_w, host_id_maps())
            except BaseException as exc:  # noqa: BLE001 - raised again by mapped()
                self._error = exc

        if self._mapping is None:
            self._mapping = threading.Thread(target=work, daemon=True)
            self._mapping.start()

    def mapped(self) -> None:
        self.map_ids()
        assert self._mapping is not None
        self._mapping.join()
        if self._error is not None:
            raise self._error

    def cancel(self) -> None:
        """The container was not made after all (or needs another monitor): end this one."""
        if self.used:
            return
        self.used = True
        # killed before its pipes close: it must not wake to a broken pipe and say so on
        # the stderr it shares with us; a mapping under way reads EOF and ends
        self.proc.kill()
        if self._mapping is not None:
            self._mapping.join()
        os.close(self.ctl_w)
        os.close(self.sync_r)
        self.proc.wait()


def prestart(argv: list[str]) -> None:
    """`pyman run ...` as the first words, attached, no terminal, nothing to join: start the
    monitor now. Read conservatively off the raw words (an option's value or the container's
    own arguments may look like a flag): a wrong guess only costs the head start."""
    global _prestarted
    if argv[:1] != ["run"]:
        return
    interactive = False
    from pyman.netns import is_named

    for prev, arg in zip(argv, argv[1:], strict=False):
        if arg.startswith(("--tty", "--detach", "--pod", "--help", "-t=", "-d=",
                           "--preserve-fds")) \
                or "container:" in arg:
            return
        if prev in ("--network", "--net") and is_named(arg) or arg.startswith(
                ("--network=", "--net=")) and is_named(arg.partition("=")[2]):
            return  # on a user-defined network: it joins the rootless netns's user ns
        if arg.startswith("-") and not arg.startswith("--"):
            if "t" in arg or "d" in arg or "h" in arg:
                return
            interactive = interactive or "i" in arg
        interactive = interactive or arg.startswith("--interactive")
    try:
        _prestarted = EarlyMonitor(stdin_inherit=interactive)
    except OSError:
        pass  # the ordinary path starts one and says what is wrong


def drop() -> None:
    """A prestarted monitor that will not be used (the run is on a user-defined network)."""
    global _prestarted
    early, _prestarted = _prestarted, None
    if early is not None:
        early.cancel()


def take(*, stdin_inherit: bool) -> EarlyMonitor:
    """The prestarted monitor if it fits, else a new one."""
    global _prestarted
    early, _prestarted = _prestarted, None
    if early is not None and early.stdin_inherit == stdin_inherit:
        return early
    if early is not None:
        early.cancel()
    return EarlyMonitor(stdin_inherit=stdin_inherit)
