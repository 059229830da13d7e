"""config.json generation, process args/env rules, and --user resolution."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pyman.errors import CommandCannotRunError
from pyman.runtime import bundle
from pyman.runtime.spec import (
    DEFAULT_PATH,
    MASKED_PATHS,
    READONLY_PATHS,
    SpecOptions,
    build_spec,
    caller_rlimits,
    image_process_args,
    merge_env,
)
from pyman.runtime.users import resolve_user

PODMAN_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
               "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
               "CAP_SETUID", "CAP_SYS_CHROOT"]


def spec(**kw: Any) -> dict[str, Any]:
    kw.setdefault("rootfs", "/r")
    kw.setdefault("args", ["echo", "hi"])
    kw.setdefault("rlimits", {"RLIMIT_NOFILE": (1024, 4096)})
    return build_spec(SpecOptions(**kw))


def mounts(s: dict[str, Any]) -> dict[str, Any]:
    return {m["destination"]: m for m in s["mounts"]}


def ns_types(s: dict[str, Any]) -> list[str]:
    return [n["type"] for n in s["linux"]["namespaces"]]


# -- namespaces and what a rootless runtime must not be asked for ----------------------------


@pytest.mark.parametrize("network,expected", [
    ("private", ["pid", "network", "ipc", "uts", "mount"]),
    ("none", ["pid", "network", "ipc", "uts", "mount"]),
    ("host", ["pid", "ipc", "uts", "mount"]),
])
def test_namespaces(network: str, expected: list[str]) -> None:
    assert ns_types(spec(network=network)) == expected


def test_no_userns_no_mappings_no_cgroups() -> None:
    s = spec()
    assert "user" not in ns_types(s)
    for key in ("uidMappings", "gidMappings", "cgroupsPath", "resources", "devices"):
        assert key not in s["linux"]
    assert s["ociVersion"] == "1.0.2"


def test_bad_network_mode() -> None:
    with pytest.raises(ValueError):
        SpecOptions(rootfs="/r", args=["x"], network="bridge")


# -- mounts ----------------------------------------------------------------------------------


def test_default_mounts_like_podman() -> None:
    m = mounts(spec())
    assert m["/proc"] == {"destination": "/proc", "type": "proc", "source": "proc",
                          "options": ["nosuid", "noexec", "nodev"]}
    assert m["/dev"]["type"] == "tmpfs"
    assert m["/dev"]["options"] == ["nosuid", "noexec", "strictatime", "mode=755",
                                    "size=65536k"]
    assert m["/dev/pts"]["options"] == ["nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                        "mode=0620", "gid=5"]
    assert m["/dev/shm"]["options"] == ["nosuid", "noexec", "nodev", "mode=1777",
                                        "size=65536k"]
    assert m["/dev/mqueue"]["type"] == "mqueue"
    assert m["/sys"]["type"] == "sysfs"
    assert "ro" in m["/sys"]["options"]
    assert m["/sys/fs/cgroup"]["type"] == "cgroup"
    assert "ro" in m["/sys/fs/cgroup"]["options"]
    # runc/crun bind-mount the default devices themselves inside a user namespace
    assert not any(d.startswith("/dev/") and d not in ("/dev/pts", "/dev/shm", "/dev/mqueue")
                   for d in m)


def test_devpts_without_mapped_tty_gid() -> None:
    assert mounts(spec(devpts_gid=None))["/dev/pts"]["options"][-1] == "mode=0620"


def test_host_network_binds_sys() -> None:
    m = mounts(spec(network="host"))
    assert m["/sys"]["type"] == "bind"
    assert m["/sys"]["source"] == "/sys"
    assert set(m["/sys"]["options"]) == {"rprivate", "nosuid", "noexec", "nodev", "ro",
                                         "rbind"}
    assert "/sys/fs/cgroup" not in m


def test_extra_bind_mounts() -> None:
    m = mounts(spec(mounts=[("/run/x/hosts", "/etc/hosts", ()),
                            ("/run/x/resolv.conf", "/etc/resolv.conf", ["bind", "ro"])]))
    assert m["/etc/hosts"] == {"destination": "/etc/hosts", "type": "bind",
                               "source": "/run/x/hosts", "options": ["bind", "rprivate"]}
    assert m["/etc/resolv.conf"]["options"] == ["bind", "ro"]


# -- process ---------------------------------------------------------------------------------


def test_capabilities_default_set() -> None:
    caps = spec()["process"]["capabilities"]
    assert caps == {"bounding": PODMAN_CAPS, "effective": PODMAN_CAPS,
                    "permitted": PODMAN_CAPS}


def test_capabilities_custom_names_normalised() -> None:
    caps = spec(capabilities=["net_raw", "CAP_KILL"])["process"]["capabilities"]
    assert caps["bounding"] == ["CAP_NET_RAW", "CAP_KILL"]
    assert "inheritable" not in caps and "ambient" not in caps


def test_process_fields() -> None:
    p = spec(args=["sh"], env=["A=1"], cwd="/w", uid=1000, gid=100, additional_gids=[5, 6],
             terminal=True, no_new_privileges=True)["process"]
    assert p["args"] == ["sh"]
    assert p["env"] == ["A=1"]
    assert p["cwd"] == "/w"
    assert p["user"] == {"uid": 1000, "gid": 100, "umask": 0o022, "additionalGids": [5, 6]}
    # a non-root user keeps only the bounding set, as in Podman
    assert p["capabilities"] == {"bounding": PODMAN_CAPS, "effective": [], "permitted": []}
    assert p["terminal"] is True
    assert p["noNewPrivileges"] is True
    assert "oomScoreAdj" not in p
    assert p["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024}]


def test_process_defaults() -> None:
    p = spec()["process"]
    assert "additionalGids" not in p["user"]
    assert "noNewPrivileges" not in p
    assert p["terminal"] is False
    assert p["cwd"] == "/"


def test_caller_rlimits_like_podman() -> None:
    limits = caller_rlimits()
    assert set(limits) == {"RLIMIT_NOFILE", "RLIMIT_NPROC"}
    for soft, hard in limits.values():
        assert soft == hard <= 1048576
    p = build_spec(SpecOptions(rootfs="/r", args=["x"]))["process"]
    assert {r["type"] for r in p["rlimits"]} == {"RLIMIT_NOFILE", "RLIMIT_NPROC"}


def test_root_hostname_annotations() -> None:
    s = spec(readonly_rootfs=True, hostname="box", annotations={"a": "b"})
    assert s["root"] == {"path": "/r", "readonly": True}
    assert s["hostname"] == "box"
    assert s["annotations"] == {"a": "b"}
    assert "annotations" not in spec()


# -- linux -----------------------------------------------------------------------------------


def test_masked_and_readonly_paths() -> None:
    linux = spec()["linux"]
    assert linux["maskedPaths"] == list(MASKED_PATHS)
    assert "/proc/kcore" in linux["maskedPaths"] and "/sys/dev/block" in linux["maskedPaths"]
    assert linux["readonlyPaths"] == list(READONLY_PATHS)
    assert spec(network="host")["linux"]["maskedPaths"][0] == "/sys/kernel"


def test_sysctls_only_in_own_netns() -> None:
    assert spec()["linux"]["sysctl"] == {"net.ipv4.ping_group_range": "0 0"}
    assert spec(network="none")["linux"]["sysctl"] == {"net.ipv4.ping_group_range": "0 0"}
    assert "sysctl" not in spec(network="host")["linux"]
    host = spec(network="host", sysctls={"kernel.msgmax": "1", "net.x": "1"})["linux"]
    assert host["sysctl"] == {"kernel.msgmax": "1"}


def test_seccomp_seam() -> None:
    assert "seccomp" not in spec()["linux"]
    profile = {"defaultAction": "SCMP_ACT_ALLOW"}
    assert spec(seccomp=profile)["linux"]["seccomp"] == profile


def test_spec_is_json() -> None:
    json.dumps(spec())


# -- entrypoint and command ------------------------------------------------------------------


@pytest.mark.parametrize("ep,cmd,uep,ucmd,expected", [
    (["/ep"], ["a"], None, None, ["/ep", "a"]),  # image as is
    (["/ep"], ["a"], None, ["b", "c"], ["/ep", "b", "c"]),  # command replaces Cmd
    (["/ep"], ["a"], ["/x"], None, ["/x"]),  # --entrypoint drops the image Cmd
    (["/ep"], ["a"], ["/x"], ["b"], ["/x", "b"]),
    (["/ep"], ["a"], [], None, []),  # --entrypoint '' clears both
    (["/ep"], ["a"], [], ["sh"], ["sh"]),
    (None, ["sh"], None, None, ["sh"]),
    ([], [], None, [], []),
    (None, None, None, ["true"], ["true"]),
])
def test_image_process_args(ep: list[str] | None, cmd: list[str] | None, uep: list[str] | None, ucmd: list[str] | None, expected: list[str]) -> None:
    assert image_process_args(ep, cmd, uep, ucmd) == expected


# -- environment -----------------------------------------------------------------------------


def test_merge_env_defaults_and_order() -> None:
    assert merge_env([], [], "h1") == [
        "container=podman", f"PATH={DEFAULT_PATH}", "TERM=xterm", "HOSTNAME=h1"]


def test_merge_env_user_wins() -> None:
    env = merge_env(["PATH=/img", "A=1", "B=2"], ["A=9", "C=3", "PATH=/usr"], "h",
                    home="/root")
    assert env == ["container=podman", "PATH=/usr", "TERM=xterm", "A=9", "B=2", "C=3",
                   "HOME=/root", "HOSTNAME=h"]


def test_merge_env_keeps_explicit_hostname_and_home() -> None:
    env = merge_env([], ["HOSTNAME=mine", "HOME=/h"], "h", home="/root")
    assert "HOSTNAME=mine" in env and "HOSTNAME=h" not in env
    assert "HOME=/h" in env and "HOME=/root" not in env


def test_merge_env_bare_key_from_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYMAN_T_X", "from-host")
    monkeypatch.delenv("PYMAN_T_MISSING", raising=False)
    env = merge_env([], ["PYMAN_T_X", "PYMAN_T_MISSING", "E="])
    assert "PYMAN_T_X=from-host" in env
    assert not any(e.startswith("PYMAN_T_MISSING") for e in env)
    assert "E=" in env


# -- users -----------------------------------------------------------------------------------

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
tester:x:1000:1000::/home/tester:/bin/sh
# comment
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
GROUP = """root:x:0:
bin:x:1:root,daemon
tty:x:5:
wheel:x:10:root,tester
tester:x:1000:
staff:x:50:tester
"""


@pytest.fixture
def rootfs(tmp_path: Path) -> str:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(PASSWD)
    (tmp_path / "etc/group").write_text(GROUP)
    return str(tmp_path)


@pytest.mark.parametrize("user,uid,gid,sgids,home", [
    ("", 0, 0, [1, 10], "/root"),
    ("root", 0, 0, [1, 10], "/root"),
    ("tester", 1000, 1000, [10, 50], "/home/tester"),
    ("1000", 1000, 1000, [10, 50], "/home/tester"),
    ("1234", 1234, 0, [], "/"),
    ("1234:99", 1234, 99, [], "/"),
    ("tester:tty", 1000, 5, [], "/home/tester"),
    ("tester:5", 1000, 5, [], "/home/tester"),
    ("0:4321", 0, 4321, [], "/root"),
    (":tty", 0, 5, [], "/root"),
])
def test_resolve_user(rootfs: str, user: str, uid: int, gid: int, sgids: list[int], home: str) -> None:
    u = resolve_user(rootfs, user)
    assert (u.uid, u.gid, u.additional_gids, u.home) == (uid, gid, sgids, home)


def test_unknown_user_message(rootfs: str) -> None:
    with pytest.raises(CommandCannotRunError) as exc:
        resolve_user(rootfs, "nosuch")
    assert str(exc.value) == "unable to find user nosuch: no matching entries in passwd file"
    assert exc.value.exit_code == 126


def test_unknown_group_message(rootfs: str) -> None:
    with pytest.raises(CommandCannotRunError) as exc:
        resolve_user(rootfs, "root:nogroupx")
    assert str(exc.value) == "unable to find group nogroupx: no matching entries in group file"


def test_no_passwd_file(tmp_path: Path) -> None:
    assert resolve_user(str(tmp_path), "").uid == 0
    assert resolve_user(str(tmp_path), "42:42").gid == 42
    with pytest.raises(CommandCannotRunError):
        resolve_user(str(tmp_path), "tester")


def test_passwd_absolute_symlink_stays_in_rootfs(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/passwd").write_text("app:x:77:77::/app:/bin/sh\n")
    os.symlink("/usr/lib/passwd", tmp_path / "etc/passwd")
    assert resolve_user(str(tmp_path), "app").uid == 77


# -- bundle (what the monitor calls) ---------------------------------------------------------


def test_gid_mapped(tmp_path: Path) -> None:
    m = tmp_path / "gid_map"
    m.write_text("         0       1001          1\n         1     100000      65536\n")
    assert bundle.gid_mapped(5, str(m))
    m.write_text("         0       1001          1\n")
    assert not bundle.gid_mapped(5, str(m))
    assert not bundle.gid_mapped(5, str(tmp_path / "absent"))


def test_write_config(rootfs: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("hosts", "resolv.conf", "hostname"):
        (run_dir / name).write_text("x\n")
    cfg = {"network": "slirp4netns",
           "spec": {"args": ["id"], "env": ["PATH=/bin"], "cwd": "", "user": "tester",
                    "hostname": "h"}}
    bundle.write_config(cfg, rootfs, str(run_dir))
    s = json.loads((run_dir / "config.json").read_text())
    assert s["root"]["path"] == rootfs
    assert s["process"]["user"]["uid"] == 1000
    assert s["process"]["user"]["additionalGids"] == [1000, 10, 50]  # primary first, Podman
    assert "HOME=/home/tester" in s["process"]["env"]
    assert "network" in ns_types(s)
    m = mounts(s)
    assert m["/etc/resolv.conf"]["source"] == str(run_dir / "resolv.conf")
    cfg["network"] = "host"
    bundle.write_config(cfg, rootfs, str(run_dir))
    assert "network" not in ns_types(json.loads((run_dir / "config.json").read_text()))
