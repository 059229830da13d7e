"""A damaged record stays one record's problem: the command that meets it warns once (one line
naming the file), goes on with the rest, and `rm -f` removes it; never an internal error.
The damage is done here, to the files themselves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from lifecycle_util import NET, wait_for

LAYERS = "127.0.0.1:5000/pyman-test/layers:latest"  # images of their own (the mirror's
CONFIG = "127.0.0.1:5000/pyman-test/config:latest"  # busybox is alpine's image)


@pytest.fixture
def env(fresh_env, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A fresh store and a runtime dir of its own, so the test can reach the state files."""
    run = tmp_path / "xdg-run"
    run.mkdir(mode=0o700)
    return dict(fresh_env, XDG_RUNTIME_DIR=str(run))


def _store(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "pyman"


def _run_dir(env: dict[str, str], cid: str) -> Path:
    return Path(env["XDG_RUNTIME_DIR"]) / "pyman" / "containers" / cid


def _clean(r, path: Path | None = None) -> None:  # type: ignore[no-untyped-def]
    """No traceback; with ``path``, exactly one warning line, naming it."""
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("WARNING")]
    if path is None:
        assert warnings == [], r.stderr
    else:
        assert len(warnings) == 1 and str(path) in warnings[0], r.stderr


def _sleeping(token: str) -> bool:
    """A `sleep <token>` of ours still runs (the container's process, seen from the host)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes() == f"sleep\0{token}\0".encode():
                return True
        except OSError:
            continue
    return False


def _pull(run_pyman, env, *images: str) -> None:  # type: ignore[no-untyped-def]
    for image in images:
        r = run_pyman("pull", "-q", image, env=env)
        assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("damage", ["truncated", "empty object", "wrong type", "bad mount",
                                    "missing"])
def test_damaged_container_config(run_pyman, env, damage: str) -> None:
    _pull(run_pyman, env, "alpine")
    assert run_pyman("create", "--name", "good", *NET, "alpine", "true", env=env).returncode == 0
    r = run_pyman("run", "-d", "--name", "bad", *NET, "alpine", "sleep", "4241", env=env)
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    path = _store(env) / "containers" / cid / "config.json"
    text = path.read_text()
    if damage == "truncated":
        path.write_text(text[: len(text) // 3])  # the name is in the part that is left
    elif damage == "empty object":
        path.write_text("{}")
    elif damage == "wrong type":
        path.write_text(json.dumps(dict(json.loads(text), args="sleep 4241")))
    elif damage == "bad mount":
        path.write_text(json.dumps(dict(json.loads(text), mounts=[{"type": "volume"}])))
    else:
        path.unlink()

    ps = run_pyman("ps", "-a", "--format", "{{.Names}}", env=env)
    assert (ps.returncode, ps.stdout) == (0, "good\n")
    _clean(ps, path)
    r = run_pyman("run", "--rm", *NET, "alpine", "echo", "ok", env=env)
    assert (r.returncode, r.stdout) == (0, "ok\n")
    _clean(r, path)
    r = run_pyman("inspect", "--type", "container", cid, env=env)
    assert r.returncode == 125 and str(path) in r.stderr and "rm -f" in r.stderr
    _clean(r)

    if damage == "missing":  # --all takes the damaged ones too
        r = run_pyman("rm", "-af", env=env)
        assert r.returncode == 0 and cid in r.stdout.split(), r.stderr
        left = ""
    else:  # by the name a torn file still shows, else by id
        key = cid[:12] if damage == "empty object" else "bad"
        r = run_pyman("rm", "-f", key, env=env)
        assert (r.returncode, r.stdout) == (0, f"{key}\n"), r.stderr
        _clean(r)  # what it was asked to remove is no news
        left = "good\n"
    assert not path.parent.exists() and not _run_dir(env, cid).exists()
    assert wait_for(lambda: not _sleeping("4241"), 5)  # it was running: it was killed
    ps = run_pyman("ps", "-a", "--format", "{{.Names}}", env=env)
    assert (ps.returncode, ps.stdout) == (0, left)
    _clean(ps)


def test_damaged_state_and_monitor_files_in_the_runtime_dir(run_pyman, env) -> None:
    _pull(run_pyman, env, "alpine")
    r = run_pyman("run", "-d", "--name", "st", *NET, "alpine", "sleep", "4242", env=env)
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    state = _run_dir(env, cid) / "state.json"
    state.write_text(json.dumps(dict(json.loads(state.read_text()), pid="12")))
    # the data dir's copy of the state stands in: still seen running
    ps = run_pyman("ps", "--format", "{{.Names}} {{.Status}}", env=env)
    assert ps.returncode == 0 and ps.stdout.startswith("st Up"), ps.stdout
    _clean(ps, state)

    monitor = _run_dir(env, cid) / "monitor.json"
    monitor.write_text(monitor.read_text()[:40])
    r = run_pyman("exec", "st", "true", env=env)
    assert r.returncode == 125 and str(monitor) in r.stderr and "restart" in r.stderr
    _clean(r, state)  # the state's warning, once; the monitor.json is the error
    r = run_pyman("rm", "-f", "st", env=env)
    assert (r.returncode, r.stdout) == (0, "st\n"), r.stderr
    assert wait_for(lambda: not _sleeping("4242"), 5)
    assert run_pyman("ps", "-aq", env=env).stdout == ""


def _layer_json(run_pyman, env, image: str) -> Path:  # type: ignore[no-untyped-def]
    r = run_pyman("image", "inspect", "--format", "{{json .RootFS.Layers}}", image, env=env)
    assert r.returncode == 0, r.stderr
    diff_id = json.loads(r.stdout)[-1]
    return _store(env) / "layers" / diff_id.split(":", 1)[1] / "layer.json"


def test_damaged_layer_record(run_pyman, env) -> None:
    _pull(run_pyman, env, "alpine", LAYERS)
    path = _layer_json(run_pyman, env, LAYERS)  # its top layer: alpine's are apart
    path.write_text('{"diff_id": "sha256:x", "size": "')
    r = run_pyman("images", "--format", "{{.Repository}}", env=env)
    assert r.returncode == 0 and sorted(r.stdout.split()) == [LAYERS.rsplit(":", 1)[0],
                                                               "docker.io/library/alpine"]
    _clean(r, path)
    for image in ("alpine", LAYERS):  # the tree is whole: only its size is unknown
        r = run_pyman("run", "--rm", *NET, image, "echo", "ok", env=env)
        assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr

    # the image's config blob torn: listed without details, refused to run, others run
    image_id = run_pyman("image", "inspect", "--format", "{{.Id}}", LAYERS, env=env).stdout
    blob = _store(env) / "blobs" / "sha256" / image_id.strip()
    blob.write_bytes(blob.read_bytes()[:50])
    r = run_pyman("images", "--format", "{{.Repository}}", env=env)
    assert r.returncode == 0 and len(r.stdout.split()) == 2
    warnings = r.stderr.splitlines()
    assert len(warnings) == 2 and str(path) in warnings[0] + warnings[1], r.stderr
    assert str(blob) in warnings[0] + warnings[1]  # each named, once
    r = run_pyman("run", "--rm", *NET, LAYERS, "true", env=env)
    assert r.returncode == 125 and str(blob) in r.stderr and "rmi" in r.stderr, r.stderr
    r = run_pyman("run", "--rm", *NET, "alpine", "echo", "ok", env=env)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr


def test_damaged_image_list_entry(run_pyman, env) -> None:
    _pull(run_pyman, env, "alpine", CONFIG)
    images = _store(env) / "images.json"
    doc = json.loads(images.read_text())
    entry = next(i for i, e in enumerate(doc["images"]) if CONFIG in e["names"])
    doc["images"][entry]["layers"] = "sha256:0"
    images.write_text(json.dumps(doc))
    r = run_pyman("images", "--format", "{{.Repository}}", env=env)
    assert (r.returncode, r.stdout) == (0, "docker.io/library/alpine\n")
    _clean(r, images)
    assert f"entry {entry + 1}" in r.stderr
    r = run_pyman("run", "--rm", *NET, "alpine", "echo", "ok", env=env)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr
    _pull(run_pyman, env, CONFIG)  # a write drops the damaged entry: pulled afresh
    r = run_pyman("images", "--format", "{{.Repository}}", env=env)
    assert r.returncode == 0 and len(r.stdout.split()) == 2
    _clean(r)


def test_damaged_pod_and_volume_records(run_pyman, env) -> None:
    r = run_pyman("pod", "create", "--name", "p1", env=env)
    assert r.returncode == 0, r.stderr
    pid = r.stdout.strip()
    assert run_pyman("pod", "create", "--name", "p2", env=env).returncode == 0
    pod_json = _store(env) / "pods" / pid / "pod.json"
    text = pod_json.read_text()
    pod_json.write_text(text[:text.index('"infra_id"')])  # torn after its name
    r = run_pyman("pod", "ps", "--format", "{{.Name}}", env=env)
    assert (r.returncode, r.stdout) == (0, "p2\n")
    _clean(r, pod_json)
    r = run_pyman("pod", "rm", "-f", "p1", env=env)
    assert (r.returncode, r.stdout) == (0, f"{pid}\n"), r.stderr
    assert not pod_json.parent.exists()
    r = run_pyman("ps", "-a", "--format", "{{.PodName}}", env=env)
    assert (r.returncode, r.stdout) == (0, "p2\n")  # p1's infra went with it

    for name in ("v1", "v2"):
        assert run_pyman("volume", "create", name, env=env).returncode == 0
    meta = _store(env) / "volumes" / "v1" / "volume.json"
    meta.write_text(json.dumps({"name": "v1", "labels": ["not", "a", "map"]}))
    r = run_pyman("volume", "ls", "--format", "{{.Name}}", env=env)
    assert (r.returncode, r.stdout) == (0, "v2\n")
    _clean(r, meta)
    r = run_pyman("volume", "inspect", "v1", env=env)
    assert r.returncode == 125 and str(meta) in r.stderr and "volume rm -f v1" in r.stderr
    r = run_pyman("volume", "rm", "-f", "v1", env=env)
    assert (r.returncode, r.stdout) == (0, "v1\n"), r.stderr
    assert not meta.parent.exists()
