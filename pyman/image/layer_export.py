"""Turn an unpacked layer (overlay form) back into a gzip-compressed layer tar, for pushing an
image whose compressed blobs are not stored (loaded or imported without them).

Overlay whiteouts (0/0 character devices) become ``.wh.<name>`` entries, opaque directories
(``user.overlay.opaque``) a ``.wh..wh..opq`` entry; owners, modes, hard links, symlinks and
xattrs (security.capability ...) are kept. Entries are sorted and the gzip header carries no
time, so the same tree always gives the same bytes. Runs as root in the user namespace (the
files belong to sub-ids). The tar is new, so its diff_id generally differs from the one the
image was built with: the caller rewrites the config.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import tarfile
from typing import BinaryIO

OPAQUE_XATTR = "user.overlay.opaque"
SKIP_XATTRS = (OPAQUE_XATTR, "trusted.overlay.opaque")


class _HashWriter:
    """A write-only file that hashes and counts what goes through it."""

    def __init__(self, out: BinaryIO | gzip.GzipFile) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def _xattrs(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in sorted(names):
        if name in SKIP_XATTRS or name.startswith("trusted.overlay."):
            continue
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        out["SCHILY.xattr." + name] = value.decode("utf-8", "surrogateescape")
    return out


def _add_tree(tf: tarfile.TarFile, root: str, rel: str) -> None:
    directory = os.path.join(root, rel) if rel else root
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        arc = f"{rel}/{name}" if rel else name
        st = os.lstat(path)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:  # overlay whiteout
            wh = tarfile.TarInfo(f"{rel}/.wh.{name}" if rel else f".wh.{name}")
            wh.mtime = int(st.st_mtime)
            tf.addfile(wh)
            continue
        if stat.S_ISSOCK(st.st_mode):
            continue  # not representable in a tar; a layer never needs one
        info = tf.gettarinfo(path, arc)
        info.uname = info.gname = ""
        info.pax_headers = _xattrs(path)
        if info.isreg():
            with open(path, "rb") as f:
                tf.addfile(info, f)
        else:
            tf.addfile(info)
        if info.isdir():
            try:
                opaque = os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
            except OSError:
                opaque = False
            if opaque:
                tf.addfile(tarfile.TarInfo(f"{arc}/.wh..wh..opq"))
            _add_tree(tf, root, arc)


def export_layer(diff_dir: str, out_path: str) -> tuple[str, str, int]:
    """Write ``diff_dir`` as a gzip layer to ``out_path``: (diff_id, blob digest, blob size)."""
    with open(out_path, "wb") as raw:
        compressed = _HashWriter(raw)
        with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0,  # type: ignore[arg-type]
                           compresslevel=6) as gz:
            plain = _HashWriter(gz)
            with tarfile.open(fileobj=plain, mode="w|",  # type: ignore[call-overload]
                              format=tarfile.PAX_FORMAT, encoding="utf-8",
                              errors="surrogateescape") as tf:
                _add_tree(tf, diff_dir, "")
        raw.flush()
        os.fsync(raw.fileno())
    return plain.digest, compressed.digest, compressed.size
