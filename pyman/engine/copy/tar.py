"""cp's tar streams, both sides: what a helper inside a container's root writes or extracts,
and what pyman writes or extracts on the host (Podman's copier.Get and copier.Put rules).

Owners are numbers only, on both sides: no name is looked up (in a container's root glibc
would load the NSS modules of the image's /etc/nsswitch.conf, i.e. run the image's code).
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from dataclasses import dataclass, field
from typing import IO

from pyman.errors import PymanError

MAX_LINKS = 16  # final symlinks followed, as copier does
# what a copy out of a container's root leaves out, as Podman (copier's Excludes)
ROOT_EXCLUDES = ("/dev", "/proc", "/sys")
NOBODY = 65534  # what a user namespace shows for an id it does not map


def go_base(path: str) -> str:
    """Go's filepath.Base: the last element, trailing slashes ignored ("." for "")."""
    stripped = path.rstrip("/")
    if not stripped:
        return "/" if path else "."
    return stripped.rsplit("/", 1)[-1]


def go_dir(path: str) -> str:
    """Go's filepath.Dir: everything but the last element, cleaned."""
    head = path[:path.rfind("/") + 1] if "/" in path else ""
    return os.path.normpath(head) if head else "."


def preserve_base(original: str, resolved: str) -> str:
    """Keep a trailing "/" or "/." of ``original`` on ``resolved`` (Podman's
    PreserveBasePath: they decide what is copied and where)."""
    if original.endswith("/"):
        return resolved if resolved.endswith("/") else resolved + "/"
    if original.endswith("/."):
        if resolved.endswith("/"):
            return resolved + "."
        return resolved if resolved.endswith("/.") else resolved + "/."
    return resolved


def os_message(exc: OSError) -> str:
    """An OSError as Go words it: lower case, no errno number."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


# -- writing (copier.Get) -------------------------------------------------------------------

@dataclass
class GetOptions:
    keep_dir_names: bool = True  # a directory's own name leads its entries ("dir/." does not)
    chown: tuple[int, int] | None = None  # every entry's owner
    excludes: tuple[str, ...] = ()  # absolute paths left out (with what is below them)
    # owners as the user's namespace shows them (the host's side of `cp -a=false`): the
    # user's own uid/gid are root there, anything else is nobody
    as_userns: bool = False
    name: str = ""  # the top entry's name ("": the item's own last component)
    # skip what cannot be read (a running container's files of ids its namespace does not
    # map, e.g. the host's ttys), as Podman does
    ignore_unreadable: bool = False
    # the container's root entry as Docker's overlay2 shows it, writable by its owner (its
    # upper dir is made 0755): from an image whose root is 0555, a client that is not root
    # could not fill the directory it made for it (docker cp CTR:/ dest)
    root_writable: bool = False
    links: dict[tuple[int, int], str] = field(default_factory=dict)


def _excluded(path: str, excludes: tuple[str, ...]) -> bool:
    norm = os.path.normpath(path)
    return any(norm == e or norm.startswith(e + "/") for e in excludes)


def _follow(item: str) -> str:
    """``item`` with its final symlinks followed (up to MAX_LINKS; a dead end is an error);
    the kernel follows the ones on the way."""
    for _ in range(MAX_LINKS):
        st = os.lstat(item)
        if not stat.S_ISLNK(st.st_mode):
            return item
        target = os.readlink(item)
        item = target if target.startswith("/") else os.path.join(os.path.dirname(item), target)
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), item)


def write_tar(item: str, out: IO[bytes], opts: GetOptions | None = None) -> None:
    """``item`` as a tar stream. A final symlink is followed and the entry keeps the link's
    name; links inside a directory stay links; ``dir/.`` (keep_dir_names False) is the
    directory's content. Owners are numbers only. Below the item everything is opened
    relative to its directory's descriptor without following links: something swapping a
    directory for a symlink meanwhile (a running container sharing the dir) does not lead
    the walk elsewhere."""
    opts = opts or GetOptions()
    name = opts.name or go_base(item)
    path = os.path.normpath(_follow(item))
    is_dir = stat.S_ISDIR(os.lstat(path).st_mode)
    if _excluded(path, opts.excludes):
        if not is_dir:
            raise OSError(errno.ENOENT, "copied no items: no such file or directory")
        path = ""  # an empty archive, as Podman's
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        if not path:
            return
        parent, leaf = os.path.split(path)
        whole = is_dir and not opts.keep_dir_names  # "dir/.": the content alone
        fd = os.open(path if whole or not leaf else parent or ".",
                     os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if whole:
                _contents(tf, fd, path, "", opts)
            elif not leaf:  # the root itself
                _emit(tf, fd, os.fstat(fd), path, name, opts,
                      0o200 if opts.root_writable else 0)
            else:
                _add(tf, fd, leaf, path, name, opts)
        finally:
            os.close(fd)


def _header(st: os.stat_result, arcname: str, opts: GetOptions) -> tarfile.TarInfo:
    """An entry from stat alone. Not tarfile.add: its gettarinfo looks owners' names up,
    and in the container's root glibc would load the NSS modules the image's
    /etc/nsswitch.conf names, running the image's code."""
    info = tarfile.TarInfo(arcname)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = opts.chown if opts.chown is not None else (st.st_uid, st.st_gid)
    if opts.as_userns:
        info.uid = 0 if st.st_uid == os.getuid() else NOBODY
        info.gid = 0 if st.st_gid == os.getgid() else NOBODY
    info.mtime = int(st.st_mtime)
    return info


