"""A hostile image cannot make pyman run its code or read the user's files on the host.

The image is built here: the host's static busybox, an /etc/nsswitch.conf naming an NSS module
``evil`` and that module (compiled here), whose constructor breaks out of a chroot and writes
a marker at a host path that does not exist in the container. If any helper of ``pyman cp``
looked an owner's name up inside the container's root, glibc would load it and the marker
would appear. Then a running container's /etc/passwd becomes a FIFO and symlinks out of its
root: ``exec --user`` and ``top`` must neither hang nor read the host's file.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

IMAGE = "localhost/pyman-hostile-nss"

EVIL_C = r"""
#include <fcntl.h>
#include <unistd.h>
static void mark(const char *path) {
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) { (void)!write(fd, "ran\n", 4); close(fd); }
}
__attribute__((constructor)) static void evil(void) {
    mark("/nss-ran");  /* the container's own root, where it can write */
    if (chroot("/etc") == 0) {  /* root of a user namespace: out of a chroot to the host's / */
        for (int i = 0; i < 64; i++) (void)!chdir("..");
        (void)!chroot(".");
    }
    mark(MARKER);
}
int _nss_evil_getpwuid_r(void) { return 0; }
"""


def _dir(tf: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    tf.addfile(info)


def _file(tf: tarfile.TarFile, name: str, data: bytes, uid: int = 0, gid: int = 0,
          mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.uid, info.gid, info.mode = len(data), uid, gid, mode
    tf.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, pyman_bin: Path,
            pyman_env: dict[str, str]) -> Iterator[Path]:
    """The image, imported into the session's store; yields the marker's host path."""
    if not shutil.which("gcc") or not Path("/bin/busybox").exists():
        pytest.fail("the host needs gcc and a static /bin/busybox for this test")
    work = tmp_path_factory.mktemp("hostile")
    marker = work / "host-only" / "nss-module-ran"
    marker.parent.mkdir()
    (work / "evil.c").write_text(EVIL_C)
    lib = work / "libnss_evil.so.2"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(work / "evil.c"),
                    f'-DMARKER="{marker}"'], check=True, capture_output=True, timeout=60)
    tarball = work / "rootfs.tar"
    with tarfile.open(tarball, "w") as tf:
        for d in ("bin", "etc", "data", "data/dir", "tmp", "lib", "lib/x86_64-linux-gnu",
                  "lib/aarch64-linux-gnu", "usr", "usr/lib", "usr/lib/x86_64-linux-gnu",
                  "usr/lib/aarch64-linux-gnu", "lib64"):
            _dir(tf, d)
        tf.add("/bin/busybox", "bin/busybox")
        for applet in ("sh", "sleep", "cat", "test", "true", "rm", "ln", "mkfifo", "stat"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tf.addfile(link)
        so = lib.read_bytes()
        for d in ("lib", "lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu", "usr/lib",
                  "usr/lib/x86_64-linux-gnu", "usr/lib/aarch64-linux-gnu", "lib64"):
            _file(tf, f"{d}/libnss_evil.so.2", so, mode=0o755)
        _file(tf, "etc/nsswitch.conf", b"passwd: evil\ngroup: evil\nshadow: evil\n")
        _file(tf, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:1234:2345::/app:/bin/sh\n")
        _file(tf, "etc/group", b"root:x:0:\napp:x:2345:\n")
        _file(tf, "data/owned", b"owned\n", uid=1234, gid=2345, mode=0o640)
        _file(tf, "data/dir/inner", b"inner\n", uid=1234, gid=2345)
    r = subprocess.run([str(pyman_bin), "import", str(tarball), IMAGE], env=pyman_env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    yield marker
    subprocess.run([str(pyman_bin), "rmi", "-f", IMAGE], env=pyman_env, capture_output=True,
                   timeout=120)


def _tar_members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: m for m in tf.getmembers()}


def _cp_both_ways(pyman_bin: Path, pyman_env: dict[str, str], run_pyman, ctr: str,
                  tmp_path: Path, marker: Path) -> None:
    # out, as tar on stdout: the owners as the container sees them, by number only
    r = subprocess.run([str(pyman_bin), "cp", f"{ctr}:/data", "-"], env=pyman_env,
                       capture_output=True, timeout=60)
    assert not marker.exists(), "the image's NSS module ran on the host side"
    assert r.returncode == 0, r.stderr
    members = _tar_members(r.stdout)
    for name in ("data/owned", "data/dir/inner"):
        m = members[name]
        assert (m.uid, m.gid, m.uname, m.gname) == (1234, 2345, "", ""), name
    assert members["data/owned"].mode == 0o640
    # out, to a host file and a host dir
    r = run_pyman("cp", f"{ctr}:/data/owned", str(tmp_path / "owned"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "owned").read_text() == "owned\n"
    r = run_pyman("cp", f"{ctr}:/data/dir", str(tmp_path / "dir"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "dir" / "inner").read_text() == "inner\n"
    # in: what lands belongs to the container's user (by name, from the image's passwd)
    (tmp_path / "hostfile").write_text("from the host\n")
    r = run_pyman("cp", str(tmp_path / "hostfile"), f"{ctr}:/tmp/")
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(pyman_bin), "cp", f"{ctr}:/tmp/hostfile", "-"], env=pyman_env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    m = _tar_members(r.stdout)["hostfile"]
    assert (m.uid, m.gid, m.uname, m.gname) == (1234, 2345, "", "")


def test_cp_never_loads_the_images_nss_module(hostile: Path, pyman_bin: Path,
                                              pyman_env: dict[str, str], run_pyman,
                                              tmp_path: Path) -> None:
    ctr = "hostile-nss-stopped"
    run_pyman("rm", "-f", ctr)
    r = run_pyman("create", "--name", ctr, "-u", "app", "--network", "none", IMAGE,
                  "sleep", "1000")
    assert r.returncode == 0, r.stderr
    try:
        _cp_both_ways(pyman_bin, pyman_env, run_pyman, ctr, tmp_path, hostile)
        # garbage for an archive: one clear line from the helper, no traceback
        r = subprocess.run([str(pyman_bin), "cp", "-", f"{ctr}:/tmp"], env=pyman_env,
                           input=b"not a tar\n" * 100, capture_output=True, timeout=60)
        assert r.returncode == 125
        assert r.stderr == b"Error: source must be a (compressed) tar archive when copying " \
            b"from stdin\n"
        assert not hostile.exists(), "the image's NSS module ran on the host side"
        # and with the container running (the helper joins its namespaces)
        assert run_pyman("start", ctr).returncode == 0
        (tmp_path / "running").mkdir()
        _cp_both_ways(pyman_bin, pyman_env, run_pyman, ctr, tmp_path / "running", hostile)
        assert not hostile.exists(), "the image's NSS module ran on the host side"
        r = run_pyman("exec", ctr, "test", "-e", "/nss-ran")
        assert r.returncode == 1, "the image's NSS module ran in pyman's helper"
    finally:
        run_pyman("rm", "-f", "-t", "0", ctr)


@pytest.fixture
def running(hostile: Path, run_pyman) -> Iterator[str]:
    ctr = "hostile-passwd"
    run_pyman("rm", "-f", ctr)
    r = run_pyman("run", "-d", "--name", ctr, "--network", "none", IMAGE, "sleep", "1000")
    assert r.returncode == 0, r.stderr
    yield ctr
    run_pyman("rm", "-f", "-t", "0", ctr)


def _quick(run_pyman, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.monotonic()
    r = run_pyman(*args, timeout=30)
    return time.monotonic() - start, r


def test_fifo_passwd_neither_hangs_exec_user_nor_top(running: str, run_pyman,
                                                     tmp_path: Path) -> None:
    r = run_pyman("exec", running, "sh", "-c",
                  "rm /etc/passwd /etc/group && mkfifo /etc/passwd /etc/group")
    assert r.returncode == 0, r.stderr
    # runc itself reads both files in the container for any user, and would block there:
    # pyman refuses at once, with or without --user
    refusal = (f"Error: /etc/passwd in container {running} is not a regular file: the OCI "
               "runtime would block reading it\n")
    for user in ([], ["--user", "app"], ["--user", "0:app"]):
        took, r = _quick(run_pyman, "exec", *user, running, "true")
        assert took < 20 and (r.returncode, r.stderr) == (255, refusal), user
    took, r = _quick(run_pyman, "top", running, "user", "group", "pid", "comm")
    assert took < 20 and r.returncode == 0, r.stderr
    # no names to give: the ids, as ps shows them
    assert r.stdout.splitlines()[1].split() == ["0", "0", "1", "sleep"]
    # a regular passwd again (cp replaces the FIFO, never opening it): the group FIFO is named
    (tmp_path / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    r = run_pyman("cp", str(tmp_path / "passwd"), f"{running}:/etc/passwd", timeout=30)
    assert r.returncode == 0, r.stderr
    took, r = _quick(run_pyman, "exec", running, "true")
    assert took < 20 and r.returncode == 255 and f"/etc/group in container {running} is not" \
        in r.stderr, r.stderr


@pytest.mark.parametrize("how", ["absolute", "relative"])
def test_passwd_symlinked_out_of_the_root_reads_nothing_of_the_host(
        running: str, run_pyman, tmp_path: Path, how: str) -> None:
    secret = tmp_path / "id_rsa"  # what a user's private file looks like to the attack
    secret.write_text("hostonly:x:0:0::/:/bin/sh\n")
    (tmp_path / "group").write_text("hostgroup:x:0:\n")
    target = str(tmp_path) if how == "absolute" else "/".join([".."] * 40) + str(tmp_path)
    r = run_pyman("exec", running, "sh", "-c",
                  f"ln -sf {target}/id_rsa /etc/passwd && ln -sf {target}/group /etc/group")
    assert r.returncode == 0, r.stderr
    took, r = _quick(run_pyman, "exec", "--user", "hostonly", running, "true")
    assert took < 20
    assert r.returncode == 255, r.stderr
    assert "unable to find user hostonly: no matching entries in passwd file" in r.stderr
    r = run_pyman("top", running, "user", "group", "pid")
    assert r.returncode == 0, r.stderr
    assert "hostonly" not in r.stdout and "hostgroup" not in r.stdout
    assert r.stdout.splitlines()[1].split() == ["0", "0", "1"]
