"""--ulimit, --add-host, --env-file and --memory parsing; cgroup delegation detection;
the bundle's read-only tmpfs, init and rlimits."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from pyman.engine.specgen import limits
from pyman.engine.specgen.env import read_env_files
from pyman.errors import PymanError
from pyman.runtime import bundle
from pyman.runtime.cgroups import cgroup_kinds, delegation

HYBRID = """\
25 1 0:23 / /sys rw - sysfs sysfs rw
30 25 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
"""
UNIFIED = "31 25 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n"


def test_cgroup_delegation(tmp_path: Path) -> None:
    assert cgroup_kinds(HYBRID) == {"cgroup", "cgroup2"}
    d = delegation(HYBRID, "0::/user.slice\n")
    assert not d.ok and "hybrid cgroups (v1 and v2)" in d.why
    mine = tmp_path / "user.slice" / "me"
    mine.mkdir(parents=True)
    (mine / "cgroup.controllers").write_text("cpu memory pids\n")
    d = delegation(UNIFIED, "0::/user.slice/me\n", root=str(tmp_path))
    assert d.ok and d.controllers == ("cpu", "memory", "pids")
    if os.geteuid() == 0:
        return  # root may write anywhere: the not-delegated case needs a plain user
    mine.chmod(0o555)
    try:
        d = delegation(UNIFIED, "0::/user.slice/me\n", root=str(tmp_path))
        assert not d.ok and "not delegated" in d.why
    finally:
        mine.chmod(0o755)


def test_ulimits_and_sizes() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    assert limits.parse_ulimits(["core=0", "nofile=10:20"]) == [
        ("RLIMIT_CORE", 0, 0), ("RLIMIT_NOFILE", 10, 20)]
    if hard == resource.RLIM_INFINITY:
        assert limits.parse_ulimits(["core=-1"]) == [("RLIMIT_CORE", -1, -1)]
    for bad in ("nofile", "nofile=", "nofile=a", "x=1", "nofile=5:4", "nofile=-1:4"):
        with pytest.raises(PymanError, match="requires name=SOFT:HARD"):
            limits.parse_ulimits([bad])
    assert limits.parse_memory("64m") == 64 << 20
    assert limits.parse_memory("1g") == 1 << 30 and limits.parse_memory("512") == 512
    with pytest.raises(PymanError):
        limits.parse_memory("lots")
    assert limits.parse_add_host(["a:1.2.3.4", "b:::1", "c:[fe80::1]"])
    assert limits.parse_signal("usr1") == limits.parse_signal("SIGUSR1") == 10

    # Podman's rules and words: one dash dropped, 0 and names it lacks invalid, >64 out of range
    assert limits.parse_signal("-1") == 1 and limits.parse_signal("-term") == 15
    for bad, msg in [("0", "invalid signal: 0"), ("-SIG", "invalid signal: SIG"),
                     ("%%", "invalid signal: %%"), ("65", "valid signals are 1 through 64"),
                     ("-65", "valid signals are 1 through 64"),
                     ("99999999", "valid signals are 1 through 64")]:
        with pytest.raises(PymanError) as exc:
            limits.parse_signal(bad)
        assert str(exc.value) == msg


def test_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_HOST", "h")
    f = tmp_path / "env"
    f.write_text("# c\n\n   A=1 2\nB=\"q\"\nFROM_HOST\nMISSING_ONE\nC=\n")
    assert read_env_files([str(f)]) == ["A=1 2", 'B="q"', "FROM_HOST=h", "C="]
    f.write_text("=x\n")
    with pytest.raises(PymanError, match="invalid variable"):
        read_env_files([str(f)])


def test_bundle_read_only_init_rlimits(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\n")
    cfg = {"id": "c1", "network": "none", "spec": {
        "args": ["sh"], "env": [], "read_only": True, "read_only_tmpfs": True,
        "init": "/usr/bin/catatonit", "ulimits": [["RLIMIT_NOFILE", 10, 20],
                                                  ["RLIMIT_CORE", -1, -1]]}}
    opts = bundle.spec_options(cfg, str(rootfs), str(tmp_path))
    assert opts.args == ["/run/podman-init", "--", "sh"]
    assert opts.readonly_rootfs and [d for d, _ in opts.tmpfs] == ["/tmp", "/run", "/var/tmp"]
    assert ("/usr/bin/catatonit", "/run/podman-init", ["bind", "ro", "rprivate"]) in opts.mounts
    assert opts.rlimits is not None
    assert opts.rlimits["RLIMIT_NOFILE"] == (10, 20)
    assert opts.rlimits["RLIMIT_CORE"] == (2**64 - 1, 2**64 - 1)
    assert opts.resources is None
