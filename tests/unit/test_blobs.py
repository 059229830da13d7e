"""The content-addressed blob store."""

import hashlib
import threading

import pytest

from pyman.errors import DigestMismatchError, StorageError
from pyman.storage.blobs import BlobStore


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_put_and_read(tmp_path):
    store = BlobStore(tmp_path)
    data = b"hello blob"
    d = digest_of(data)
    assert not store.has(d)
    path = store.put(d, data)
    assert path == tmp_path / "sha256" / d[7:]
    assert store.has(d) and store.read(d) == data
    assert (path.stat().st_mode & 0o777) == 0o644
    assert [p.name for p in path.parent.iterdir()] == [d[7:]]  # no temp files left


def test_streaming_writer(tmp_path):
    store = BlobStore(tmp_path)
    chunks = [b"a" * 1000, b"b" * 3000, b""]
    d = digest_of(b"".join(chunks))
    store.put_stream(d, iter(chunks))
    assert store.path(d).stat().st_size == 4000


def test_mismatch_leaves_nothing(tmp_path):
    store = BlobStore(tmp_path)
    promised = digest_of(b"expected")
    with pytest.raises(DigestMismatchError) as exc:
        store.put(promised, b"tampered")
    assert promised in str(exc.value)
    assert digest_of(b"tampered") in str(exc.value)
    assert not store.has(promised)
    assert list((tmp_path / "sha256").iterdir()) == []


def test_error_while_streaming_leaves_nothing(tmp_path):
    store = BlobStore(tmp_path)

    def chunks():
        yield b"partial"
        raise OSError("connection reset")

    with pytest.raises(OSError):
        store.put_stream(digest_of(b"partial and more"), chunks())
    assert list((tmp_path / "sha256").iterdir()) == []


def test_concurrent_writers_of_same_blob(tmp_path):
    store = BlobStore(tmp_path)
    data = b"x" * (1 << 20)
    d = digest_of(data)
    barrier = threading.Barrier(8)
    errors = []

    def write():
        try:
            with store.writer(d) as w:
                barrier.wait()
                for i in range(0, len(data), 65536):
                    w.write(data[i:i + 65536])
        except Exception as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.read(d) == data
    assert [p.name for p in (tmp_path / "sha256").iterdir()] == [d[7:]]


@pytest.mark.parametrize(
    ("digest", "why"),
    [
        ("sha512:" + "a" * 128, "only sha256"),
        ("sha256:" + "a" * 63, "invalid digest"),
        ("sha256:" + "A" * 64, "invalid digest"),
        ("sha256:../../etc/passwd", "invalid digest"),
        ("nonsense", "invalid digest"),
    ],
)
def test_bad_digests(tmp_path, digest, why):
    with pytest.raises(StorageError, match=why):
        BlobStore(tmp_path).path(digest)
