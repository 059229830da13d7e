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
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

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
        os.write(self.fd, b"".join(out))

    def close(self) -> None:
        os.close(self.fd)
