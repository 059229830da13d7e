"""Joining the namespaces of a running process, e.g. a container's monitor, from a fresh child.

setns(2) into a user namespace needs a single-threaded caller, and into a mount namespace a
caller that shares no fs state: a just-forked child is both. Open the namespace files in the
parent (``open_namespaces``, checked against the process's start time there), fork, and call
``join`` in the child before it execs or does its work.
"""

from __future__ import annotations

import errno
import os

from pyman.rootless import libc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

# the user namespace first: it grants the capabilities that joining the others needs
ORDER = ("user", "mnt", "uts", "ipc", "net", "pid", "cgroup")


def open_namespaces(pid: int, kinds: tuple[str, ...]) -> list[int]:
    """File descriptors of ``/proc/<pid>/ns/<kind>`` in joining order (close-on-exec)."""
    fds: list[int] = []
    try:
        for kind in sorted(kinds, key=ORDER.index):
            fds.append(os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC))
    except OSError:
        for fd in fds:
            os.close(fd)
        raise
    return fds


def _same_userns(fd: int) -> bool:
    mine = os.stat("/proc/self/ns/user")
    theirs = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def join(fds: list[int]) -> None:
    """setns into each (the user namespace first), then become root there: the host user is
    root in the container's user namespace, and with uid 0 the programs exec'd next keep
    their capabilities. Joining a mount namespace also moves root and cwd to its root."""
    for fd in fds:
        try:
            libc.setns(fd, 0)
        except OSError as exc:
            # EINVAL: already in it (a monitor's healthcheck runs in its own user namespace)
            if exc.errno != errno.EINVAL or not _same_userns(fd):
                raise
        os.close(fd)
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    try:
        os.setgroups([])
    except OSError:
        pass  # setgroups may be denied; unmapped groups read as nobody anyway


def call_in(fds: list[int], fn: Callable[[], object], decode: Callable[[object], T]) -> T:
    """Run ``fn`` in a forked child that joined ``fds`` (see ``open_namespaces``); its result
    comes back as JSON (``rootless.result_pipe``), checked by ``decode``; its PymanError is
    raised here. The caller keeps and closes ``fds``."""
    from pyman.errors import ResultError
    from pyman.rootless import result_pipe

    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports and exits
        os.close(res_r)

        def work() -> object:
            join(list(fds))
            return fn()

        result_pipe.report(res_w, work)
    os.close(res_w)
    value = result_pipe.receive(res_r, pid, "a helper in the container's namespaces")
    try:
        return decode(value)
    except (TypeError, ValueError, KeyError) as exc:
        raise ResultError(f"a helper's report has an unknown shape: {exc}"
                                      ) from None
