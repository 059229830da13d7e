"""--userns=nomap and --userns=auto[:size=N] (also as containers.conf's userns): a user
namespace of the container's own without the user in it; auto containers get ranges of
their own. The rootfs is reached through /tmp/pyman-rootfs-<uid> (the user's private dirs
above the store cannot be searched from such a namespace)."""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

from lifecycle_util import NET


def _maps(r) -> list[list[int]]:  # type: ignore[no-untyped-def]
    assert r.returncode == 0, r.stderr
    return [[int(x) for x in line.split()] for line in r.stdout.splitlines()]


def test_nomap(run_pyman) -> None:
    with open("/etc/subuid") as f:
        base = next(int(line.split(":")[1]) for line in f
                    if line.split(":")[0] in (os.environ.get("USER", ""), str(os.getuid())))
    r = run_pyman("run", "-d", "--name", "un-nomap", *NET, "--userns=nomap", "alpine",
                  "sleep", "60")
    assert r.returncode == 0, r.stderr
    top = run_pyman("top", "un-nomap", "huser").stdout.split()
    assert top == ["HUSER", str(base)]  # container root is the first sub-id, not the user
    doc = json.loads(run_pyman("inspect", "un-nomap").stdout)[0]
    assert doc["HostConfig"]["UsernsMode"] == "private"
    assert run_pyman("rm", "-f", "-t", "0", "un-nomap").returncode == 0
    maps = _maps(run_pyman("run", "--rm", *NET, "--userns=nomap", "alpine", "sh", "-c",
                           "cat /proc/self/uid_map; touch /x"))
    assert maps[0][:2] == [0, 1]
    # the image's files keep their owners in the namespace; root owns /
    r = run_pyman("run", "--rm", *NET, "--userns=nomap", "alpine", "stat", "-c", "%u %a", "/")
    assert r.stdout == "0 555\n", r.stderr
    st = os.lstat(f"/tmp/pyman-rootfs-{os.getuid()}")
    assert st.st_uid == os.getuid() and st.st_mode & 0o777 == 0o711
    assert os.listdir(f"/tmp/pyman-rootfs-{os.getuid()}") == []  # bound in the monitor only


def test_auto_sizes_and_ranges(run_pyman, pyman_env, tmp_path: Path) -> None:
    r = run_pyman("run", "-d", "--name", "un-auto1", *NET, "--userns=auto", "alpine",
                  "sleep", "60")
    assert r.returncode == 0, r.stderr
    first = _maps(run_pyman("exec", "un-auto1", "cat", "/proc/self/uid_map"))
    assert first[0][0] == 0 and first[0][1] != 0 and first[0][2] >= 1024
    second = _maps(run_pyman("run", "--rm", *NET, "--userns=auto:size=1000", "alpine", "cat",
                             "/proc/self/uid_map"))
    assert second[0][2] == 1000
    lo1, hi1 = first[0][1], first[0][1] + first[0][2]
    assert second[0][1] >= hi1 or second[0][1] + 1000 <= lo1  # a range of its own
    assert run_pyman("rm", "-f", "-t", "0", "un-auto1").returncode == 0
    r = run_pyman("run", "--rm", *NET, "--userns=auto:size=9999999", "alpine", "true")
    assert r.returncode == 125 and "not enough free sub-ids" in r.stderr
    r = run_pyman("run", "--rm", *NET, "--userns=auto:bogus=1", "alpine", "true")
    assert r.returncode == 125 and "invalid option 'bogus=1' for auto userns" in r.stderr
    # containers.conf [containers] userns = "auto": no run flag needed
    conf = tmp_path / "containers.conf"
    conf.write_text('[containers]\nuserns = "auto"\n')
    env = {**pyman_env, "CONTAINERS_CONF": str(conf)}
    r = run_pyman("run", "--rm", *NET, "alpine", "cat", "/proc/self/uid_map", env=env)
    maps = _maps(r)
    assert len(maps) == 1 and maps[0][1] != 0 and maps[0][2] >= 1024  # not the user's map
    r = run_pyman("create", "--name", "un-conf", *NET, "alpine", "true", env=env)
    assert r.returncode == 0, r.stderr
    mode = run_pyman("inspect", "--format", "{{.HostConfig.UsernsMode}}", "un-conf").stdout
    assert mode == "private\n"
    assert run_pyman("rm", "un-conf").returncode == 0
    r = run_pyman("create", "--name", "un-conf", *NET, "alpine", "true")  # the default
    assert run_pyman("inspect", "--format", "{{.HostConfig.UsernsMode}}",
                     "un-conf").stdout == "\n"
    assert run_pyman("rm", "un-conf").returncode == 0
    assert run_pyman("ps", "-aq").stdout == ""


def test_top_names_users_as_the_container_does(run_pyman) -> None:
    me = os.getuid()
    for mode, user, host_is_me in (("keep-id", None, True), ("nomap", "root", False),
                                   ("", "root", True)):
        flags = (f"--userns={mode}",) if mode else ()
        r = run_pyman("run", "-d", "--name", "un-top", *NET, *flags, "alpine", "sleep", "60")
        assert r.returncode == 0, r.stderr
        row = run_pyman("top", "un-top", "user", "huser").stdout.splitlines()[1].split()
        assert row[0] == (user or pwd.getpwuid(me).pw_name), (mode, row)
        assert (row[1] == str(me)) == host_is_me, (mode, row)
        assert run_pyman("rm", "-f", "-t", "0", "un-top").returncode == 0
