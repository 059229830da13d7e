"""Content-addressed blob store: ``<root>/sha256/<hex>``, every file verified before it appears.

A writer streams into a temporary file in the same directory and renames it into place only
when the sha256 matches, so a reader never sees partial or wrong content. Two writers of the
same blob both succeed: the second rename replaces identical bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from pyman.errors import DigestMismatchError, StorageError

_SHA256 = re.compile(r"^sha256:[a-f0-9]{64}$")


def check_digest(digest: str) -> str:
    """Return the hex part of a sha256 digest; refuse anything else clearly."""
    if _SHA256.match(digest):
        return digest[7:]
    algo = digest.partition(":")[0]
    if algo in ("sha384", "sha512"):
        raise StorageError(f"digest {digest}: only sha256 content is supported for now")
    raise StorageError(f"invalid digest {digest!r}: expected sha256:<64 lowercase hex>")


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        return self.root / "sha256" / check_digest(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def writer(self, digest: str) -> BlobWriter:
        """A writer for content promised to hash to ``digest``; use as a context manager."""
        return BlobWriter(self.path(digest), digest)

    def put(self, digest: str, data: bytes) -> Path:
        with self.writer(digest) as w:
            w.write(data)
        return w.final

    def put_stream(self, digest: str, chunks: Iterable[bytes]) -> Path:
        with self.writer(digest) as w:
            for chunk in chunks:
                w.write(chunk)
        return w.final

    def read(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def remove(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)


class BlobWriter:
    """Streams bytes through sha256 into a temp file; ``commit`` verifies and renames."""

    def __init__(self, final: Path, digest: str) -> None:
        self.final = final
        self.digest = digest
        self.size = 0
        self._hash = hashlib.sha256()
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".tmp-{final.name[:16]}-", dir=final.parent)
        self._tmp = Path(tmp)
        self._file = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self._file.write(data)
        self.size += len(data)

    def commit(self) -> Path:
        actual = "sha256:" + self._hash.hexdigest()
        try:
            if actual != self.digest:
                raise DigestMismatchError(
                    f"digest mismatch: expected {self.digest}, got {actual} "
                    f"({self.size} bytes): the content is corrupt or was tampered with"
                )
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self.final)
        except BaseException:
            self.abort()
            raise
        return self.final

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
