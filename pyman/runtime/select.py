"""Which OCI runtime a container uses: the engine's entry to pyman.runtime.detect."""

from __future__ import annotations

from typing import Any

from pyman.config import Paths
from pyman.errors import RuntimeNotFoundError
from pyman.runtime.oci import OCIRuntime


def configured_runtime() -> tuple[str, str]:
    """containers.conf [engine] runtime and the file that set it ("" when none does)."""
    from pyman.containers_conf import current

    conf = current()
    return conf.runtime, conf.source("engine", "runtime")


def select_runtime(paths: Paths, explicit: str | None = None) -> OCIRuntime:
    """``explicit`` is ``--runtime``; else containers.conf ``runtime``; else what works (a
    real trial at most once per cache key, see detect.py)."""
    from pyman.runtime.detect import select

    paths.runtime.mkdir(parents=True, exist_ok=True)
    origin = ""
    if not explicit:
        explicit, origin = configured_runtime()
    try:
        return select(str(paths.runtime), str(paths.runtime_root), explicit or None)
    except RuntimeNotFoundError as exc:
        if origin:
            raise RuntimeNotFoundError(f"{exc} (runtime {explicit!r} is set in {origin})"
                                       ) from None
        raise


def runtime_report(paths: Paths, explicit: str | None = None) -> dict[str, Any]:
    """`pyman info`'s host.ociRuntime: Podman's name/path/version, plus our verdicts."""
    from pyman.runtime.detect import detect

    paths.runtime.mkdir(parents=True, exist_ok=True)
    found = detect(str(paths.runtime))
    chosen = found.chosen
    report = {
        "name": chosen.name if chosen else "",
        "path": chosen.path if chosen else "",
        "version": f"{chosen.name} version {chosen.version}" if chosen else "",
        "summary": found.summary(),
        "rejected": [{"name": s.name, "path": s.path, "version": s.version,
                      "reason": s.reason} for s in found.statuses if not s.ok],
    }
    tried = [s.path for s in found.statuses]  # system check trials any other runtime named
    origin = "--runtime" if explicit else ""
    if not explicit:
        explicit, origin = configured_runtime()
    if explicit:  # what a container would really use
        try:
            rt = select_runtime(paths, explicit)
        except RuntimeNotFoundError as exc:
            report["error"] = str(exc)
        else:
            report.update(name=rt.name, path=rt.path,
                          version=f"{rt.name} version {rt.version}" if rt.version else "")
        report["chosenBy"] = origin
        report["tried"] = tried
    return report
