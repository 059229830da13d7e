"""-v/--volume, --mount and --tmpfs parsing, with Podman 4.3's answers and messages."""

from __future__ import annotations

import os

import pytest

from pyman.engine.containers.mounts import inspect as inspect_mounts
from pyman.engine.containers.mounts import plan
from pyman.engine.specgen.mounts import parse_all, parse_mount, parse_tmpfs, parse_volume
from pyman.errors import PymanError
from pyman.storage.mount_spec import MountSpec
from pyman.storage.volumes import VolumeStore


def test_volume_bind_named_and_anonymous() -> None:
    b = parse_volume("/srv/data:/data:ro,z")
    assert (b.type, b.source, b.destination, b.rw) == ("bind", "/srv/data", "/data", False)
    assert b.oci_options() == ["rbind", "rprivate", "ro"]
    n = parse_volume("cache:/var/cache/")
    assert (n.type, n.source, n.destination, n.anonymous) == ("volume", "cache", "/var/cache",
                                                               False)
    assert n.options == ["nosuid", "nodev", "rbind"]
    a = parse_volume("/scratch")
    assert (a.type, a.source, a.anonymous) == ("volume", "", True)
    assert parse_volume("/x:/y:Z,noexec,bind,shared").oci_options() == [
        "noexec", "bind", "shared", "rw"]
    assert parse_volume("v:/y:suid").options == ["nodev", "suid", "rbind"]


def test_volume_relative_host_path_resolves_like_podman() -> None:
    # Podman: a source starting with "." is a host path, relative to the working directory
    assert parse_volume("./sub:/d").source == os.path.join(os.getcwd(), "sub")


@pytest.mark.parametrize(("spec", "message"), [
    ("rel/path:/mnt", 'creating named volume "rel/path": running volume create option: '
                      "names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"),
    ("/a:rel", 'invalid container path "rel", must be an absolute path'),
    ("rel", 'invalid container path "rel", must be an absolute path'),
    ("/data:ro", 'invalid container path "ro", must be an absolute path'),
    ("/a:/b:bogus", 'invalid option type "bogus"'),
    ("/a:/b:ro,rw", "invalid options \"ro, rw\", can only specify 1 'rw' or 'ro' option"),
    ("/a:/b:z,Z", "invalid options \"z, Z\", can only specify 1 'z', 'Z', or 'O' option"),
    ("/a:/b:c:d", "/a:/b:c:d: incorrect volume format, should be [host-dir:]ctr-dir[:option]"),
    (":/b", "host directory cannot be empty"),
])
def test_volume_errors(spec: str, message: str) -> None:
    with pytest.raises(PymanError) as err:
        parse_volume(spec)
    assert str(err.value) == message


def test_mount_types() -> None:
    b = parse_mount("type=bind,source=/h,target=/c,readonly")
    assert (b.type, b.source, b.destination, b.rw) == ("bind", "/h", "/c", False)
    assert parse_mount("type=bind,src=/h,dst=/c,ro=false").rw
    assert parse_mount("type=bind,src=/h,dst=/c,bind-propagation=rshared,"
                       "bind-nonrecursive").oci_options() == ["bind", "rshared", "rw"]
    v = parse_mount("type=volume,src=data,destination=/d")
    assert (v.type, v.source, v.anonymous) == ("volume", "data", False)
    assert parse_mount("type=volume,dst=/d").anonymous
    t = parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777")
    assert (t.type, t.options) == ("tmpfs", ["size=1m", "mode=1777", "rw", "rprivate",
                                             "nosuid", "nodev", "tmpcopyup"])


@pytest.mark.parametrize(("spec", "message"), [
    ("src=/h,dst=/c", "incorrect mount format: should be --mount type=<bind|tmpfs|volume>,"
                      "[src=<host-dir|volume-name>,]target=<ctr-dir>[,options]"),
    ("type=foo,dst=/x", 'invalid filesystem type "foo"'),
    ("type=bind,src=/h", "must set volume destination"),
    ("type=bind,src=/h,dst=/c,bogus", "bogus: invalid mount option"),
    ("type=bind,src=/h,dst=/c,bogus=1", "bogus: invalid mount option"),
    ("type=tmpfs,src=x,dst=/t", "source is not supported with tmpfs mounts"),
    ("type=bind,src=/h,dst=rel", 'invalid container path "rel", must be an absolute path'),
])
def test_mount_errors(spec: str, message: str) -> None:
    with pytest.raises(PymanError) as err:
        parse_mount(spec)
    assert str(err.value) == message


