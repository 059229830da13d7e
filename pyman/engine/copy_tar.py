"""cp's tar streams, both sides: what a helper inside a container's root writes or extracts,
and what pyman extracts on the host.

Owners are numbers only, on both sides: no name is looked up (in a container's root glibc
would load the NSS modules of the image's /etc/nsswitch.conf, i.e. run the image's code).
"""

from __future__ import annotations

import os
import stat
import tarfile
from typing import IO

from pyman.errors import PymanError


def not_found(path: str, where: str) -> PymanError:
    return PymanError(f'"{path}" could not be found on {where}: no such file or directory')


def top_name(src: str) -> str:
    """The name ``src`` has in the archive: its last component as given (a symlink's own
    name); "." for a directory's content (``dir/.``, ``/``)."""
    if src.endswith(("/.", "/./")) or src in (".", "./"):
        return "."
    return os.path.basename(os.path.normpath(src)) or "."


def write_tar(src: str, out: IO[bytes], chown: tuple[int, int] | None = None,
              where: str = "the host") -> None:
    """``src`` as a tar stream: a final symlink is followed (as Podman does), links inside a
    directory stay links; ``dir/.`` is the directory's content. Owners are numbers only."""
    top = top_name(src)
    try:
        real = os.path.realpath(src)
        os.stat(real)
    except OSError:
        raise not_found(src, where) from None
    links: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        if top == ".":
            for entry in sorted(os.listdir(real)):
                _add(tf, os.path.join(real, entry), entry, chown, links)
        else:
            _add(tf, real, top, chown, links)


def _add(tf: tarfile.TarFile, path: str, arcname: str, chown: tuple[int, int] | None,
         links: dict[tuple[int, int], str]) -> None:
    """One entry (and a directory's content) from lstat alone. Not tarfile.add: its
    gettarinfo looks owners' names up, and in the container's root glibc would load the
    NSS modules the image's /etc/nsswitch.conf names, running the image's code."""
    st = os.lstat(path)
    info = tarfile.TarInfo(arcname)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = chown if chown is not None else (st.st_uid, st.st_gid)
    info.mtime = int(st.st_mtime)
    mode = st.st_mode
    if stat.S_ISREG(mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            info.type, info.linkname = tarfile.LNKTYPE, links[key]
            tf.addfile(info)
            return
        if st.st_nlink > 1:
            links[key] = arcname
        # no blocking open: a running container may swap the file for a FIFO meanwhile
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            now = os.fstat(fd)
            if not stat.S_ISREG(now.st_mode):
                raise PymanError(f"{path} changed while it was copied")
            info.size = now.st_size
            tf.addfile(info, f)
        return
    if stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
        tf.addfile(info)
        for entry in sorted(os.listdir(path)):
            _add(tf, os.path.join(path, entry), f"{arcname}/{entry}", chown, links)
        return
    if stat.S_ISLNK(mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return  # a socket: tar has no such entry (tarfile.add skips them too)
    tf.addfile(info)


def _safe_name(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PymanError(f"refusing archive member {name!r}: it points out of the destination")
    return "/".join(parts)


def _renamed(name: str, rename: tuple[str, str] | None) -> str:
    if rename is None:
        return name
    old, new = rename
    if name == old:
        return new
    if name.startswith(old + "/"):
        return new + name[len(old):]
    return name


def extract_tar(stream: IO[bytes], dest_dir: str, rename: tuple[str, str] | None = None,
                chown: tuple[int, int] | None = None) -> None:
    """Extract into ``dest_dir``: ``rename`` (old top name, new) renames the top entry;
    ``chown`` sets every owner (root in the container's namespace); without it, owners are
    whoever extracts (the user, on the host). A member whose path would resolve outside
    ``dest_dir`` (``..``, or through a symlink the archive made) is refused."""
    base = os.path.realpath(dest_dir)
    devices_ok = os.geteuid() == 0 and chown is not None
    with tarfile.open(fileobj=stream, mode="r|") as tf:
        for member in tf:
            name = _safe_name(_renamed(member.name, rename))
            if not name:
                continue
            target = os.path.join(base, name)
            parent = os.path.realpath(os.path.dirname(target))
            if parent != base and not parent.startswith(base + "/"):
                raise PymanError(f"refusing archive member {member.name!r}: it points out of "
                                 "the destination")
            if member.islnk():
                link = _safe_name(_renamed(member.linkname, rename))
                member.linkname = os.path.join(base, link)
            if (member.ischr() or member.isblk() or member.isfifo()) and not devices_ok:
                continue  # only root in the container's namespace may make these
            if chown is not None:
                member.uid, member.gid = chown
            member.name = name
            if os.path.lexists(target) and not os.path.isdir(target) or \
                    os.path.islink(target):
                os.unlink(target)  # replaced, as cp does (never followed)
            tf.extract(member, base, set_attrs=True, numeric_owner=True)
