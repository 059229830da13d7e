"""Which OCI runtime this container uses (explicit choice, else what works on this host)."""

from __future__ import annotations

from dataclasses import dataclass

from pyman.config import Paths


@dataclass(frozen=True)
class RuntimeChoice:
    name: str
    path: str


def select_runtime(paths: Paths) -> RuntimeChoice:
    import shutil

    path = shutil.which("runc", path="/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin")
    assert path
    return RuntimeChoice("runc", path)
