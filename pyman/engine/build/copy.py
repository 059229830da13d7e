"""COPY and ADD: what they read becomes a payload (a tar in a temp file) and the payload is
unpacked into the build container's root, whose overlay upper dir then becomes the layer.

The payload is written where the sources are: on the host for the context (after the ignore
file), or in a helper whose root is another stage's or image's filesystem (`--from`). Its first
member, `.pyman-plan`, says what each source is (a file or a directory's content) and its name;
the rest are the sources under `<n>/`. The unpacking runs with the build container's root as
its root (engine/copy/cp.py's helper), so where the destination goes (an existing directory or
not, symlinks in the image) is decided inside the image, never on the host.

Everything the helpers use is imported here, before they enter a container's root.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
import posixpath
import stat
import tarfile
import urllib.parse
from dataclasses import dataclass, field
from typing import IO, Any

from pyman.errors import PymanError
from pyman.runtime.users import resolve_user

PLAN = ".pyman-plan"
_GLOB = set("*?[")


@dataclass
class Payload:
    items: list[dict[str, Any]] = field(default_factory=list)  # {"kind", "name", "keep"}
    digest: str = ""  # of names, modes, link targets and contents: the cache's view


class _Writer:
    def __init__(self, tf: tarfile.TarFile, chmod: int | None) -> None:
        self.tf, self.chmod = tf, chmod
        self.sha = hashlib.sha256()
        self.links: dict[tuple[int, int], str] = {}

    def _note(self, *parts: object) -> None:
        self.sha.update(json.dumps([str(p) for p in parts]).encode())

    def add(self, path: str, arc: str, walk: Any = None, rel: str = "") -> None:
        """``path`` as ``arc``; ``walk(rel, is_dir)`` says whether an entry below is copied."""
        st = os.lstat(path)
        info = tarfile.TarInfo(arc)
        info.mode = self.chmod if self.chmod is not None else stat.S_IMODE(st.st_mode)
        info.uid, info.gid, info.mtime = st.st_uid, st.st_gid, int(st.st_mtime)
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
            self._note(arc, "d", info.mode)
            self.tf.addfile(info)
            for name in sorted(os.listdir(path)):
                sub = f"{rel}/{name}" if rel else name
                child = os.path.join(path, name)
                if walk is not None and not walk(sub, os.path.isdir(child) and
                                                 not os.path.islink(child)):
                    continue
                self.add(child, f"{arc}/{name}", walk, sub)
            return
        if stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
            self._note(arc, "l", info.linkname)
            self.tf.addfile(info)
            return
        if not stat.S_ISREG(st.st_mode):
            return  # devices, fifos and sockets are not copied from a context
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self.links:
            info.type, info.linkname = tarfile.LNKTYPE, self.links[key]
            self._note(arc, "h", info.linkname)
            self.tf.addfile(info)
            return
        if st.st_nlink > 1:
            self.links[key] = arc
        with open(path, "rb") as f:
            info.size = os.fstat(f.fileno()).st_size
            h = hashlib.sha256()
            reader = _Hashing(f, h)
            self.tf.addfile(info, reader)  # type: ignore[arg-type]
        self._note(arc, "f", info.mode, h.hexdigest())


class _Hashing:
    def __init__(self, f: IO[bytes], h: Any) -> None:
        self.f, self.h = f, h

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.h.update(data)
        return data


def _matches(root: str, pattern: str) -> list[str]:
    """Go filepath.Match per component: every path below ``root`` that ``pattern`` names."""
    found = [""]
    for part in [p for p in pattern.split("/") if p not in ("", ".")]:
        nxt = []
        for base in found:
            full = os.path.join(root, base) if base else root
            if not _GLOB & set(part):
                if os.path.lexists(os.path.join(full, part)):
                    nxt.append(f"{base}/{part}" if base else part)
                continue
            try:
                names = sorted(os.listdir(full))
            except OSError:
                continue
            nxt += [f"{base}/{n}" if base else n for n in names
                    if fnmatch.fnmatchcase(n, part)]
        found = nxt
    return found


def write_payload(root: str, sources: list[str], out: IO[bytes], *, excluded: Any = None,
                  walk_dir: Any = None, chmod: int | None = None, extract_tars: bool = False,
                  what: str = "COPY") -> Payload:
    """The sources (paths relative to ``root``, globs allowed) as a payload tar on ``out``.
    ``excluded(rel)``/``walk_dir(rel)`` are the ignore file's (context only)."""
    payload = Payload()
    real_root = os.path.realpath(root)
    chosen: list[tuple[str, str]] = []  # (rel, real path)
    for src in sources:
        if is_url(src):  # ADD's remote file: fetched while the payload is written
            chosen.append((src, ""))
            name = posixpath.basename(urllib.parse.urlsplit(src).path) or "download"
            payload.items.append({"kind": "file", "name": name})
            continue
        norm = os.path.normpath(src.lstrip("/")) if src.strip("/") else "."
        if norm == ".." or norm.startswith("../"):
            raise PymanError(f"{what} source {src!r} is outside the build context: "
                             "name a path inside it")
        rels = _matches(root, norm) if _GLOB & set(norm) else [norm]
        if excluded is not None:
            rels = [r for r in rels if r == "." or not excluded(r) or
                    (os.path.isdir(os.path.join(root, r)) and walk_dir(r))]
        if not rels:
            raise PymanError(f"{what} source {src!r}: no such file or directory in the "
                             "build context (or left out by the ignore file)")
        for rel in rels:
            full = os.path.join(root, rel) if rel != "." else root
            real = os.path.realpath(full)
            if real != real_root and not real.startswith(real_root.rstrip("/") + "/"):
                raise PymanError(f"{what} source {src!r} leads outside the build "
                                 "context (a symlink): name a path inside it")
            if not os.path.exists(real):
                raise PymanError(f"{what} source {src!r}: no such file or directory")
            chosen.append((rel, real))
            if os.path.isdir(real):
                payload.items.append({"kind": "dir", "name": os.path.basename(rel)})
            elif extract_tars and _is_archive(real):
                payload.items.append({"kind": "dir", "name": "", "keep": True, "tar": True})
            else:
                payload.items.append({"kind": "file", "name": os.path.basename(rel)})
    plan = json.dumps(payload.items).encode()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo(PLAN)
        info.size = len(plan)
        tf.addfile(info, io.BytesIO(plan))
        w = _Writer(tf, chmod)
        for n, ((rel, real), item) in enumerate(zip(chosen, payload.items, strict=True)):

            def walk(sub: str, is_dir: bool, base: str = rel) -> bool:
                if excluded is None:
                    return True
                path = sub if base == "." else f"{base}/{sub}"
                return not excluded(path) or (is_dir and walk_dir(path))

            if not real:
                _add_url(w, rel, str(n))
            elif item.get("tar"):
                _add_archive(w, real, str(n))
            else:
                w.add(real, str(n), walk)
    payload.digest = w.sha.hexdigest() if chosen else hashlib.sha256(plan).hexdigest()
    return payload


