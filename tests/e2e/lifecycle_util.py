"""Helpers the lifecycle tests share."""

from __future__ import annotations

import time
from collections.abc import Callable

NET = ("--network", "none")


def wait_for(pred: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False
