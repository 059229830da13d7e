"""Reading the k8s-file container log (``<RFC 3339 ns time> <stream> <F|P> <text>``)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

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


BLOCK = 65536  # bytes read at a time, forwards and backwards
# the most of one record held at once: a longer one (a log not written by the monitor, whose
# records are at most its 64 KiB read plus a header) comes out in pieces
MAX_HELD = 262144
_HEADER = 96  # enough for "<time> <stream> <tag> " of any well-formed record


class LogReader:
    """Reads entries in bounded memory whatever the log holds, remembering where it stopped
    (for --follow). ``--tail N`` walks records backwards from the end to the start of the
    last N lines, then streams from there; nothing before it is read forwards."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.inode = 0
        # (time, stream, full, wanted) of a record longer than MAX_HELD being streamed
        self.cont: tuple[str, str, bool, bool] | None = None

    def read(self, tail: int = -1, since_ns: int | None = None, until_ns: int | None = None
             ) -> Iterator[Entry]:
        """Entries in order; a piece of an over-long record after its first has time ""
        (no timestamp or prefix belongs before it: it goes on the same line)."""
        import os

        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed below, also when abandoned
        except FileNotFoundError:
            return
        with f:
            st = os.fstat(f.fileno())
            if st.st_ino != self.inode or st.st_size < self.offset:
                # max-size truncated it (a new file renamed over it): from its start
                self.inode, self.offset, self.cont = st.st_ino, 0, None
            if tail >= 0:
                self.offset, self.cont = _tail_start(f.fileno(), tail, since_ns, until_ns), None
            yield from self._stream(f, since_ns, until_ns)

    def _stream(self, f: BinaryIO, since_ns: int | None, until_ns: int | None
                ) -> Iterator[Entry]:
        f.seek(self.offset)
        buf = b""
        while True:
            chunk = f.read(BLOCK)
            if not chunk:
                return  # what is left has no newline yet: a line still being written waits
            buf += chunk
            pos = 0  # buf[:pos] is consumed (and counted in self.offset)
            while pos < len(buf):
                nl = buf.find(b"\n", pos)
                if self.cont is not None:  # the rest of an over-long record
                    ts, stream, full, wanted = self.cont
                    end = len(buf) if nl < 0 else nl
                    if wanted:
                        yield "", stream, full and nl >= 0, buf[pos:end]
                    if nl < 0:
                        self.offset += end - pos
                        pos = end
                        break
                    self.cont = None
                elif nl < 0:
                    if len(buf) - pos > MAX_HELD:  # stream it: hold no more of it than this
                        ts, stream, full, text = _parse(buf[pos:]) or ("", "", True, b"")
                        wanted = bool(stream) and _within(ts, since_ns, until_ns)
                        if wanted:
                            yield ts, stream, False, text
                        self.cont = (ts, stream, full, wanted)
                        self.offset += len(buf) - pos
                        pos = len(buf)
                    break
                else:
                    entry = _parse(buf[pos:nl])
                    if entry is not None and _within(entry[0], since_ns, until_ns):
                        yield entry
                self.offset += nl + 1 - pos
                pos = nl + 1
            buf = buf[pos:]


def _parse(line: bytes) -> Entry | None:
    """(time, stream, full, text) of one record; None for what is not one."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    stream = parts[1].decode(errors="replace")
    if stream not in ("stdout", "stderr"):
        return None
    return (parts[0].decode(errors="replace"), stream, parts[2] != b"P",
            parts[3] if len(parts) > 3 else b"")


def _within(ts: str, since_ns: int | None, until_ns: int | None) -> bool:
    if since_ns is None and until_ns is None:
        return True
    try:
        t = timestamp_ns(ts)
    except ValueError:
        return False
    return not ((since_ns is not None and t < since_ns) or (until_ns is not None
                                                            and t > until_ns))


def _last_newline(fd: int) -> int:
    """The offset just after the log's last newline (0: none): what follows is a record
    still being written."""
    import os

    hi = os.fstat(fd).st_size
    while hi > 0:
        lo = max(0, hi - BLOCK)
        i = os.pread(fd, hi - lo, lo).rfind(b"\n")
        if i >= 0:
            return lo + i + 1
        hi = lo
    return 0


def _records_backwards(fd: int, end: int) -> Iterator[tuple[int, int, bytes]]:
    """(start, stop, header) of each whole record before ``end`` (just after a newline), the
    last first; one block held at a time. ``header``: the record's first bytes (up to
    _HEADER), without its newline."""
    import os

    def header(start: int, stop: int, block: bytes, lo: int) -> bytes:
        n = min(_HEADER, stop - start - 1)
        if start - lo + n <= len(block):
            return block[start - lo:start - lo + n]
        return os.pread(fd, n, start)  # it runs into the next block (read already)

    stop, hi = end, end - 1  # the newline ending the last record is not a boundary
    block, lo = b"", 0
    while hi > 0:
        lo = max(0, hi - BLOCK)
        block = os.pread(fd, hi - lo, lo)
        j = len(block)
        while (i := block.rfind(b"\n", 0, j)) >= 0:
            yield lo + i + 1, stop, header(lo + i + 1, stop, block, lo)
            stop, j = lo + i + 1, i
        hi = lo
    yield 0, stop, header(0, stop, block, 0)


def _tail_start(fd: int, n: int, since_ns: int | None, until_ns: int | None) -> int:
    """Where the last ``n`` lines of the wanted entries begin. A line is the partial (P)
    entries up to and including its full (F) one; partial entries at the very end (a line
    not finished) count as one line."""
    end = _last_newline(fd)
    if n == 0 or end == 0:
        return end
    lines, open_line = 0, False
    for _, stop, head in _records_backwards(fd, end):
        entry = _parse(head)
        if entry is None or not _within(entry[0], since_ns, until_ns):
            continue
        if entry[2] or not open_line:  # a full entry ends a line; trailing partials too
            lines += 1
            if lines > n:
                return stop
        open_line = True  # the partial entries before this one belong to its line
    return 0
