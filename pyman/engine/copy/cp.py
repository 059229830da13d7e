"""cp: copy files between a container and the host, between two containers, or as tar on
stdin/stdout, with Podman's rules (cmd/podman/containers/cp.go and buildah's copier).

First both ends are looked at: the source must exist; the destination exists (a directory
takes the copy inside, a file is replaced) or its parent does (the copy takes its name). A
final symlink in a container path is followed inside the container. Then one tar stream
runs over a pipe from the reading side to the writing side; container sides are forked
children whose root is the container's (copy_enter.py), the host side is pyman itself, as
the user (copies out belong to the user).

Copies into a container belong to its primary uid/gid (``--archive``, the default) or keep
the archive's owners; copies out of one carry its primary uid/gid, as Podman's. A directory
and a non-directory replace each other only with ``--overwrite``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from dataclasses import dataclass
from typing import IO, Any

from pyman.config import Paths
from pyman.engine.copy import tar as ct
from pyman.engine.copy.enter import ContainerSide, Where, Work, host_put
from pyman.errors import PymanError
from pyman.runtime.users import resolve_user  # imported here: the child cannot once inside


@dataclass
class Info:
    """A path looked at (Podman's FileInfo): ``target`` is the path with a final symlink
    followed (in the container) and its trailing "/" or "/." kept."""
    exists: bool
    is_dir: bool = False
    regular: bool = False
    target: str = ""  # "" when missing (a dangling symlink keeps where it points)
    error: str = "no such file or directory"


def parse_location(arg: str) -> tuple[str, str]:
    """``ctr:path`` -> (ctr, path); a path starting with "." or "/" is the host's even with a
    colon in it (Podman's parseUserInput)."""
    if not arg or arg[0] in "./" or ":" not in arg:
        return "", arg
    ctr, _, path = arg.partition(":")
    return ctr, path


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # Go's %q, near enough


def _is_dot(path: str) -> bool:
    return path == "." or path.endswith("/.")


# -- the child's side: runs with the container's (or a mount's) root as "/" ----------------

def stat_here(path: str) -> dict[str, Any]:
    """Podman's secureStat, in the child: a final symlink resolved inside the root."""
    if "*" in path:  # no wildcards, as Podman
        return {"exists": False, "target": "", "error": "no such file or directory"}
    clean = os.path.normpath(path)  # "link/" and "link/." name the link, as in copier
    try:
        st = os.lstat(clean)
    except OSError as exc:
        return {"exists": False, "target": "", "error": _stat_error(exc)}
    target = path
    if stat.S_ISLNK(st.st_mode):
        target = ct.preserve_base(path, os.path.realpath(clean))
        try:
            st = os.stat(target)
        except OSError as exc:
            return {"exists": False, "target": target, "error": _stat_error(exc)}
    return {"exists": True, "is_dir": stat.S_ISDIR(st.st_mode),
            "regular": stat.S_ISREG(st.st_mode), "target": target, "error": ""}


def _stat_error(exc: OSError) -> str:
    if exc.errno == errno.ENOTDIR:  # a file on the way: not there, as Podman says
        return "no such file or directory"
    return ct.os_message(exc)


def _numeric(spec: str) -> tuple[int, int] | None:
    if re.fullmatch(r"\d+:\d+", spec):
        uid, gid = spec.split(":")
        return int(uid), int(gid)
    return None


def _ids_here(spec: str) -> list[int]:
    """In the child, root = the container's: its user's ids from its own passwd/group."""
    try:
        u = resolve_user("/", spec)
    except PymanError:
        return [0, 0]
    return [u.uid, u.gid]


def _decode_info(value: object) -> Info:
    if not (isinstance(value, dict) and isinstance(value.get("exists"), bool)
            and isinstance(value.get("target"), str) and isinstance(value.get("error"), str)
            and isinstance(value.get("is_dir", False), bool)
            and isinstance(value.get("regular", False), bool)):
        raise PymanError("cp: the helper's report on a path is malformed: refused")
    return Info(value["exists"], value.get("is_dir", False), value.get("regular", False),
                value["target"], value["error"])


def _ids(value: object) -> tuple[int, int]:
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 32
                    for v in value)):
        raise PymanError("cp: the helper's report on the container's user is malformed")
    return value[0], value[1]


