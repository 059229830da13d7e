"""Volumes end to end: -v binds (rw, ro), named volumes (created on first use, the image's
content copied in, data surviving the container), the volume commands with Podman's outputs,
--mount, --tmpfs, anonymous volumes (-v /path and the image's VOLUMEs) and rm -v."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

from lifecycle_util import NET


def _ok(r):  # type: ignore[no-untyped-def]
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def _volume(run_pyman, name: str) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(_ok(run_pyman("volume", "inspect", name)).stdout)[0]


def test_binds_named_volumes_and_in_use(run_pyman, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "in").write_text("from the host\n")
    r = _ok(run_pyman("run", "--rm", *NET, "-v", f"{host}:/mnt:z", "-v", "vt-data:/data",
                      "alpine", "sh", "-c",
                      "ls /data; cat /mnt/in; echo hi > /mnt/out; echo kept > /data/p"))
    assert r.stdout == "from the host\n"  # a fresh volume at a path the image lacks: empty
    out = host / "out"
    assert out.read_text() == "hi\n"
    assert (out.stat().st_uid, out.stat().st_gid) == (os.getuid(), os.getgid())

    r = run_pyman("run", "--rm", *NET, "-v", f"{host}:/mnt:ro", "alpine", "sh", "-c",
                  "cat /mnt/in && echo x > /mnt/ro")
    assert r.returncode == 1 and r.stdout == "from the host\n"
    assert "Read-only file system" in r.stderr and not (host / "ro").exists()

    # the named volume outlives its container; a second one reads what the first wrote
    assert _ok(run_pyman("run", "--rm", *NET, "-v", "vt-data:/d:ro", "alpine", "cat", "/d/p")
               ).stdout == "kept\n"

    # first use copies the image's content at the mount point in, owners kept
    # (and the mount point's mode: /tmp is 1777)
    r = _ok(run_pyman("run", "--rm", *NET, "-v", "vt-apk:/etc", "-v", "vt-tmp:/tmp",
                      "alpine", "sh", "-c", "ls /etc; stat -c %a /tmp"))
    assert {"passwd", "os-release", "group"} <= set(r.stdout.split())
    assert r.stdout.endswith("\n1777\n")
    doc = _volume(run_pyman, "vt-apk")
    assert "NeedsCopyUp" not in doc and "NeedsChown" not in doc
    passwd = Path(doc["Mountpoint"]) / "passwd"
    assert passwd.read_text().startswith("root:x:0:0:")
    assert passwd.stat().st_uid == os.getuid()  # image root = the user, as on disk

    # in use: Podman's error and exit code 2; -f removes the container too
    cid = _ok(run_pyman("create", "--name", "vt-user", *NET, "-v", "vt-data:/d", "alpine",
                        "true")).stdout.strip()
    r = run_pyman("volume", "rm", "vt-data")
    assert r.returncode == 2
    assert r.stderr == (f"Error: volume vt-data is being used by the following container(s): "
                        f"{cid}: volume is being used\n")
    doc = json.loads(_ok(run_pyman("inspect", "vt-user")).stdout)[0]
    assert doc["Mounts"] == [{
        "Type": "volume", "Name": "vt-data", "Source": _volume(run_pyman, "vt-data")[
            "Mountpoint"], "Destination": "/d", "Driver": "local", "Mode": "",
        "Options": ["nosuid", "nodev", "rbind"], "RW": True, "Propagation": "rprivate"}]
    assert doc["HostConfig"]["Binds"] == ["vt-data:/d:rw,rprivate,nosuid,nodev,rbind"]
    r = _ok(run_pyman("volume", "rm", "-f", "vt-data", "vt-apk", "vt-tmp"))
    assert r.stdout == "vt-data\nvt-apk\nvt-tmp\n"
    assert run_pyman("ps", "-aq", "--filter", "name=vt-user").stdout == ""
    r = run_pyman("volume", "rm", "vt-data")
    assert r.returncode == 1
    assert r.stderr == 'Error: no volume with name "vt-data" found: no such volume\n'


def test_bad_mount_input_creates_nothing(run_pyman, tmp_path: Path) -> None:
    before = run_pyman("volume", "ls", "-q").stdout
    for args, message in [
        (["-v", f"{tmp_path}/missing:/x"], f"statfs {tmp_path}/missing: no such file or "
                                           "directory"),
        (["-v", "rel/dir:/x"], 'creating named vol'),
        (["-v", "vt-new:/x:bogus"], 'invalid option type "bogus"'),
        (["-v", "vt-new:/x", "--mount", "type=bind,src=/tmp,dst=/y,oops"],
         "oops: invalid mount option"),
        (["-v", "vt-new:/x", "--tmpfs", "/x"], "/x: duplicate mount destination"),
    ]:
        r = run_pyman("create", "--name", "vt-bad", *NET, *args, "alpine", "true")
        assert r.returncode == 125 and r.stderr.startswith("Error: ")
        assert message in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert run_pyman("ps", "-aq", "--filter", "name=vt-bad").stdout == ""
    assert run_pyman("volume", "ls", "-q").stdout == before


def test_volume_commands(run_pyman) -> None:
    assert _ok(run_pyman("volume", "create", "--label", "vt=1", "--label", "k",
                         "--opt", "o=nodev", "vt-a")).stdout == "vt-a\n"
    anon = _ok(run_pyman("volume", "create", "--label", "vt=1")).stdout.strip()
    assert len(anon) == 64
    r = run_pyman("volume", "create", "vt-a")
    assert (r.returncode, r.stderr) == (
        125, "Error: volume with name vt-a already exists: volume already exists\n")
    assert _ok(run_pyman("volume", "create", "--ignore", "vt-a")).stdout == "vt-a\n"
    r = run_pyman("volume", "create", "--opt", "foo=bar", "vt-b")
    assert r.stderr == "Error: invalid mount option foo for driver 'local': invalid argument\n"
    assert run_pyman("volume", "create", "bad name").returncode == 125

    doc = _volume(run_pyman, "vt-a")
    assert doc["Labels"] == {"vt": "1", "k": ""} and doc["Options"] == {"o": "nodev"}
    assert doc["Mountpoint"].endswith("/pyman/volumes/vt-a/_data") and doc["Scope"] == "local"
    assert doc["CreatedAt"].endswith("Z") and doc["NeedsCopyUp"] and doc["NeedsChown"]
    r = run_pyman("volume", "inspect", "--format", "{{.Name}} {{.Driver}} {{.Labels}}",
                  "vt-a", "vt-none")
    assert r.returncode == 125 and r.stdout == "vt-a local map[k: vt:1]\n"
    assert r.stderr == "Error: inspecting object: no such volume vt-none\n"

    r = _ok(run_pyman("volume", "ls", "--filter", "label=vt=1"))
    assert r.stdout.splitlines() == ["DRIVER      VOLUME NAME", f"local       {anon}",
                                     "local       vt-a"]
    assert run_pyman("volume", "ls", "-q", "--filter", "label=vt", "--filter",
                     "name=^vt-").stdout == "vt-a\n"
    assert run_pyman("volume", "ls", "--filter", "name=nothing-like-it").stdout == ""
    js = json.loads(_ok(run_pyman("volume", "ls", "--format", "json", "--filter",
                                  "name=vt-a")).stdout)
    # as `podman volume ls --format json` (4.3.1) shows a volume never used yet
    assert [d["Name"] for d in js] == ["vt-a"] and js[0]["NeedsChown"] is True
    r = run_pyman("volume", "ls", "--filter", "bogus=1")
    assert (r.returncode, r.stderr) == (125, 'Error: "bogus" is an invalid volume filter\n')
    assert run_pyman("volume", "exists", "vt-a").returncode == 0
    assert run_pyman("volume", "exists", "vt-none").returncode == 1
    r = _ok(run_pyman("inspect", "--format", "{{.Name}} {{.Scope}}", "vt-a"))  # as podman
    assert r.stdout == "vt-a local\n"

    _ok(run_pyman("create", "--name", "vt-holder", *NET, "-v", "vt-a:/a", "alpine", "true"))
    r = run_pyman("volume", "prune", input="n\n")
    assert "WARNING! This will remove all volumes not used by at least one container" in r.stdout
    assert anon in r.stdout and "vt-a" not in r.stdout
    assert run_pyman("volume", "exists", anon).returncode == 0  # answered no
    r = _ok(run_pyman("volume", "ls", "-q", "--filter", "dangling=true"))
    assert anon in r.stdout.split() and "vt-a" not in r.stdout.split()
    r = _ok(run_pyman("volume", "prune", "-f", "--filter", "label=vt=1"))
    assert r.stdout == f"{anon}\n"
    assert run_pyman("volume", "exists", "vt-a").returncode == 0  # in use: kept
    _ok(run_pyman("rm", "vt-holder"))
    assert run_pyman("volume", "exists", "vt-a").returncode == 0  # named: rm -v keeps it
    assert _ok(run_pyman("volume", "rm", "vt-a")).stdout == "vt-a\n"


def test_volume_driver_options(run_pyman, tmp_path: Path) -> None:
    (tmp_path / "seen").write_text("")
    _ok(run_pyman("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
                  "--opt", "o=size=1m", "vt-tmp"))
    _ok(run_pyman("volume", "create", "--opt", "type=none", "--opt", f"device={tmp_path}",
                  "--opt", "o=bind", "vt-bind"))
    _ok(run_pyman("volume", "create", "--opt", "UID=5", "--opt", "GID=6", "vt-own"))
    r = run_pyman("volume", "create", "--opt", "type=bind", "--opt", "device=/bogus", "vt-no")
    assert (r.returncode, r.stderr) == (125, "Error: invalid volume option device for driver "
                                             "'local': stat /bogus: no such file or directory\n")
    _ok(run_pyman("volume", "create", "--opt", "type=bind", "--opt", f"device={tmp_path}",
                  "vt-bind2"))
    r = _ok(run_pyman("run", "--rm", *NET, "-v", "vt-tmp:/t", "-v", "vt-bind:/b",
                      "-v", "vt-own:/o", "-v", "vt-bind2:/b2", "alpine", "sh", "-c",
                      "mount | grep ' /t ' | cut -d' ' -f5; ls /b; stat -c '%u %g' /o; ls /b2"))
    assert r.stdout.split("\n") == ["tmpfs", "seen", "5 6", "seen", ""]
    _ok(run_pyman("volume", "rm", "vt-tmp", "vt-bind", "vt-own", "vt-bind2"))


def _volume_image_tar(path: Path) -> None:
    """A tiny rootfs (the host's static busybox) with /data holding a file owned by 1000."""
    with tarfile.open(path, "w") as tf:
        for d in ("bin", "data"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
        tf.add("/bin/busybox", "bin/busybox")
        for applet in ("sh", "cat", "ls", "stat", "mount", "grep", "touch", "cut", "sort"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tf.addfile(link)
        info = tarfile.TarInfo("data/seed")
        info.size, info.uid, info.gid = 7, 1000, 1000
        tf.addfile(info, io.BytesIO(b"seeded\n"))


def test_mount_tmpfs_anonymous_and_rm_v(run_pyman, tmp_path: Path) -> None:
    tarball = tmp_path / "rootfs.tar"
    _volume_image_tar(tarball)
    _ok(run_pyman("import", "--change", "VOLUME /data", str(tarball), "vt-volimg"))
    host = tmp_path / "h"
    host.mkdir()
    before = set(run_pyman("volume", "ls", "-q").stdout.split())
    _ok(run_pyman("create", "--name", "vt-m", *NET, "-v", "/scratch",
                  "--mount", f"type=bind,src={host},dst=/b,readonly",
                  "--mount", "type=volume,src=vt-named,dst=/n",
                  "--mount", "type=volume,dst=/anon", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m",
                  "--tmpfs", "/t2:size=2m", "vt-volimg", "sh", "-c",
                  "cat /data/seed; stat -c '%u %n' /data/seed; mount | grep -E "
                  "' /(b|n|anon|scratch|t|t2|data) ' | cut -d' ' -f3,5 | sort; touch /b/x"))
    r = run_pyman("start", "-a", "vt-m")
    assert r.returncode == 1 and "Read-only file system" in r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["seeded", "1000 /data/seed"]  # the image's VOLUME, copied up
    mounted = {tuple(x.split()) for x in lines[2:]}
    assert {("/t", "tmpfs"), ("/t2", "tmpfs")} <= mounted
    assert {d for d, _ in mounted} == {"/b", "/n", "/anon", "/scratch", "/t", "/t2", "/data"}

    doc = json.loads(_ok(run_pyman("inspect", "vt-m")).stdout)[0]
    kinds = {m["Destination"]: (m["Type"], m["RW"]) for m in doc["Mounts"]}
    assert kinds == {"/b": ("bind", False), "/n": ("volume", True), "/anon": ("volume", True),
                     "/scratch": ("volume", True), "/data": ("volume", True)}
    assert doc["HostConfig"]["Tmpfs"] == {
        "/t": "size=1m,rw,rprivate,nosuid,nodev,tmpcopyup",
        "/t2": "size=2m,rw,rprivate,nosuid,nodev,tmpcopyup"}
    anon = {m["Name"] for m in doc["Mounts"] if m["Type"] == "volume"} - {"vt-named"}
    assert len(anon) == 3
    assert set(run_pyman("volume", "ls", "-q").stdout.split()) == before | anon | {"vt-named"}

    assert _ok(run_pyman("rm", "-v", "vt-m")).stdout == "vt-m\n"
    assert set(run_pyman("volume", "ls", "-q").stdout.split()) == before | {"vt-named"}
    # --rm takes its anonymous volumes with it, as Podman's does
    _ok(run_pyman("run", "--rm", *NET, "-v", "/x", "vt-volimg", "ls", "/data"))
    assert set(run_pyman("volume", "ls", "-q").stdout.split()) == before | {"vt-named"}
    _ok(run_pyman("volume", "rm", "vt-named"))
