"""Driving an OCI runtime (runc, crun): argv building, calls, and reading its errors.

The monitor uses this, so it stays importable with the standard library and pyman.errors /
pyman.proc only. The runtime runs as root inside the container's user namespace, so it needs
no ``--rootless`` or cgroup flags: runc 1.1 sees the user namespace and treats cgroups the
rootless way (skips them when not delegated), which is what cgroup v1 requires.

Errors a runtime reports when the container's command cannot be started, verified with runc
1.1.5 (the text after ``msg=`` in its log; Podman 4.3 maps them the same way):

- 127 ``runc create failed: unable to start container process: exec: "nosuch": executable
  file not found in $PATH``
- 127 ``... exec: "/nosuch": stat /nosuch: no such file or directory``
- 126 ``... exec: "/etc/passwd": permission denied`` (no x bit; a directory says the same)
- crun words them ``executable file `nosuch` not found in $PATH: No such file or directory``
  and ``open executable: Permission denied``.
"""

from __future__ import annotations

import json
import os
import subprocess

from pyman.runtime.failure import runtime_failure

# pyman.proc (and the logging it pulls in, ~8 ms) is imported only when a call needs it:
# the monitor's create path does not.

TYPE_CHECKING = False  # typing costs ~15 ms of start-up in the monitor
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


def error_from_output(text: str) -> str:
    """The last error a runtime reported, from its stderr or its ``--log`` file.

    runc writes ``time=... level=error msg="..."`` (or JSON lines with ``--log-format
    json``); crun writes plain lines or JSON. Warnings (runc's "unable to get oom kill
    count" on every failure here) are skipped."""
    last = ""
    plain = ""
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict):
                if entry.get("level") in ("error", "fatal"):
                    last = str(entry.get("msg", ""))
                continue
        if "level=" in line and "msg=" in line:
            if "level=error" in line or "level=fatal" in line:
                last = _logfmt_msg(line)
            continue
        plain = line
    return last or plain


def _logfmt_msg(line: str) -> str:
    raw = line.split("msg=", 1)[1]
    if not raw.startswith('"'):
        return raw.split(" ", 1)[0]
    try:  # a Go-quoted string: JSON's escaping is close enough for messages
        decoded, _ = json.JSONDecoder().raw_decode(raw)
        return str(decoded)
    except ValueError:
        return raw.strip('"')


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class OCIRuntime:
    """One runtime binary used with one state directory (``--root``)."""

    __slots__ = ("path", "name", "version", "root", "global_flags")

    def __init__(self, path: str, root: str, *, name: str | None = None, version: str = "",
                 global_flags: Sequence[str] = ()) -> None:
        self.path = path
        self.name = name or os.path.basename(path)
        self.version = version
        self.root = root
        self.global_flags = list(global_flags)

    def __repr__(self) -> str:
        return f"OCIRuntime({self.name} {self.version} at {self.path}, root={self.root})"

    def argv(self, *args: str, log: str | None = None) -> list[str]:
        out = [self.path, "--root", self.root, *self.global_flags]
        if log:
            out += ["--log", log, "--log-format", "json"]
        return out + list(args)

    # -- argv builders (the monitor may run these itself, with its own stdio) -------------
    def create_argv(self, cid: str, bundle: str, pid_file: str,
                    console_socket: str | None = None, log: str | None = None) -> list[str]:
        extra = ["--console-socket", console_socket] if console_socket else []
        return self.argv("create", "--bundle", bundle, "--pid-file", pid_file, *extra, cid,
                         log=log)

    def start_argv(self, cid: str) -> list[str]:
        return self.argv("start", cid)

    def kill_argv(self, cid: str, signal: int | str = "TERM", all: bool = False) -> list[str]:
        return self.argv("kill", *(["--all"] if all else []), cid, str(signal))

    def delete_argv(self, cid: str, force: bool = True) -> list[str]:
        return self.argv("delete", *(["--force"] if force else []), cid)

    def state_argv(self, cid: str) -> list[str]:
        return self.argv("state", cid)

    # -- calls --------------------------------------------------------------------------
    def create(self, cid: str, bundle: str, pid_file: str, console_socket: str | None = None,
               *, stdin: int | None = subprocess.DEVNULL, stdout: int | None = None,
               stderr: int | None = None, log: str | None = None) -> int:
        """``create``; returns the container pid. The container inherits stdin/stdout/stderr
        (unless a console socket is given), so its errors are read from the ``--log`` file:
        capturing stderr through a pipe would block until the container exits."""
        log = log or os.path.join(bundle, "runtime.log")
        argv = self.create_argv(cid, bundle, pid_file, console_socket, log)
        devnull = subprocess.DEVNULL
        try:
            proc = subprocess.run(argv, stdin=stdin, check=False,
                                  stdout=devnull if stdout is None else stdout,
                                  stderr=devnull if stderr is None else stderr)
        except FileNotFoundError as exc:
            from pyman.errors import ToolError

            raise ToolError(f"{self.name}: {self.path} not found: install it or add it "
                            "to PATH") from exc
        if proc.returncode != 0:
            msg = error_from_output(_read(log)) or f"{self.name} create: exit status " \
                f"{proc.returncode}"
            raise runtime_failure(self.name, msg)
        with open(pid_file) as f:
            return int(f.read().strip())

    def _call(self, argv: list[str], what: str) -> subprocess.CompletedProcess[bytes]:
        from pyman.errors import ToolError
        from pyman.proc import run_tool

        try:
            return run_tool(argv, what=f"{self.name} {what}")
        except ToolError as exc:
            msg = error_from_output(exc.stderr) or str(exc)
            raise ToolError(f"{self.name} {what}: {msg}", exc.returncode, exc.stderr) from exc

    def start(self, cid: str) -> None:
        from pyman.errors import ToolError

        try:
            self._call(self.start_argv(cid), "start")
        except ToolError as exc:
            raise runtime_failure(self.name, error_from_output(exc.stderr) or str(exc)) \
                from exc

    def kill(self, cid: str, signal: int | str = "TERM", all: bool = False) -> None:
        self._call(self.kill_argv(cid, signal, all), "kill")

    def delete(self, cid: str, force: bool = True) -> None:
        self._call(self.delete_argv(cid, force), "delete")

    def state(self, cid: str) -> dict[str, Any] | None:
        """The runtime's state of ``cid``; None when it does not know the container."""
        from pyman.errors import ToolError

        try:
            proc = self._call(self.state_argv(cid), "state")
        except ToolError as exc:
            low = exc.stderr.lower()
            if "does not exist" in low or "no such file" in low or "not found" in low:
                return None
            raise
        data = json.loads(proc.stdout.decode(errors="replace") or "null")
        return data if isinstance(data, dict) else None
