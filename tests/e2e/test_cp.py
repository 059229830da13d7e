"""pyman cp end to end: both directions, tar on stdin/stdout, running and stopped containers,
ownership as Podman sets it, Podman's errors, and no way out of the container's root."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Iterator

import pytest
from lifecycle_util import NET

CTR = "cp-ctr"


@pytest.fixture(scope="module")
def ctr(pyman_bin, pyman_env) -> Iterator[str]:  # type: ignore[no-untyped-def]
    def pyman(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(pyman_bin), *args], env=pyman_env, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)

    pyman("rm", "-f", CTR)
    r = pyman("run", "-d", "--name", CTR, *NET, "alpine", "sleep", "1000")
    assert r.returncode == 0, r.stderr
    r = pyman("exec", CTR, "sh", "-c", "mkdir -p /d/sub && echo a > /d/f && echo b > /d/sub/g"
              " && ln -s /etc/passwd /d/pw && ln -s / /d/root && chown 1000:1000 /d/f")
    assert r.returncode == 0, r.stderr
    yield CTR
    pyman("rm", "-f", CTR)


def test_copy_out(run_pyman, ctr: str, tmp_path) -> None:
    r = run_pyman("cp", f"{ctr}:/d", str(tmp_path / "x"))  # a new name
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "x" / "f").read_text() == "a\n"
    assert (tmp_path / "x" / "sub" / "g").read_text() == "b\n"
    assert os.readlink(tmp_path / "x" / "pw") == "/etc/passwd"  # links inside stay links
    assert (tmp_path / "x" / "f").stat().st_uid == os.getuid()  # copies belong to the user

    assert run_pyman("cp", f"{ctr}:/d/f", str(tmp_path)).returncode == 0  # into a dir
    assert (tmp_path / "f").read_text() == "a\n"
    assert run_pyman("cp", f"{ctr}:/d/sub/.", str(tmp_path / "contents")).returncode == 0
    assert os.listdir(tmp_path / "contents") == ["g"]
    # a final symlink is followed, inside the container: its passwd, not the host's
    assert run_pyman("cp", f"{ctr}:/d/pw", str(tmp_path / "pw")).returncode == 0
    text = (tmp_path / "pw").read_text()
    assert text.startswith("root:x:0:0:") and "pymanci" not in text



def test_tar_on_stdout_is_owned_by_the_containers_user(pyman_bin, pyman_env, ctr: str) -> None:
    r = subprocess.run([str(pyman_bin), "cp", f"{ctr}:/d", "-"], env=pyman_env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert {"d", "d/f", "d/sub", "d/sub/g", "d/pw"} <= set(members)
    assert (members["d/f"].uid, members["d/f"].gid) == (0, 0)  # Podman's: the container's user
    assert members["d/pw"].issym() and members["d/pw"].linkname == "/etc/passwd"


def test_copy_in_and_stdin_archive(run_pyman, pyman_bin, pyman_env, ctr: str,
                                   tmp_path) -> None:
    src = tmp_path / "src"
    (src / "in").mkdir(parents=True)
    (src / "hf").write_text("h\n")
    (src / "in" / "if").write_text("i\n")
    assert run_pyman("cp", str(src / "hf"), f"{ctr}:/tmp/").returncode == 0
    assert run_pyman("cp", str(src), f"{ctr}:/tmp/newdir").returncode == 0
    assert run_pyman("cp", str(src), f"{ctr}:/tmp/newdir").returncode == 0  # exists: inside
    r = run_pyman("exec", ctr, "sh", "-c", "cat /tmp/hf /tmp/newdir/in/if /tmp/newdir/src/hf;"
                  " stat -c %u:%g /tmp/newdir/hf")
    assert r.stdout == "h\ni\nh\n0:0\n", r.stderr

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("fromtar.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"t!\n"))
    r = subprocess.run([str(pyman_bin), "cp", "-", f"{ctr}:/tmp"], env=pyman_env,
                       input=buf.getvalue(), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert run_pyman("exec", ctr, "cat", "/tmp/fromtar.txt").stdout == "t!\n"
    r = subprocess.run([str(pyman_bin), "cp", "-", f"{ctr}:/tmp/fromtar.txt"], env=pyman_env,
                       input=buf.getvalue(), capture_output=True, timeout=60)
    assert r.returncode == 125
    assert b"destination must be a directory when copying from stdin" in r.stderr


def test_symlinks_never_lead_out_of_the_container(run_pyman, ctr: str, tmp_path) -> None:
    host_target = f"/tmp/pyman-cp-escape-{os.getpid()}"
    (tmp_path / "probe").write_text("p\n")
    # /d/root -> / inside the container: the copy lands in the container's /tmp
    r = run_pyman("cp", str(tmp_path / "probe"), f"{ctr}:/d/root{host_target}")
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(host_target)
    assert run_pyman("exec", ctr, "cat", host_target).stdout == "p\n"


def test_errors_as_podman(run_pyman, ctr: str, tmp_path) -> None:
    r = run_pyman("cp", f"{ctr}:/nonexistent", str(tmp_path))
    assert (r.returncode, r.stderr) == (125, f'Error: "/nonexistent" could not be found on '
                                        f"container {ctr}: no such file or directory\n")
    r = run_pyman("cp", str(tmp_path / "missing"), f"{ctr}:/tmp")
    assert (r.returncode, r.stderr) == (125, f'Error: "{tmp_path}/missing" could not be '
                                        "found on the host: no such file or directory\n")
    r = run_pyman("cp", f"{ctr}:/d/f", str(tmp_path / "no" / "x"))
    assert r.returncode == 125 and "could not be found on the host" in r.stderr
    r = run_pyman("cp", str(tmp_path), f"{ctr}:/no/dir/x")
    assert (r.returncode, r.stderr) == (125, f'Error: "/no/dir/x" could not be found on '
                                        f"container {ctr}: no such file or directory\n")
    (tmp_path / "file").write_text("")
    r = run_pyman("cp", f"{ctr}:/d", str(tmp_path / "file"))
    assert (r.returncode, r.stderr) == (
        125, "Error: destination must be a directory when copying a directory\n")
    r = run_pyman("cp", "no-such-ctr:/x", str(tmp_path))
    assert (r.returncode, r.stderr) == (125, 'Error: container "no-such-ctr" does not exist\n')
    # a dir larger than a pipe holds: the helper is still writing when pyman stops reading
    assert run_pyman("exec", ctr, "sh", "-c", "mkdir -p /big && head -c 1000000 /dev/zero "
                     "> /big/zeros").returncode == 0
    r = run_pyman("cp", f"{ctr}:/big", str(tmp_path / "file"))
    assert (r.returncode, r.stderr) == (
        125, "Error: destination must be a directory when copying a directory\n")


def test_stopped_container_both_ways_owned_by_its_user(run_pyman, tmp_path) -> None:
    r = run_pyman("create", "--name", "cp-created", "-u", "1234:2345", *NET, "alpine", "sh",
                  "-c", "stat -c %u:%g /etc/motd.d/hello; cat /etc/motd.d/hello")
    assert r.returncode == 0, r.stderr
    try:
        (tmp_path / "hello").write_text("first\n")
        r = run_pyman("cp", str(tmp_path), "cp-created:/etc/motd.d")  # a dir, new name
        assert r.returncode == 0, r.stderr
        (tmp_path / "hello").write_text("from the host\n")
        r = run_pyman("cp", str(tmp_path / "hello"), "cp-created:/etc/motd.d/hello")
        assert r.returncode == 0, r.stderr  # an existing file is replaced
        assert run_pyman("exec", "cp-created", "true").returncode == 255  # still not running
        r = run_pyman("start", "-a", "cp-created")
        assert (r.returncode, r.stdout) == (0, "1234:2345\nfrom the host\n"), r.stderr
        r = run_pyman("cp", "cp-created:/etc/motd.d/hello", str(tmp_path / "back"))
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "back").read_text() == "from the host\n"
    finally:
        run_pyman("rm", "-f", "cp-created")
