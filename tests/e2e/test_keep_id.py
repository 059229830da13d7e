"""--userns=keep-id end to end: the user's uid/gid inside (Podman's map), the process runs as
the user (with a passwd entry), image files keep their owners, and what the container writes
to a bind mount belongs to the user on the host (CI relies on this)."""

from __future__ import annotations

import json
import os
import pwd
import tarfile
from pathlib import Path

import pytest
from lifecycle_util import NET


def _ok(r):  # type: ignore[no-untyped-def]
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def _subid_total(path: str) -> int:
    name = pwd.getpwuid(os.getuid()).pw_name
    total = 1
    for line in Path(path).read_text().splitlines():
        parts = line.split(":")
        if len(parts) == 3 and parts[0] in (name, str(os.getuid())):
            total += int(parts[2])
    return total


def test_keep_id_user_map_and_bind_ownership(run_pyman, tmp_path: Path) -> None:
    uid, gid = os.getuid(), os.getgid()
    name = pwd.getpwuid(uid).pw_name
    out = tmp_path / "out"
    out.mkdir()
    r = _ok(run_pyman(
        "run", "--rm", *NET, "--userns=keep-id", "-w", "/tmp", "-v", f"{out}:/out", "alpine",
        "sh", "-c", "id -u; id -g; id -un; echo $HOME; stat -c '%u:%g' / /bin/busybox "
        "/etc/os-release; cat /proc/self/uid_map; echo made > /out/f; mkdir /out/d; "
        "touch /out/d/g; grep \"^$(id -un):\" /etc/passwd"))
    lines = r.stdout.splitlines()
    assert lines[:4] == [str(uid), str(gid), name, "/tmp"]
    assert lines[4:7] == ["0:0"] * 3  # the image's files are still root's
    total = _subid_total("/etc/subuid")
    expected = [[0, 1, uid], [uid, 0, 1], [uid + 1, uid + 1, total - uid - 1]]
    assert [[int(x) for x in line.split()] for line in lines[7:10]] == expected
    assert lines[10] == f"{name}:*:{uid}:{gid}::/tmp:/bin/sh"
    for p in (out / "f", out / "d", out / "d" / "g"):
        st = p.stat()
        assert (st.st_uid, st.st_gid) == (uid, gid), p
    assert (out / "f").read_text() == "made\n"

    # a fresh named volume is the container user's, so the user can write to it
    r = _ok(run_pyman("run", "--rm", *NET, "--userns=keep-id", "-v", "kid-vol:/data",
                      "alpine", "sh", "-c", "touch /data/x && stat -c %u /data/x"))
    assert r.stdout == f"{uid}\n"
    _ok(run_pyman("volume", "rm", "kid-vol"))

    # keep-id:uid= puts the user at another id
    r = _ok(run_pyman("run", "--rm", *NET, "--userns=keep-id:uid=200,gid=210",
                      "-v", f"{out}:/out", "alpine", "sh", "-c", "id -u; id -g; touch /out/h"))
    assert r.stdout.split() == ["200", "210"]
    assert ((out / "h").stat().st_uid, (out / "h").stat().st_gid) == (uid, gid)


def test_keep_id_root_override_inspect_export_and_errors(run_pyman, tmp_path: Path) -> None:
    uid, gid = os.getuid(), os.getgid()
    r = _ok(run_pyman("run", "--rm", *NET, "--userns=keep-id", "-u", "root", "alpine",
                      "id", "-u"))
    assert r.stdout == "0\n"

    _ok(run_pyman("create", "--name", "kid-x", *NET, "--userns=keep-id", "alpine", "sh", "-c",
                  "mkdir /tmp/d && echo x > /tmp/d/f"))
    _ok(run_pyman("start", "-a", "kid-x"))
    doc = json.loads(_ok(run_pyman("inspect", "kid-x")).stdout)[0]
    assert doc["Config"]["User"] == f"{uid}:{gid}"
    assert doc["HostConfig"]["UsernsMode"] == "private"  # as Podman shows keep-id
    # the writable layer keeps the container's view of owners (export shows them)
    tarball = tmp_path / "kid.tar"
    _ok(run_pyman("export", "-o", str(tarball), "kid-x"))
    with tarfile.open(tarball) as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert (members["tmp/d/f"].uid, members["tmp/d/f"].gid) == (uid, gid)
    assert members["bin/busybox"].uid == 0 and not any(".wh." in n for n in members)
    _ok(run_pyman("rm", "kid-x"))

    r = run_pyman("run", "--rm", *NET, "--userns=bogus", "alpine", "true")
    assert (r.returncode, r.stderr) == (125, "Error: unrecognized namespace mode bogus passed\n")
    r = run_pyman("run", "--rm", *NET, "--userns=private", "alpine", "true")
    assert r.returncode == 125 and "not supported" in r.stderr
    r = run_pyman("run", "--rm", *NET, "--userns=keep-id:size=5", "alpine", "true")
    assert r.returncode == 125 and "keep-id takes uid=N and gid=N" in r.stderr
    assert _ok(run_pyman("run", "--rm", *NET, "--userns=host", "alpine", "id", "-u")
               ).stdout == "0\n"


@pytest.mark.parametrize("network", ["pasta", "slirp4netns"])
def test_keep_id_with_a_network_helper(run_pyman, network: str) -> None:
    """keep-id's container has a user namespace of its own: its netns must belong to that
    namespace (the runtime makes it: sysfs mounts only there), and the helper configures
    it after create. A netns the monitor made for pasta beforehand failed with `mounting
    sysfs ... operation not permitted`."""
    r = run_pyman("run", "--rm", "--userns=keep-id", "--network", network, "alpine", "sh",
                  "-c", "id -u; ip -4 route | grep -c '^default'")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(os.getuid()), "1"]


def test_exec_user_by_name_in_a_keep_id_container(run_pyman) -> None:
    """exec --user NAME finds the user in the passwd keep-id gives the container (bound over
    the image's), as Podman's does."""
    me = pwd.getpwuid(os.getuid()).pw_name
    _ok(run_pyman("run", "-d", *NET, "--userns=keep-id", "--name", "kid-exec", "alpine",
                  "sleep", "60"))
    try:
        assert _ok(run_pyman("exec", "kid-exec", "id", "-un")).stdout == f"{me}\n"
        r = _ok(run_pyman("exec", "--user", me, "kid-exec", "id", "-u"))
        assert r.stdout == f"{os.getuid()}\n"
        r = run_pyman("exec", "--user", "nosuchuser", "kid-exec", "true")
        assert r.returncode != 0 and "no matching entries in passwd file" in r.stderr
    finally:
        run_pyman("rm", "-f", "-t", "0", "kid-exec")