def _emit(tf: tarfile.TarFile, fd: int, st: os.stat_result, path: str, arcname: str,
          opts: GetOptions, add_mode: int = 0) -> None:
    """A regular file or a directory (with its content) opened as ``fd``."""
    info = _header(st, arcname, opts)
    info.mode |= add_mode
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        tf.addfile(info)
        _contents(tf, fd, path, arcname, opts)
        return
    if not stat.S_ISREG(st.st_mode):
        raise PymanError(f"{path} changed while it was copied")
    key = (st.st_dev, st.st_ino)
    if st.st_nlink > 1 and key in opts.links:
        info.type, info.linkname = tarfile.LNKTYPE, opts.links[key]
        tf.addfile(info)
        return
    if st.st_nlink > 1:
        opts.links[key] = arcname
    info.size = st.st_size
    with os.fdopen(os.dup(fd), "rb") as f:
        tf.addfile(info, f)


def _contents(tf: tarfile.TarFile, dir_fd: int, path: str, prefix: str,
              opts: GetOptions) -> None:
    try:
        entries = sorted(os.listdir(dir_fd))
    except PermissionError:
        if not opts.ignore_unreadable:
            raise
        return
    for entry in entries:
        _add(tf, dir_fd, entry, os.path.join(path, entry),
             f"{prefix.rstrip('/')}/{entry}" if prefix else entry, opts)  # "/": "/x"


