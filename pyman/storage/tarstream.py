"""A layer blob as a readable, hashed, decompressed stream.

The diff_id in the image config is the sha256 of the *uncompressed* tar; we hash while tarfile
reads, so a layer whose content differs from its promise is caught before it is committed.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import BinaryIO

from pyman.errors import LayerError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class LayerStream:
    """File-like ``read(n)`` over a layer blob, gunzipping if needed, hashing the output."""

    def __init__(self, raw: BinaryIO, chunk: int = 1 << 20) -> None:
        self._raw = raw
        self._chunk = chunk
        self._buf = b""
        self._off = 0
        self._eof = False
        self.sha256 = hashlib.sha256()
        self.size = 0
        head = raw.read(4)
        if head.startswith(ZSTD_MAGIC):
            raise LayerError("zstd-compressed layers are not supported yet")
        self._gz = head.startswith(GZIP_MAGIC)
        self._inflate = zlib.decompressobj(wbits=31) if self._gz else None
        self._pending = head

    def _fill(self) -> tuple[bytes, bool]:
        """Next piece of output, and whether the input is exhausted."""
        data = self._pending or self._raw.read(self._chunk)
        self._pending = b""
        if self._inflate is None:
            return data, not data
        if not data:
            if not self._inflate.eof:
                raise LayerError("the layer's gzip stream is truncated")
            return b"", True
        try:
            out = self._inflate.decompress(data)
            while self._inflate.eof and self._inflate.unused_data:
                rest = self._inflate.unused_data  # a multi-member gzip stream
                self._inflate = zlib.decompressobj(wbits=31)
                out += self._inflate.decompress(rest)
        except zlib.error as exc:
            raise LayerError(f"the layer's gzip stream is corrupt: {exc}") from None
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
        out = self._buf[self._off : self._off + n]
        self._off += len(out)
        self.sha256.update(out)
        self.size += len(out)
        return out

    def drain(self) -> None:
        """Read to the end so the hash covers the whole stream (tar padding included)."""
        while self.read(1 << 20):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha256.hexdigest()