def test_tmpfs() -> None:
    t = parse_tmpfs("/t2:rw,size=2m,mode=1777")
    assert t.options == ["rw", "size=2m", "mode=1777", "rprivate", "nosuid", "nodev",
                         "tmpcopyup"]
    assert parse_tmpfs("/run").options == ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]
    ro = parse_tmpfs("/t:ro,notmpcopyup,exec")
    assert not ro.rw and "tmpcopyup" not in ro.options and "rw" not in ro.options
    with pytest.raises(PymanError, match='unknown mount option "bogus"'):
        parse_tmpfs("/t:bogus")
    with pytest.raises(PymanError, match="must be an absolute path"):
        parse_tmpfs("rel")


def test_duplicate_destinations() -> None:
    assert len(parse_all(["v:/a", "v:/a"], [], [])) == 1  # an identical repeat is fine
    with pytest.raises(PymanError, match="^/a: duplicate mount destination$"):
        parse_all(["v:/a", "/tmp:/a/"], [], [])
    with pytest.raises(PymanError, match="duplicate mount destination"):
        parse_all(["/x"], [], ["/x"])


def test_plan_adds_image_volumes_and_checks_host_paths(tmp_path) -> None:
    specs = plan([f"{tmp_path}:/data"], [], [], {"/data": {}, "/var/lib/db": {}})
    assert [(m.type, m.destination, m.anonymous) for m in specs] == [
        ("bind", "/data", False), ("volume", "/var/lib/db", True)]
    assert [m.type for m in plan([], [], [], {"/db": {}}, "tmpfs")] == ["tmpfs"]
    assert plan([], [], [], {"/db": {}}, "ignore") == []
    with pytest.raises(PymanError, match="^statfs /no/such/dir: no such file or directory$"):
        plan(["/no/such/dir:/x"], [], [], {})
    with pytest.raises(PymanError, match="invalid image volume type"):
        plan([], [], [], {}, "bogus")


def test_inspect_shape_like_podman(tmp_path) -> None:
    from dataclasses import asdict

    mounts = [asdict(m) for m in (
        MountSpec("bind", "/mnt", "/tmp/h", ["rbind"], rw=False),
        MountSpec("volume", "/etc", "nv1", ["nosuid", "nodev", "rbind"]),
        MountSpec("tmpfs", "/t", "tmpfs", ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]),
    )]
    docs, binds, tmpfs = inspect_mounts(mounts, VolumeStore(tmp_path))
    assert docs == [
        {"Type": "volume", "Name": "nv1", "Source": f"{tmp_path}/nv1/_data",
         "Destination": "/etc", "Driver": "local", "Mode": "",
         "Options": ["nosuid", "nodev", "rbind"], "RW": True, "Propagation": "rprivate"},
        {"Type": "bind", "Source": "/tmp/h", "Destination": "/mnt", "Driver": "", "Mode": "",
         "Options": ["rbind"], "RW": False, "Propagation": "rprivate"},
    ]
    assert binds == ["nv1:/etc:rw,rprivate,nosuid,nodev,rbind", "/tmp/h:/mnt:ro,rprivate,rbind"]
    assert tmpfs == {"/t": "rw,rprivate,nosuid,nodev,tmpcopyup"}


def test_resolve_in_root_never_leaves_the_root(tmp_path) -> None:
    from pyman.storage.volume_copy import resolve_in_root

    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "abs").symlink_to("/real")
    (root / "up").symlink_to("../../../../etc")
    assert resolve_in_root(str(root), "/abs") == str(root / "real")
    assert resolve_in_root(str(root), "/up") is None  # root/etc: not there
    (root / "etc").mkdir()
    assert resolve_in_root(str(root), "/up") == str(root / "etc")
    (root / "loop").symlink_to("/loop")
    assert resolve_in_root(str(root), "/loop") is None
