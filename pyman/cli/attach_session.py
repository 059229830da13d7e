"""The client end of a container's attach socket (the monitor's relay, monitor/relay.py):
its output to our stdout/stderr, our stdin to it, our window size to its terminal, and the
detach keys, which end the session and leave the container running."""

from __future__ import annotations

import os
import select
from collections.abc import Callable

from pyman.cli.terminal import FollowResize, RawMode, _write_all, local_terminal
from pyman.errors import PymanError

Attach = Callable[[int], "int | None"]
DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
_CTRL = "@abcdefghijklmnopqrstuvwxyz[\\]^_"  # ctrl-@ is 0, ctrl-a 1 ... ctrl-_ 31


def parse_detach_keys(text: str) -> bytes:
    """Podman's (Docker's) format: comma-separated single characters or ``ctrl-<x>`` with x
    in a-z @ [ \\ ] ^ _; empty: no detach keys. Invalid: PymanError with Podman's words."""
    if text == "":
        return b""
    codes = bytearray()
    for key in text.split(","):
        if len(key) == 1:
            codes += key.encode()
        elif key.startswith("ctrl-") and len(key) == 6 and key[5] in _CTRL:
            codes.append(_CTRL.index(key[5]))
        elif key == "DEL":
            codes.append(127)
        else:
            raise PymanError(f"invalid detach keys: Unknown character: '{key}'")
    return bytes(codes)


class DetachKeys:
    """Watches input for the detach sequence. Bytes that could begin it are held back
    until it is complete (detach) or broken (they are passed on after all)."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to pass on, whether the sequence completed: then drop the rest)."""
        if not self.keys:
            return data, False
        out = bytearray()
        for byte in data:
            candidate = self.held + bytes([byte])
            while candidate and not self.keys.startswith(candidate):
                out.append(candidate[0])  # the held prefix was not the sequence
                candidate = candidate[1:]
            self.held = candidate
            if self.held == self.keys:
                self.held = b""
                return bytes(out), True
        return bytes(out), False


DETACHED = None


def session(sock: int, *, tty: bool, stdin: bool, keys: bytes, stdin_fd: int = 0,
            stdout_fd: int = 1, stderr_fd: int = 2) -> int | None:
    """Relay until the container exits (its exit code; -1 when the monitor went away
    without telling) or the detach keys are typed (None)."""
    detach = DetachKeys(keys)
    reading = stdin
    local = local_terminal() if tty else None

    def send_size(rows: int, cols: int) -> None:
        os.write(sock, b"w%d %d" % (rows, cols))

    # raw even without stdin, as Podman: the pty does the output's \r\n already
    with RawMode(stdin_fd if tty else None), FollowResize(local, send_size):
        while True:
            rlist = [sock] + ([stdin_fd] if reading else [])
            ready, _, _ = select.select(rlist, [], [])
            if sock in ready:
                try:
                    msg = os.read(sock, 65537)
                except OSError:
                    msg = b""
                if not msg:
                    return -1
                kind, data = msg[:1], msg[1:]
                if kind == b"x":
                    try:
                        return int(data)
                    except ValueError:
                        return -1
                if kind in (b"1", b"2"):
                    _write_all(stdout_fd if kind == b"1" else stderr_fd, data)
            if reading and stdin_fd in ready:
                try:
                    data = os.read(stdin_fd, 32768)
                except OSError:
                    data = b""
                if not data:
                    reading = False
                    _send(sock, b"e")
                    continue
                data, detached = detach.feed(data)
                if data:
                    _send(sock, b"0" + data)
                if detached:
                    return DETACHED


def _send(sock: int, msg: bytes) -> None:
    try:
        os.write(sock, msg)
    except OSError:
        pass  # the monitor is gone: its end shows up as EOF on the next read


def terminal_client(interactive: bool, keys: bytes) -> tuple[Attach, tuple[int, int] | None]:
    """For run -t / start -a of a container with a terminal: the engine's attach callback
    and our window size (the container's terminal starts with it)."""
    from pyman.cli.terminal import window_size

    local = local_terminal()
    size = window_size(local) if local is not None else None

    def attach(sock: int) -> int | None:
        import sys

        sys.stdout.flush()
        return session(sock, tty=True, stdin=interactive, keys=keys)

    return attach, size


def warn_not_a_tty(interactive: bool, tty: bool) -> None:
    """Podman's warning for -it when our stdin is not a terminal."""
    if interactive and tty and not os.isatty(0):
        import logging

        logging.getLogger("pyman").warning(
            "The input device is not a TTY. The --tty and --interactive flags might not work "
            "properly")
