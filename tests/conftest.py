"""Shared fixtures. Two kinds of tests live here:

- tests/unit: plain Python, run anywhere (as root too).
- tests/e2e: marked ``e2e`` by directory. They run the real ``pyman`` console script of the
  venv running pytest, as an unprivileged user, against the loopback registry that
  ``scripts/setup-host.sh`` sets up (127.0.0.1:5000, the docker.io mirror). As root they fail:
  rootless behaviour proven as root proves nothing. Run them with ``sudo bash scripts/test.sh``.

Fixtures (e2e):
  registry          "127.0.0.1:5000", checked to answer /v2/
  test_images       {"library/alpine:latest": "sha256:...", ...} from images.json
  pyman_env         session env dict: real HOME, XDG_DATA_HOME/XDG_CONFIG_HOME in a session
                    tmp dir, no XDG_RUNTIME_DIR (pyman falls back), PATH with /usr/sbin
  run_pyman         run_pyman(*args, input=None, timeout=120, env=None) -> CompletedProcess[str]
  fresh_env         per-test copy of pyman_env with its own empty data and config dirs
  pyman_bin         Path of the pyman console script under test
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

try:  # unit tests run from a plain checkout too (`pytest tests/unit` in any venv with pytest)
    import pyman  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REGISTRY = "127.0.0.1:5000"
GROUND = Path("/var/lib/pyman-testground")
IMAGES_JSON = GROUND / "images.json"
E2E_DIR = Path(__file__).parent / "e2e"
SETUP_HINT = "as root, run `bash scripts/setup-host.sh` (or `sudo bash scripts/test.sh`)"


class RunPyman(Protocol):
    def __call__(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]: ...


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end test running the real pyman as an unprivileged user"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _e2e_not_as_root(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("e2e") and os.geteuid() == 0:
        pytest.fail(
            "e2e tests must not run as root: a rootless container manager proven as root "
            "proves nothing. Run them as the unprivileged CI user: `sudo bash scripts/test.sh` "
            "(or `runuser -u pymanci -- ~pymanci/.local/pyman-venv/bin/pytest tests/e2e`).",
            pytrace=False,
        )


# ------------------------------------------------------------------ the binary under test


@pytest.fixture(scope="session")
def pyman_bin() -> Path:
    override = os.environ.get("PYMAN_BIN")
    path = Path(override) if override else Path(sys.executable).parent / "pyman"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"no pyman console script at {path}: run the e2e tests with the python of a venv "
            f"that has pyman installed (PYMAN_BIN overrides); {SETUP_HINT}",
            pytrace=False,
        )
    return path


# ------------------------------------------------------------------ the test ground


@pytest.fixture(scope="session")
def registry() -> str:
    url = f"http://{REGISTRY}/v2/"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            ok = resp.status == 200
    except (urllib.error.URLError, OSError) as e:
        pytest.fail(f"the test registry does not answer at {url} ({e}): {SETUP_HINT}",
                    pytrace=False)
    if not ok:
        pytest.fail(f"the test registry at {url} answered {resp.status}: {SETUP_HINT}",
                    pytrace=False)
    return REGISTRY


@pytest.fixture(scope="session")
def test_images(registry: str) -> dict[str, str]:
    """"<repo>:<tag>" -> manifest digest of what setup-host.sh pushed (alpine: the index)."""
    try:
        data: dict[str, str] = json.loads(IMAGES_JSON.read_text())
    except (OSError, ValueError) as e:
        pytest.fail(f"cannot read {IMAGES_JSON} ({e}): {SETUP_HINT}", pytrace=False)
    return data


def _real_home() -> str:
    return pwd.getpwuid(os.getuid()).pw_dir


def _base_env(pyman_bin: Path) -> dict[str, str]:
    user = pwd.getpwuid(os.getuid()).pw_name
    path = [str(pyman_bin.parent), "/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin",
            "/usr/sbin", "/sbin"]
    env = {
        "HOME": _real_home(),
        "USER": user,
        "LOGNAME": user,
        "PATH": ":".join(dict.fromkeys(path)),
        "LANG": "C.UTF-8",
    }
    for keep in ("TMPDIR", "TERM"):
        if keep in os.environ:
            env[keep] = os.environ[keep]
    return env


def _rm_tree_as_subids(path: Path) -> None:
    """Remove a store whose files belong to sub-ids: from inside a fully mapped user namespace
    (util-linux unshare runs newuidmap/newgidmap), where those owners are ours."""
    if not path.exists():
        return
    if os.geteuid() != 0:
        subprocess.run(["unshare", "--map-auto", "--map-root-user", "rm", "-rf", "--", str(path)],
                       capture_output=True, timeout=120)
    shutil.rmtree(path, ignore_errors=True)


def _remove_containers(pyman_bin: Path, env: dict[str, str]) -> None:
    """Best effort: containers left running by a failed test must not outlive the session."""
    try:
        # pods first: a pod's infra container is removed only with its pod
        subprocess.run([str(pyman_bin), "pod", "rm", "-a", "-f"], env=env, capture_output=True,
                       text=True, timeout=60)
        ids = subprocess.run([str(pyman_bin), "ps", "-aq", "--external"], env=env, capture_output=True,
                             text=True, timeout=30).stdout.split()
        if ids:
            subprocess.run([str(pyman_bin), "rm", "-f", *ids], env=env, capture_output=True,
                           text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        pass


def _make_env(pyman_bin: Path, root: Path) -> dict[str, str]:
    env = _base_env(pyman_bin)
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config")):
        d = root / sub
        d.mkdir(parents=True, exist_ok=True)
        env[var] = str(d)
    return env


@pytest.fixture(scope="session")
def pyman_env(tmp_path_factory: pytest.TempPathFactory, pyman_bin: Path,
              registry: str) -> Iterator[dict[str, str]]:
    """The session's environment for pyman: real HOME, data and config in a session tmp dir,
    XDG_RUNTIME_DIR unset (the su/CI case: pyman must fall back), /usr/sbin on PATH (runc)."""
    root = tmp_path_factory.mktemp("pyman-session")
    env = _make_env(pyman_bin, root)
    yield env
    _remove_containers(pyman_bin, env)
    _rm_tree_as_subids(root)


@pytest.fixture
def fresh_env(tmp_path: Path, pyman_bin: Path, pyman_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Like pyman_env, with an empty store of its own (data and config dirs) for this test."""
    root = tmp_path / "pyman-fresh"
    env = dict(pyman_env)
    env.update(_make_env(pyman_bin, root))
    yield env
    _remove_containers(pyman_bin, env)
    _rm_tree_as_subids(root)


@pytest.fixture
def run_pyman(pyman_bin: Path, pyman_env: dict[str, str]) -> RunPyman:
    """Run the real pyman; text mode, output captured, never raises on a non-zero exit."""

    def run(
        *args: str,
        input: str | None = None,
        timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(pyman_bin), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=pyman_env if env is None else env,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    return run



# ------------------------------------------------------------------ the neighbour

NEIGHBOUR = os.environ.get("PYMAN_NEIGHBOUR_USER", "pymannb")


class Neighbour(Protocol):
    def __call__(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture(scope="session")
def neighbour() -> Neighbour:
    """Run a command as a second local user (setup-host.sh's `pymannb`, through sudo -n): the
    neighbour on a shared host who tries to read, run or write what belongs to the test user."""

    def run(*argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sudo", "-n", "-u", NEIGHBOUR, "--", *argv], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})

    probe = run("id", "-un")
    if probe.returncode != 0 or probe.stdout.strip() != NEIGHBOUR:
        pytest.fail(f"cannot act as the neighbour user {NEIGHBOUR} through `sudo -n -u` "
                    f"({probe.stderr.strip() or probe.stdout.strip()}): {SETUP_HINT}",
                    pytrace=False)
    return run
