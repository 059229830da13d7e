"""run options of Podman's 030-run: --runtime (per container) and the global --runtime-flag,
resource limits on a cgroup v1 host, --preserve-fds, --conmon-pidfile, /run/.containerenv,
--workdir that must exist, --attach, --timeout, a JSON --entrypoint, --hostuser and the
home of keep-id's user, the root directory's mode."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from lifecycle_util import NET

from pyman.engine.specgen.limits import fs_type


def test_runtime_flag_and_runtime_path(run_pyman, tmp_path: Path) -> None:
    r = run_pyman("--runtime-flag", "invalidflag", "run", "--rm", *NET, "alpine", "true")
    assert r.returncode == 126, r.stderr
    last = r.stderr.splitlines()[-1]  # after the pull's lines
    assert last.startswith("Error: OCI runtime error: ") and "-invalidflag" in last
    assert run_pyman("ps", "-aq").stdout == ""  # --rm: nothing left

    info = run_pyman("info", "--format", "{{.Host.OCIRuntime.Path}}")
    copy = tmp_path / "myruntime"
    shutil.copy2(info.stdout.strip(), copy)
    r = run_pyman("run", "-d", "--name", "rf-rt", *NET, "--runtime", str(copy), "alpine",
                  "sleep", "60")
    assert r.returncode == 0, r.stderr
    got = run_pyman("inspect", "--format", "{{.OCIRuntime}}", "rf-rt").stdout.strip()
    assert got == str(copy)
    assert run_pyman("rm", "-f", "-t", "0", "rf-rt").returncode == 0
    r = run_pyman("run", "--rm", *NET, "--runtime", str(tmp_path / "nosuch"), "alpine", "true")
    assert r.returncode != 0 and "nosuch" in r.stderr


@pytest.mark.skipif(fs_type("/sys/fs/cgroup") == "cgroup2",
                    reason="a unified cgroup v2 host: limits are checked, not ignored")
def test_limits_ignored_on_cgroup_v1(run_pyman) -> None:
    for flags in (("--memory=0",), ("--memory", "64m", "--pids-limit", "10")):
        r = run_pyman("run", "--rm", *NET, *flags, "alpine", "echo", "hello")
        assert (r.returncode, r.stdout) == (0, "hello\n"), r.stderr
        assert r.stderr == ("Resource limits are not supported and ignored on cgroups V1 "
                            "rootless systems\n")


def test_preserve_fds(pyman_bin, pyman_env, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("through fd 4\n")
    r = subprocess.run(
        ["sh", "-c", f'exec "$0" run --rm -i {" ".join(NET)} --preserve-fds=2 alpine '
         'sh -c "cat <&4" 3</dev/null 4<"$1"', str(pyman_bin), str(data)],
        capture_output=True, text=True, env=pyman_env, stdin=subprocess.DEVNULL, timeout=60)
    assert (r.returncode, r.stdout) == (0, "through fd 4\n"), r.stderr
    r = subprocess.run([str(pyman_bin), "run", "--rm", *NET, "--preserve-fds=2", "alpine",
                        "true"], capture_output=True, text=True, env=pyman_env,
                       stdin=subprocess.DEVNULL, timeout=60)
    assert (r.returncode, r.stderr) == (125, "Error: file descriptor 3 is not available - "
                                        "the preserve-fds option requires that file "
                                        "descriptors must be passed\n")


def test_conmon_pidfile_and_containerenv(run_pyman, tmp_path: Path) -> None:
    pidfile = tmp_path / "pidfile"
    r = run_pyman("run", "-d", "--name", "rf-pid", *NET, "--conmon-pidfile", str(pidfile),
                  "alpine", "sleep", "60")
    assert r.returncode == 0, r.stderr
    doc = json.loads(run_pyman("inspect", "rf-pid").stdout)[0]
    assert pidfile.read_text() == f"{doc['State']['ConmonPid']}\n"
    assert doc["ConmonPidFile"] == str(pidfile)
    assert run_pyman("rm", "-f", "-t", "0", "rf-pid").returncode == 0

    r = run_pyman("run", "--rm", *NET, "alpine", "stat", "-c", "%s %a", "/run/.containerenv")
    assert r.stdout == "0 644\n", r.stderr
    r = run_pyman("run", *NET, "--privileged", "--name", "rf-env", "alpine", "sh", "-c",
                  ". /run/.containerenv; echo $engine $name $rootless; echo $id; echo $image; "
                  "echo $imageid")
    first, cid, image, image_id = r.stdout.splitlines()
    assert first.startswith("podman-") and first.split()[1:] == ["rf-env", "1"], first
    doc = json.loads(run_pyman("inspect", "rf-env").stdout)[0]
    assert (cid, image, image_id) == (doc["Id"], doc["ImageName"], doc["Image"])
    assert run_pyman("rm", "rf-env").returncode == 0
    r = run_pyman("run", "--rm", *NET, "--read-only", "alpine", "ls", "/run/.containerenv")
    assert r.returncode == 1  # a tmpfs on /run: none, as Podman


def test_workdir_must_exist(run_pyman, tmp_path: Path) -> None:
    r = run_pyman("run", "--rm", *NET, "--workdir", "/i/do/not/exist", "alpine", "pwd")
    assert r.returncode == 126
    assert r.stderr.startswith('Error: workdir "/i/do/not/exist" does not exist on '
                               "container "), r.stderr
    r = run_pyman("run", "--rm", *NET, "--workdir", "/etc/passwd", "alpine", "pwd")
    assert r.returncode == 126 and "exists on container" in r.stderr
    (tmp_path / "content").write_text("here\n")
    r = run_pyman("run", "--rm", *NET, "--workdir", "/mnt1", "-v", f"{tmp_path}:/mnt1",
                  "alpine", "cat", "content")
    assert r.stdout == "here\n", r.stderr
    r = run_pyman("run", "--rm", *NET, "--workdir", "/mnt2", "-v",
                  f"{tmp_path}/content:/mnt2/foo", "alpine", "cat", "foo")
    assert r.stdout == "here\n", r.stderr
    assert run_pyman("ps", "-aq").stdout == ""


def test_attach_streams(run_pyman) -> None:
    r = run_pyman("run", "--rm", *NET, "--attach", "stderr", "alpine", "sh", "-c",
                  "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "", "err\n")
    r = run_pyman("run", "--name", "rf-att", *NET, "-a", "stdin", "alpine", "sh", "-c",
                  "echo hello; exit 4")
    cid = run_pyman("inspect", "--format", "{{.Id}}", "rf-att").stdout
    assert (r.returncode, r.stdout) == (4, cid), r.stderr
    assert run_pyman("logs", "rf-att").stdout == "hello\n"
    assert run_pyman("rm", "rf-att").returncode == 0
    r = run_pyman("run", "--rm", *NET, "-a", "stdrr", "alpine", "true")
    assert (r.returncode, r.stderr) == (125, 'Error: invalid stream "stdrr" for --attach - '
                                        "must be one of stdin, stdout, or stderr: invalid "
                                        "argument\n")


def test_timeout_kills_with_exit_minus_one(run_pyman) -> None:
    t0 = time.monotonic()
    r = run_pyman("run", "--name", "rf-to", *NET, "--timeout", "2", "alpine", "sh", "-c",
                  "trap 'echo TERM' TERM; sleep 60")
    took = time.monotonic() - t0
    assert r.returncode == 255 and 2 <= took < 8, (r.returncode, took, r.stderr)
    got = run_pyman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} "
                    "{{.Config.Timeout}}", "rf-to").stdout
    assert got == "exited -1 2\n"
    assert run_pyman("logs", "rf-to").stdout == ""  # SIGKILL: no trap ran
    # a container that ends first is not touched
    r = run_pyman("start", "-a", "rf-to")
    assert r.returncode == 255
    r = run_pyman("run", "--rm", *NET, "--timeout", "30", "alpine", "sh", "-c", "exit 7")
    assert r.returncode == 7
    assert run_pyman("rm", "rf-to").returncode == 0


def test_entrypoint_json(run_pyman) -> None:
    r = run_pyman("run", "--rm", *NET, '--entrypoint=["/bin/echo","a b"]', "alpine")
    assert r.stdout == "a b\n", r.stderr
    r = run_pyman("run", "--rm", *NET, "--entrypoint=[not json", "alpine")
    assert r.returncode == 127 and "[not json" in r.stderr


def test_hostuser_and_keep_id_home(run_pyman) -> None:
    me = pwd.getpwuid(os.getuid())
    assert run_pyman("run", "--rm", *NET, "alpine", "grep", me.pw_name,
                     "/etc/passwd").returncode == 1
    want = f"{me.pw_name}:*:{me.pw_uid}:{me.pw_gid}:{me.pw_gecos.split(',')[0]}:/:/bin/sh\n"
    for flags in (("--hostuser", me.pw_name), ("--hostuser", str(me.pw_uid)),
                  ("--hostuser", me.pw_name, "--user", str(me.pw_uid))):
        r = run_pyman("run", "--rm", *NET, *flags, "alpine", "grep", me.pw_name, "/etc/passwd")
        assert r.stdout == want, (flags, r.stderr)
    # a user the image has already gets no second line
    r = run_pyman("run", "--rm", *NET, "--hostuser", "root", "alpine", "grep", "-c", "^root:",
                  "/etc/passwd")
    assert r.stdout == "1\n"
    for user, what in (("bogus-user", "user bogus-user"), ("4444444", "userid 4444444")):
        r = run_pyman("run", "--rm", *NET, "--hostuser", user, "alpine", "true")
        assert r.returncode == 126 and r.stderr.endswith(f": user: unknown {what}\n")
        assert "creating temporary passwd file for container" in r.stderr
    assert run_pyman("ps", "-aq").stdout == ""
    # keep-id: HOME and the passwd home are the user's own when a mount brings it in
    script = "echo $(pwd; echo $HOME; echo ~)"
    for vol, want_home in (((), "/"), (("-v", f"/x{me.pw_dir}"), "/"),
                           (("-v", me.pw_dir), me.pw_dir)):
        r = run_pyman("run", "--rm", *NET, *vol, "--userns=keep-id", "alpine", "sh", "-c",
                      script)
        assert r.stdout == f"/ {want_home} {want_home}\n", (vol, r.stderr)
    run_pyman("volume", "prune", "-f")


def test_root_dir_mode_is_the_images(run_pyman, tmp_path: Path) -> None:
    # containers/storage's rule: 0555 unless a layer's root entry says otherwise
    r = run_pyman("run", "--rm", *NET, "alpine", "sh", "-c", "stat -c %a /; touch /x && ls /x")
    assert r.stdout == "555\n/x\n", r.stderr  # root still writes there
    tarball = tmp_path / "rootfs.tar"
    with tarfile.open(tarball, "w") as tf:
        root = tarfile.TarInfo(".")
        root.type, root.mode = tarfile.DIRTYPE, 0o751
        tf.addfile(root)
        tf.add("/bin/busybox", "bin/busybox")
        link = tarfile.TarInfo("bin/stat")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tf.addfile(link)
    assert run_pyman("import", str(tarball), "rf-root751").returncode == 0
    r = run_pyman("run", "--rm", *NET, "rf-root751", "/bin/stat", "-c", "%a", "/")
    assert r.stdout == "751\n", r.stderr
    assert run_pyman("rmi", "rf-root751").returncode == 0


def test_keep_id_passwd_is_modifiable(run_pyman) -> None:
    """The added entries are in the container's own /etc/passwd (not a bind mount), so
    adduser can replace the file (Podman's 030 'passwd file is modifiable'); with --read-only they come as a bound copy."""
    r = run_pyman("run", "-d", "--name", "rf-kid", *NET, "--userns=keep-id",
                  "--cap-add=dac_override", "alpine", "sleep", "60")
    assert r.returncode == 0, r.stderr
    # what adduser does: a new file renamed over the old (EBUSY over a bind mount)
    r = run_pyman("exec", "--user", "root", "rf-kid", "sh", "-c",
                  "cp /etc/passwd /etc/passwd.new && echo 'newuser3:x:4242:4242:a b:"
                  "/home/newuser3:/bin/sh' >> /etc/passwd.new && mv /etc/passwd.new /etc/passwd")
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    r = run_pyman("exec", "rf-kid", "tail", "-1", "/etc/passwd")
    assert r.stdout == "newuser3:x:4242:4242:a b:/home/newuser3:/bin/sh\n"
    me = pwd.getpwuid(os.getuid()).pw_name
    assert run_pyman("exec", "rf-kid", "grep", "-c", f"^{me}:",
                     "/etc/passwd").stdout == "1\n"
    assert run_pyman("restart", "-t", "0", "rf-kid").returncode == 0  # no second entry
    assert run_pyman("exec", "rf-kid", "grep", "-c", f"^{me}:",
                     "/etc/passwd").stdout == "1\n"
    assert run_pyman("rm", "-f", "-t", "0", "rf-kid").returncode == 0
    r = run_pyman("run", "--rm", *NET, "--userns=keep-id", "--read-only", "alpine", "sh",
                  "-c", f"grep -c ^{me}: /etc/passwd; grep ' /etc/passwd ' /proc/mounts | wc -l")
    assert r.stdout == "1\n1\n", r.stderr
