"""complete_values: what a TAB offers, read from a store laid out as pyman writes it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from pyman.cli import complete_paths
from pyman.cli import complete_values as cv

BOOT = Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data, run = tmp_path / "data", tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    dead = _dead_pid()
    states = {"web": ("running", os.getpid(), BOOT), "db": ("exited", 0, BOOT),
              "ghost": ("running", dead, BOOT), "old": ("running", os.getpid(), "other-boot"),
              "nap": ("paused", os.getpid(), BOOT), "new": None}
    for i, (name, state) in enumerate(states.items()):
        cid = f"{i:x}{name}".ljust(64, "0")
        cdir = data / "pyman" / "containers" / cid
        cdir.mkdir(parents=True)
        (cdir / "config.json").write_text(json.dumps({"id": cid, "name": name}))
        if state is not None:
            rdir = run / "pyman" / "containers" / cid
            rdir.mkdir(parents=True)
            (rdir / "state.json").write_text(json.dumps(
                {"status": state[0], "monitor_pid": state[1], "boot_id": state[2]}))
    (data / "pyman" / "containers" / (".new-" + "9" * 64)).mkdir()  # a create in progress
    (data / "pyman" / "images.json").write_text(json.dumps({"images": [
        {"id": "ab" * 32, "names": ["docker.io/library/alpine:latest",
                                    "quay.io/team/tool:1"]}]}))
    for vol in ("cache", "logs"):
        (data / "pyman" / "volumes" / vol / "_data").mkdir(parents=True)
    (data / "pyman" / "volumes" / ".rm-old").mkdir()
    pod = data / "pyman" / "pods" / ("c" * 64)
    pod.mkdir(parents=True)
    (pod / "pod.json").write_text(json.dumps({"id": "c" * 64, "name": "front"}))
    return data


def test_containers_by_state(store: Path) -> None:
    assert sorted(cv.containers("")) == ["db", "ghost", "nap", "new", "old", "web"]
    # a running state whose monitor is gone, or from another boot, is not running
    assert cv.running_containers("") == ["web"]
    assert sorted(cv.startable_containers("")) == ["db", "ghost", "new", "old"]
    assert cv.paused_containers("") == ["nap"]


def test_ids_once_two_characters_are_typed(store: Path) -> None:
    assert cv.containers("0") == []  # names only: no name starts with 0
    assert cv.containers("0w") == ["0web00000000"]
    assert cv.pods("cc") == ["cccccccccccc"] and cv.pods("f") == ["front"]


def test_images_by_full_or_short_name_and_id(store: Path) -> None:
    assert cv.images("") == ["docker.io/library/alpine:latest", "quay.io/team/tool:1"]
    assert cv.images("alp") == ["alpine:latest"]
    assert cv.images("library/a") == ["library/alpine:latest"]
    assert cv.images("team/") == ["team/tool:1"]
    assert cv.images("ab") == ["abababababab"]
    assert cv.images("sha256:abab") == ["abababababab"]


def test_volumes_pods_and_values(store: Path) -> None:
    assert cv.volumes("") == ["cache", "logs"]
    assert cv.volume_sources("ca") == ["cache"] and cv.volume_sources("./c") == []
    assert complete_paths.copy_paths("w") == ["web:"]
    assert complete_paths.DIRECTIVE[-1] == complete_paths.NO_SPACE  # the colon: no space
    assert complete_paths.copy_paths("./w") == []
    assert complete_paths.DIRECTIVE[-1] == complete_paths.DEFAULT  # a host path: the shell's
    assert cv.networks("container:w") == ["container:web"]
    assert cv.networks("s") == ["slirp4netns"]
    assert cv.signals("sigk") == ["SIGKILL"] and cv.signals("TE") == ["TERM"]
    assert cv.pods_and_containers("f") == ["front"]


def test_nothing_stored_offers_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "none"))
    assert cv.containers("") == cv.running_containers("") == cv.images("") == []
    assert cv.volumes("") == cv.pods("") == []


@pytest.mark.parametrize(("env", "expected"), [
    ({"_PYMAN_COMPLETE": "complete_bash", "COMP_WORDS": "pyman run --network container : w",
      "COMP_CWORD": "5", "_PYMAN_COMP_LINE": "pyman run --network container:w"},
     (["run", "--network"], "container:w")),
    ({"_PYMAN_COMPLETE": "complete_bash", "COMP_WORDS": "pyman stop ", "COMP_CWORD": "2"},
     (["stop"], "")),  # a script without _PYMAN_COMP_LINE
    ({"_PYMAN_COMPLETE": "complete_bash", "COMP_WORDS": "pyman stop ", "COMP_CWORD": "2",
      "_PYMAN_COMP_LINE": "pyman stop "}, (["stop"], "")),
    ({"_PYMAN_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "pyman rm we"},
     (["rm"], "we")),
    ({"_PYMAN_COMPLETE": "source_bash"}, ([], "")),
])
def test_completion_words(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                          expected: tuple[list[str], str]) -> None:
    for var in ("COMP_WORDS", "COMP_CWORD", "_PYMAN_COMP_LINE", "_TYPER_COMPLETE_ARGS"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    cv.completion_init()
    assert cv.completion_words("_PYMAN_COMPLETE") == expected
