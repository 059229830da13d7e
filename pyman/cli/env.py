"""-e parsing as Podman does it: NAME=value, or NAME alone to copy it from pyman's env."""

from __future__ import annotations

import fnmatch
import os

from pyman.errors import PymanError


def expand_env(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        name, eq, _ = item.partition("=")
        if not name:
            raise PymanError(f"invalid environment variable {item!r}: expected NAME=value")
        if eq:
            out.append(item)
        elif name.endswith("*"):
            out += [f"{k}={v}" for k, v in os.environ.items() if fnmatch.fnmatch(k, name)]
        elif name in os.environ:
            out.append(f"{name}={os.environ[name]}")
    return out
