"""pyman cp with Podman's rules: container to container, --overwrite, -a/--archive (keep-id
included), tar on stdin (compressed) and stdout, stopped containers' volumes and bind mounts,
dangling symlinks as destinations, paths relative to the working dir, and hostile symlinks
that must never lead a copy out of the container (or out of a volume) onto the host."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from lifecycle_util import NET

SRC, DST = "cpr-src", "cpr-dst"


@pytest.fixture(scope="module")
def pair(pyman_bin, pyman_env) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    def pyman(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(pyman_bin), *args], env=pyman_env, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)

    pyman("rm", "-f", SRC, DST)
    # /srv: not in the image (a --workdir must exist, as Podman checks), so a tmpfs
    r = pyman("run", "-d", "--name", SRC, "--workdir", "/srv", "--tmpfs", "/srv", *NET,
              "alpine", "sh", "-c",
              "mkdir -p /srv/d/sub; echo f > /tmp/file; echo in > /srv/d/sub/g;"
              " echo rel > /srv/rel; chown 1000:1000 /tmp/file; sleep 1000")
    assert r.returncode == 0, r.stderr
    r = pyman("run", "-d", "--name", DST, "-u", "1234:2345", *NET, "alpine", "sleep", "1000")
    assert r.returncode == 0, r.stderr
    for _ in range(50):  # the source's files are written by its command
        if pyman("exec", SRC, "test", "-e", "/srv/rel").returncode == 0:
            break
    yield SRC, DST
    pyman("rm", "-f", "-t", "0", SRC, DST)


def _cat(run_pyman, ctr: str, path: str) -> str:
    r = run_pyman("exec", ctr, "cat", path)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_container_to_container(run_pyman, pair: tuple[str, str], tmp_path) -> None:
    src, dst = pair
    assert run_pyman("cp", f"{src}:/tmp/file", f"{dst}:/tmp").returncode == 0
    assert run_pyman("cp", f"{src}:rel", f"{dst}:/tmp/renamed").returncode == 0  # workdir
    r = run_pyman("cp", f"{src}:/srv/d/.", f"{dst}:/tmp/contents")  # "." into a new dir
    assert r.returncode == 0, r.stderr
    assert _cat(run_pyman, dst, "/tmp/file") == "f\n"
    assert _cat(run_pyman, dst, "/tmp/renamed") == "rel\n"
    assert _cat(run_pyman, dst, "/tmp/contents/sub/g") == "in\n"
    # -a (the default): owned by the destination's user; -a=false: the source's user
    r = run_pyman("exec", dst, "stat", "-c", "%u:%g", "/tmp/file", "/tmp/contents/sub")
    assert r.stdout.split() == ["1234:2345", "1234:2345"], r.stderr
    assert run_pyman("cp", "-a=false", f"{src}:/tmp/file", f"{dst}:/tmp/plain").returncode == 0
    assert run_pyman("exec", dst, "stat", "-c", "%u:%g", "/tmp/plain").stdout == "0:0\n"
    (tmp_path / "mine").write_text("")  # -a=false from the host: the user's ids are root's
    assert run_pyman("cp", "-a=false", str(tmp_path / "mine"), f"{dst}:/tmp/").returncode == 0
    assert run_pyman("exec", dst, "stat", "-c", "%u:%g", "/tmp/mine").stdout == "0:0\n"
    # into a created container, and out of a stopped one into a running one
    r = run_pyman("create", "--name", "cpr-created", *NET, "alpine", "cat", "/tmp/sub/g")
    assert r.returncode == 0, r.stderr
    try:
        assert run_pyman("cp", f"{src}:/srv/d/sub", "cpr-created:/tmp").returncode == 0
        r = run_pyman("start", "-a", "cpr-created")
        assert (r.returncode, r.stdout) == (0, "in\n"), r.stderr
        r = run_pyman("cp", "cpr-created:/tmp/sub", f"{dst}:/tmp/from-stopped")
        assert r.returncode == 0, r.stderr
        assert _cat(run_pyman, dst, "/tmp/from-stopped/g") == "in\n"
    finally:
        run_pyman("rm", "-f", "cpr-created")
    r = run_pyman("cp", f"{src}:/srv/d", f"{dst}:/etc/hostname")
    assert (r.returncode, r.stderr) == (
        125, "Error: destination must be a directory when copying a directory\n")
    r = run_pyman("cp", f"{src}:/nope", f"{dst}:/tmp")
    assert (r.returncode, r.stderr) == (
        125, f'Error: "/nope" could not be found on container {src}: no such file or '
             "directory\n")


def test_overwrite_dir_and_file(run_pyman, pair: tuple[str, str], tmp_path) -> None:
    src, dst = pair
    assert run_pyman("exec", dst, "sh", "-c", "rm -rf /tmp/ow; mkdir -p /tmp/ow/file").returncode == 0
    r = run_pyman("cp", f"{src}:/tmp/file", f"{dst}:/tmp/ow")
    assert r.returncode == 125
    assert r.stderr.startswith('Error: copying to container: error creating "/tmp/ow/file": '
                               "open /tmp/ow/file: file exists"), r.stderr
    assert r.stderr.count("\n") == 1 and "--overwrite" in r.stderr
    assert run_pyman("cp", "--overwrite", f"{src}:/tmp/file", f"{dst}:/tmp/ow").returncode == 0
    assert _cat(run_pyman, dst, "/tmp/ow/file") == "f\n"
    # host: a file where the directory would go, then a directory where the file would go
    (tmp_path / "sub").write_text("")
    r = run_pyman("cp", f"{src}:/srv/d/sub", str(tmp_path))
    assert r.returncode == 125
    assert 'copying to host: error creating "/sub": mkdir /sub: file exists' in r.stderr
    assert run_pyman("cp", "--overwrite", f"{src}:/srv/d/sub", str(tmp_path)).returncode == 0
    assert (tmp_path / "sub" / "g").read_text() == "in\n"
    (tmp_path / "file").mkdir()
    r = run_pyman("cp", f"{src}:/tmp/file", str(tmp_path))
    assert r.returncode == 125 and 'error creating "/file": open /file: file exists' in r.stderr
    # a file replaces a file without --overwrite
    (tmp_path / "plain").write_text("old\n")
    assert run_pyman("cp", f"{src}:/tmp/file", str(tmp_path / "plain")).returncode == 0
    assert (tmp_path / "plain").read_text() == "f\n"


def test_archive_flag_with_keep_id(run_pyman, pyman_bin, pyman_env, tmp_path) -> None:
    uid = os.getuid()
    r = run_pyman("run", "-d", "--name", "cpr-keep", f"--user={uid}", "--userns=keep-id",
                  *NET, "alpine", "sleep", "1000")
    assert r.returncode == 0, r.stderr
    try:
        (tmp_path / "hostfile").write_text("h\n")
        r = run_pyman("cp", str(tmp_path / "hostfile"), "cpr-keep:/tmp/hostfile")
        assert r.returncode == 0, r.stderr
        r = run_pyman("exec", "cpr-keep", "stat", "-c", "%u", "/tmp/hostfile")
        assert r.stdout == f"{uid}\n", r.stderr  # the container's user, as it sees itself
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            info = tarfile.TarInfo("a.txt")
            info.uid, info.gid = 1042, 1043
            tf.addfile(info, io.BytesIO(b""))
        r = subprocess.run([str(pyman_bin), "cp", "-a=false", "-", "cpr-keep:/tmp/"],
                           input=buf.getvalue(), capture_output=True, timeout=60,
                           env=pyman_env)
        assert r.returncode == 0, r.stderr
        r = run_pyman("exec", "cpr-keep", "stat", "-c", "%u:%g", "/tmp/a.txt")
        assert r.stdout == "1042:1043\n", r.stderr  # the archive's owners, as they are
    finally:
        run_pyman("rm", "-f", "-t", "0", "cpr-keep")


def _pipe(pyman_bin, pyman_env, *args: str, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:  # type: ignore[no-untyped-def]
    return subprocess.run([str(pyman_bin), *args], input=data, capture_output=True,
                          timeout=60, env=pyman_env)


def test_tar_on_stdin_and_stdout(run_pyman, pyman_bin, pyman_env, pair: tuple[str, str],
                                 tmp_path) -> None:
    src, dst = pair
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("deep/t.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"t!\n"))
    plain = buf.getvalue()
    r = _pipe(pyman_bin, pyman_env, "cp", "-", f"{dst}:/tmp", data=gzip.compress(plain))
    assert r.returncode == 0, r.stderr  # compressed: recognized and unpacked
    assert _cat(run_pyman, dst, "/tmp/deep/t.txt") == "t!\n"
    r = run_pyman("exec", dst, "stat", "-c", "%u:%g", "/tmp/deep/t.txt", "/tmp/deep")
    assert r.stdout.split() == ["1234:2345"] * 2  # -a: the container's user, dirs included
    for args, data, message in (
            ((f"{dst}:/tmp",), b"not a tar\n" * 100,
             "source must be a (compressed) tar archive when copying from stdin"),
            ((f"{dst}:/tmp/deep/t.txt",), plain,
             "destination must be a directory when copying from stdin"),
            ((f"{dst}:/tmp/absent",), plain,
             "destination must be a directory when copying from stdin"),
            ((f"{dst}:/tmp/absent/",), plain,
             f'"/tmp/absent/" could not be found on container {dst}: no such file or '
             "directory")):
        r = _pipe(pyman_bin, pyman_env, "cp", "-", *args, data=data)
        assert (r.returncode, r.stderr.decode()) == (125, f"Error: {message}\n"), args
    big = io.BytesIO()
    with tarfile.open(fileobj=big, mode="w") as tf:
        info = tarfile.TarInfo("big")
        info.size = 8192
        tf.addfile(info, io.BytesIO(b"b" * 8192))
    r = _pipe(pyman_bin, pyman_env, "cp", "-", f"{dst}:/tmp", data=big.getvalue()[:2048])
    assert r.returncode == 125 and r.stderr.startswith(b"Error: cp: broken archive")
    assert r.stderr.count(b"\n") == 1
    # out: a tar whose entries belong to the container's user (Podman's), names as given
    r = _pipe(pyman_bin, pyman_env, "cp", f"{src}:/srv/d", "-")
    assert r.returncode == 0, r.stderr
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tf:
        members = {m.name: (m.uid, m.gid, m.uname) for m in tf.getmembers()}
    assert members == {"d": (0, 0, ""), "d/sub": (0, 0, ""), "d/sub/g": (0, 0, "")}
    # only "-" is stdout: /dev/stdout is a path, and a pipe is no place for a copy
    r = subprocess.run(f"{pyman_bin} cp {src}:/tmp/file /dev/stdout | cat", shell=True,
                       capture_output=True, text=True, timeout=60, env=pyman_env)
    assert r.stderr == ('Error: invalid destination: "/dev/stdout" must be a directory or a '
                        "regular file\n")


def test_stopped_containers_volumes_and_binds(run_pyman, pyman_env, tmp_path) -> None:
    bind = tmp_path / "bind"
    bind.mkdir()
    (tmp_path / "conf").write_text("conf\n")  # a bind-mounted file
    for vol in ("cpr-v1", "cpr-v2"):
        run_pyman("volume", "rm", "-f", vol)
        assert run_pyman("volume", "create", vol).returncode == 0
    v1 = run_pyman("volume", "inspect", "cpr-v1", "--format", "{{.Mountpoint}}").stdout.strip()
    v2 = run_pyman("volume", "inspect", "cpr-v2", "--format", "{{.Mountpoint}}").stdout.strip()
    r = run_pyman("create", "--name", "cpr-vols", "-v", "cpr-v1:/v", "-v", "cpr-v2:/v/sub",
                  "-v", f"{bind}:/v/b", "-v", f"{tmp_path / 'conf'}:/etc/conf.txt", *NET,
                  "alpine", "true")
    assert r.returncode == 0, r.stderr
    try:
        (tmp_path / "hostfile").write_text("vol\n")
        for dest in ("/v/sub", "/v/b/", "/v/sub/renamed"):
            r = run_pyman("cp", str(tmp_path / "hostfile"), f"cpr-vols:{dest}")
            assert r.returncode == 0, (dest, r.stderr)
        assert sorted(os.listdir(v2)) == ["hostfile", "renamed"]
        assert (bind / "hostfile").read_text() == "vol\n"
        assert os.listdir(v1) == []  # the outer volume stays as it was
        r = run_pyman("cp", "cpr-vols:/v/sub/renamed", str(tmp_path / "back"))
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "back").read_text() == "vol\n"
        r = run_pyman("cp", "cpr-vols:/etc/conf.txt", str(tmp_path / "conf-back"))
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "conf-back").read_text() == "conf\n"
    finally:
        run_pyman("rm", "-f", "cpr-vols")
        run_pyman("volume", "rm", "-f", "cpr-v1", "cpr-v2")


def test_symlinks_and_relative_paths(run_pyman, pair: tuple[str, str], tmp_path) -> None:
    src, _ = pair
    assert run_pyman("exec", src, "sh", "-c", "mkdir -p /tmp/w1 /tmp/w2 && "
                     "ln -sf /tmp/nonesuch1 /tmp/w1/x && ln -sf /tmp/nonesuch2 /tmp/w2/x"
                     ).returncode == 0
    (tmp_path / "h").write_text("h\n")
    # a dangling symlink as destination: the copy lands where it points
    assert run_pyman("cp", "--pause=false", str(tmp_path / "h"),
                     f"{src}:/tmp/w1/x").returncode == 0
    assert _cat(run_pyman, src, "/tmp/nonesuch1") == "h\n"
    r = run_pyman("cp", str(tmp_path / "h"), f"{src}:/tmp/w2/x/")
    assert (r.returncode, r.stderr) == (
        125, f'Error: "/tmp/w2/x/" could not be found on container {src}: no such file or '
             "directory\n")
    assert run_pyman("exec", src, "test", "-e", "/tmp/nonesuch2").returncode == 1
    # a link to a directory, named with a trailing "/": copied under the directory's name
    assert run_pyman("exec", src, "ln", "-sfn", "/srv/d", "/tmp/dl").returncode == 0
    assert run_pyman("cp", f"{src}:/tmp/dl/", f"{tmp_path}/").returncode == 0
    assert (tmp_path / "d" / "sub" / "g").read_text() == "in\n"
    r = run_pyman("cp", f"{src}:/etc/hostname/x", str(tmp_path))  # a file on the way
    assert r.stderr == (f'Error: "/etc/hostname/x" could not be found on container {src}: '
                        "no such file or directory\n")
    # the whole root into a new dir: /dev, /proc and /sys left out, as Podman
    assert run_pyman("cp", f"{src}:/", str(tmp_path / "rootcopy")).returncode == 0
    assert (tmp_path / "rootcopy" / "srv" / "rel").read_text() == "rel\n"
    assert not any((tmp_path / "rootcopy" / d).exists() for d in ("dev", "proc", "sys"))
    # relative container paths start at the working dir (/srv)
    assert run_pyman("cp", str(tmp_path / "h"), f"{src}:.").returncode == 0
    assert _cat(run_pyman, src, "/srv/h") == "h\n"
    assert run_pyman("cp", f"{src}:d/sub/g", str(tmp_path)).returncode == 0
    assert (tmp_path / "g").read_text() == "in\n"
    # argument errors, as Podman words them
    r = run_pyman("cp", f"{src}:", str(tmp_path))
    assert (r.returncode, r.stderr) == (
        125, f'Error: invalid arguments "{src}:", "{tmp_path}": you must specify paths\n')
    r = run_pyman("cp", str(tmp_path / "h"), str(tmp_path / "h2"))
    assert (r.returncode, r.stderr) == (125, "Error: name or ID cannot be empty\n")


def test_hostile_symlinks_stay_inside(run_pyman, pair: tuple[str, str], tmp_path) -> None:
    """Links a container (or its volume) holds that name host paths: followed, they resolve
    inside the container's (or the volume's) root, never on the host."""
    src, dst = pair
    host_dir = Path(f"/tmp/cpr-esc-{os.getpid()}")  # /tmp exists in the container too
    host_dir.mkdir()
    (host_dir / "secret").write_text("secret\n")
    run_pyman("volume", "rm", "-f", "cpr-hv")
    try:
        # running, container to container: dst's link to a host path
        assert run_pyman("exec", dst, "ln", "-s", str(host_dir), "/tmp/esc").returncode == 0
        assert run_pyman("cp", f"{src}:/tmp/file", f"{dst}:/tmp/esc").returncode == 0
        assert os.listdir(host_dir) == ["secret"]  # landed in the container, not the host
        assert _cat(run_pyman, dst, str(host_dir)) == "f\n"
        r = run_pyman("cp", f"{dst}:/tmp/esc", str(tmp_path / "out"))  # the container's file
        assert r.returncode == 0 and (tmp_path / "out").read_text() == "f\n", r.stderr
        # a stopped container's volume holding a link to the host dir
        assert run_pyman("volume", "create", "cpr-hv").returncode == 0
        data = run_pyman("volume", "inspect", "cpr-hv", "--format",
                         "{{.Mountpoint}}").stdout.strip()
        os.symlink(str(host_dir), os.path.join(data, "esc"))
        r = run_pyman("create", "--name", "cpr-hvc", "-v", "cpr-hv:/vol", *NET, "alpine",
                      "true")
        assert r.returncode == 0, r.stderr
        (tmp_path / "in").write_text("in\n")
        for dest in ("/vol/esc/in", "/vol/esc", "/vol/esc/"):
            r = run_pyman("cp", str(tmp_path / "in"), f"cpr-hvc:{dest}")
            assert r.returncode == 125 and "could not be found on container cpr-hvc" \
                in r.stderr, (dest, r.stderr)
        assert os.listdir(host_dir) == ["secret"]
        os.unlink(os.path.join(data, "esc"))
        os.symlink(str(host_dir / "secret"), os.path.join(data, "esc"))
        r = run_pyman("cp", "cpr-hvc:/vol/esc", str(tmp_path / "leak"))
        assert r.returncode == 125 and not (tmp_path / "leak").exists()
        r = run_pyman("cp", "cpr-hvc:/vol/esc", "-")
        assert r.returncode == 125 and "secret" not in r.stdout
    finally:
        run_pyman("rm", "-f", "cpr-hvc")
        run_pyman("volume", "rm", "-f", "cpr-hv")
        for name in os.listdir(host_dir):
            os.unlink(host_dir / name)
        host_dir.rmdir()


def test_paused_container_through_its_namespaces(run_pyman, pair: tuple[str, str],
                                                 tmp_path) -> None:
    src, _ = pair
    r = run_pyman("pause", src)
    if r.returncode != 0:
        pytest.skip(f"no cgroup to freeze here: {r.stderr.strip()}")
    try:
        (tmp_path / "p").write_text("p\n")
        assert run_pyman("cp", str(tmp_path / "p"), f"{src}:/tmp/paused").returncode == 0
        assert run_pyman("cp", f"{src}:/tmp/file", str(tmp_path / "out")).returncode == 0
        assert (tmp_path / "out").read_text() == "f\n"
    finally:
        assert run_pyman("unpause", src).returncode == 0
    assert _cat(run_pyman, src, "/tmp/paused") == "p\n"  # written in its own root
