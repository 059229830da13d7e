"""Relay the container's stdout/stderr to the attached client and to the log."""

from __future__ import annotations

import os
import select
import time

from pyman.monitor.k8slog import K8sFileLog


def relay(pipes: dict[int, tuple[str, int | None]], log: K8sFileLog | None,
          deadline: float | None = None) -> dict[int, tuple[str, int | None]]:
    """Copy until every pipe hits EOF (or, with ``deadline``, a time.monotonic() value, until
    then). ``pipes`` maps a read fd to (stream name, client fd). Returns the pipes still open.

    A client that went away (EPIPE) is dropped; the log keeps being written.
    """
    open_fds = dict(pipes)
    while open_fds:
        timeout = None
        if deadline is not None:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                break
        try:
            ready, _, _ = select.select(list(open_fds), [], [], timeout)
        except InterruptedError:
            continue
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except InterruptedError:
                continue
            stream, client = open_fds[fd]
            if not data:
                os.close(fd)
                del open_fds[fd]
                continue
            if log is not None:
                log.write(stream, data)
            if client is not None:
                try:
                    _write_all(client, data)
                except OSError:
                    open_fds[fd] = (stream, None)
    return open_fds


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
