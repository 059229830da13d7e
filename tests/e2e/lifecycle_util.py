"""Helpers the lifecycle tests share."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

NET = ("--network", "none")


def wait_for(pred: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def own_processes() -> Iterator[tuple[int, str, str, bytes]]:
    """(pid, comm, state, cmdline) of this user's processes; a zombie's cmdline is empty."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != os.getuid():
                continue
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        comm, state = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2]
        yield int(entry), comm, state, cmdline
