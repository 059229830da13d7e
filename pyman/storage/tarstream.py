"""A layer blob as a readable, hashed, decompressed stream.

The diff_id in the image config is the sha256 of the *uncompressed* tar; we hash while tarfile
reads, so a layer whose content differs from its promise is caught before it is committed.
The compression is recognised by its magic bytes (gzip, zstd or none), whatever the media type
says. gzip goes through python-isal when it is installed (about twice as fast as zlib here),
zstd through the ``zstandard`` package; both are imported only when a layer needs them.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any, BinaryIO, Protocol

from pyman.errors import LayerError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


def _gzip_decompressor() -> _Decompressor:
    try:
        from isal import isal_zlib  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return zlib.decompressobj(wbits=31)
    obj: Any = isal_zlib.decompressobj(wbits=31)
    return obj  # type: ignore[no-any-return]


def _zstd_decompressor() -> _Decompressor:
    try:
        import zstandard  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise LayerError("this layer is zstd-compressed and the 'zstandard' Python package is "
                         "missing: install pyman with its dependencies") from None
    obj: Any = zstandard.ZstdDecompressor().decompressobj()
    return obj  # type: ignore[no-any-return]


class LayerStream:
    """File-like ``read(n)`` over a layer blob, decompressing if needed, hashing the output."""

    def __init__(self, raw: BinaryIO, chunk: int = 1 << 20) -> None:
        self._raw = raw
        self._chunk = chunk
        self._buf = b""
        self._off = 0
        self._eof = False
        self.sha256 = hashlib.sha256()
        self.size = 0
        head = raw.read(4)
        self.compression = "none"
        self._new: Any = None
        if head.startswith(GZIP_MAGIC):
            self.compression, self._new = "gzip", _gzip_decompressor
        elif head.startswith(ZSTD_MAGIC):
            self.compression, self._new = "zstd", _zstd_decompressor
        self._inflate: _Decompressor | None = self._new() if self._new else None
        self._pending = head

    def _fill(self) -> tuple[bytes, bool]:
        """Next piece of output, and whether the input is exhausted."""
        data = self._pending or self._raw.read(self._chunk)
        self._pending = b""
        if self._inflate is None:
            return data, not data
        if not data:
            if not self._inflate.eof:
                raise LayerError(f"the layer's {self.compression} stream is truncated")
            return b"", True
        try:
            if self._inflate.eof:  # trailing bytes after a complete member/frame
                self._inflate = self._new()
            out = self._inflate.decompress(data)
            while self._inflate.eof and self._inflate.unused_data:
                rest = self._inflate.unused_data  # a multi-member gzip / multi-frame zstd
                self._inflate = self._new()
                out += self._inflate.decompress(rest)
        except LayerError:
            raise
        except Exception as exc:  # zlib.error, isal_zlib.error, zstandard.ZstdError
            raise LayerError(f"the layer's {self.compression} stream is corrupt: {exc}") from None
        return out, False

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            parts = [self.read(1 << 20)]
            while parts[-1]:
                parts.append(self.read(1 << 20))
            return b"".join(parts)
        # an offset into one buffer: tarfile reads small records, slicing copies would be O(n^2)
        while len(self._buf) - self._off < n and not self._eof:
            data, self._eof = self._fill()
            if data:
                self._buf = self._buf[self._off :] + data
                self._off = 0
        if self._off == 0 and n >= len(self._buf):
            out, self._buf = self._buf, b""  # the whole buffer: no copy
        else:
            out = self._buf[self._off : self._off + n]
            self._off += len(out)
        self.sha256.update(out)
        self.size += len(out)
        return out

    # forward-only positioning, for tarfile's plain "r:" mode: it reads each header and each
    # member's data at offsets it tells, always at or past where the stream is (its "r|" mode
    # would serve 512-byte header reads from a buffer it copies whole at each read: O(n^2))
    def tell(self) -> int:
        return self.size

    def seekable(self) -> bool:
        return False

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 1:
            pos += self.size
        elif whence != 0:
            raise OSError("a layer stream cannot seek from its end")
        if pos < self.size:
            raise OSError(f"a layer stream cannot go back (to {pos} from {self.size})")
        while self.size < pos and self.read(min(pos - self.size, 1 << 20)):
            pass  # skipped bytes are hashed too: the digest covers the whole stream
        return self.size

    def drain(self) -> None:
        """Read to the end so the hash covers the whole stream (tar padding included)."""
        while self.read(1 << 20):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha256.hexdigest()