class CopyService:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def copy(self, src: str, dst: str, stdin: IO[bytes] | None = None, stdout_fd: int = 1,
             archive: bool = True, overwrite: bool = False) -> None:
        s_ctr, s_path = parse_location(src)
        d_ctr, d_path = parse_location(dst)
        if not s_path or not d_path:
            raise PymanError(f"invalid arguments {_quote(src)}, {_quote(dst)}: you must "
                             "specify paths")
        self.archive, self.overwrite = archive, overwrite
        sides: list[ContainerSide] = []
        try:
            if s_ctr and d_ctr:
                a = ContainerSide(self.paths, s_ctr)
                b = ContainerSide(self.paths, d_ctr)
                b = a if b.c.id == a.c.id else b
                sides += [a, b]
                for side in sorted({id(s): s for s in sides}.values(), key=lambda s: s.c.id):
                    side.hold()
                self._between(a, s_path, b, d_path)
            elif s_ctr:
                sides.append(ContainerSide(self.paths, s_ctr))
                sides[0].hold()
                self._out(sides[0], s_path, d_path, stdout_fd)
            else:
                if not d_ctr:
                    raise PymanError("name or ID cannot be empty")
                sides.append(ContainerSide(self.paths, d_ctr))
                sides[0].hold()
                self._in(s_path, sides[0], d_path, stdin)
        finally:
            for side in sides:
                side.release()

    # -- looking at both ends -------------------------------------------------------------
    def _look(self, side: ContainerSide, path: str, dest: bool) -> tuple[Info, Info | None]:
        """A container path (absolute) looked at inside its root, and for a missing
        destination its parent (where a dangling symlink points, if it is one); the same
        child learns the container's user ids when its root is the container's."""
        where = side.where(path)
        inner, spec = where.path, side.c.user
        want_ids = not where.mount and side.ids is None and _numeric(spec) is None
        parent_ok = dest and where.inner == "/"  # a bind-mounted file has no parent here

        def child() -> object:
            info = stat_here(inner)
            parent = None
            if parent_ok and not info["exists"]:
                parent = stat_here(ct.go_dir(info["target"] or inner))
            return {"info": info, "parent": parent, "ids": _ids_here(spec) if want_ids else None}

        report = side.run(where, child, None, writable=False)
        if not isinstance(report, dict) or set(report) != {"info", "parent", "ids"}:
            raise PymanError("cp: the helper's report on a path is malformed: refused")
        info = _decode_info(report["info"])
        parent = None if report["parent"] is None else _decode_info(report["parent"])
        if want_ids:
            side.ids = _ids(report["ids"])
        for found in (info, parent):
            if found is not None and found.target:  # back to the container's view
                found.target = where.outside(found.target)
        return info, parent

    def _source_in(self, side: ContainerSide, path: str) -> Info:
        full = side.absolute("/." if path == "/" else path)
        info, _ = self._look(side, full, False)
        if not info.exists:
            raise PymanError(f"{_quote(path)} could not be found on container {side.key}: "
                             f"{info.error or 'no such file or directory'}")
        return info

    def _dest_in(self, side: ContainerSide, path: str, stdin: bool) -> tuple[str, Info, bool]:
        """(the copy's new name, the destination or its parent, whether it is the parent)."""
        full = side.absolute("/." if path == "/" else path)
        info, parent = self._look(side, full, True)
        if info.exists:
            return ct.go_base(info.target), info, False
        if path.endswith("/"):
            raise PymanError(f"{_quote(path)} could not be found on container {side.key}: "
                             f"{info.error}")
        if stdin:
            raise PymanError("destination must be a directory when copying from stdin")
        where = info.target or full  # a dangling symlink: the copy lands where it points
        if parent is None or not parent.exists or not parent.is_dir:
            why = parent.error if parent is not None and parent.error else "not a directory"
            raise PymanError(f"{_quote(path)} could not be found on container {side.key}: "
                             f"{why}")
        return ct.go_base(where), parent, True

    @staticmethod
    def _host(path: str) -> Info:
        full = ct.preserve_base(path, os.path.abspath(path))
        try:
            st = os.stat(full)
        except OSError as exc:
            return Info(False, error=ct.os_message(exc))
        return Info(True, stat.S_ISDIR(st.st_mode), stat.S_ISREG(st.st_mode), full, "")

    def _user_ids(self, side: ContainerSide) -> tuple[int, int]:
        """The container's primary uid/gid, from its own /etc/passwd when named (learnt
        while looking at a path, else by a child of its own)."""
        if side.ids is None:
            side.ids = _numeric(side.c.user)
        if side.ids is None:
            spec = side.c.user
            side.ids = _ids(side.run(Where("/", "/", ""), lambda: _ids_here(spec), None,
                                     writable=False))
        return side.ids

    # -- container -> host ----------------------------------------------------------------
    def _out(self, side: ContainerSide, cpath: str, hpath: str, stdout_fd: int) -> None:
        to_stdout = hpath == "-"
        src = self._source_in(side, cpath)
        to_parent = False
        if to_stdout:
            dest = Info(True, False, False, "/dev/stdout")
            base = ""
        else:
            dest = self._host(hpath)
            if dest.exists:
                base = ct.go_base(dest.target)
            else:
                missing = f"{_quote(hpath)} could not be found on the host: {dest.error}"
                if hpath.endswith("/"):
                    raise PymanError(missing)
                dest = self._host(ct.go_dir(hpath))
                if not dest.exists:
                    raise PymanError(missing)
                base, to_parent = ct.go_base(hpath), True
            if not (dest.is_dir or dest.regular):
                raise PymanError(f"invalid destination: {_quote(dest.target)} must be a "
                                 "directory or a regular file")
        src_target = src.target
        if to_parent and src.is_dir and _is_dot(src_target):
            src_target = ct.go_dir(src_target)
        if not to_stdout and src.is_dir and not dest.is_dir:
            raise PymanError("destination must be a directory when copying a directory")
        where = side.where(src_target)
        keep, name = _naming(src_target, src.is_dir, to_parent, base)
        get = ct.GetOptions(keep_dir_names=keep, name=name,
                            chown=self._user_ids(side) if to_stdout else None,
                            excludes=() if where.mount else ct.ROOT_EXCLUDES,
                            ignore_unreadable=side.target is not None)
        if to_stdout:
            def produce() -> object:
                with os.fdopen(os.dup(stdout_fd), "wb") as out:
                    _get(where.path, out, get)
                return None

            side.run(where, produce, None, writable=False)
            return
        rename = {name: base} if (not src.is_dir and not dest.is_dir) or to_parent else {}
        put_dir = dest.target if dest.is_dir else ct.go_dir(dest.target)
        put = ct.PutOptions(rename=rename, overwrite=self.overwrite, side="host")
        r, w = os.pipe()

        def child() -> object:
            with os.fdopen(w, "wb") as out:
                _get(where.path, out, get)
            return None

        def extract() -> object:
            with os.fdopen(r, "rb") as raw:
                ct.extract_tar(raw, "/", put)  # in put_dir, its root
            return None

        def parent() -> None:
            host_put(put_dir, extract, r)

        side.run(where, child, parent, writable=False, close_in_parent=w, close_in_child=r)

    # -- host -> container ----------------------------------------------------------------
    def _in(self, hpath: str, side: ContainerSide, cpath: str, stdin: IO[bytes] | None) -> None:
        from_stdin = hpath == "-"
        host = self._host("/dev/stdin" if from_stdin else hpath)
        if not host.exists:
            raise PymanError(f"{_quote(hpath)} could not be found on the host: {host.error}")
        base, dest, to_parent = self._dest_in(side, cpath, from_stdin)
        host_target = host.target
        if to_parent and host.is_dir and _is_dot(host_target):
            host_target = ct.go_dir(host_target)
        if from_stdin:
            if not dest.is_dir:
                raise PymanError("destination must be a directory when copying from stdin")
            if stdin is None:
                raise PymanError("no archive on stdin")
            from pyman.engine.copy.stdin import spooled_archive

            spool = spooled_archive(stdin)
        elif host.is_dir and not dest.is_dir:
            raise PymanError("destination must be a directory when copying a directory")
        keep, name = _naming(host_target, host.is_dir, to_parent, base)
        rename = {name: base} if (not host.is_dir and not dest.is_dir) or to_parent else {}
        put_dir = dest.target if dest.is_dir else ct.go_dir(dest.target)
        where = side.where(put_dir)
        put = ct.PutOptions(rename={} if from_stdin else rename, overwrite=self.overwrite,
                            chown=self._user_ids(side) if self.archive else None,
                            keep_owners=True)
        get = ct.GetOptions(keep_dir_names=keep, name=name, as_userns=not self.archive)
        r, w = os.pipe()

        def child() -> object:
            with os.fdopen(r, "rb") as raw:
                ct.extract_tar(raw, where.path, put)
            return None

        def parent() -> None:
            try:
                with os.fdopen(w, "wb") as out:
                    if from_stdin:
                        spool.feed(out)
                    else:
                        ct.write_tar(host_target, out, get)
            except BrokenPipeError:
                pass  # the child stopped reading: it says why

        try:
            side.run(where, child, parent, writable=True, close_in_parent=r, close_in_child=w)
        finally:
            if from_stdin:
                spool.close()

    def in_container(self, key: str, child: Work, *, writable: bool) -> None:
        """Run ``child`` with the (not running) container's filesystem as its root; what
        it writes lands in the container's upper dir (build's COPY and ADD)."""
        side = ContainerSide(self.paths, key)
        side.hold()
        try:
            side.run(side.where("/"), child, None, writable=writable)
        finally:
            side.release()

    # -- container -> container -----------------------------------------------------------
    def _between(self, a: ContainerSide, s_path: str, b: ContainerSide, d_path: str) -> None:
        src = self._source_in(a, s_path)
        base, dest, to_parent = self._dest_in(b, d_path, False)
        if src.is_dir and not dest.is_dir:
            raise PymanError("destination must be a directory when copying a directory")
        src_target = src.target
        if to_parent and src.is_dir and _is_dot(src_target):
            src_target = ct.go_dir(src_target)
        keep, name = _naming(src_target, src.is_dir, to_parent, base)
        rename = {name: base} if (not src.is_dir and not dest.is_dir) or to_parent else {}
        put_dir = dest.target if dest.is_dir else ct.go_dir(dest.target)
        s_where, d_where = a.where(src_target), b.where(put_dir)
        get = ct.GetOptions(keep_dir_names=keep, name=name, chown=self._user_ids(a),
                            excludes=() if s_where.mount else ct.ROOT_EXCLUDES,
                            ignore_unreadable=a.target is not None)
        put = ct.PutOptions(rename=rename, overwrite=self.overwrite, keep_owners=True,
                            chown=self._user_ids(b) if self.archive else None)
        r, w = os.pipe()

        def reader() -> object:
            with os.fdopen(w, "wb") as out:
                _get(s_where.path, out, get)
            return None

        def writer() -> object:
            with os.fdopen(r, "rb") as raw:
                ct.extract_tar(raw, d_where.path, put)
            return None

        def into_b() -> None:
            b.run(d_where, writer, None, writable=True, close_in_parent=r)

        a.run(s_where, reader, into_b, writable=False, close_in_parent=w, close_in_child=r)


def _naming(target: str, is_dir: bool, to_parent: bool, base: str) -> tuple[bool, str]:
    """(whether a directory's own name leads its entries, the top entry's name): "dir/."
    is the content; the root itself is its content too, under the new name if any."""
    name = ct.go_base(target)
    if name == "/":
        return (True, base) if to_parent else (False, ".")
    return is_dir and name != ".", name


def _get(path: str, out: IO[bytes], opts: ct.GetOptions) -> None:
    """A container's side of a copy out: a reader that stops early has said why."""
    try:
        ct.write_tar(path, out, opts)
    except BrokenPipeError:
        pass
    except OSError as exc:
        raise PymanError(f"copying from container: {_quote(path)}: {ct.os_message(exc)}") from None
