"""cp's way into a container: a forked child whose root directory is the container's
filesystem (or the volume or bind mount a path of a stopped container falls on), so no path,
symlink or ``..`` leads out of it.

- running: the child joins the user namespace of the container's init (the container's own
  with keep-id, so owners are the container's) and then its mount namespace, whose root is
  the container's root with volumes and binds in place;
- stopped, a path on a volume or bind mount (Podman's lexical match of the mount points,
  the deepest first): a new fully mapped user and mount namespace, chrooted into the
  volume's ``_data`` or the bind's source; the rest of the path is looked up there;
- otherwise stopped: the overlay mounted on the container's idle ``merged`` dir (read-only
  without upper/workdir to read) in a new user and mount namespace, chrooted there.

Everything the child uses once its root is the container's must be imported before: imports
are sealed then (result_pipe.seal_imports), as the image's python would be found. What it
reports is JSON, checked by the parent (rootless/result_pipe.py): never pickle.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyman.config import Paths
from pyman.errors import ContainerNotFoundError, PymanError
from pyman.rootless import result_pipe

Work = Callable[[], object]


@dataclass
class Where:
    """A container path as the child will see it: ``path`` inside the child's root, and
    ``prefix``, the container path of that root ("/" unless a volume or bind mount)."""
    path: str
    prefix: str
    mount: str  # "" the container's root | the host dir of a volume or bind mount
    inner: str = "/"  # the prefix's path inside the root ("/name": a bind-mounted file)

    def outside(self, target: str) -> str:
        """A path inside the child's root as the container sees it."""
        if not self.mount:
            return target
        from pyman.engine.copy.tar import preserve_base

        rest = os.path.normpath(target)[len(self.inner.rstrip("/")):]
        return preserve_base(target, os.path.normpath(self.prefix + "/" + rest.lstrip("/")))


@dataclass
class _Init:
    pid: int
    pid_start: int | None


