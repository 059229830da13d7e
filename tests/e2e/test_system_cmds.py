"""system prune, reset, migrate and renumber, and the recovery after an unclean shutdown (the
runtime dir and every monitor gone, as after a power loss)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from broken_host import run_broken

IMAGE = "docker.io/library/alpine:latest"
OTHER = "127.0.0.1:5000/pyman-test/user:latest"


@pytest.fixture
def env(fresh_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    run = tmp_path / "xdg-run"
    run.mkdir(mode=0o700)
    return {**fresh_env, "XDG_RUNTIME_DIR": str(run)}


def ok(run_pyman, env, *args: str, input: str | None = None) -> str:
    r = run_pyman(*args, env=env, input=input)
    assert r.returncode == 0, f"{args}: {r.stderr}"
    return r.stdout


def names(run_pyman, env, *args: str) -> set[str]:
    return set(ok(run_pyman, env, *args).split())


def test_prune(run_pyman, env, test_images) -> None:
    ok(run_pyman, env, "run", "--name", "done", "--network", "none", IMAGE, "true")
    ok(run_pyman, env, "run", "-d", "--name", "up", "--network", "none", IMAGE, "sleep", "300")
    ok(run_pyman, env, "create", "--name", "kept", "--label", "keep=1", "--network", "none",
       IMAGE, "true")
    ok(run_pyman, env, "pull", "-q", OTHER)
    ok(run_pyman, env, "volume", "create", "vol")
    ok(run_pyman, env, "network", "create", "net7")
    # no answer: nothing is removed
    out = ok(run_pyman, env, "system", "prune", input="n\n")
    assert out.startswith("WARNING! This command removes:\n\t- all stopped containers")
    assert "all dangling images" in out and "volumes" not in out
    assert names(run_pyman, env, "ps", "-a", "--format", "{{.Names}}") == {"done", "up", "kept"}
    # a label filter spares what does not carry the label
    out = ok(run_pyman, env, "system", "prune", "-f", "--filter", "label!=keep")
    assert "Deleted Containers" in out and "Total reclaimed space: " in out.splitlines()[-1]
    assert "Deleted Networks\nnet7" in out
    assert names(run_pyman, env, "ps", "-a", "--format", "{{.Names}}") == {"up", "kept"}
    out = ok(run_pyman, env, "system", "prune", "-a", "--volumes", "--filter", "label=keep=1",
             input="y\n")
    assert "all volumes not used by at least one container" in out
    assert names(run_pyman, env, "ps", "-a", "--format", "{{.Names}}") == {"up"}
    assert "Deleted Images" not in out and "Deleted Volumes" not in out  # no such label
    out = ok(run_pyman, env, "system", "prune", "-a", "--volumes", "-f")
    # the running container keeps its image; the other one and the volume are gone
    assert f"Deleted Volumes\nvol\nDeleted Images\n{_id(run_pyman, env)}" not in out
    assert "Deleted Volumes\nvol\nDeleted Images\n" in out, out
    assert ok(run_pyman, env, "images", "--format", "{{.Repository}}").split() == [
        "docker.io/library/alpine"]
    r = run_pyman("system", "prune", "-f", "--filter", "name=x", env=env)
    assert r.returncode == 125 and "invalid filter 'name'" in r.stderr


def _id(run_pyman, env) -> str:
    return ok(run_pyman, env, "images", "--no-trunc", "-q").strip().removeprefix("sha256:")


def test_reset(run_pyman, env, test_images) -> None:
    ok(run_pyman, env, "run", "-d", "--name", "up", "--network", "none", IMAGE, "sleep", "300")
    ok(run_pyman, env, "pod", "create", "--name", "pd")
    ok(run_pyman, env, "volume", "create", "vol")
    ok(run_pyman, env, "network", "create", "net7")
    out = ok(run_pyman, env, "system", "reset", input="n\n")
    assert "WARNING! This will remove:" in out and "- all volumes" in out
    assert "up" in names(run_pyman, env, "ps", "--format", "{{.Names}}")
    pid = int(ok(run_pyman, env, "inspect", "--format", "{{.State.Pid}}", "up"))
    assert ok(run_pyman, env, "system", "reset", "-f") == ""
    for what in (["ps", "-a", "-q"], ["images", "-q"], ["volume", "ls", "-q"],
                 ["pod", "ps", "-q"]):
        assert ok(run_pyman, env, *what) == "", what
    assert names(run_pyman, env, "network", "ls", "--format", "{{.Name}}") == {"podman"}
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # and the store works again from scratch
    assert ok(run_pyman, env, "run", "--rm", "--network", "none", IMAGE, "echo", "hi") == "hi\n"


def test_migrate_and_renumber(run_pyman, pyman_bin, env, tmp_path, test_images) -> None:
    ok(run_pyman, env, "pull", "-q", OTHER)
    assert ok(run_pyman, env, "system", "migrate") == ""  # the range is the one used
    assert ok(run_pyman, env, "system", "renumber") == ""
    # the range changed: the layers' files (uid 1000 of the image) are another range's now
    (tmp_path / "subuid").write_text(f"{env['USER']}:{2**31}:65536\n")
    r = run_broken(pyman_bin, env, f"mount --bind {tmp_path}/subuid /etc/subuid",
                   "system", "migrate")
    assert r.returncode == 125 and "hold files of another sub-id range" in r.stderr, r.stderr
    assert "nothing was changed" in r.stderr
    out = ok(run_pyman, env, "run", "--rm", "--network", "none", OTHER, "stat", "-c", "%u",
             "/home/tester")
    assert out == "1000\n"


def _pids(run_dir: Path) -> list[int]:
    """Every process of the store: monitors, containers, pasta, and the rootless network
    namespace's holder, its pasta and aardvark-dns."""
    import json

    netns = run_dir / "pyman" / "rootless-netns"
    files = [d / name for d in (run_dir / "pyman" / "containers").iterdir()
             for name in ("monitor.pid", "pid", "pasta.pid")]
    files += [netns / "pasta.pid", netns / "conf" / "aardvark-dns" / "aardvark.pid"]
    pids = [json.loads((netns / "holder.json").read_text())["pid"]]
    for f in files:
        try:
            pids.append(int(f.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            pass
    return pids


def test_recovery_after_power_loss(run_pyman, env, test_images) -> None:
    """Every process gone at once and the runtime dir (a tmpfs) empty: the next commands
    see the containers exited, start them again and remove them, without help."""
    ok(run_pyman, env, "run", "-d", "--name", "quiet", "--network", "none", IMAGE,
       "sleep", "300")
    ok(run_pyman, env, "run", "-d", "--name", "netted", IMAGE, "sleep", "300")
    ok(run_pyman, env, "network", "create", "lost")
    ok(run_pyman, env, "run", "-d", "--name", "named", "--network", "lost", IMAGE,
       "sleep", "300")
    run_dir = Path(env["XDG_RUNTIME_DIR"])
    for pid in _pids(run_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.3)
    subprocess.run(["unshare", "--map-auto", "--map-root-user", "rm", "-rf",
                    str(run_dir / "pyman")], check=True, timeout=60)
    assert list(run_dir.iterdir()) == []
    status = ok(run_pyman, env, "ps", "-a", "--format", "{{.Names}} {{.Status}}")
    all3 = {"quiet", "netted", "named"}
    assert {ln.split()[0]: ln.split()[1] for ln in status.splitlines()} == dict.fromkeys(
        all3, "Exited"), status
    assert names(run_pyman, env, "start", *all3) == all3
    assert ok(run_pyman, env, "exec", "netted", "echo", "back") == "back\n"
    assert names(run_pyman, env, "ps", "--format", "{{.Names}}") == all3
    # the network's namespace came back too: a new container finds the old one by name
    out = ok(run_pyman, env, "run", "--rm", "--network", "lost", IMAGE, "nslookup", "named")
    assert "Name:" in out and "named" in out, out
    assert names(run_pyman, env, "rm", "-f", *all3) == all3
    ok(run_pyman, env, "network", "rm", "lost")
