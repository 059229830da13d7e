"""cp's tar writer works from lstat alone: no owner-name lookups (in a container's root they
would load the image's NSS modules), numbers kept, links and special files as tar has them."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from pyman.engine.copy.tar import GetOptions, write_tar


class _NoLookups:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"a name lookup ({name}) while writing cp's tar")


def test_write_tar_never_looks_names_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import grp
    import pwd

    for mod, attr in ((tarfile, "pwd"), (tarfile, "grp"), (pwd, "getpwuid"), (grp, "getgrgid")):
        monkeypatch.setattr(mod, attr, _NoLookups())
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "f").write_bytes(b"data")
    os.link(src / "f", src / "sub" / "hard")
    os.symlink("/etc/passwd", src / "link")
    os.mkfifo(src / "fifo")
    os.chmod(src / "f", 0o640)
    buf = io.BytesIO()
    write_tar(str(src), buf)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
        m = {x.name: x for x in tf.getmembers()}
        assert tf.extractfile(m["src/f"]).read() == b"data"  # type: ignore[union-attr]
    assert set(m) == {"src", "src/f", "src/sub", "src/sub/hard", "src/link", "src/fifo"}
    assert all((x.uname, x.gname) == ("", "") for x in m.values())
    assert (m["src/f"].uid, m["src/f"].gid, m["src/f"].mode) == (os.getuid(), os.getgid(), 0o640)
    assert m["src/sub/hard"].islnk() and m["src/sub/hard"].linkname == "src/f"
    assert m["src/link"].issym() and m["src/link"].linkname == "/etc/passwd"
    assert m["src/fifo"].isfifo()
    buf = io.BytesIO()
    write_tar(str(src / "f"), buf, GetOptions(chown=(7, 8)))  # Podman's owner for copies in
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
        (only,) = tf.getmembers()
    assert (only.name, only.uid, only.gid, only.uname) == ("f", 7, 8, "")


def test_host_extraction_is_confined_to_its_dir(tmp_path: Path) -> None:
    """A link in the destination to a host path (a running container sharing the dir can
    plant one at any moment) leads into the destination, never out of it."""
    from pyman.engine.copy.enter import host_put
    from pyman.engine.copy.tar import PutOptions, extract_tar

    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(str(outside), dest / "link")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:  # no entry for "link" itself
        info = tarfile.TarInfo("link/x")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    r, w = os.pipe()
    os.write(w, buf.getvalue())
    os.close(w)

    def extract() -> object:
        with os.fdopen(r, "rb") as raw:
            extract_tar(raw, "/", PutOptions(side="host"))
        return None

    from pyman.errors import PymanError

    with pytest.raises(PymanError, match="refusing archive member 'link/x': /link is not a "
                                         "directory"):
        host_put(str(dest), extract, r)
    assert os.listdir(outside) == []
    assert sorted(os.listdir(dest)) == ["link"]


def test_write_tar_top_entries(tmp_path: Path) -> None:
    from pyman.engine.copy.tar import GetOptions, write_tar

    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "f").write_text("f")
    os.mkfifo(tmp_path / "fifo")
    os.symlink("d", tmp_path / "link")

    def names(item: str, **kw: object) -> list[str]:
        buf = io.BytesIO()
        write_tar(item, buf, GetOptions(**kw))  # type: ignore[arg-type]
        with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
            return [m.name for m in tf.getmembers()]

    assert names(str(tmp_path / "fifo")) == ["fifo"]  # never opened
    assert names(str(tmp_path / "d" / "."), keep_dir_names=False) == ["sub", "sub/f"]
    assert names(str(tmp_path / "link")) == ["link", "link/sub", "link/sub/f"]  # followed
    assert names(str(tmp_path / "d"), excludes=(str(tmp_path / "d" / "sub"),)) == ["d"]
    assert names(str(tmp_path / "d"), name="renamed") == ["renamed", "renamed/sub",
                                                          "renamed/sub/f"]
