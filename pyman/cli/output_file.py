"""`-o/--output FILE` for the commands that write an archive (export, volume export)."""

from __future__ import annotations

import os
from collections.abc import Callable


def write_whole(output: str, fill: Callable[[int], None]) -> None:
    """``fill(fd)`` writes a temporary file renamed over ``output`` once complete: a failed
    or killed export never leaves a half-written file under the name asked for."""
    tmp = f"{output}.pyman-tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        fill(fd)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, output)
