"""Reading the k8s-file container log (``<RFC 3339 ns time> <stream> <F|P> <text>``)."""

from __future__ import annotations

import re
import time
from datetime import datetime

from pyman.errors import PymanError

Entry = tuple[str, str, bool, bytes]  # time, stream, full line, text

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def timestamp_ns(ts: str) -> int:
    """RFC 3339 with up to nanoseconds -> ns since the epoch."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", ts)
    if not m:
        raise ValueError(ts)
    zone = m.group(3) or "Z"
    base = datetime.fromisoformat(m.group(1) + ("+00:00" if zone == "Z" else zone))
    frac = (m.group(2) or "0")[:9].ljust(9, "0")
    return int(base.timestamp()) * 1_000_000_000 + int(frac)


def parse_since(text: str, now: float | None = None) -> int:
    """Podman's --since/--until: RFC 3339, a unix time (seconds[.frac]) or a Go duration
    counted back from now (10m, 1h30m, 2.5s)."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return int(float(text) * 1e9)
    if re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", text):
        secs = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text))
        return int(((now or time.time()) - secs) * 1e9)
    try:
        return timestamp_ns(text)
    except ValueError:
        raise PymanError(f"invalid time {text!r}: use RFC 3339, a unix time or a duration "
                         "such as 10m") from None


class LogReader:
    """Reads whole entries, remembering where it stopped (for --follow)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.inode = 0

    def _new_lines(self) -> list[bytes]:
        import os

        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_ino != self.inode or st.st_size < self.offset:
                    # max-size truncated it (a new file renamed over it): from its start
                    self.inode, self.offset = st.st_ino, 0
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next read
        self.offset += end
        # only \n ends an entry: a terminal's output keeps its \r (splitlines would cut there)
        return data[:end].split(b"\n")[:-1]

    def read(self, tail: int = -1, since_ns: int | None = None, until_ns: int | None = None
             ) -> list[Entry]:
        entries: list[Entry] = []
        for line in self._new_lines():
            parts = line.split(b" ", 3)
            if len(parts) < 3:
                continue
            ts, stream, tag = parts[0].decode(), parts[1].decode(), parts[2]
            if stream not in ("stdout", "stderr"):
                continue
            if since_ns is not None or until_ns is not None:
                try:
                    t = timestamp_ns(ts)
                except ValueError:
                    continue
                if (since_ns is not None and t < since_ns) or (until_ns is not None
                                                               and t > until_ns):
                    continue
            entries.append((ts, stream, tag != b"P", parts[3] if len(parts) > 3 else b""))
        if tail >= 0:
            entries = _last_lines(entries, tail)
        return entries


def _last_lines(entries: list[Entry], n: int) -> list[Entry]:
    """The entries of the last ``n`` lines: partial entries belong to the line they end in."""
    lines: list[list[Entry]] = [[]]
    for e in entries:
        lines[-1].append(e)
        if e[2]:
            lines.append([])
    if not lines[-1]:
        lines.pop()
    return [e for line in (lines[-n:] if n else []) for e in line]
