"""import (rootfs tarball -> image, --change, --message) and export (a container's merged
filesystem, owners as the container sees them), round trip."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path


def _rootfs_tar(path: Path) -> None:
    """A tiny rootfs: the host's busybox (static) plus a file owned by a non-root user."""
    with tarfile.open(path, "w") as tf:
        for d in ("bin", "etc", "data"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
        tf.add("/bin/busybox", "bin/busybox")
        for applet in ("sh", "cat", "ls", "stat"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tf.addfile(link)
        data = b"imported\n"
        info = tarfile.TarInfo("etc/hello")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("data/owned")
        info.size, info.uid, info.gid = 1, 1000, 1000
        tf.addfile(info, io.BytesIO(b"x"))


def test_import_with_changes_runs(run_pyman, fresh_env, tmp_path) -> None:
    tarball = tmp_path / "rootfs.tar"
    _rootfs_tar(tarball)
    r = run_pyman("import", "--change", 'CMD ["/bin/cat", "/etc/hello"]', "--change",
                  "ENV GREETING=hi", "--change", "WORKDIR /data", "-m", "from a test",
                  str(tarball), "imported", env=fresh_env)
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip().removeprefix("sha256:")
    assert len(image_id) == 64 and "Copying config" in r.stderr
    doc = json.loads(run_pyman("image", "inspect", "localhost/imported", env=fresh_env).stdout)[0]
    assert doc["Id"] == image_id
    assert doc["Config"]["Cmd"] == ["/bin/cat", "/etc/hello"]
    assert doc["Config"]["WorkingDir"] == "/data" and "GREETING=hi" in doc["Config"]["Env"]
    assert doc["History"][0]["comment"] == "from a test"
    run = run_pyman("run", "--rm", "--network", "none", "imported", env=fresh_env)
    assert run.returncode == 0 and run.stdout == "imported\n", run.stderr
    owned = run_pyman("run", "--rm", "--network", "none", "imported", "stat", "-c", "%u:%g %n",
                      "owned", env=fresh_env)
    assert owned.stdout == "1000:1000 owned\n", owned.stderr


def test_bad_tarball_and_bad_change_are_refused(run_pyman, fresh_env, tmp_path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tarball at all" * 100)
    r = run_pyman("import", str(junk), "junk", env=fresh_env)
    assert r.returncode == 125 and "not a tar archive" in r.stderr
    good = tmp_path / "rootfs.tar"
    _rootfs_tar(good)
    r = run_pyman("import", "--change", "FROM alpine", str(good), "x", env=fresh_env)
    assert r.returncode == 125 and "invalid --change" in r.stderr
    assert run_pyman("images", "-q", env=fresh_env).stdout == ""
    blobs = Path(fresh_env["XDG_DATA_HOME"]) / "pyman" / "blobs" / "sha256"
    assert not blobs.exists() or not [p for p in blobs.iterdir() if p.name.startswith(".")]


def test_export_merges_layers_and_changes_then_imports(run_pyman, fresh_env, tmp_path) -> None:
    image = "127.0.0.1:5000/pyman-test/layers:latest"
    c = run_pyman("run", "--name", "exp", "--network", "none", image, "sh", "-c",
                  "echo new > /new-file && chown 1234:1234 /new-file", env=fresh_env)
    assert c.returncode == 0, c.stderr
    out = tmp_path / "exp.tar"
    r = run_pyman("export", "-o", str(out), "exp", env=fresh_env)
    assert r.returncode == 0, r.stderr
    with tarfile.open(out) as tf:
        members = {m.name: m for m in tf.getmembers()}
        new = members["new-file"]
        assert (new.uid, new.gid) == (1234, 1234)
        assert tf.extractfile(new).read() == b"new\n"  # type: ignore[union-attr]
        assert members["bin/busybox"].uid == 0
        # the merged view: deleted and opaque-hidden files are gone, no whiteout leaks
        assert "data/gone.txt" not in members and "opaque/old.txt" not in members
        assert "opaque/new.txt" in members
        assert not [m for m in members.values() if m.ischr() and m.devmajor == 0]
    r = run_pyman("import", str(out), "reimported", env=fresh_env)
    assert r.returncode == 0, r.stderr
    again = run_pyman("run", "--rm", "--network", "none", "reimported", "cat", "/new-file",
                      env=fresh_env)
    assert again.stdout == "new\n", again.stderr
