"""cp: copy files between a container and the host, both ways, or as tar on stdin/stdout.

Everything is a tar stream over a pipe between two processes. On the container's side, a
forked child whose root directory IS the container's filesystem, so no path, symlink or
``..`` can lead out of it:

- running container: the child joins the container's user namespace (via the monitor) and then
  its init's mount namespace, whose root is the container's root: volumes and binds are there;
- otherwise: the child enters a new fully mapped user and mount namespace, mounts the overlay
  (read-only and without workdir to read, with the container's upper dir to write) and
  chroots into it. The container's lock is held meanwhile, so it does not start under us.

The child reads or writes the tar as root of the user namespace: what it writes belongs to the
container's primary uid/gid (Podman's default ``--archive``), what it reads carries the ids as
the container sees them. On the host side pyman extracts as the user (so copies belong to the
user), refusing any member that would land outside the destination.

Nothing of the container's runs on the host's side: the child never looks an owner's name up
(copy_tar.py: numbers only, so glibc loads none of the image's NSS modules), imports nothing
once its root is the container's, and reports back as JSON, which the parent checks
(rootless/result_pipe.py): never pickle.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from pyman.config import Paths
from pyman.engine.copy_tar import extract_tar, not_found, top_name, write_tar
from pyman.errors import ContainerNotFoundError, PymanError
from pyman.rootless import result_pipe
from pyman.runtime.users import resolve_user  # imported here: the child cannot once inside

Work = Callable[[], None]

# Everything the child uses once its root is the container's must be imported before: from
# then on imports are sealed (result_pipe.seal_imports), as the image's python would be found.


@dataclass
class Location:
    container: str | None  # None: the host ("-": stdin/stdout)
    path: str


def parse_location(arg: str) -> Location:
    """``ctr:/path``, a host path (absolute or starting with ``.`` even with a colon in it),
    or ``-``."""
    if arg == "-" or arg.startswith(("/", ".")) or ":" not in arg:
        return Location(None, arg)
    name, _, path = arg.partition(":")
    return Location(name, path or "/")


def _first_member_is_dir(stream: IO[bytes]) -> tuple[bool, bytes]:
    """Peek at a tar stream's first header (512 bytes): is the top entry a directory?
    Returns the bytes read, to be put back in front."""
    head = b""
    while len(head) < 512:
        chunk = stream.read(512 - len(head))
        if not chunk:
            break
        head += chunk
    kind = head[156:157]
    if kind in (b"x", b"g"):  # a PAX header first: look past it
        size = int(head[124:136].strip(b"\0 ") or b"0", 8)
        extra = b""
        need = ((size + 511) // 512) * 512 + 512
        while len(extra) < need:
            chunk = stream.read(need - len(extra))
            if not chunk:
                break
            extra += chunk
        return extra[-512:][156:157] == b"5", head + extra
    return kind == b"5", head


class _Prefixed:
    """A read-only stream: ``head`` first, then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self.head = head
        self.stream = stream

    def read(self, n: int = -1) -> bytes:
        if self.head:
            data, self.head = (self.head, b"") if n < 0 or n >= len(self.head) else \
                (self.head[:n], self.head[n:])
            return data
        return self.stream.read(n)


# -- the container's side -------------------------------------------------------------------

def _container_user_ids(user: str) -> tuple[int, int]:
    try:
        u = resolve_user("/", user)
    except PymanError:
        return 0, 0
    return u.uid, u.gid


def _in_container_write(dest: str, stream: IO[bytes], top: str, src_is_dir: bool,
                        from_archive: bool, user: str, where: str) -> None:
    """In the container's root: put the tar ``stream`` at ``dest`` (Podman's rules)."""
    ids = _container_user_ids(user)
    dest = dest or "/"
    if os.path.isdir(dest):
        extract_tar(stream, dest, None, ids)
        return
    if from_archive:
        raise PymanError("destination must be a directory when copying from stdin")
    if os.path.lexists(dest) and src_is_dir:
        raise PymanError("destination must be a directory when copying a directory")
    parent = os.path.dirname(dest.rstrip("/")) or "/"
    if dest.endswith("/") or not os.path.isdir(parent):
        raise not_found(dest, where)
    name = os.path.basename(dest.rstrip("/"))
    if top == ".":
        os.mkdir(dest)
        os.chown(dest, *ids)
        extract_tar(stream, dest, None, ids)
    else:
        extract_tar(stream, parent, (top, name), ids)


