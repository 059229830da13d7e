"""A pull killed at any moment leaves nothing a later command would use, and the next pull
completes; two pulls of the same image at once both succeed and store each layer once."""

from __future__ import annotations

import hashlib
import json
import random
import signal
import subprocess
import time
from pathlib import Path

IMAGE = "127.0.0.1:5000/pyman-test/layers:latest"


def _check_store(store: Path) -> int:
    """Every visible blob matches its digest; every visible layer is complete. Returns the
    number of layers."""
    blobs = store / "blobs" / "sha256"
    for p in blobs.iterdir() if blobs.exists() else []:
        if p.name.startswith("."):
            continue  # a temporary name: never read by a command
        assert hashlib.sha256(p.read_bytes()).hexdigest() == p.name, f"torn blob {p}"
    layers = [p for p in (store / "layers").iterdir()] if (store / "layers").exists() else []
    visible = [p for p in layers if not p.name.startswith(".")]
    for p in visible:
        meta = json.loads((p / "layer.json").read_text())
        assert meta["diff_id"] == f"sha256:{p.name}", p
        assert (p / "diff").is_dir()
    if (store / "images.json").exists():
        json.loads((store / "images.json").read_text())  # never torn
    return len(visible)


def test_kill_9_at_random_moments_then_pull_completes(run_pyman, fresh_env, pyman_bin) -> None:
    store = Path(fresh_env["XDG_DATA_HOME"]) / "pyman"
    rng = random.Random(1234)
    for _ in range(10):
        proc = subprocess.Popen([str(pyman_bin), "pull", "-q", IMAGE], env=fresh_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(rng.uniform(0.0, 0.35))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        time.sleep(0.05)
        _check_store(store)
        # whatever survived, a record never names an image whose parts are missing
        listed = run_pyman("images", "-q", "--no-trunc", env=fresh_env)
        assert listed.returncode == 0, listed.stderr
        for image_id in listed.stdout.split():
            r = run_pyman("image", "inspect", image_id, env=fresh_env)
            for diff_id in json.loads(r.stdout)[0]["RootFS"]["Layers"]:
                assert (store / "layers" / diff_id.split(":")[1] / "diff").is_dir()
    r = run_pyman("pull", "-q", IMAGE, env=fresh_env)
    assert r.returncode == 0, r.stderr
    n_layers = _check_store(store)
    doc = json.loads(run_pyman("image", "inspect", IMAGE, env=fresh_env).stdout)[0]
    assert n_layers == len(set(doc["RootFS"]["Layers"]))
    run = run_pyman("run", "--rm", "--network", "none", IMAGE, "true", env=fresh_env)
    assert run.returncode == 0, run.stderr


def test_two_pulls_at_once_share_the_store(run_pyman, fresh_env, pyman_bin) -> None:
    procs = [subprocess.Popen([str(pyman_bin), "pull", "-q", IMAGE], env=fresh_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    ids = {out.strip() for out, _ in results}
    assert len(ids) == 1
    store = Path(fresh_env["XDG_DATA_HOME"]) / "pyman"
    doc = json.loads(run_pyman("image", "inspect", IMAGE, env=fresh_env).stdout)[0]
    assert _check_store(store) == len(set(doc["RootFS"]["Layers"]))
    assert run_pyman("images", "-q", env=fresh_env).stdout.split() == [ids.pop()[:12]]


def test_layers_already_unpacked_are_not_downloaded_again(run_pyman, fresh_env) -> None:
    store = Path(fresh_env["XDG_DATA_HOME"]) / "pyman"
    assert run_pyman("pull", "-q", IMAGE, env=fresh_env).returncode == 0
    doc = json.loads(run_pyman("image", "inspect", IMAGE, env=fresh_env).stdout)[0]
    manifest = json.loads((store / "blobs" / "sha256" / doc["Digest"].split(":")[1]).read_text())
    layer_blobs = [store / "blobs" / "sha256" / d["digest"].split(":")[1]
                   for d in manifest["layers"]]
    for blob in layer_blobs:  # as if the layers came from another image's blobs
        blob.unlink()
    r = run_pyman("pull", IMAGE, env=fresh_env)
    assert r.returncode == 0, r.stderr
    assert not any(b.exists() for b in layer_blobs), "an unpacked layer was fetched again"
    run = run_pyman("run", "--rm", "--network", "none", IMAGE, "true", env=fresh_env)
    assert run.returncode == 0, run.stderr
