"""Where an attached container's output goes when the caller is a library user, not the
CLI: any binary file object. One with a real file descriptor becomes the monitor's stdout or
stderr as it is; any other (an io.BytesIO) gets a pipe, whose reading end a thread copies
into it until the monitor and the container have closed theirs."""

from __future__ import annotations

import os
import threading
from typing import BinaryIO


class OutputStream:
    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self._thread: threading.Thread | None = None
        self._write_end = -1
        try:
            target.flush()
            self.fd = target.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is one
            read_end, self._write_end = os.pipe()
            self.fd = self._write_end
            self._thread = threading.Thread(target=self._copy, args=(read_end,), daemon=True)
            self._thread.start()

    def _copy(self, read_end: int) -> None:
        with os.fdopen(read_end, "rb", buffering=0) as src:
            while chunk := src.read(65536):
                self.target.write(chunk)

    def handed_on(self) -> None:
        """The monitor has its copy of the writing end: ours goes, so the copy sees EOF."""
        if self._write_end >= 0:
            os.close(self._write_end)
            self._write_end = -1

    def finish(self) -> None:
        """Wait until everything written reached the target."""
        self.handed_on()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class Outputs:
    """The container's stdout and stderr for one attached start: ``fds`` for the monitor,
    None where the caller's own stream is meant."""

    def __init__(self, stdout: BinaryIO | None, stderr: BinaryIO | None) -> None:
        self.streams = [None if f is None else OutputStream(f) for f in (stdout, stderr)]
        out, err = (None if s is None else s.fd for s in self.streams)
        self.fds: tuple[int | None, int | None] = (out, err)

    def handed_on(self) -> None:
        for s in self.streams:
            if s is not None:
                s.handed_on()

    def finish(self) -> None:
        for s in self.streams:
            if s is not None:
                s.finish()
