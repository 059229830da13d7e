"""Atomic JSON files and fcntl locks: state is never torn, whoever is killed when.

Lean imports (no tempfile, pathlib, contextlib): the monitor writes state through this.
"""

from __future__ import annotations

import fcntl
import json
import os

TYPE_CHECKING = False  # typing itself costs ~15 ms of monitor start-up
if TYPE_CHECKING:
    from typing import Any



def write_json(path: str | os.PathLike[str], data: Any, sync: bool = True) -> None:
    """Write to a temporary file in the same dir, fsync (unless ``sync`` is false: a
    rename is still atomic, only not durable across a crash), rename over ``path``."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, json.dumps(data, indent=1).encode())
        if sync:
            os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path: str | os.PathLike[str], default: Any = None) -> Any:
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return default


class locked:  # noqa: N801 - used like a function: `with locked(path):`
    """Hold an fcntl lock on ``path`` (created if absent) for the block."""

    def __init__(self, path: str | os.PathLike[str], shared: bool = False) -> None:
        self.path = os.fspath(path)
        self.shared = shared
        self.fd = -1

    def __enter__(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