def is_url(src: str) -> bool:
    return src.startswith(("http://", "https://"))


def _add_url(w: _Writer, url: str, n: str) -> None:
    """ADD of an http(s) URL, as Buildah: one file, mode 0600 (or --chmod), owned by root
    (or --chown), its mtime the Last-Modified header's (else the epoch); never extracted."""
    import email.utils
    import shutil
    import tempfile
    import urllib.error
    import urllib.request

    try:
        resp = urllib.request.urlopen(url, timeout=60)  # noqa: S310 (http(s) only)
    except urllib.error.HTTPError as exc:
        raise PymanError(f"ADD {url}: invalid response status {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PymanError(f"ADD {url}: {reason}") from None
    with resp, tempfile.TemporaryFile() as spool:
        mtime = 0
        modified = resp.headers.get("Last-Modified")
        if modified:
            try:
                mtime = int(email.utils.parsedate_to_datetime(modified).timestamp())
            except (TypeError, ValueError):
                raise PymanError(f"ADD {url}: parsing last-modified time {modified!r}: not "
                                 "an HTTP date") from None
        h = hashlib.sha256()
        try:
            shutil.copyfileobj(_Hashing(resp, h), spool, 1 << 20)
        except OSError as exc:
            raise PymanError(f"ADD {url}: reading the response: {exc}") from None
        info = tarfile.TarInfo(n)
        info.size, info.mtime = spool.tell(), mtime
        info.mode = w.chmod if w.chmod is not None else 0o600
        spool.seek(0)
        w.tf.addfile(info, spool)
    w._note(n, "u", url, info.mode, mtime, h.hexdigest())


def _is_archive(path: str) -> bool:
    try:
        with tarfile.open(path, "r:*") as tf:
            return tf.next() is not None
    except (tarfile.TarError, OSError, EOFError):
        return False


def _add_archive(w: _Writer, path: str, n: str) -> None:
    """ADD of a local tar: its members (owners kept) under ``n/``."""
    w.tf.addfile(_dir_info(n))
    with tarfile.open(path, "r:*") as src:
        for member in src:
            parts = [p for p in member.name.split("/") if p not in ("", ".")]
            if ".." in parts or not parts:
                continue
            member.name = n + "/" + "/".join(parts)
            if member.islnk():
                member.linkname = n + "/" + member.linkname.lstrip("./")
            data = src.extractfile(member) if member.isreg() else None
            w.tf.addfile(member, data)
            w._note(member.name, member.type, member.mode, member.linkname, member.size)
            if data is not None:
                data.seek(0)
                w._note(hashlib.sha256(data.read()).hexdigest())


def _dir_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info


# -- in the build container's root ------------------------------------------------------------

def unpack(fd: int, dest: str, workdir: str, chown: str | None) -> None:
    """Unpack the payload on ``fd`` at ``dest`` (Docker's rules: a trailing slash, several
    sources or an existing directory make it a directory)."""
    if chown:
        u = resolve_user("/", chown)
        ids: tuple[int, int] | None = (u.uid, u.gid)
    else:
        ids = None
    # "dir/", ".", "dir/." and ".." name a directory (the workdir itself for "."), as Docker's
    dir_named = dest.endswith("/") or os.path.basename(dest) in (".", "..")
    if not dest.startswith("/"):
        dest = os.path.join(workdir or "/", dest)
    if dir_named:
        dest = os.path.normpath(dest).rstrip("/") + "/"
    with os.fdopen(fd, "rb") as raw, tarfile.open(fileobj=raw, mode="r|") as tf:
        targets: dict[str, str] = {}
        keep: set[str] = set()
        for m in tf:
            if m.name == PLAN:
                f = tf.extractfile(m)
                items = json.loads(f.read() if f else b"[]")
                as_dir = dest.endswith("/") or len(items) > 1 or os.path.isdir(dest) or \
                    any(i["kind"] == "dir" for i in items) and not os.path.lexists(dest)
                for n, item in enumerate(items):
                    if item["kind"] == "dir" or not as_dir:
                        targets[str(n)] = dest
                    else:
                        targets[str(n)] = os.path.join(dest, item["name"])
                    if item.get("keep"):
                        keep.add(str(n))
                continue
            top, _, rest = m.name.partition("/")
            if top not in targets:
                continue
            path = os.path.normpath(os.path.join(targets[top], rest) if rest else targets[top])
            owner = (m.uid, m.gid) if top in keep and ids is None else (ids or (0, 0))
            if not rest and m.isdir():  # the destination dir itself: made, never changed
                if not os.path.isdir(path):
                    _mkparents(path, owner)
                    os.mkdir(path, 0o755)
                    os.chown(path, *owner)
                continue
            _put(tf, m, path, owner, targets)


def _mkparents(path: str, owner: tuple[int, int]) -> None:
    parent = os.path.dirname(path)
    if parent and not os.path.isdir(parent):
        _mkparents(parent, owner)
        os.mkdir(parent, 0o755)
        os.lchown(parent, *owner)


def _put(tf: tarfile.TarFile, m: tarfile.TarInfo, path: str, owner: tuple[int, int],
         targets: dict[str, str]) -> None:
    _mkparents(path, owner)
    if m.isdir():
        if not os.path.isdir(path):
            if os.path.lexists(path):
                os.unlink(path)
            os.mkdir(path)
        os.chown(path, *owner)
        os.chmod(path, m.mode & 0o7777)
        return
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            raise PymanError(f"cannot copy over the directory {path} with a file")
        os.unlink(path)
    if m.issym():
        os.symlink(m.linkname, path)
    elif m.islnk():
        top, _, rest = m.linkname.partition("/")
        os.link(os.path.join(targets.get(top, "/"), rest), path)
        return
    elif m.isreg():
        src = tf.extractfile(m)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            while src is not None and (chunk := src.read(1 << 20)):
                out.write(chunk)
        os.chmod(path, m.mode & 0o7777)
    else:
        return
    os.lchown(path, *owner)
    if m.isreg():
        os.chmod(path, m.mode & 0o7777)  # chown clears setuid bits: set the mode again
    os.utime(path, (m.mtime, m.mtime), follow_symlinks=False)
