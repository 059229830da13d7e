"""Layer unpacking for real: as the unprivileged user, in a user namespace with the sub-id map."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from pyman.errors import LayerError
from pyman.rootless.userns import run_in_userns
from pyman.storage.unpack import UnpackResult, split_name, unpack_layer


def make_tar(entries: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            if isinstance(e, tuple):
                tf.addfile(e[0], io.BytesIO(e[1]))
            else:
                tf.addfile(e)
    return buf.getvalue()


def info(name: str, kind: bytes = tarfile.REGTYPE, **kw: object) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    ti.mtime = 1_600_000_000
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


def file(name: str, data: bytes, **kw: object) -> tuple[tarfile.TarInfo, bytes]:
    return info(name, size=len(data), **kw), data


Seen = dict[str, tuple[int, int, int]]


def unpack_in_userns(tmp_path: Path, data: bytes) -> tuple[UnpackResult, Seen]:
    dest = tmp_path / "diff"
    dest.mkdir()

    def work() -> tuple[UnpackResult, Seen]:
        res = unpack_layer(io.BytesIO(data), str(dest), None)
        seen = {}
        for root, dirs, files in os.walk(dest):
            for n in dirs + files:
                p = os.path.join(root, n)
                st = os.lstat(p)
                seen["/" + os.path.relpath(p, dest)] = (st.st_uid, st.st_gid, st.st_mode)
        return res, seen

    return run_in_userns(work)


def test_split_name_confines_absolute_and_refuses_dotdot() -> None:
    assert split_name("/etc/./passwd") == ("etc", "passwd")
    assert split_name("./") == ()
    with pytest.raises(LayerError, match="outside the layer"):
        split_name("a/../../etc/passwd")


def test_owners_modes_links_and_whiteouts(tmp_path: Path) -> None:
    data = make_tar([
        info("data", tarfile.DIRTYPE),
        file("data/owned", b"x", uid=1000, gid=1000, mode=0o640),
        file("data/suid", b"#!", mode=0o4755),
        file("data/nobody", b"n", uid=65534, gid=65534),
        info("data/link", tarfile.SYMTYPE, linkname="/etc/passwd"),
        info("data/hard", tarfile.LNKTYPE, linkname="data/owned"),
        info("data/.wh.gone"),
        info("opq", tarfile.DIRTYPE),
        info("opq/.wh..wh..opq"),
    ])
    res, seen = unpack_in_userns(tmp_path, data)
    assert res.diff_id.startswith("sha256:") and res.size == len(data)
    # inside the namespace: ids as in the tar
    assert seen["/data/owned"][:2] == (1000, 1000)
    assert stat.S_IMODE(seen["/data/owned"][2]) == 0o640
    assert seen["/data/nobody"][:2] == (65534, 65534)
    assert stat.S_IMODE(seen["/data/suid"][2]) == 0o4755
    assert stat.S_ISLNK(seen["/data/link"][2])
    assert stat.S_ISCHR(seen["/data/gone"][2])
    # outside: the sub-id range, i.e. real ownership
    d = tmp_path / "diff"
    assert (d / "data/owned").stat().st_uid != os.getuid()
    assert (d / "data/hard").stat().st_ino == (d / "data/owned").stat().st_ino
    assert os.readlink(d / "data/link") == "/etc/passwd"
    assert os.major((d / "data/gone").lstat().st_rdev) == 0
    assert os.getxattr(d / "opq", "user.overlay.opaque") == b"y"


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = make_tar([
        info("esc", tarfile.SYMTYPE, linkname=str(outside)),
        file("esc/pwned", b"x"),
    ])
    with pytest.raises(LayerError, match="symlink"):
        unpack_in_userns(tmp_path, data)
    assert list(outside.iterdir()) == []


def test_hardlink_to_host_file_is_refused(tmp_path: Path) -> None:
    data = make_tar([info("h", tarfile.LNKTYPE, linkname="../../../../etc/passwd")])
    with pytest.raises(LayerError, match="outside the layer"):
        unpack_in_userns(tmp_path, data)


def test_diff_id_mismatch(tmp_path: Path) -> None:
    data = make_tar([file("a", b"a")])
    dest = tmp_path / "d"
    dest.mkdir()
    with pytest.raises(LayerError, match="promises"):
        run_in_userns(lambda: unpack_layer(io.BytesIO(data), str(dest), "sha256:" + "0" * 64))
