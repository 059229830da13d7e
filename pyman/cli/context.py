"""Global options (given before the command) and the Engine they configure."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyman.engine import Engine

# set by the root callback in pyman.cli.main before any command runs
GLOBAL: dict[str, str | None] = {"runtime": None}


def engine() -> Engine:
    from pyman.engine import Engine

    flags = GLOBAL.get("runtime_flags")
    eng = Engine(runtime=GLOBAL["runtime"], runtime_flags=flags.split("\n") if flags else None)
    eng.default_mounts_file = GLOBAL.get("default_mounts_file")
    return eng