class CopyService:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def copy(self, src: str, dst: str, stdin: IO[bytes] | None = None,
             stdout_fd: int = 1) -> None:
        s, d = parse_location(src), parse_location(dst)
        if (s.container is None) == (d.container is None):
            which = "must use just one container" if s.container else \
                "must specify one container"
            raise PymanError(f"invalid arguments {src}, {dst} you {which}")
        if s.container is not None:
            self._copy_out(s.container, s.path, d.path, stdout_fd)
        else:
            assert d.container is not None
            self._copy_in(s.path, d.container, d.path, stdin)

    # -- container -> host ------------------------------------------------------------
    def _copy_out(self, key: str, src: str, dest: str, stdout_fd: int) -> None:
        name = self._find(key).name
        where = f"container {name}"
        if dest == "-":
            def produce() -> None:
                with os.fdopen(os.dup(stdout_fd), "wb") as out:
                    write_tar(src, out, where=where)

            self._in_container(key, produce, None, writable=False)
            return
        dest_dir, rename_to, need_file = self._host_destination(dest)
        r, w = os.pipe()

        top = top_name(src)

        def child() -> None:
            try:
                with os.fdopen(w, "wb") as out:
                    write_tar(src, out, where=where)
            except BrokenPipeError:
                pass  # the parent stopped reading (a file cannot take a dir): it says why

        def parent() -> None:
            with os.fdopen(r, "rb") as raw:
                stream: Any = raw
                if need_file:
                    is_dir, head = _first_member_is_dir(raw)
                    if not head:
                        return  # the child failed before writing: it says why
                    if is_dir or top == ".":
                        raise PymanError(
                            "destination must be a directory when copying a directory")
                    stream = _Prefixed(head, raw)
                if rename_to is not None and top == ".":
                    os.mkdir(os.path.join(dest_dir, rename_to))
                    extract_tar(stream, os.path.join(dest_dir, rename_to))
                else:
                    extract_tar(stream, dest_dir, (top, rename_to) if rename_to else None)

        self._in_container(key, child, parent, writable=False, close_in_parent=w,
                           close_in_child=r)

    def _host_destination(self, dest: str) -> tuple[str, str | None, bool]:
        """(dir to extract into, new name of the top entry or None, whether the destination
        is an existing non-directory that only a file may replace)."""
        if os.path.isdir(dest):
            return dest, None, False
        parent = os.path.dirname(dest.rstrip("/")) or "."
        if dest.endswith("/") or not os.path.isdir(parent):
            raise not_found(dest, "the host")
        name = os.path.basename(dest.rstrip("/"))
        return parent, name, os.path.lexists(dest)

    # -- host -> container ------------------------------------------------------------
    def _copy_in(self, src: str, key: str, dest: str, stdin: IO[bytes] | None) -> None:
        c = self._find(key)
        where = f"container {c.name}"
        if src == "-":
            if stdin is None:
                raise PymanError("no archive on stdin")
            top, src_is_dir, from_archive = "", True, True
            stdin_fd = stdin.fileno()

            def child_archive() -> None:
                with os.fdopen(os.dup(stdin_fd), "rb") as raw:
                    _in_container_write(dest, raw, top, src_is_dir, True, c.user, where)

            self._in_container(key, child_archive, None, writable=True)
            return
        try:
            real = os.path.realpath(src)
            src_is_dir = os.path.isdir(real)
            os.stat(real)
        except OSError:
            raise not_found(src, "the host") from None
        top = top_name(src)
        from_archive = False
        r, w = os.pipe()

        def child() -> None:
            with os.fdopen(r, "rb") as raw:
                _in_container_write(dest, raw, top, src_is_dir, from_archive, c.user, where)

        def parent() -> None:
            try:
                with os.fdopen(w, "wb") as out:
                    write_tar(src, out)
            except BrokenPipeError:
                pass  # the child stopped reading: it says why

        self._in_container(key, child, parent, writable=True, close_in_parent=r,
                           close_in_child=w)

    # -- reaching the container's filesystem ------------------------------------------
    def _find(self, key: str) -> Any:
        from pyman.storage.containers import ContainerStore

        store = ContainerStore(self.paths.containers, self.paths.run_containers)
        try:
            return store.find(key)
        except ContainerNotFoundError:
            raise ContainerNotFoundError(f'container "{key}" does not exist') from None

    def _in_container(self, key: str, child: Work, parent: Work | None, *, writable: bool,
                      close_in_parent: int = -1, close_in_child: int = -1) -> None:
        """Run ``child`` with the container's filesystem as its root and ``parent`` here
        meanwhile; the child's error, if any, wins (it is why the parent's side failed)."""
        from pyman.engine.exec import ExecService
        from pyman.storage.containers import ContainerStore

        try:
            t = ExecService(self.paths).target(key)
        except PymanError as exc:
            if isinstance(exc, ContainerNotFoundError):
                raise
            t = None
        if t is not None:
            from pyman.rootless.nsenter import open_namespaces

            fds = open_namespaces(t.monitor_pid, ("user",))
            init, init_start = t.pid, t.pid_start

            def enter() -> None:
                from pyman.procinfo import start_time
                from pyman.rootless import libc
                from pyman.rootless.nsenter import join

                join(fds)
                mnt = os.open(f"/proc/{init}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
                if start_time(init) != init_start:
                    raise PymanError("the container stopped meanwhile")
                result_pipe.seal_imports()
                libc.setns(mnt, 0)  # root and cwd: the container's root
                os.chdir("/")

            try:
                _fork(enter, child, parent, None, close_in_parent, close_in_child)
            finally:
                for fd in fds:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            return
        store = ContainerStore(self.paths.containers, self.paths.run_containers)
        c = store.find(key)
        with store.lock(c.id):
            from pyman.storage.layers import LayerStore

            layers = [str(LayerStore(self.paths.layers).diff(d)) for d in reversed(c.layers)]
            cdir = str(store.dir(c.id))
            driver, program = c.storage_driver, self.paths.mount_program

            def enter_mounted() -> None:
                _mount_and_chroot(cdir, layers, writable, driver, program)

            _fork(enter_mounted, child, parent, "new", close_in_parent, close_in_child)


def _mount_and_chroot(cdir: str, layers: list[str], writable: bool, driver: str = "overlay",
                      mount_program: str = "") -> None:
    """In a new user and mount namespace: the container's overlay, as its root. Mounted on
    the container's own ``merged`` dir, idle while it is not running (the monitor mounts
    there in its own namespace), so nothing is left behind on the host."""
    from pyman.rootless import libc

    libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    target = os.path.join(cdir, "merged")
    os.makedirs(target, exist_ok=True)
    if writable or driver == "vfs":  # vfs: the container's own copy, made if need be
        from pyman.storage.rootfs import mount_rootfs

        mount_rootfs(layers, cdir, target, None, driver, mount_program)
    else:  # no upper and no workdir: nothing of the container's is written
        upper = os.path.join(cdir, "upper")
        lowers = ([upper] if os.path.isdir(upper) else []) + layers
        if len(lowers) == 1:
            libc.mount(lowers[0], target, None, libc.MS_BIND | libc.MS_REC)
        else:
            base = os.path.commonpath(lowers)
            os.chdir(base)  # mount data is one page: name the layers relative to it
            opts = "lowerdir=" + ":".join(os.path.relpath(p, base) for p in lowers) + \
                ",userxattr"
            libc.mount("overlay", target, "overlay", libc.MS_RDONLY, opts)
    os.chdir(target)
    result_pipe.seal_imports()
    os.chroot(".")
    os.chdir("/")


def _fork(enter: Work, child: Work, parent: Work | None, new_userns: str | None,
          close_in_parent: int, close_in_child: int) -> None:
    """Fork; the child runs ``enter`` then ``child``; ``parent`` runs here meanwhile. With
    ``new_userns``, the child unshares a user and mount namespace that this side maps."""
    res_r, res_w = os.pipe()
    if new_userns:
        up_r, up_w = os.pipe()
        down_r, down_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports and exits
        os.close(res_r)
        if close_in_child >= 0:
            os.close(close_in_child)

        def work() -> None:
            if new_userns:
                from pyman.rootless import libc
                from pyman.rootless.enter import child_enter

                os.close(up_r)
                os.close(down_w)
                child_enter(libc.CLONE_NEWNS, up_w, down_r)
            enter()
            try:
                child()
            except tarfile.TarError as exc:  # a bad archive on stdin: one line, as below
                raise PymanError(f"cp: broken archive: {exc}") from None

        result_pipe.report(res_w, work, send_value=False, plain_oserror=True)
    os.close(res_w)
    failure: BaseException | None = None
    try:
        if new_userns:
            from pyman.rootless.userns import host_id_maps, parent_map

            os.close(up_w)
            os.close(down_r)
            try:
                parent_map(pid, up_r, down_w, host_id_maps())
            finally:
                os.close(up_r)
                os.close(down_w)
        if close_in_parent >= 0:
            os.close(close_in_parent)
        if parent is not None:
            parent()
    except (PymanError, OSError, tarfile.TarError) as exc:
        failure = exc
    try:
        data = result_pipe.read_report(res_r)
    finally:
        os.waitpid(pid, 0)
    if data:  # the child's error wins: it is why the parent's side failed
        result_pipe.decode(data)
    elif failure is None:
        raise PymanError("cp: the helper in the container's namespaces died without reporting")
    if failure is not None:
        if isinstance(failure, tarfile.TarError):
            raise PymanError(f"cp: broken archive: {failure}")
        raise failure