class ContainerSide:
    """One container, for cp: finds it, and runs children in its root."""

    def __init__(self, paths: Paths, key: str) -> None:
        from pyman.storage.containers import ContainerStore

        self.paths = paths
        self.key = key
        self.store = ContainerStore(paths.containers, paths.run_containers)
        try:
            self.c = self.store.find(key)
        except ContainerNotFoundError:
            raise ContainerNotFoundError(f'container "{key}" does not exist') from None
        self.target: Any = None
        self._lock: Any = None
        self.ids: tuple[int, int] | None = None  # its user's uid/gid, once learnt
        self.refresh()

    def refresh(self) -> None:
        """Is it running (and where)? Checked again under the lock for a stopped one. A
        paused one counts as running: its rootfs is mounted (in its monitor's namespace),
        and joining a frozen process's namespaces works."""
        from pyman.engine.containers.exec import ExecService
        from pyman.procinfo import same_process

        try:
            self.target = ExecService(self.paths).target(self.key)
        except ContainerNotFoundError:
            raise
        except PymanError:
            st = self.store.state(self.c.id)
            alive = same_process(st.monitor_pid, st.monitor_start, st.boot_id)
            self.target = _Init(st.pid, st.pid_start) \
                if st.status == "paused" and alive and st.pid > 0 else None

    def hold(self) -> None:
        """A stopped container's lock, held until ``release``: it does not start under us
        (start takes it)."""
        if self.target is None and self._lock is None:
            self._lock = self.store.lock(self.c.id)
            self._lock.__enter__()
            self.refresh()
            if self.target is not None:  # started meanwhile: its namespaces, not the lock
                self.release()

    def release(self) -> None:
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None

    def absolute(self, path: str) -> str:
        """A container path made absolute against the working dir, its "/" or "/." kept."""
        from pyman.engine.copy.tar import preserve_base

        if path.startswith("/"):
            full = os.path.normpath(path)
        else:
            full = os.path.normpath(os.path.join("/", self.c.workdir or "/", path))
        return preserve_base(path, full.replace("//", "/"))

    def where(self, path: str) -> Where:
        """Where the child finds the absolute container ``path``."""
        if self.target is not None:
            return Where(path, "/", "")
        from pyman.storage.mount_spec import MountSpec
        from pyman.storage.volumes import VolumeStore

        clean = os.path.normpath(path)
        mounts = [MountSpec.from_json(m) for m in self.c.mounts]
        search = clean
        while True:
            for m in mounts:
                if os.path.normpath(m.destination) != search or m.type not in ("volume", "bind"):
                    continue
                src = str(VolumeStore(self.paths.volumes).data_dir(m.source)) \
                    if m.type == "volume" else m.source
                rest = clean[len(search):] if search != "/" else clean
                from pyman.engine.copy.tar import preserve_base

                inner = "/"
                if m.type == "bind" and not os.path.isdir(src):  # a file: its dir as root
                    src, name = os.path.split(os.path.normpath(src))
                    inner = "/" + name
                return Where(preserve_base(path, inner.rstrip("/") + "/" + rest.lstrip("/")
                                           if rest else inner), search, src, inner)
            if search == "/":
                return Where(path, "/", "")
            search = os.path.dirname(search)

    def run(self, where: Where, child: Work, parent: Work | None, *, writable: bool,
            close_in_parent: int = -1, close_in_child: int = -1,
            keep_in_child: tuple[int, ...] | None = None) -> object:
        """Run ``child`` in the root ``where`` names and ``parent`` here meanwhile; returns
        the child's (JSON) result. The child's error wins (it is why the parent's side
        failed). ``keep_in_child``: the only descriptors (besides stdio and its own) the
        child keeps in a running container (see fork; a stopped one's mount still needs
        what it inherits)."""
        if self.target is not None:
            return self._run_running(child, parent, close_in_parent, close_in_child,
                                     keep_in_child)
        if where.mount:
            mount = where.mount

            def enter_dir() -> None:
                os.chdir(mount)
                result_pipe.seal_imports()
                os.chroot(".")
                os.chdir("/")

            return fork(enter_dir, child, parent, True, close_in_parent, close_in_child)
        from pyman.storage.layers import LayerStore

        layers = [str(LayerStore(self.paths.layers).diff(d)) for d in reversed(self.c.layers)]
        cdir = str(self.store.dir(self.c.id))
        driver, program = self.c.storage_driver, self.paths.mount_program

        def enter_mounted() -> None:
            _mount_and_chroot(cdir, layers, writable, driver, program)

        return fork(enter_mounted, child, parent, True, close_in_parent, close_in_child)

    def _run_running(self, child: Work, parent: Work | None, close_in_parent: int,
                     close_in_child: int, keep_in_child: tuple[int, ...] | None) -> object:
        from pyman.procinfo import start_time

        init, init_start = self.target.pid, self.target.pid_start
        fds: list[int] = []
        try:
            for kind in ("user", "mnt"):
                fds.append(os.open(f"/proc/{init}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            for fd in fds:
                os.close(fd)
            raise PymanError(f"container {self.c.name} stopped meanwhile") from None
        if start_time(init) != init_start:
            for fd in fds:
                os.close(fd)
            raise PymanError(f"container {self.c.name} stopped meanwhile")
        user_fd, mnt_fd = fds

        def enter() -> None:
            from pyman.rootless import libc
            from pyman.rootless.nsenter import join

            join([user_fd])
            result_pipe.seal_imports()
            libc.setns(mnt_fd, 0)  # root and cwd: the container's root
            os.close(mnt_fd)
            os.chdir("/")

        try:
            return fork(enter, child, parent, False, close_in_parent, close_in_child,
                        None if keep_in_child is None else (*keep_in_child, *fds))
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass


def host_put(put_dir: str, child: Work, close_in_parent: int) -> object:
    """Run ``child`` (an extraction on the host) in a forked child confined to ``put_dir``:
    in a user namespace of the user's own ids alone, chrooted there, as Podman's copier.
    A running container that shares the dir through a bind mount may swap a directory for
    a symlink under us: in the chroot it still leads into ``put_dir`` only."""
    uid, gid = os.getuid(), os.getgid()

    def enter() -> None:
        from pyman.rootless import libc

        libc.unshare(libc.CLONE_NEWUSER)
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"),
                           ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        os.chdir(put_dir)
        result_pipe.seal_imports()  # the dir may hold a container's files
        os.chroot(".")
        os.chdir("/")

    return fork(enter, child, None, False, close_in_parent, -1)


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


def _close_all_but(keep: set[int]) -> None:
    """Close every descriptor from 3 up but those in ``keep``."""
    low = 3
    for fd in sorted(f for f in keep if f >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def fork(enter: Callable[[], None], child: Work, parent: Work | None, new_userns: bool,
         close_in_parent: int, close_in_child: int,
         keep_in_child: tuple[int, ...] | None = None) -> object:
    """Fork; the child runs ``enter`` then ``child`` and reports its value; ``parent`` runs
    here meanwhile. With ``new_userns``, the child unshares a user and mount namespace that
    this side maps fully."""
    res_r, res_w = os.pipe()
    if new_userns:
        up_r, up_w = os.pipe()
        down_r, down_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports and exits
        os.close(res_r)
        if close_in_child >= 0:
            os.close(close_in_child)
        if keep_in_child is not None:
            # a service forks these while other requests' pipes and connections are open:
            # a child holding another copy's pipe end would keep that copy from ever
            # getting EPIPE when its client goes
            keep = {res_w, *keep_in_child, *((up_w, down_r) if new_userns else ())}
            _close_all_but(keep)

        def work() -> object:
            if new_userns:
                from pyman.rootless import libc
                from pyman.rootless.enter import child_enter

                os.close(up_r)
                os.close(down_w)
                child_enter(libc.CLONE_NEWNS, up_w, down_r)
            enter()
            try:
                return child()
            except tarfile.TarError as exc:  # a bad archive: one line, as below
                raise PymanError(f"cp: broken archive: {exc}") from None

        result_pipe.report(res_w, work, plain_oserror=True)
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
    if not data:
        raise failure or PymanError(
            "cp: the helper in the container's namespaces died without reporting")
    value = result_pipe.decode(data)  # the child's error wins: why the parent's side failed
    if failure is not None:
        if isinstance(failure, tarfile.TarError):
            raise PymanError(f"cp: broken archive: {failure}")
        raise failure
    return value
