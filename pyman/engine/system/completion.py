"""What a TAB offers from the store: container, image, volume, pod and network names, read
straight from pyman's JSON files (no Engine, registry or network import, nothing created: a
completion must answer in a blink), and the file trees paths inside an image or a container
complete from (the layers read through a MergedView, nothing mounted)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyman.engine import Engine
    from pyman.storage.merged_view import MergedView

ALIVE = ("running", "starting", "paused")


def _data() -> Path:
    from pyman.config import _xdg

    return _xdg("XDG_DATA_HOME", ".local/share") / "pyman"


def _runtime() -> Path:
    """pyman's runtime dir, found as config.paths() finds it but never created."""
    from pyman.config import runtime_dir_usable

    env = os.environ.get("XDG_RUNTIME_DIR")
    uid = os.getuid()
    base = env if env and runtime_dir_usable(env, uid) else f"/tmp/pyman-run-{uid}"
    return Path(base) / "pyman"


def _read(path: Path) -> Any:
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def _records(root: Path, file: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, record) of every ``<root>/<64-hex id>/<file>``."""
    try:
        entries = [e.name for e in os.scandir(root) if len(e.name) == 64]
    except OSError:
        return
    for ident in entries:
        data = _read(root / ident / file)
        if isinstance(data, dict):
            yield ident, data


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _status(cid: str, run_root: Path, data_root: Path, boot: str) -> str:
    """created, running, paused or exited; a state whose monitor is gone (or from another
    boot) counts as exited, as the next real command would record it."""
    state = _read(run_root / cid / "state.json")
    if not isinstance(state, dict):
        state = _read(data_root / cid / "state.json")
    if not isinstance(state, dict):
        return "created"
    status = str(state.get("status") or "created")
    if status in ALIVE:
        monitor = state.get("monitor_pid") or 0
        if (state.get("boot_id") or boot) != boot or not (
                isinstance(monitor, int) and monitor > 0 and os.path.exists(f"/proc/{monitor}")):
            return "exited"
    return status


def containers(want: Callable[[str], bool] | None = None) -> list[tuple[str, str]]:
    """(id, name) of the containers whose status ``want`` accepts (all without it)."""
    data_root = _data() / "containers"
    items = [(cid, str(c.get("name", ""))) for cid, c in _records(data_root, "config.json")]
    if want is not None:
        run_root, boot = _runtime() / "containers", _boot_id()
        items = [(cid, name) for cid, name in items
                 if want(_status(cid, run_root, data_root, boot))]
    return items


def images() -> list[tuple[str, list[str]]]:
    """(id, names) of every image record."""
    data = _read(_data() / "images.json")
    records = data.get("images", []) if isinstance(data, dict) else []
    return [(str(rec.get("id", "")), [str(n) for n in rec.get("names") or []])
            for rec in (records if isinstance(records, list) else []) if isinstance(rec, dict)]


def volumes() -> list[str]:
    try:
        return [e.name for e in os.scandir(_data() / "volumes")
                if e.is_dir(follow_symlinks=False) and e.name[:1].isalnum()]
    except OSError:
        return []


def pods() -> list[tuple[str, str]]:
    return [(pid, str(p.get("name", ""))) for pid, p in _records(_data() / "pods", "pod.json")]


def networks() -> list[str]:
    """User-defined networks (Podman's definitions) and the default one."""
    from pyman.netns.networks import DEFAULT_NAME, network_dir

    try:
        names = [e.name[:-5] for e in os.scandir(network_dir()) if e.name.endswith(".json")]
    except OSError:
        names = []
    return sorted({*names, DEFAULT_NAME})


def view(layers: list[str]) -> MergedView:
    """The tree of a layer stack (top first), read without a mount."""
    from pyman.storage.merged_view import MergedView

    return MergedView(layers)


def image_layers(engine: Engine, image: str) -> list[str] | None:
    """The layer stack (top first) of a local image, None when there is none."""
    rec = engine.images.find_local(image)
    if rec is None:
        return None
    return [str(engine.images.layers.diff(d)) for d in reversed(rec.layers)]


def container_layers(engine: Engine, key: str) -> list[str] | None:
    """A container's stack: its upper dir over its image's layers (vfs: its own copy)."""
    from pyman.errors import PymanError

    try:
        c = engine.containers.store.find(key)
    except PymanError:
        return None
    cdir = engine.containers.store.dir(c.id)
    if (cdir / "rootfs").is_dir():  # storage driver vfs: its own full copy
        return [str(cdir / "rootfs")]
    upper = [str(cdir / "upper")] if (cdir / "upper").is_dir() else []
    return upper + [str(engine.images.layers.diff(d)) for d in reversed(c.layers)]
