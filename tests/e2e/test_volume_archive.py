"""volume export / import (tar both ways, owners as containers see them, hostile archives
confined), the U mount option (chown to the container's user, not walked again when the top
already belongs to it), volume mount's rootless refusal, and `pyman unshare`."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from lifecycle_util import NET


def _ok(r):  # type: ignore[no-untyped-def]
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def _tar(entries: list[tuple[str, bytes | None, int]]) -> bytes:
    """(name, content or None for a dir, uid)"""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data, uid in entries:
            info = tarfile.TarInfo(name)
            info.uid = info.gid = uid
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_volume_export_import(run_pyman, pyman_bin: Path, pyman_env: dict[str, str],
                              tmp_path: Path) -> None:
    _ok(run_pyman("volume", "create", "va-src"))
    _ok(run_pyman("volume", "create", "va-dst"))
    _ok(run_pyman("run", "--rm", *NET, "-v", "va-src:/d", "alpine", "sh", "-c",
                  "echo hello > /d/test; mkdir /d/sub; echo deep > /d/sub/f; "
                  "chown -R 123:456 /d/sub"))
    out = tmp_path / "v.tar"
    _ok(run_pyman("volume", "export", "va-src", f"--output={out}"))
    with tarfile.open(out) as tf:
        members = {m.name: m for m in tf.getmembers()}
        assert set(members) == {"test", "sub", "sub/f"}
        assert (members["sub/f"].uid, members["sub/f"].gid) == (123, 456)  # container view
        assert (members["test"].uid, members["test"].gid) == (0, 0)
        f = tf.extractfile("test")
        assert f is not None and f.read() == b"hello\n"
    # stdout, redirected: the same archive
    r = subprocess.run([str(pyman_bin), "volume", "export", "va-src"], env=pyman_env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tf:
        assert sorted(tf.getnames()) == ["sub", "sub/f", "test"]

    # import from stdin, as the bats test does, and from a file; owners land as they were
    with open(out, "rb") as f:
        r = subprocess.run([str(pyman_bin), "volume", "import", "va-dst", "-"], stdin=f,
                           env=pyman_env, capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stdout == b"", r.stderr
    r = _ok(run_pyman("run", "--rm", *NET, "-v", "va-dst:/data", "alpine", "sh", "-c",
                      "cat /data/test /data/sub/f; stat -c %u:%g /data/sub/f"))
    assert r.stdout == "hello\ndeep\n123:456\n"
    extra = tmp_path / "extra.tar"
    extra.write_bytes(_tar([("more", b"more\n", 7)]))
    _ok(run_pyman("volume", "import", "va-dst", str(extra)))
    r = _ok(run_pyman("run", "--rm", *NET, "-v", "va-dst:/data", "alpine", "sh", "-c",
                      "ls /data; stat -c %u /data/more"))
    assert r.stdout == "more\nsub\ntest\n7\n"  # added to what was there

    # a hostile archive stays inside the volume: nothing is written next to it
    mountpoint = Path(_ok(run_pyman("volume", "inspect", "--format", "{{.Mountpoint}}",
                                    "va-dst")).stdout.strip())
    evil = tmp_path / "evil.tar"
    evil.write_bytes(_tar([("../escaped", b"x", 0)]))
    r = run_pyman("volume", "import", "va-dst", str(evil))
    assert r.returncode == 125 and r.stderr.count("\n") == 1
    assert "points outside" in r.stderr
    assert not (mountpoint.parent / "escaped").exists()

    # errors: one line each, nothing left behind
    r = run_pyman("volume", "export", "va-none", "-o", str(tmp_path / "none.tar"))
    assert r.returncode == 125 and "va-none" in r.stderr and r.stderr.count("\n") == 1
    assert not list(tmp_path.glob("none.tar*"))
    r = run_pyman("volume", "import", "va-dst", str(tmp_path / "missing.tar"))
    assert r.returncode == 125 and r.stderr == (
        f"Error: open {tmp_path}/missing.tar: no such file or directory\n")
    r = run_pyman("volume", "import", "va-dst")
    assert r.returncode == 125
    _ok(run_pyman("volume", "rm", "va-src", "va-dst"))


def test_volume_mount_needs_unshare(run_pyman) -> None:
    _ok(run_pyman("volume", "create", "va-m"))
    r = run_pyman("volume", "mount", "va-m")
    assert r.returncode == 125
    assert r.stderr == ('Error: cannot run command "pyman volume mount" in rootless mode, '
                        "must execute `pyman unshare` first\n")
    # inside `pyman unshare` the data dir is there to use
    r = _ok(run_pyman("unshare", "sh", "-c", 'd=$(pyman volume mount va-m) && '
                      'echo in > "$d/f" && stat -c %u "$d/f"'))
    assert r.stdout.splitlines()[-1] == "0"
    assert _ok(run_pyman("run", "--rm", *NET, "-v", "va-m:/v", "alpine", "cat", "/v/f")
               ).stdout == "in\n"
    assert _ok(run_pyman("volume", "unmount", "va-m")).stdout == "va-m\n"
    r = run_pyman("volume", "unmount", "va-nosuch")
    assert (r.returncode, r.stderr) == (
        125, 'Error: no volume with name "va-nosuch" found: no such volume\n')
    _ok(run_pyman("volume", "rm", "va-m"))


def test_unshare(run_pyman) -> None:
    r = _ok(run_pyman("unshare", "cat", "/proc/self/uid_map"))
    lines = [ln.split() for ln in r.stdout.splitlines()]
    assert lines[0][0] == "0" and len(lines) == 2  # the user as root, then the sub-ids
    r = _ok(run_pyman("unshare", "sh", "-c", "id -u; echo $_CONTAINERS_USERNS_CONFIGURED"))
    assert r.stdout == "0\ndone\n"
    assert run_pyman("unshare", "sh", "-c", "exit 7").returncode == 7
    r = run_pyman("unshare", "no-such-command-here")
    assert r.returncode == 127
    assert r.stderr == ('Error: exec: "no-such-command-here": executable file not found '
                        "in $PATH\n")


def test_volume_option_U(run_pyman, tmp_path: Path) -> None:
    host = tmp_path / "data"
    host.mkdir()
    (host / "test1").write_text("x")
    try:
        r = _ok(run_pyman("run", "--name", "va-user", *NET, "--user", "1000:2000", "-v",
                          f"{host}:/data:U", "alpine", "stat", "-c", "%u:%g", "/data"))
        assert r.stdout == "1000:2000\n"
        assert _ok(run_pyman("unshare", "stat", "-c", "%u:%g", str(host / "test1"))
                   ).stdout == "1000:2000\n"  # recursive
        # the top changed owner: chowned again, all of it
        _ok(run_pyman("unshare", "chown", "-R", "100:200", str(host)))
        assert _ok(run_pyman("start", "--attach", "va-user")).stdout == "1000:2000\n"
        assert _ok(run_pyman("unshare", "stat", "-c", "%u:%g", str(host / "test1"))
                   ).stdout == "1000:2000\n"
        # the top is right: what is below stays as the user left it
        _ok(run_pyman("unshare", "chown", "100:200", str(host / "test1")))
        assert _ok(run_pyman("start", "--attach", "va-user")).stdout == "1000:2000\n"
        assert _ok(run_pyman("unshare", "stat", "-c", "%u:%g", str(host / "test1"))
                   ).stdout == "100:200\n"
        # a named volume with U, and --mount's U=true; a user by name from the image
        r = _ok(run_pyman("run", "--rm", *NET, "--user", "nobody", "-v", "va-u:/v:U",
                          "--mount", f"type=bind,src={host},dst=/m,U=true", "alpine",
                          "stat", "-c", "%U", "/v", "/m"))
        assert r.stdout == "nobody\nnobody\n"
        r = run_pyman("create", *NET, "-v", "/tmp:/x:U", "alpine", "true")
        assert r.returncode == 125 and "chowning host path /tmp is not allowed" in r.stderr
        r = run_pyman("create", *NET, "-v", f"{host}:/x:U,U", "alpine", "true")
        assert r.returncode == 125 and r.stderr.count("\n") == 1
    finally:
        run_pyman("rm", "-f", "va-user")
        run_pyman("volume", "rm", "-f", "va-u")
        run_pyman("unshare", "rm", "-rf", str(host))
