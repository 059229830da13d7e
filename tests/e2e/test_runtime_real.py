"""runc driven for real with pyman's spec, as the monitor drives it: root in a user namespace
with the user's full sub-id map (util-linux unshare --map-users=auto), busybox rootfs.

Needs: an unprivileged user with sub-ids, util-linux >= 2.38, runc, a static busybox.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyman.runtime.detect import find_binary, trial_runtime

ROOT = str(Path(__file__).resolve().parents[2])
BUSYBOX = "/bin/busybox"
RUNC = find_binary("runc")

INNER = textwrap.dedent("""
    import ctypes, json, os, subprocess, sys
    sys.path.insert(0, {root!r})
    from pyman.runtime.bundle import gid_mapped
    from pyman.runtime.oci import OCIRuntime
    from pyman.runtime.spec import SpecOptions, build_spec
    from pyman.runtime.users import resolve_user

    rootfs, bundle, user, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # child subreaper, as the monitor
    u = resolve_user(rootfs, user)
    spec = build_spec(SpecOptions(rootfs=rootfs, args=args, env=["PATH=/bin"],
                                  uid=u.uid, gid=u.gid, additional_gids=u.additional_gids,
                                  hostname="realtest",
                                  devpts_gid=5 if gid_mapped(5) else None))
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    rt = OCIRuntime({runc!r}, os.path.join(bundle, "state"))
    out = open(os.path.join(bundle, "out"), "w")
    result = {{}}
    try:
        pid = rt.create("realtest", bundle, os.path.join(bundle, "pid"), stdout=out.fileno(),
                        stderr=out.fileno())
        rt.start("realtest")
        _, status = os.waitpid(pid, 0)
        result["exit"] = os.waitstatus_to_exitcode(status)
    except Exception as exc:
        result["error"] = str(exc)
        result["code"] = getattr(exc, "exit_code", None)
    finally:
        subprocess.run(rt.delete_argv("realtest"), capture_output=True)
    out.close()
    result["out"] = open(os.path.join(bundle, "out")).read()
    print(json.dumps(result))
""")


def _userns_ok() -> bool:
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--map-users=auto",
                            "--map-groups=auto", "true"], capture_output=True)
    return probe.returncode == 0


pytestmark = [
    pytest.mark.skipif(RUNC is None, reason="runc is not installed"),
    pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="no static busybox"),
    pytest.mark.skipif(os.geteuid() != 0 and not _userns_ok(),
                       reason="no unshare --map-users=auto (util-linux 2.38) or no sub-ids"),
]


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("bbroot")
    root.chmod(0o755)  # mktemp makes it 0700: a non-root container user could not look up /
    (root / "bin").mkdir()
    (root / "etc").mkdir()
    shutil.copy(BUSYBOX, root / "bin/busybox")
    for applet in ("sh", "echo", "id", "cat", "ls", "hostname"):
        os.symlink("busybox", root / "bin" / applet)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                     "tester:x:1000:1000::/home/tester:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\ntty:x:5:\ntester:x:1000:\n")
    (root / "bin/notexec").write_text("#!/bin/sh\necho no\n")
    return str(root)


def run(rootfs: str, tmp_path: Path, *args: str, user: str = "") -> dict[str, object]:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    script = tmp_path / "inner.py"
    script.write_text(INNER.format(root=ROOT, runc=RUNC))
    proc = subprocess.run(
        ["unshare", "--user", "--mount", "--map-root-user", "--map-users=auto",
         "--map-groups=auto", sys.executable, str(script), rootfs, str(bundle), user, *args],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_echo_hi(rootfs: str, tmp_path: Path) -> None:
    assert run(rootfs, tmp_path, "echo", "hi") == {"exit": 0, "out": "hi\n"}


def test_namespaces_mounts_and_caps(rootfs: str, tmp_path: Path) -> None:
    r = run(rootfs, tmp_path, "sh", "-c",
            "hostname; id; grep CapEff /proc/self/status; cat /proc/mounts")
    out = str(r["out"])
    assert r["exit"] == 0, r
    assert out.startswith("realtest\nuid=0(root) gid=0(root)")
    assert "CapEff:\t00000000800405fb" in out  # Podman's 11 default capabilities
    assert "devpts /dev/pts devpts" in out and "sysfs /sys sysfs ro" in out


def test_user_from_image_passwd(rootfs: str, tmp_path: Path) -> None:
    r = run(rootfs, tmp_path, "sh", "-c", "id; grep CapEff /proc/self/status", user="tester")
    assert r["out"] == "uid=1000(tester) gid=1000(tester)\nCapEff:\t0000000000000000\n"


def test_not_found_is_127(rootfs: str, tmp_path: Path) -> None:
    r = run(rootfs, tmp_path, "nosuch")
    assert r["code"] == 127
    assert 'exec: "nosuch": executable file not found in $PATH' in str(r["error"])


def test_not_executable_is_126(rootfs: str, tmp_path: Path) -> None:
    r = run(rootfs, tmp_path, "/bin/notexec")
    assert r["code"] == 126
    assert 'exec: "/bin/notexec": permission denied' in str(r["error"])


def test_detection_trial_accepts_runc(tmp_path: Path) -> None:
    assert RUNC is not None
    status = trial_runtime(RUNC, str(tmp_path))
    assert status.ok, status.reason
    assert status.version
