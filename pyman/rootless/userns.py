"""Entering a user namespace that has the user's full sub-id map.

A process cannot write its own full map: after it unshares, a helper outside the namespace
(its parent) runs the setuid newuidmap/newgidmap on its pid. The two halves talk over a pipe
pair: the child says "unshared", the parent writes the maps and says "mapped".
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Generic, TypeVar, overload

from pyman.errors import ResultError, RootlessSetupError
from pyman.rootless import libc
from pyman.rootless.enter import child_enter, explain_unshare_error
from pyman.rootless.subid import IdMapping, full_map, map_args, subid_ranges

T = TypeVar("T")

SUBUID = Path("/etc/subuid")
SUBGID = Path("/etc/subgid")


@dataclass(frozen=True)
class IdMaps:
    """The uid and gid maps of a user namespace."""

    uid: list[IdMapping]
    gid: list[IdMapping]

    @property
    def size(self) -> int:
        return sum(m.count for m in self.uid)


@cache
def host_id_maps() -> IdMaps:
    uid, gid = os.getuid(), os.getgid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return IdMaps(
        full_map(uid, subid_ranges(SUBUID, user, uid, "subuid")),
        full_map(gid, subid_ranges(SUBGID, user, gid, "subgid")),
    )


def find_tool(name: str) -> str | None:
    """PATH first, as Podman looks it up, then the usual dirs (cron's PATH is short)."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    for d in dirs + ["/usr/bin", "/usr/sbin", "/bin", "/usr/local/bin"]:
        path = os.path.join(d, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _find_tool(name: str) -> str:
    path = find_tool(name)
    if path is None:
        raise RootlessSetupError(f"{name} not found: install it as root "
                                 f"(`{install_hint('uidmap')}`)")
    return path


def install_hint(package: str) -> str:
    """The install command for one of the host packages, on this distribution."""
    from pyman.rootless.packages import install_command

    return install_command(package)


def privilege_problem(path: str) -> str | None:
    """Why ``path`` (newuidmap/newgidmap) cannot write id maps, or None when it can: it must
    be setuid root or carry a file capability."""
    st = os.stat(path)
    if st.st_mode & stat.S_ISUID and st.st_uid == 0:
        return None
    try:
        if os.getxattr(path, "security.capability"):
            return None
    except OSError:
        pass
    what = ("is setuid but not owned by root" if st.st_mode & stat.S_ISUID else
            "has neither the setuid bit nor a file capability")
    cap = "cap_setgid" if os.path.basename(path) == "newgidmap" else "cap_setuid"
    return (f"{path} {what}, so it cannot write id maps: as root run `chown root {path} && "
            f"chmod u+s {path}` or `setcap {cap}+ep {path}` (reinstalling "
            f"{install_hint('uidmap').split()[-1]} restores it)")


def _check_privileged(path: str) -> None:
    problem = privilege_problem(path)
    if problem:
        raise RootlessSetupError(problem)


def write_id_maps(pid: int, maps: IdMaps) -> None:
    """Run newuidmap and newgidmap for ``pid``, side by side (they write different files);
    errors quote the tool."""
    import subprocess

    running = []
    for tool, mapping in (("newuidmap", maps.uid), ("newgidmap", maps.gid)):
        path = _find_tool(tool)
        try:
            proc = subprocess.Popen([path, str(pid), *map_args(mapping)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
        except OSError as exc:
            raise RootlessSetupError(f"cannot run {path}: {exc.strerror}") from None
        running.append((tool, path, proc))
    failed = None
    for tool, path, proc in running:
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            err = err or f"{tool} did not finish in 30 s".encode()
        if proc.returncode != 0 and failed is None:
            failed = (tool, path, err.decode(errors="replace").strip()
                      or f"exit status {proc.returncode}")
    if failed is not None:
        tool, path, why = failed
        _check_privileged(path)
        raise RootlessSetupError(
            f"{tool} failed: {why}; check the ranges in "
            f"{SUBUID if tool == 'newuidmap' else SUBGID}"
        )


def parent_map(pid: int, from_child: int, to_child: int, maps: IdMaps) -> None:
    """Parent half: wait for the child's unshare, write its maps, let it go on."""
    msg = os.read(from_child, 16)
    if msg.startswith(b"E"):
        raise explain_unshare_error(OSError(int(msg[1:] or b"1"), "unshare"))
    if msg != b"U":
        raise RootlessSetupError("the process entering the user namespace exited early")
    write_id_maps(pid, maps)
    os.write(to_child, b"M")


@overload
def run_in_userns(fn: Callable[[], object], *, flags: int = ...) -> None: ...


@overload
def run_in_userns(fn: Callable[[], object], *, flags: int = ...,
                  decode: Callable[[object], T]) -> T: ...


def run_in_userns(fn: Callable[[], object], *, flags: int = libc.CLONE_NEWNS,
                  decode: Callable[[object], T] | None = None) -> T | None:
    """Run ``fn`` in a forked child that is root in a new, fully mapped user namespace.

    Without ``decode`` its result is dropped; with it, the result comes back as JSON
    (dataclasses as dicts, tuples as lists: ``rootless.result_pipe``) and ``decode`` checks
    and rebuilds it. A PymanError it raises is raised here. Only call this when no other
    threads are running.
    """
    return UsernsTask(fn, flags, decode).wait()


class UsernsTask(Generic[T]):
    """``fn`` started in a forked child that is root in a new, fully mapped user namespace;
    wait() for its result (run_in_userns's rules). Between the two the caller may work on
    (start threads, feed the child through a pipe made before): the fork is behind it."""

    def __init__(self, fn: Callable[[], object], flags: int = libc.CLONE_NEWNS,
                 decode: Callable[[object], T] | None = None) -> None:
        from pyman.rootless import result_pipe

        maps = host_id_maps()
        up_r, up_w = os.pipe()
        down_r, down_w = os.pipe()
        res_r, res_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(up_r)
            os.close(down_w)
            os.close(res_r)

            def work() -> object:
                child_enter(flags, up_w, down_r)
                return fn()

            result_pipe.report(res_w, work, send_value=decode is not None)
        os.close(up_w)
        os.close(down_r)
        os.close(res_w)
        try:
            parent_map(pid, up_r, down_w, maps)
        except BaseException:
            os.close(down_w)
            os.waitpid(pid, 0)
            os.close(up_r)
            os.close(res_r)
            raise
        os.close(down_w)
        os.close(up_r)
        self.pid, self._res_r, self._decode = pid, res_r, decode

    def wait(self) -> T | None:
        from pyman.rootless import result_pipe

        value = result_pipe.receive(self._res_r, self.pid, "a helper in the user namespace")
        if self._decode is None:
            return None
        try:
            return self._decode(value)
        except (TypeError, ValueError, KeyError) as exc:
            raise ResultError(f"a helper's report has an unknown shape: {exc}"
                                          ) from None
