"""Hosts that are not a laptop: su/cron/CI environments and broken set-ups, each either worked
around or reported in one line that names the fix, with nothing left behind."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def _one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


def test_foreign_runtime_dir_is_replaced_by_a_private_fallback(run_pyman, pyman_env) -> None:
    # su keeps root's XDG_RUNTIME_DIR; it is not ours, so pyman must not use it
    env = dict(pyman_env, XDG_RUNTIME_DIR="/run")
    r = run_pyman("run", "--rm", "--network", "none", "alpine", "echo", "hi", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hi\n"
    fallback = Path(f"/tmp/pyman-run-{os.getuid()}")
    st = fallback.stat()
    assert st.st_uid == os.getuid() and st.st_mode & 0o777 == 0o700
    assert not any(p.name == "pyman" for p in Path("/run").iterdir() if p.owner() != "root")


def test_runtime_dir_that_is_not_private_is_not_used(run_pyman, pyman_env, tmp_path) -> None:
    shared = tmp_path / "shared-run"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    env = dict(pyman_env, XDG_RUNTIME_DIR=str(shared))
    r = run_pyman("run", "--rm", "--network", "none", "alpine", "true", env=env)
    assert r.returncode == 0, r.stderr
    assert not (shared / "pyman").exists()


def test_newuidmap_without_privilege_is_named_with_the_fix(run_pyman, fresh_env, tmp_path) -> None:
    # a copy loses the setuid bit: exactly the broken install the user must be told about
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("newuidmap", "newgidmap"):
        shutil.copy(f"/usr/bin/{tool}", bindir / tool)
    env = dict(fresh_env, PATH=f"{bindir}:{fresh_env['PATH']}")
    r = run_pyman("run", "--rm", "alpine", "true", env=env)
    assert r.returncode == 125, r.stderr
    line = _one_error_line(r.stderr)
    assert str(bindir / "newuidmap") in line and "setuid" in line and "chmod u+s" in line
    # nothing half-stored: the image is not listed and no layer directory survived
    assert "alpine" not in run_pyman("images", env=fresh_env).stdout
    layers = Path(fresh_env["XDG_DATA_HOME"]) / "pyman" / "layers"
    assert not layers.exists() or not [p for p in layers.iterdir() if not p.name.startswith(".")]
    assert run_pyman("ps", "-aq", env=fresh_env).stdout == ""


def test_missing_runtime_is_a_clear_error(run_pyman, pyman_env) -> None:
    r = run_pyman("--runtime", "/nonexistent/runc", "run", "--rm", "alpine", "true",
                  env=pyman_env)
    assert r.returncode == 125, r.stderr
    line = _one_error_line(r.stderr)
    assert "/nonexistent/runc" in line and "not found" in line and "apt-get install" in line
    assert run_pyman("ps", "-aq", env=pyman_env).stdout == ""  # --rm: no record left
    r = run_pyman("--runtime", "runc", "run", "--rm", "--network", "none", "alpine", "echo", "ok",
                  env=pyman_env)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr


def test_damaged_image_list_is_one_line_not_a_traceback(run_pyman, fresh_env) -> None:
    store = Path(fresh_env["XDG_DATA_HOME"]) / "pyman"
    store.mkdir(parents=True, exist_ok=True)
    (store / "images.json").write_text("{")
    r = run_pyman("images", env=fresh_env)
    assert r.returncode == 125 and "Traceback" not in r.stderr
    line = _one_error_line(r.stderr)
    assert str(store / "images.json") in line and "damaged" in line
