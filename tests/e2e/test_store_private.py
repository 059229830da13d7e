"""The store and the runtime dir are the user's alone (0700 at the top, as Podman's): a second
local user (the `neighbour` fixture) cannot list or read image and container files, cannot run
an image's setuid binary as the owner, and cannot write into a running container's upper dir.

pytest's tmp dirs are private (0700): each test opens the path down to the store (0711, as a
home dir on a typical host) so that only pyman's own dirs stand between the neighbour and the
files, and the test fails when they are open."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lifecycle_util import NET


@pytest.fixture
def open_path(tmp_path: Path) -> Iterator[None]:
    """Make every dir of ours from the pytest root down to ``tmp_path`` traversable (0711)."""
    changed: list[tuple[Path, int]] = []
    for d in [tmp_path, *tmp_path.parents]:
        st = d.stat()
        if st.st_uid != os.getuid():
            break
        changed.append((d, stat.S_IMODE(st.st_mode)))
        d.chmod(stat.S_IMODE(st.st_mode) | 0o711)
    yield
    for d, mode in changed:
        d.chmod(mode)


def _storage_conf(env: dict[str, str], runroot: Path) -> None:
    conf = Path(env["XDG_CONFIG_HOME"]) / "containers" / "storage.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(f'[storage]\ndriver = "overlay"\nrunroot = "{runroot}"\n')


def _setuid_image(tmp_path: Path) -> Path:
    """A docker-archive whose layer holds a root-owned setuid copy of the host's `id` and a
    file only its owner should read."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, body, mode in (("bin/id", Path("/usr/bin/id").read_bytes(), 0o4755),
                                 ("secret", b"image secret\n", 0o644)):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.uid, ti.gid = len(body), mode, 0, 0
            tf.addfile(ti, io.BytesIO(body))
    raw = layer.getvalue()
    diff = "sha256:" + hashlib.sha256(raw).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode()
    cfg = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": cfg, "RepoTags": ["hostile/suid:1"], "Layers": ["layer.tar"]}]
    archive = tmp_path / "suid.tar"
    with tarfile.open(archive, "w") as tf:
        for name, body in (("layer.tar", raw), (cfg, config),
                           ("manifest.json", json.dumps(manifest).encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(body)
            tf.addfile(ti, io.BytesIO(body))
    return archive


def test_neighbour_cannot_read_run_or_write(run_pyman, fresh_env, tmp_path: Path, neighbour,
                                            open_path: None) -> None:
    env = fresh_env
    runroot = tmp_path / "run"
    runroot.mkdir(mode=0o711)  # the runroot a user named: traversable, like a home dir
    _storage_conf(env, runroot)
    assert run_pyman("load", "-i", str(_setuid_image(tmp_path)), env=env).returncode == 0
    r = run_pyman("run", "-d", *NET, "alpine", "sh", "-c",
                  "echo ctr > /tmp/written; sleep 60", env=env)
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    store = Path(env["XDG_DATA_HOME"]) / "pyman"
    upper_tmp = store / "containers" / cid / "upper" / "tmp"
    for _ in range(100):
        if (upper_tmp / "written").exists():
            break
        time.sleep(0.05)
    assert (upper_tmp / "written").exists()
    suid = next(store.glob("layers/*/diff/bin/id"))
    secret = suid.parent.parent / "secret"
    assert suid.stat().st_mode & stat.S_ISUID  # kept in the image: containers need it
    assert suid.stat().st_uid == os.getuid()  # the image's root is us on the host

    # the control: the path down to pyman's own dirs is open to the neighbour
    for top in (store, runroot / "pyman"):
        r = neighbour("stat", "-c", "%a", str(top))
        assert r.returncode == 0, r.stderr

    # every way in is tried, and every one that works is reported
    got_in: list[str] = []
    # cannot list or read image and container files, nor the runtime dir
    for path in (store, store / "layers", store / "containers" / cid, runroot / "pyman",
                 runroot / "pyman" / "containers"):
        r = neighbour("ls", str(path))
        if r.returncode == 0 or "Permission denied" not in r.stderr:
            got_in.append(f"listed {path}: {r.stdout.split()}")
    r = neighbour("cat", str(secret))
    if r.returncode == 0 or "image secret" in r.stdout:
        got_in.append(f"read {secret}")

    # cannot run the image's setuid binary as us
    r = neighbour(str(suid), "-u")
    if r.returncode == 0 or r.stdout.strip() == str(os.getuid()):
        got_in.append(f"ran the image's setuid {suid} with euid {r.stdout.strip()}")

    # cannot write into the running container's upper dir (its /tmp is 1777 there)
    assert stat.S_IMODE(upper_tmp.stat().st_mode) == 0o1777
    r = neighbour("sh", "-c", f"echo pwned > {upper_tmp}/neighbour")
    if r.returncode == 0 or (upper_tmp / "neighbour").exists():
        got_in.append(f"wrote {upper_tmp}/neighbour")
    assert got_in == [], "\n".join(got_in)
    r = run_pyman("exec", cid, "ls", "/tmp", env=env)
    assert r.stdout.split() == ["written"], r.stdout
    assert run_pyman("rm", "-f", cid, env=env).returncode == 0


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_new_store_and_runtime_dir_are_0700(run_pyman, fresh_env, tmp_path: Path) -> None:
    _storage_conf(fresh_env, tmp_path / "run")
    r = run_pyman("images", env=fresh_env)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert _mode(Path(fresh_env["XDG_DATA_HOME"]) / "pyman") == 0o700
    assert _mode(tmp_path / "run" / "pyman") == 0o700


def test_open_store_from_an_older_pyman_is_repaired(run_pyman, fresh_env, tmp_path: Path) -> None:
    store = Path(fresh_env["XDG_DATA_HOME"]) / "pyman"
    run = tmp_path / "run" / "pyman"
    _storage_conf(fresh_env, run.parent)
    for d in (store / "layers", run / "containers"):
        d.mkdir(parents=True)
    store.chmod(0o755)
    run.chmod(0o775)
    r = run_pyman("images", env=fresh_env)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines == [
        f"WARN: the store {store} was open to other users (mode 0755); made it 0700",
        f"WARN: the runtime directory {run} was open to other users (mode 0775); made it 0700",
    ], r.stderr
    assert _mode(store) == _mode(run) == 0o700
    r = run_pyman("images", env=fresh_env)  # repaired once: no more warnings
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_store_of_another_user_is_refused(run_pyman, fresh_env, tmp_path: Path) -> None:
    """A graphroot whose pyman dir is someone else's (here root's /etc) is one clear line."""
    conf = Path(fresh_env["XDG_CONFIG_HOME"]) / "containers" / "storage.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    root_owned = tmp_path / "graph"
    root_owned.mkdir()
    os.symlink("/etc", root_owned / "pyman")
    conf.write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{root_owned}"\n'
                    f'runroot = "{tmp_path / "run"}"\n')
    r = run_pyman("images", env=fresh_env)
    assert r.returncode == 125
    assert r.stderr == (f"Error: the store {root_owned / 'pyman'} is not a directory owned by "
                        f"uid {os.getuid()}: move it away, or point storage.conf's "
                        "graphroot/runroot at a directory of yours\n"), r.stderr