def _add(tf: tarfile.TarFile, dir_fd: int, leaf: str, path: str, arcname: str,
         opts: GetOptions) -> None:
    """Entry ``leaf`` of the directory ``dir_fd`` (and a directory's content)."""
    if _excluded(path, opts.excludes):
        return
    st = os.stat(leaf, dir_fd=dir_fd, follow_symlinks=False)
    mode = st.st_mode
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        # no blocking open: a running container may swap the file for a FIFO meanwhile
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | \
            (os.O_DIRECTORY if stat.S_ISDIR(mode) else 0)
        try:
            fd = os.open(leaf, flags, dir_fd=dir_fd)
        except PermissionError:
            if opts.ignore_unreadable:
                return
            raise
        try:
            now = os.fstat(fd)
            if stat.S_IFMT(now.st_mode) != stat.S_IFMT(mode):
                raise PymanError(f"{path} changed while it was copied")
            _emit(tf, fd, now, path, arcname, opts)
        finally:
            os.close(fd)
        return
    info = _header(st, arcname, opts)
    if stat.S_ISLNK(mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(leaf, dir_fd=dir_fd)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return  # a socket: tar has no such entry (copier skips them too)
    tf.addfile(info)


# -- extracting (copier.Put) ----------------------------------------------------------------

@dataclass
class PutOptions:
    rename: dict[str, str] = field(default_factory=dict)  # top name -> new name
    chown: tuple[int, int] | None = None  # every entry's owner; None: the archive's
    overwrite: bool = False  # --overwrite: a directory may replace a file and vice versa
    keep_owners: bool = False  # chown to the archive's owners (else whoever extracts)
    side: str = "container"  # for messages: "copying to <side>"


def renamed(rename: dict[str, str], name: str) -> str:
    """copier's handleRename: the name itself, else its longest renamed leading part."""
    if name in rename:
        return rename[name]
    parts = name.split("/")
    for i in range(len(parts) - 1, 0, -1):
        head = "/".join(parts[:i])
        if head in rename:
            return "/".join([rename[head], *parts[i:]])
    return name


def _safe_name(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PymanError(f"refusing archive member {name!r}: it points out of the destination")
    return "/".join(parts)


class _Put:
    def __init__(self, dest_dir: str, opts: PutOptions) -> None:
        self.base = os.path.realpath(dest_dir)
        self.opts = opts
        self.dir_times: list[tuple[str, int, int]] = []

    def fail(self, path: str, op: str, exc: OSError) -> PymanError:
        return PymanError(
            f'copying to {self.opts.side}: error creating "{path}": {op} {path}: '
            f"{os_message(exc)}"
            + (" (--overwrite replaces a directory with a file and a file with a directory)"
               if exc.errno == errno.EEXIST else ""))

    def inside(self, path: str, member: str) -> None:
        parent = os.path.realpath(os.path.dirname(path))
        if parent != self.base and not parent.startswith(self.base.rstrip("/") + "/"):
            raise PymanError(f"refusing archive member {member!r}: it points out of the "
                             "destination")

    def make_parents(self, path: str, member: str) -> None:
        parent = os.path.dirname(path)
        if os.path.isdir(parent):  # a link on the way is followed (in a chroot: inside it)
            return
        if os.path.lexists(parent):
            raise PymanError(f"refusing archive member {member!r}: {parent} is not a "
                             "directory")
        self.make_parents(parent, member)
        os.mkdir(parent, 0o755)
        if self.opts.chown is not None:
            os.lchown(parent, *self.opts.chown)

    def clear(self, path: str, op: str, want_dir: bool) -> bool:
        """Make way for a new entry at ``path``. False: an existing directory stays (and
        takes a directory's content)."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return True
        is_dir = stat.S_ISDIR(st.st_mode)
        if is_dir and want_dir:
            return False
        if is_dir != want_dir and not self.opts.overwrite:
            raise self.fail(path, op, OSError(errno.EEXIST, "file exists"))
        if is_dir:
            import shutil

            shutil.rmtree(path)
        else:
            os.unlink(path)
        return True

    def member(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        name = _safe_name(renamed(self.opts.rename, m.name))
        if not name:
            return
        path = os.path.join(self.base, name)
        self.inside(path, m.name)
        self.make_parents(path, m.name)
        if m.isdev():
            return  # only the kernel's root may make devices
        op = "mkdir" if m.isdir() else "open"
        owner = self.opts.chown if self.opts.chown is not None else \
            ((m.uid, m.gid) if self.opts.keep_owners else None)
        mode = m.mode & 0o7777
        fresh = self.clear(path, op, m.isdir())  # False: an existing directory, merged into
        if m.isdir():
            if fresh:
                os.mkdir(path, 0o700)
            self.dir_times.append((path, mode, int(m.mtime)))
            # writable until its content is in (finish sets the mode)
            _set(path, os.O_DIRECTORY, owner, 0o700 | mode, None)
        elif m.isreg():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
            src = tf.extractfile(m)
            with os.fdopen(fd, "wb") as f:
                while src is not None and (chunk := src.read(1 << 20)):
                    f.write(chunk)
                f.flush()
                _set_fd(fd, owner, mode, int(m.mtime))
        elif m.issym():
            os.symlink(m.linkname, path)
            if owner is not None:
                os.lchown(path, *owner)
            os.utime(path, (m.mtime, m.mtime), follow_symlinks=False)
        elif m.islnk():  # the inode's owner and mode are its first name's
            target = os.path.join(self.base, _safe_name(renamed(self.opts.rename, m.linkname)))
            self.inside(target, m.linkname)
            os.link(target, path, follow_symlinks=False)
        elif m.isfifo():
            os.mkfifo(path, 0o600)
            _set(path, os.O_NONBLOCK, owner, mode, int(m.mtime))

    def finish(self) -> None:
        for path, mode, mtime in reversed(self.dir_times):
            _set(path, os.O_DIRECTORY, None, mode, mtime)


def _set(path: str, kind: int, owner: tuple[int, int] | None, mode: int,
         mtime: int | None) -> None:
    """Owner, mode and time of what was just made at ``path``, through a descriptor opened
    without following a symlink: something racing us (a running container writing to a
    bind-mounted host dir) cannot redirect them to another file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | kind)
    try:
        _set_fd(fd, owner, mode, mtime)
    finally:
        os.close(fd)


def _set_fd(fd: int, owner: tuple[int, int] | None, mode: int, mtime: int | None) -> None:
    if owner is not None:
        os.fchown(fd, *owner)
    os.fchmod(fd, mode)  # after chown, which clears setuid bits
    if mtime is not None:
        os.utime(fd, (mtime, mtime))


def extract_tar(stream: IO[bytes], dest_dir: str, opts: PutOptions | None = None) -> None:
    """Extract into ``dest_dir`` as copier.Put does: ``rename`` renames the top entry, a file
    replaces a file, a directory merges into a directory, and a directory and a non-directory
    replace each other only with ``overwrite``. A member whose path would resolve outside
    ``dest_dir`` (``..``, or through a symlink the archive made) is refused."""
    put = _Put(dest_dir, opts or PutOptions())
    with tarfile.open(fileobj=stream, mode="r|") as tf:
        for m in tf:
            try:
                put.member(tf, m)
            except PymanError:
                raise
            except OSError as exc:
                path = os.path.join(put.base, _safe_name(renamed(put.opts.rename, m.name)))
                raise put.fail(path, "open", exc) from None
    put.finish()
