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

    def decode(v: object) -> tuple[UnpackResult, Seen]:
        assert isinstance(v, list)  # JSON from the helper: tuples come back as lists
        return UnpackResult(**v[0]), {k: (x[0], x[1], x[2]) for k, x in v[1].items()}

    return run_in_userns(work, decode=decode)


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


def _cap_v2(effective: bool = True) -> bytes:
    """security.capability v2: CAP_NET_BIND_SERVICE (bit 10) permitted (+effective)."""
    import struct

    magic = 0x02000000 | (1 if effective else 0)
    return struct.pack("<IIIII", magic, 1 << 10, 0, 0, 0)


def test_sticky_setgid_devices_fifo_and_long_names(tmp_path: Path) -> None:
    long_dir = "d" * 120 + "/" + "e" * 120
    long_target = "/" + "t" * 300
    data = make_tar([
        info("tmp", tarfile.DIRTYPE, mode=0o1777),
        info("sg", tarfile.DIRTYPE, mode=0o2775, gid=50),
        file("sg/f", b"f", mode=0o2755, uid=0, gid=50),
        info("dev", tarfile.DIRTYPE),
        info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
        info("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0),
        info("fifo", tarfile.FIFOTYPE, mode=0o600),
        info(long_dir, tarfile.DIRTYPE),
        file(long_dir + "/" + "f" * 200, b"long"),
        info("longlink", tarfile.SYMTYPE, linkname=long_target),
        info("longhard", tarfile.LNKTYPE, linkname=long_dir + "/" + "f" * 200),
        file("high", b"h", uid=65535, gid=65535),
    ])
    res, seen = unpack_in_userns(tmp_path, data)
    assert stat.S_IMODE(seen["/tmp"][2]) == 0o1777
    assert stat.S_IMODE(seen["/sg"][2]) == 0o2775 and seen["/sg"][1] == 50
    assert stat.S_IMODE(seen["/sg/f"][2]) == 0o2755
    assert stat.S_ISFIFO(seen["/fifo"][2])
    assert "/dev/null" not in seen and "/dev/sda" not in seen
    # one warning for all device nodes of the layer
    dev_warnings = [w for w in res.warnings if "device node" in w]
    assert len(dev_warnings) == 1 and "2 device node" in dev_warnings[0]
    assert "/dev/null" in dev_warnings[0]
    d = tmp_path / "diff"
    assert (d / long_dir / ("f" * 200)).read_bytes() == b"long"
    assert os.readlink(d / "longlink") == long_target
    assert (d / "longhard").stat().st_ino == (d / long_dir / ("f" * 200)).stat().st_ino
    assert seen["/high"][:2] == (65535, 65535)  # the top of a 65536-id sub-id range


def test_file_capabilities_are_kept_in_the_namespace_form(tmp_path: Path) -> None:
    f, body = file("ping", b"\x7fELF", mode=0o755)
    f.pax_headers = {"SCHILY.xattr.security.capability": _cap_v2().decode("utf-8", "surrogateescape")}
    data = make_tar([(f, body)])
    dest = tmp_path / "diff"
    dest.mkdir()

    def work() -> tuple[list[str], str]:
        res = unpack_layer(io.BytesIO(data), str(dest), None)
        return res.warnings, os.getxattr(dest / "ping", "security.capability").hex()

    warnings, inside_hex = run_in_userns(work, decode=lambda v: v)
    inside = bytes.fromhex(inside_hex)
    assert warnings == []
    # inside the user namespace the caps read back as written (v2)...
    assert inside == _cap_v2()
    # ...on the host the kernel stored v3, bound to the namespace's root (our own uid)
    import struct

    raw = os.getxattr(dest / "ping", "security.capability")
    magic, perm0, _inh0, _perm1, _inh1, rootid = struct.unpack("<IIIIII", raw)
    assert magic >> 24 == 3 and perm0 == 1 << 10 and rootid == os.getuid()


def test_overlay_xattrs_from_a_layer_are_ignored(tmp_path: Path) -> None:
    d = info("dir", tarfile.DIRTYPE)
    d.pax_headers = {"SCHILY.xattr.user.overlay.redirect": "/etc",
                     "SCHILY.xattr.user.note": "kept"}
    res, _ = unpack_in_userns(tmp_path, make_tar([d]))
    assert any("user.overlay.redirect" in w for w in res.warnings)
    with pytest.raises(OSError):
        os.getxattr(tmp_path / "diff/dir", "user.overlay.redirect")
    assert os.getxattr(tmp_path / "diff/dir", "user.note") == b"kept"


def test_whiteout_then_recreated_dir_in_one_layer_is_opaque(tmp_path: Path) -> None:
    data = make_tar([
        info(".wh.etc"),
        info("etc", tarfile.DIRTYPE),
        file("etc/new", b"n"),
        info("var/.wh.gone"),
    ])
    _, seen = unpack_in_userns(tmp_path, data)
    d = tmp_path / "diff"
    assert stat.S_ISDIR(seen["/etc"][2])
    assert os.getxattr(d / "etc", "user.overlay.opaque") == b"y"
    assert (d / "etc/new").read_bytes() == b"n"
    assert stat.S_ISCHR(seen["/var/gone"][2])


def test_hardlink_survives_its_target_being_whited_out(tmp_path: Path) -> None:
    data = make_tar([
        file("a", b"shared"),
        info("b", tarfile.LNKTYPE, linkname="a"),
        info(".wh.a"),
    ])
    _, seen = unpack_in_userns(tmp_path, data)
    assert (tmp_path / "diff/b").read_bytes() == b"shared"
    assert stat.S_ISCHR(seen["/a"][2])


def test_entries_replacing_links_never_write_through_them(tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.write_bytes(b"host")
    data = make_tar([
        info("s", tarfile.SYMTYPE, linkname=str(sentinel)),
        file("s", b"pwned"),  # replaces the symlink, does not follow it
        info("rel", tarfile.SYMTYPE, linkname="../../sentinel"),
        file("rel", b"pwned"),
        file("/abs/file", b"abs"),  # absolute names land inside the layer
    ])
    unpack_in_userns(tmp_path, data)
    assert sentinel.read_bytes() == b"host"
    assert (tmp_path / "diff/s").read_bytes() == b"pwned"
    assert (tmp_path / "diff/abs/file").read_bytes() == b"abs"


@pytest.mark.parametrize("name", ["../escape", "a/../../escape", "./../escape"])
def test_dotdot_paths_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(LayerError, match="outside the layer"):
        unpack_in_userns(tmp_path, make_tar([file(name, b"x")]))
    assert not (tmp_path / "escape").exists()


def test_hardlink_through_symlink_cannot_read_the_host(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"s")
    data = make_tar([
        info("d", tarfile.SYMTYPE, linkname=str(outside)),
        info("h", tarfile.LNKTYPE, linkname="d/secret"),
    ])
    with pytest.raises(LayerError, match="symlink"):
        unpack_in_userns(tmp_path, data)
    assert (outside / "secret").stat().st_nlink == 1


def test_symlinked_dir_then_whiteout_through_it_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"v")
    data = make_tar([
        info("d", tarfile.SYMTYPE, linkname=str(outside)),
        info("d/.wh.victim"),
    ])
    with pytest.raises(LayerError, match="symlink"):
        unpack_in_userns(tmp_path, data)
    assert (outside / "victim").read_bytes() == b"v"


def test_owner_outside_subid_range_names_the_files(tmp_path: Path) -> None:
    data = make_tar([file("big", b"x", uid=200000, gid=0)])
    with pytest.raises(LayerError, match="/etc/subuid and /etc/subgid"):
        unpack_in_userns(tmp_path, data)


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_compressions_give_the_same_tree_and_diff_id(tmp_path: Path, compression: str) -> None:
    import gzip

    import zstandard

    tar = make_tar([file("hello", b"hello " * 1000), info("dir", tarfile.DIRTYPE)])
    blob = {"gzip": lambda b: gzip.compress(b) + gzip.compress(b""),  # multi-member too
            "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
            "none": lambda b: b}[compression](tar)
    import hashlib

    want = "sha256:" + hashlib.sha256(tar).hexdigest()
    dest = tmp_path / "diff"
    dest.mkdir()
    res = run_in_userns(lambda: unpack_layer(io.BytesIO(blob), str(dest), want),
                        decode=lambda v: UnpackResult(**v))
    assert res.diff_id == want
    assert (dest / "hello").read_bytes() == b"hello " * 1000


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_truncated_compressed_layers_are_refused(tmp_path: Path, compression: str) -> None:
    import gzip

    import zstandard

    tar = make_tar([file("hello", os.urandom(200_000))])
    blob = (gzip.compress(tar) if compression == "gzip"
            else zstandard.ZstdCompressor().compress(tar))
    dest = tmp_path / "diff"
    dest.mkdir()
    with pytest.raises(LayerError, match=f"{compression} stream is (truncated|corrupt)|not a valid tar"):
        run_in_userns(lambda: unpack_layer(io.BytesIO(blob[: len(blob) // 2]), str(dest), None))
