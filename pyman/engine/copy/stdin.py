"""cp's tar archive on stdin: spooled to a private temp file first (as Podman), so that what
is not a (compressed) tar archive is refused before anything is written in the container."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from typing import IO, Any

from pyman.errors import PymanError

NOT_ARCHIVE = "source must be a (compressed) tar archive when copying from stdin"


def _opener(path: str, magic: bytes) -> Callable[[], Any]:
    if magic.startswith(b"\x1f\x8b"):
        import gzip

        return lambda: gzip.open(path, "rb")
    if magic.startswith(b"BZh"):
        import bz2

        return lambda: bz2.open(path, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        import lzma

        return lambda: lzma.open(path, "rb")
    if magic.startswith(b"\x28\xb5\x2f\xfd"):
        raise PymanError("a zstd-compressed archive on stdin is not supported by pyman: "
                         "decompress it first (zstd -dc)")
    return lambda: open(path, "rb")


class Spool:
    def __init__(self, tmpdir: str, opener: Callable[[], Any]) -> None:
        self.tmpdir = tmpdir
        self.opener = opener

    def feed(self, out: IO[bytes]) -> None:
        """The archive, decompressed, into ``out``."""
        try:
            with self.opener() as f:
                shutil.copyfileobj(f, out, 1 << 20)
        except BrokenPipeError:
            raise
        except Exception as exc:  # noqa: BLE001 - a decompressor's complaint, in one line
            raise PymanError(f"cp: broken archive on stdin: {exc}") from None

    def close(self) -> None:
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def spooled_archive(stdin: IO[bytes]) -> Spool:
    """stdin in a private temp file, checked to start with a tar header (after gzip, bzip2
    or xz decompression)."""
    tmpdir = tempfile.mkdtemp(prefix="pyman-cp-")  # 0700
    try:
        path = os.path.join(tmpdir, "stdin")
        with open(path, "wb") as f:
            shutil.copyfileobj(stdin, f, 1 << 20)
        with open(path, "rb") as f:
            magic = f.read(6)
        spool = Spool(tmpdir, _opener(path, magic))
        try:
            with spool.opener() as raw, tarfile.open(fileobj=raw, mode="r|") as tf:
                first = tf.next()
        except Exception:  # noqa: BLE001 - any decompressor's or tar's complaint
            first = None
        if first is None:
            raise PymanError(NOT_ARCHIVE)
        return spool
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
