"""What `version` reports, and the names built from it (the pod infra image's tag).

pyman is not compiled: its "build" time is when this copy of the package was written (the
mtime of the package's `__init__.py`: pip writes it at install). Podman names its infra image
`localhost/podman-pause:<Version>-<Built>` from the same two values, and tools find it by that
name (`podman version --format '{{.Server.Version}}-{{.Server.Built}}'`), so pyman's is
named the same way.
"""

from __future__ import annotations

import os
import platform
import time

from pyman import __file__ as _package_init
from pyman import __version__


def built() -> int:
    """Seconds since the epoch when this copy of pyman was installed."""
    try:
        return int(os.stat(_package_init).st_mtime)
    except OSError:  # a zipapp or a vanished file: Podman's reproducible builds say 0 too
        return 0


def os_arch() -> str:
    machine = platform.machine()
    return "linux/" + {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def client_version() -> dict[str, object]:
    """Podman's `version` document's Client part, with Python in Go's place."""
    when = built()
    return {"Version": __version__, "PythonVersion": platform.python_version(),
            "BuiltTime": time.ctime(when), "Built": when, "OsArch": os_arch(), "Os": "linux"}


def pause_image() -> str:
    return f"localhost/podman-pause:{__version__}-{built()}"
