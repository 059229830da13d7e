"""Hostile layers built here, byte by byte where tarfile cannot write them: GNU sparse entries
claiming gigabytes (old GNU 'S' and PAX 0.0/0.1/1.0), hard links to directories, names no
Linux path can hold, and a root entry that would open the layer dir. Unpacked for real in the
user namespace, and through `pyman load` for the one line a user sees."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
import time
from pathlib import Path

import pytest
from test_layer_unpack import file, info, make_tar, unpack_in_userns

from pyman.errors import LayerError

GIB3 = 3 << 30
DATA = b"sparse data\n" * 100  # 1200 bytes: what the archive really holds


def _pad(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % tarfile.BLOCKSIZE)


def _header(ti: tarfile.TarInfo, fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    return ti.tobuf(format=fmt, encoding="utf-8", errors="surrogateescape")


def _pax(records: list[tuple[str, str]]) -> bytes:
    """A PAX extended header block whose records may repeat a key (sparse 0.0 does)."""
    body = b""
    for key, value in records:
        rec = f" {key}={value}\n".encode()
        n = len(rec) + 1
        while len(str(n)) + len(rec) != n:
            n += 1
        body += str(n).encode() + rec
    ti = tarfile.TarInfo("PaxHeaders/x")
    ti.type = tarfile.XHDTYPE
    ti.size = len(body)
    return _header(ti) + _pad(body)


def _reg(name: str, size: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = size, 0o644, 1_600_000_000
    return ti


def _end() -> bytes:
    return b"\0" * (2 * tarfile.BLOCKSIZE)


def sparse_tar(kind: str, realsize: int = GIB3) -> bytes:
    """One file `big` of ``realsize`` bytes: DATA at 1 MiB, all else holes; then `after`."""
    seg = (1 << 20, len(DATA))
    if kind == "gnu":
        ti = _reg("big", len(DATA))
        ti.type = tarfile.GNUTYPE_SPARSE
        hdr = bytearray(_header(ti, tarfile.GNU_FORMAT))
        hdr[386:398] = b"%011o\0" % seg[0]
        hdr[398:410] = b"%011o\0" % seg[1]
        hdr[483:495] = b"%011o\0" % realsize
        hdr[148:156] = b" " * 8
        hdr[148:156] = b"%06o\0 " % sum(hdr)
        out = bytes(hdr) + _pad(DATA)
    elif kind in ("pax00", "pax01"):
        records = [("GNU.sparse.size", str(realsize)), ("GNU.sparse.numblocks", "1")]
        if kind == "pax00":
            records += [("GNU.sparse.offset", str(seg[0])), ("GNU.sparse.numbytes", str(seg[1]))]
        else:
            records += [("GNU.sparse.map", f"{seg[0]},{seg[1]}")]
        out = _pax(records) + _header(_reg("big", len(DATA))) + _pad(DATA)
    else:  # pax10: the map leads the data, in its own blocks
        smap = _pad(f"1\n{seg[0]}\n{seg[1]}\n".encode())
        out = (_pax([("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"),
                     ("GNU.sparse.name", "big"), ("GNU.sparse.realsize", str(realsize))])
               + _header(_reg("GNUSparseFile.0/big", len(smap) + len(DATA)))
               + smap + _pad(DATA))
    after = _reg("after", 2)
    return out + _header(after) + _pad(b"ok") + _end()


@pytest.mark.parametrize("kind", ["gnu", "pax00", "pax01", "pax10"])
def test_sparse_3gib_is_written_sparse(tmp_path: Path, kind: str) -> None:
    data = sparse_tar(kind)
    assert len(gzip.compress(data)) < 2048  # a layer blob of under 2 KiB...
    t0 = time.monotonic()
    res, seen = unpack_in_userns(tmp_path, data)
    took = time.monotonic() - t0
    big = tmp_path / "diff/big"
    st = big.stat()
    assert st.st_size == GIB3  # ...claiming 3 GiB: the file has its real size
    assert st.st_blocks * 512 < (1 << 20), st.st_blocks  # but holds a few blocks, not 3 GiB
    assert took < 20, took
    with open(big, "rb") as f:
        assert f.read(4096) == b"\0" * 4096  # a hole reads as zeros
        f.seek(1 << 20)
        assert f.read(len(DATA)) == DATA
        f.seek(GIB3 - 10)
        assert f.read() == b"\0" * 10
    assert (tmp_path / "diff/after").read_bytes() == b"ok"  # the stream went on in step
    assert set(seen) == {"/big", "/after"} and res.warnings == []


def test_sparse_size_beyond_the_filesystem_is_one_line(tmp_path: Path) -> None:
    """2**62 bytes: more than ext4 allows in a file (refused, naming the entry), or a sparse
    file where the filesystem allows it (tmpfs); never written out, never a traceback."""
    t0 = time.monotonic()
    try:
        unpack_in_userns(tmp_path, sparse_tar("pax01", realsize=1 << 62))
    except LayerError as exc:
        assert str(exc) == "cannot unpack layer entry /big: File too large"
    else:
        assert (tmp_path / "diff/big").stat().st_blocks * 512 < (1 << 20)
    assert time.monotonic() - t0 < 20


def test_sparse_map_promising_more_data_than_stored_is_refused(tmp_path: Path) -> None:
    # the map says 1 MiB of data at 0, the archive holds 1200 bytes
    records = [("GNU.sparse.size", str(GIB3)), ("GNU.sparse.map", f"0,{1 << 20}")]
    data = _pax(records) + _header(_reg("big", len(DATA))) + _pad(DATA) + _end()
    with pytest.raises(LayerError, match="/big.*(sparse map|truncated)"):
        unpack_in_userns(tmp_path, data)


def test_sparse_map_out_of_order_is_refused(tmp_path: Path) -> None:
    records = [("GNU.sparse.size", "100000"), ("GNU.sparse.map", "50000,10,0,10")]
    data = _pax(records) + _header(_reg("big", 20)) + _pad(b"x" * 20) + _end()
    with pytest.raises(LayerError, match="/big has a corrupt sparse map"):
        unpack_in_userns(tmp_path, data)


def test_hard_link_to_a_directory_is_refused(tmp_path: Path) -> None:
    data = make_tar([info("etc", tarfile.DIRTYPE),
                     info("etc2", tarfile.LNKTYPE, linkname="etc")])
    with pytest.raises(LayerError, match=r"entry /etc2 is a hard link to the directory /etc"):
        unpack_in_userns(tmp_path, data)


@pytest.mark.parametrize("name, why", [
    ("a" * 5000, "PATH_MAX"),
    ("d/" + "c" * 256, "NAME_MAX"),
    ("/".join(["p" * 200] * 21), "PATH_MAX"),  # short components, 4220 bytes in all
])
def test_names_no_path_can_hold_are_refused(tmp_path: Path, name: str, why: str) -> None:
    with pytest.raises(LayerError, match=why) as exc:
        unpack_in_userns(tmp_path, make_tar([file(name, b"x")]))
    assert "Traceback" not in str(exc.value) and len(str(exc.value)) < 200


def test_overlong_symlink_target_is_refused(tmp_path: Path) -> None:
    data = make_tar([info("l", tarfile.SYMTYPE, linkname="/" + "t" * 5000)])
    with pytest.raises(LayerError, match="entry /l is a symlink with a target longer than PATH_MAX"):
        unpack_in_userns(tmp_path, data)


@pytest.mark.parametrize("root", ["./", "/", "", "."])
def test_root_entry_never_sets_the_layer_dirs_mode(tmp_path: Path, root: str) -> None:
    entry = info(root or "x", tarfile.DIRTYPE, mode=0o7777, uid=1000, gid=1000)
    if not root:
        entry.name = ""
    unpack_in_userns(tmp_path, make_tar([entry, file("f", b"x")]))
    st = (tmp_path / "diff").stat()
    assert stat.S_IMODE(st.st_mode) & 0o7022 == 0, oct(st.st_mode)  # no set-id, not writable
    assert st.st_uid == os.getuid()  # still ours, not the image's uid 1000


# ---------------------------------------------------------------- what a user sees: pyman load


def _load(run_pyman, env: dict[str, str], tmp_path: Path, layer: bytes):  # type: ignore[no-untyped-def]
    diff = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode()
    cfg = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": cfg, "RepoTags": ["hostile/layer:1"], "Layers": ["layer.tar"]}]
    archive = tmp_path / "img.tar"
    with tarfile.open(archive, "w") as tf:
        for name, body in (("layer.tar", layer), (cfg, config),
                           ("manifest.json", json.dumps(manifest).encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(body)
            tf.addfile(ti, io.BytesIO(body))
    return diff, run_pyman("load", "-i", str(archive), env=env)


def _store_leftovers(env: dict[str, str]) -> list[str]:
    """Layer dirs (temporary ones too) and blob files left in the store."""
    data = Path(env["XDG_DATA_HOME"]) / "pyman"
    found = [str(p) for p in (data / "layers").glob("*")]
    return sorted(found + [str(p) for p in (data / "blobs").rglob("*") if p.is_file()])


@pytest.mark.parametrize("case, want", [
    ("dirlink", "entry /etc2 is a hard link to the directory /etc: hard links to directories "
                "are refused"),
    ("longname", "longer than PATH_MAX"),
    ("longcomponent", "longer than NAME_MAX"),
])
def test_load_refuses_with_one_line_naming_layer_and_entry(run_pyman, fresh_env, tmp_path: Path,
                                                          case: str, want: str) -> None:
    layer = {
        "dirlink": make_tar([info("etc", tarfile.DIRTYPE), file("etc/f", b"x"),
                             info("etc2", tarfile.LNKTYPE, linkname="etc")]),
        "longname": make_tar([file("ok", b"x"), file("n" * 5000, b"x")]),
        "longcomponent": make_tar([file("ok", b"x"), file("d/" + "c" * 300, b"x")]),
    }[case]
    diff, r = _load(run_pyman, fresh_env, tmp_path, layer)
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert r.stderr.startswith(f"Error: layer {diff[:19]}: entry /"), r.stderr
    assert want in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr) < 300
    assert _store_leftovers(fresh_env) == []  # no half-unpacked layer left behind
    assert run_pyman("images", "-q", env=fresh_env).stdout == ""


def test_load_of_a_sparse_3gib_layer_writes_kilobytes(run_pyman, fresh_env, tmp_path: Path) -> None:
    _, r = _load(run_pyman, fresh_env, tmp_path, sparse_tar("pax01"))
    assert r.returncode == 0, r.stderr
    big = next((Path(fresh_env["XDG_DATA_HOME"]) / "pyman/layers").glob("*/diff/big"))
    st = big.stat()
    assert st.st_size == GIB3 and st.st_blocks * 512 < (1 << 20), st.st_blocks
