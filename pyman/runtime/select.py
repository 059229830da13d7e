"""Which OCI runtime a container uses: the engine's entry to pyman.runtime.detect."""

from __future__ import annotations

from typing import Any

from pyman.config import Paths
from pyman.runtime.oci import OCIRuntime


def select_runtime(paths: Paths, explicit: str | None = None) -> OCIRuntime:
    """``explicit`` is ``--runtime`` or containers.conf ``runtime``; None picks what works
    (a real trial at most once per cache key, see detect.py)."""
    from pyman.runtime.detect import select

    paths.runtime.mkdir(parents=True, exist_ok=True)
    return select(str(paths.runtime), str(paths.runtime_root), explicit)


def runtime_report(paths: Paths) -> dict[str, Any]:
    """`pyman info`'s host.ociRuntime: Podman's name/path/version, plus our verdicts."""
    from pyman.runtime.detect import detect

    paths.runtime.mkdir(parents=True, exist_ok=True)
    found = detect(str(paths.runtime))
    chosen = found.chosen
    return {
        "name": chosen.name if chosen else "",
        "path": chosen.path if chosen else "",
        "version": f"{chosen.name} version {chosen.version}" if chosen else "",
        "summary": found.summary(),
        "rejected": [{"name": s.name, "path": s.path, "version": s.version,
                      "reason": s.reason} for s in found.statuses if not s.ok],
    }
