"""A wheel built from this checkout installs with pipx into a fresh venv as an unprivileged
user and runs a container from there: the monitor, the trial and probe scripts, the seccomp
profile and the completion scripts are inside it (they are run or read by file path)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

SRC = Path(__file__).resolve().parents[2]
INSIDE = ["pyman/monitor/__main__.py", "pyman/monitor/lean.py", "pyman/runtime/trial.py",
          "pyman/rootless/probe.py", "pyman/runtime/seccomp_default.json",
          "pyman/completions/pyman.bash", "pyman/completions/pyman.zsh",
          "pyman/completions/pyman.fish", "pyman/netns/rootless_netns.py"]


def test_wheel_installs_with_pipx_and_runs(tmp_path: Path, fresh_env: dict[str, str],
                                           test_images) -> None:
    dist = tmp_path / "dist"
    # the build backend from this venv (setuptools >= 77): the wheel itself is what matters
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--no-build-isolation", "-w", str(dist), str(SRC)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (wheel,) = dist.glob("pyman-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [p for p in INSIDE if p not in names], sorted(names)
    assert not [n for n in names if n.startswith("tests/")]

    home, bindir = tmp_path / "pipx", tmp_path / "bin"
    env = {**fresh_env, "PIPX_HOME": str(home), "PIPX_BIN_DIR": str(bindir),
           "PIPX_MAN_DIR": str(tmp_path / "man"), "PATH": f"{bindir}:{fresh_env['PATH']}"}
    pipx = Path(sys.executable).parent / "pipx"
    r = subprocess.run([str(pipx), "install", str(wheel)], env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    pyman = bindir / "pyman"
    assert pyman.exists() and (bindir / "pyman-quadlet").exists()
    # the installed pyman, not the test venv's
    r = subprocess.run([str(pyman), "run", "--rm", "alpine", "echo", "hi"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    r = subprocess.run([str(pyman), "run", "--rm", "--init", "alpine", "true"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    site = next(home.glob("venvs/pyman/lib/python3*/site-packages/pyman"))
    for shell in ("bash", "zsh", "fish"):
        r = subprocess.run([str(pyman), "completion", shell], env=env, capture_output=True,
                           text=True, timeout=60)
        assert r.stdout == (site / "completions" / f"pyman.{shell}").read_text()
        assert "save it as" in r.stdout
    r = subprocess.run([str(pyman), "system", "check"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
