"""Container output in the k8s-file log format Podman writes:
``<RFC 3339 time with ns> <stdout|stderr> <F|P> <text>``, one line per output line; P marks
a partial line (output that did not end in a newline yet)."""

from __future__ import annotations

import os
import time


def timestamp(now_ns: int | None = None) -> str:
    ns = time.time_ns() if now_ns is None else now_ns
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}+00:00"


class K8sFileLog:
    """Appends entries; with ``max_size``, an entry that would take the file past it first
    truncates the log (a fresh file renamed over it), as conmon does with log-size-max."""

    def __init__(self, path: str, max_size: int = 0) -> None:
        self.path = path
        self.max_size = max_size
        self.fd = self._open(path, os.O_APPEND)
        # counted from what is there (conmon counts from 0 at each start): a restarted
        # container or the lean waiter's reopen never lets the file grow past max_size
        self.written = os.fstat(self.fd).st_size if max_size else 0

    @staticmethod
    def _open(path: str, mode: int) -> int:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | mode, 0o600)

    def write(self, stream: str, data: bytes) -> None:
        if not data:
            return
        ts = timestamp().encode()
        out = []
        lines = data.split(b"\n")
        for i, line in enumerate(lines):
            last = i == len(lines) - 1
            if last and not line:
                break  # data ended with a newline
            tag = b" P " if last else b" F "
            out.append(ts + b" " + stream.encode() + tag + line + b"\n")
        if not self.max_size:
            os.write(self.fd, b"".join(out))
            return
        batch: list[bytes] = []
        for entry in out:
            if self.written + len(entry) > self.max_size:
                if batch:
                    os.write(self.fd, b"".join(batch))
                    batch = []
                self._truncate()
            batch.append(entry)
            self.written += len(entry)
        if batch:
            os.write(self.fd, b"".join(batch))

    def _truncate(self) -> None:
        tmp = self.path + ".tmp"
        fd = self._open(tmp, os.O_TRUNC | os.O_APPEND)
        os.rename(tmp, self.path)  # readers see the old file or the new one, whole
        os.close(self.fd)
        self.fd = fd
        self.written = 0

    def close(self) -> None:
        os.close(self.fd)
