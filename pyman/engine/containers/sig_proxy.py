"""Podman's --sig-proxy: while a client waits on a container or an exec session, the signals
it gets go on to that process. The handlers are the process's own, so they are put back when
the wait ends, and a library caller in a thread other than the main one (where Python allows
no handlers) simply proxies nothing."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

PROXIED = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1,
           signal.SIGUSR2)
Handlers = dict[int, Any]


def _from_terminal(sig: int) -> bool:
    """Whether ``sig`` most likely came from our controlling terminal (Ctrl-C, Ctrl-\\):
    then the process, in the same foreground process group, got it too."""
    if sig not in (signal.SIGINT, signal.SIGQUIT):
        return False
    for fd in (0, 1, 2):
        try:
            if os.tcgetpgrp(fd) == os.getpgrp():
                return True
        except OSError:
            continue
    return False


def forward(pid: int, *, skip_terminal: bool = False) -> Handlers:
    """Send the signals this process gets to ``pid`` until restore(); returns the handlers
    replaced. ``skip_terminal``: not those the terminal sent the process group anyway."""

    def relay(sig: int, _frame: object) -> None:
        if skip_terminal and _from_terminal(sig):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, relay) for sig in PROXIED}


def restore(previous: Handlers) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
