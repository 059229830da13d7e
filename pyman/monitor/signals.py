"""The signals a monitor passes on to its container (both the full and the lean monitor)."""

from __future__ import annotations

# _signal, the C module: signal.py wraps it in enums, and importing enum (with functools,
# collections, types...) costs the lean waiter ~0.9 MiB of RSS for the container's life
import _signal as signal
import os

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2, signal.SIGWINCH)


def forward_to(pid: int) -> None:
    """Install handlers that send each forwarded signal on to ``pid``."""

    def forward(sig: int, _frame: object) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        signal.signal(sig, forward)


def unblock_forwarded() -> None:
    """The forwarded signals are blocked across the exec into the lean waiter."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
