"""pyman save / load: docker-archive and oci-archive round trips, multi-image archives, hostile
and corrupt archives (built here with tarfile) that must leave the store untouched, and interop
with podman (its own private store) in both directions."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

FORMATS = ["docker-archive", "oci-archive"]


def _pull(run_pyman, env: dict[str, str], name: str) -> str:
    r = run_pyman("pull", "-q", name, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def _ids(run_pyman, env: dict[str, str]) -> list[str]:
    r = run_pyman("images", "-q", "--no-trunc", env=env)
    assert r.returncode == 0, r.stderr
    return sorted({line.removeprefix("sha256:") for line in r.stdout.split()})


def _store_files(env: dict[str, str]) -> list[str]:
    """Every blob file and layer directory in the store (temporary ones included)."""
    data = Path(env["XDG_DATA_HOME"]) / "pyman"
    found = []
    for sub in ("blobs", "layers"):
        root = data / sub
        if root.exists():
            found += [str(p.relative_to(data)) for p in root.rglob("*") if not p.is_dir()]
            if sub == "layers":
                found += [str(p.relative_to(data)) for p in root.iterdir()]
    return sorted(found)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(run_pyman, fresh_env, tmp_path: Path, fmt: str) -> None:
    env = fresh_env
    image_id = _pull(run_pyman, env, "alpine")
    archive = tmp_path / "alpine.tar"
    r = run_pyman("save", "--format", fmt, "-o", str(archive), "alpine", env=env)
    assert r.returncode == 0, r.stderr
    with tarfile.open(archive) as tf:
        names = tf.getnames()
    if fmt == "docker-archive":
        assert {"manifest.json", "repositories", f"{image_id}.json"} <= set(names)
    else:
        assert {"oci-layout", "index.json", f"blobs/sha256/{image_id}"} <= set(names)
    assert run_pyman("rmi", "alpine", env=env).returncode == 0
    assert _ids(run_pyman, env) == []
    r = run_pyman("load", "-i", str(archive), env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Loaded image: docker.io/library/alpine:latest\n"
    assert _ids(run_pyman, env) == [image_id]
    r = run_pyman("run", "--rm", "--network", "none", "alpine", "echo", "ok", env=env)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr


def test_stdout_stdin_and_multi_image(run_pyman, fresh_env, pyman_bin: Path, tmp_path: Path,
                                      registry: str) -> None:
    env = fresh_env
    alpine = _pull(run_pyman, env, "alpine")
    other = f"{registry}/pyman-test/layers:latest"
    busybox = _pull(run_pyman, env, other)
    assert busybox != alpine
    assert run_pyman("tag", "alpine", "mine:1", env=env).returncode == 0
    archive = tmp_path / "multi.tar"
    with open(archive, "wb") as out:
        r = subprocess.run([str(pyman_bin), "save", "-m", "alpine", other, "mine:1"],
                           env=env, stdout=out, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 0, r.stderr
    with tarfile.open(archive) as tf:
        f = tf.extractfile("manifest.json")
        assert f is not None
        manifest = json.load(f)
    assert [e["RepoTags"] for e in manifest] == [
        ["docker.io/library/alpine:latest", "localhost/mine:1"],
        [other]]
    assert run_pyman("rmi", "-a", "-f", env=env).returncode == 0
    with open(archive, "rb") as inp:
        r = subprocess.run([str(pyman_bin), "load", "-q"], env=env, stdin=inp,
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted([
        "Loaded image: docker.io/library/alpine:latest",
        f"Loaded image: {other}",
        "Loaded image: localhost/mine:1"])
    assert _ids(run_pyman, env) == sorted([alpine, busybox])


def test_save_refusals(run_pyman, fresh_env, tmp_path: Path) -> None:
    env = fresh_env
    r = run_pyman("save", "-o", str(tmp_path / "x.tar"), "nosuchimage", env=env)
    assert r.returncode == 125 and r.stderr.startswith("Error:"), r.stderr
    assert not (tmp_path / "x.tar").exists()
    r = run_pyman("save", "-m", "--format", "oci-archive", "-o", str(tmp_path / "y.tar"),
                  "a", "b", env=env)
    assert r.returncode == 125 and "only docker-archive" in r.stderr


# ---------------------------------------------------------------- hostile archives


def _tar_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _docker_archive(layer: bytes, diff_id: str | None = None) -> dict[str, bytes]:
    """A minimal docker-archive: one layer, its config, manifest.json."""
    diff = diff_id or "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff]},
                         "config": {"Cmd": ["/hello"]}}).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    layer_name = diff.split(":", 1)[1] + ".tar"
    manifest = [{"Config": f"{config_hex}.json", "RepoTags": ["hostile/test:1"],
                 "Layers": [layer_name]}]
    return {layer_name: layer, f"{config_hex}.json": config,
            "manifest.json": json.dumps(manifest).encode()}


def _write_outer(path: Path, files: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> None:
    with tarfile.open(path, "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info in extra:
            tf.addfile(info)


GOOD_LAYER = _tar_bytes({"hello": b"hi\n"})


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def _hostile_cases() -> dict[str, tuple[dict[str, bytes], list[tarfile.TarInfo]]]:
    good = _docker_archive(GOOD_LAYER)
    cases: dict[str, tuple[dict[str, bytes], list[tarfile.TarInfo]]] = {}
    bad = _docker_archive(GOOD_LAYER, diff_id="sha256:" + "ab" * 32)
    cases["wrong diff_id"] = (bad, [])
    flipped = dict(good)
    layer_name = next(n for n in good if n.endswith(".tar"))
    flipped[layer_name] = GOOD_LAYER.replace(b"hi\n", b"ho\n")
    cases["corrupt layer"] = (flipped, [])
    missing = {k: v for k, v in good.items() if k != layer_name}
    cases["missing layer"] = (missing, [])
    cases["dotdot member"] = ({**good, "../escape": b"x"}, [])
    cases["absolute member"] = ({**good, "/tmp/pyman-archive-escape": b"x"}, [])
    link = {k: v for k, v in good.items() if k != layer_name}
    cases["symlink member"] = (link, [_symlink(layer_name, "/etc/passwd")])
    escaping = _tar_bytes({"../../outside": b"x"})
    cases["layer with .. path"] = (_docker_archive(escaping), [])
    cases["garbage"] = ({}, [])
    return cases


@pytest.mark.parametrize("case", list(_hostile_cases()))
def test_hostile_archive_stores_nothing(run_pyman, fresh_env, tmp_path: Path, case: str) -> None:
    files, extra = _hostile_cases()[case]
    archive = tmp_path / "bad.tar"
    if case == "garbage":
        archive.write_bytes(b"this is not a tar archive\n" * 40)
    else:
        _write_outer(archive, files, extra)
    r = run_pyman("load", "-i", str(archive), env=fresh_env)
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert r.stderr.startswith("Error:") and r.stderr.count("\n") == 1, r.stderr
    assert r.stdout == ""
    assert _ids(run_pyman, fresh_env) == []
    assert _store_files(fresh_env) == []
    assert not Path("/tmp/pyman-archive-escape").exists()
    assert not (tmp_path.parent / "outside").exists()


def test_built_archive_loads(run_pyman, fresh_env, tmp_path: Path) -> None:
    """The control for the hostile cases: the same archive, intact, gzip-compressed outside."""
    archive = tmp_path / "good.tar.gz"
    raw = tmp_path / "good.tar"
    _write_outer(raw, _docker_archive(GOOD_LAYER))
    import gzip

    archive.write_bytes(gzip.compress(raw.read_bytes()))
    r = run_pyman("load", "-i", str(archive), env=fresh_env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Loaded image: docker.io/hostile/test:1\n"


# ---------------------------------------------------------------- podman interop


@pytest.fixture
def podman(tmp_path: Path):
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    root = tmp_path / "podman"
    base = ["podman", "--root", str(root / "r"), "--runroot", f"/tmp/pm-{os.getpid()}",
            "--storage-driver", "vfs"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], capture_output=True, text=True, timeout=120)

    yield run
    run("system", "reset", "-f")
    subprocess.run(["unshare", "--map-auto", "--map-root-user", "rm", "-rf", "--", str(root),
                    f"/tmp/pm-{os.getpid()}"], capture_output=True, timeout=60)


@pytest.mark.parametrize("fmt", FORMATS)
def test_podman_loads_pyman_archive(run_pyman, fresh_env, podman, tmp_path: Path,
                                    fmt: str) -> None:
    image_id = _pull(run_pyman, fresh_env, "alpine")
    archive = tmp_path / "a.tar"
    r = run_pyman("save", "--format", fmt, "-o", str(archive), "alpine", env=fresh_env)
    assert r.returncode == 0, r.stderr
    r = podman("load", "-i", str(archive))
    assert r.returncode == 0, r.stderr
    assert "Loaded image: docker.io/library/alpine:latest" in r.stdout
    r = podman("images", "-q", "--no-trunc")
    assert r.stdout.split() == [f"sha256:{image_id}"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_pyman_loads_podman_archive(run_pyman, fresh_env, podman, registry: str,
                                    tmp_path: Path, fmt: str) -> None:
    r = podman("pull", "-q", "--tls-verify=false", f"{registry}/library/busybox:latest")
    assert r.returncode == 0, r.stderr
    archive = tmp_path / "p.tar"
    r = podman("save", "--format", fmt, "-o", str(archive), f"{registry}/library/busybox:latest")
    assert r.returncode == 0, r.stderr
    # podman's oci-archive rewrites the config (so the id changes): the id to match is the one
    # podman itself gives the archive's image when it loads it
    assert podman("rmi", "-a", "-f").returncode == 0
    assert podman("load", "-i", str(archive)).returncode == 0
    podman_id = podman("images", "-q", "--no-trunc").stdout.strip().removeprefix("sha256:")
    assert len(podman_id) == 64
    r = run_pyman("load", "-i", str(archive), env=fresh_env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"Loaded image: {registry}/library/busybox:latest\n"
    assert _ids(run_pyman, fresh_env) == [podman_id]
    r = run_pyman("run", "--rm", "--network", "none", f"{registry}/library/busybox:latest",
                  "echo", "ok", env=fresh_env)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr


def test_run_and_create_from_an_archive(run_pyman, tmp_path: Path) -> None:
    """run/create docker-archive:PATH (and oci-archive:): loaded, with the copy lines."""
    r = run_pyman("run", "--name", "ar-src", "--network", "none",
                  '--entrypoint=["/bin/echo","from the archive"]', "alpine")
    assert r.stdout == "from the archive\n", r.stderr
    doc = json.loads(run_pyman("inspect", "ar-src").stdout)[0]
    assert doc["Config"]["Cmd"] is None or doc["Config"]["Cmd"] == []  # dropped by it
    assert run_pyman("commit", "-q", "ar-src", "ar-img").returncode == 0
    for fmt in ("docker-archive", "oci-archive"):
        archive = tmp_path / f"{fmt}.tar"
        assert run_pyman("save", "--quiet", "--format", fmt, "-o", str(archive),
                         "ar-img").returncode == 0
        assert run_pyman("rmi", "-f", "ar-img").returncode == 0
        r = run_pyman("run", "--rm", "--network", "none", f"{fmt}:{archive}")
        lines = r.stderr.splitlines()
        assert r.stdout == "from the archive\n", r.stderr
        assert lines[0] == "Getting image source signatures"
        assert any(x.startswith("Copying blob ") for x in lines)
        assert lines[-3:-1] == [lines[-3], "Writing manifest to image destination"]
        assert lines[-3].startswith("Copying config ")
        assert run_pyman("rmi", "ar-img").returncode == 0
        cid = run_pyman("create", "--network", "none", f"{fmt}:{archive}").stdout.strip()
        r = run_pyman("start", "--attach", cid)
        assert r.stdout == "from the archive\n", r.stderr
        assert run_pyman("rm", cid).returncode == 0
    r = run_pyman("run", "--rm", f"docker-archive:{tmp_path}/nosuch.tar")
    assert r.returncode == 125 and "nosuch.tar: no such archive file" in r.stderr
    assert run_pyman("rm", "ar-src").returncode == 0
