"""The local end of a container's terminal: raw mode, a two-way relay, window resizes.

Reusable by every command that shows a container's pty (exec -t, run -t, attach): the relay
copies between any two fd pairs (a pty master, a socket to a monitor ...), and resizes go
through a callback, so where the pty lives does not matter here.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import struct
import termios
import tty
from collections.abc import Callable
from typing import Any

CHUNK = 65536


def window_size(fd: int) -> tuple[int, int] | None:
    """(rows, columns) of the terminal on ``fd``, None when it is not one."""
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return (rows, cols) if rows and cols else None


def set_window_size(fd: int, rows: int, cols: int) -> None:
    """TIOCSWINSZ: the kernel tells the pty's foreground process group (SIGWINCH)."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def local_terminal() -> int | None:
    """The fd of our own terminal: stdin, else stdout; None without one."""
    for fd in (0, 1):
        if os.isatty(fd):
            return fd
    return None


class RawMode:
    """Put the terminal on ``fd`` in raw mode for the block (keys go to the container
    unprocessed: Ctrl-C is a byte, not a signal to pyman) and restore it afterwards, however
    the block ends. A no-op when ``fd`` is not a terminal."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.saved: list[Any] | None = None

    def __enter__(self) -> RawMode:
        if self.fd is not None and os.isatty(self.fd):
            self.saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.saved is not None and self.fd is not None:
            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            except termios.error:
                pass
            self.saved = None


class FollowResize:
    """For the block, on SIGWINCH read the size of ``source`` and pass it to ``apply``
    (e.g. ``set_window_size`` on a pty master, or a message to whoever holds the pty).
    Applies the current size once on entry."""

    def __init__(self, source: int | None, apply: Callable[[int, int], None]) -> None:
        self.source = source
        self.apply = apply
        self.previous: Any = None

    def _update(self, *_args: object) -> None:
        size = window_size(self.source) if self.source is not None else None
        if size is not None:
            try:
                self.apply(*size)
            except OSError:
                pass  # the pty is gone: the session is ending

    def __enter__(self) -> FollowResize:
        if self.source is not None:
            self.previous = signal.signal(signal.SIGWINCH, self._update)
            self._update()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.source is not None:
            signal.signal(signal.SIGWINCH, self.previous or signal.SIG_DFL)


def _read(fd: int) -> bytes | None:
    """None: nothing to read now; b"": the end (EOF, or EIO, which is how a pty master
    says its other side closed)."""
    try:
        return os.read(fd, CHUNK)
    except BlockingIOError:
        return None
    except OSError as exc:
        if exc.errno in (errno.EIO, errno.EBADF, errno.ECONNRESET):
            return b""
        raise


def _write_all(fd: int, data: bytes) -> bool:
    """Blocking write of everything; False when nobody reads ``fd`` any more."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except BlockingIOError:
        select.select([], [fd], [])
        return _write_all(fd, bytes(view))
    except OSError:
        return False
    return True


def relay(out_src: int, out_dst: int, in_src: int | None = None, in_dst: int | None = None,
          stop_fd: int | None = None) -> None:
    """Copy ``out_src`` -> ``out_dst`` (the container's output to the screen) until
    ``out_src`` ends, and meanwhile ``in_src`` -> ``in_dst`` (keys to the container) until
    ``in_src`` ends. Input waits in a buffer while the container does not read (``in_dst``
    is made non-blocking), so a large paste cannot deadlock against the container's output.
    ``stop_fd`` readable (e.g. the pidfd of the process behind the pty): take what output is
    left, then return, even if a leftover background process still holds the pty."""
    pending = b""
    reading = in_src is not None and in_dst is not None
    os.set_blocking(out_src, False)
    if in_dst is not None:
        os.set_blocking(in_dst, False)
    while True:
        rlist = [out_src]
        if reading and not pending:
            rlist.append(in_src)  # type: ignore[arg-type]
        if stop_fd is not None:
            rlist.append(stop_fd)
        wlist = [in_dst] if pending and in_dst is not None else []
        ready_r, ready_w, _ = select.select(rlist, wlist, [])
        if out_src in ready_r:
            data = _read(out_src)
            if data == b"":
                return
            if data and not _write_all(out_dst, data):
                return  # nobody reads our output any more
        if in_src is not None and in_src in ready_r:
            data = _read(in_src)
            if data == b"":
                reading = False  # EOF: stop reading; keep relaying the output
            elif data:
                pending += data
        if in_dst is not None and in_dst in ready_w:
            try:
                pending = pending[os.write(in_dst, pending):]
            except BlockingIOError:
                pass
            except OSError:
                pending, reading = b"", False
        if stop_fd is not None and stop_fd in ready_r:
            while (data := _read(out_src)):
                if not _write_all(out_dst, data):
                    break
            return


def attach_pty(master: int, stop_fd: int | None, interactive: bool,
               stdin: int = 0, stdout: int = 1) -> None:
    """Show the container's pty ``master`` on our terminal until the session ends: raw
    mode while keys are relayed (``interactive``), resizes followed, the terminal restored."""
    local = local_terminal()
    with RawMode(stdin if interactive else None), \
            FollowResize(local, lambda rows, cols: set_window_size(master, rows, cols)):
        relay(master, stdout, stdin if interactive else None,
              master if interactive else None, stop_fd)
