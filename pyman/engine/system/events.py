"""Reading the events log (pyman/eventlog.py writes it): Podman's filters, --since/--until,
and following new lines as they are appended (inotify on the log's directory, so a rotation,
which renames a new file over it, is seen too; a 1 s poll where inotify is missing)."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from pyman.errors import PymanError

Event = dict[str, Any]
Filter = Callable[[Event], bool]
TYPES = ("container", "image", "network", "pod", "system", "volume", "machine")


def time_ns(text: str) -> tuple[int, int]:
    """An event's Time (RFC 3339, ns) -> (ns since the epoch, its UTC offset in seconds)."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
                     r"(Z|([+-])(\d\d):(\d\d))", text)
    if not m:
        raise ValueError(text)
    import calendar

    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    off = 0 if m.group(8) == "Z" else (
        (int(m.group(10)) * 3600 + int(m.group(11)) * 60) * (1 if m.group(9) == "+" else -1))
    frac = int((m.group(7) or "0")[:9].ljust(9, "0"))
    return (secs - off) * 1_000_000_000 + frac, off


def parse_input_time(text: str, since: bool) -> int:
    """Podman's ParseInputTime: RFC 3339 (with or without zone: UTC), a date, a unix time
    or a Go duration (back from now for --since, ahead for --until). In ns."""
    from pyman.engine.containers.logs import _DURATION, _UNITS, timestamp_ns

    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)(Z|[+-]\d\d:\d\d)?", text)
    if m:  # 2006-01-02 and 2006-01-02Z07:00
        zone = m.group(2) or "Z"
        return timestamp_ns(f"{m.group(1)}T00:00:00{zone}")
    try:
        return timestamp_ns(text)
    except ValueError:
        pass
    if re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
        return int(float(text) * 1e9)
    if re.fullmatch(r"[+-]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+", text):
        secs = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text))
        secs = -secs if text.startswith("-") else secs
        now = time.time_ns()
        return now - int(secs * 1e9) if since else now + int(secs * 1e9)
    raise PymanError("unable to interpret time value")


def _one_filter(key: str, value: str) -> Filter:
    k = key.upper()

    def named(kind: str) -> Filter:
        return lambda e: e.get("Type") == kind and (
            e.get("Name") == value or str(e.get("ID") or "").startswith(value))

    if k == "CONTAINER":
        return named("container")
    if k == "IMAGE":
        return named("image")
    if k == "POD":
        return named("pod")
    if k == "VOLUME":  # Podman 4.3 compares the ID, which volume events lack: the name too
        return named("volume")
    if k in ("EVENT", "STATUS"):
        return lambda e: e.get("Status") == value
    if k == "TYPE":
        return lambda e: e.get("Type") == value
    if k == "LABEL":
        name, eq, want = value.partition("=")
        return lambda e: bool(eq) and (e.get("Attributes") or {}).get(name) == want
    raise PymanError(f"failed to parse event filters: {key} is an invalid filter")


def make_filters(filters: list[str], since: str | None, until: str | None
                 ) -> list[list[Filter]]:
    """Podman's rule: filters with the same key are alternatives, different keys all
    apply."""
    by_key: dict[str, list[Filter]] = {}
    for f in filters:
        key, eq, value = f.partition("=")
        if not eq:
            raise PymanError(f"failed to parse event filters: {f} is an invalid filter")
        by_key.setdefault(key, []).append(_one_filter(key, value))
    groups = list(by_key.values())
    if since:
        try:
            t0 = parse_input_time(since, True)
        except PymanError as err:
            raise PymanError(f"failed to parse event filters: unable to convert since time "
                             f"of {since}: {err}") from None
        groups.append([lambda e: e["_ns"] > t0])
    if until:
        try:
            t1 = parse_input_time(until, False)
        except PymanError as err:
            raise PymanError(f"failed to parse event filters: unable to convert until time "
                             f"of {until}: {err}") from None
        groups.append([lambda e: e["_ns"] < t1])
    return groups


def decode(line: bytes, path: str) -> Event:
    """One line of the log; ``_ns`` and ``_off`` hold its time. A line that is not an event
    is an error naming the file, as Podman's."""
    try:
        ev = json.loads(line)
        if not isinstance(ev, dict):
            raise ValueError("not an object")
        ev["_ns"], ev["_off"] = time_ns(str(ev.get("Time")))
    except ValueError as exc:
        raise PymanError(f"{path}: an events log line is not an event ({exc}): "
                         f"{line[:80].decode(errors='replace')!r}") from None
    if ev.get("Type") not in TYPES:
        raise PymanError(f"event type {ev.get('Type')} is not valid in {path}")
    return ev


class Tail:
    """The log's complete lines, from its start or its end, then (``follow``) new ones."""

    def __init__(self, path: str, from_start: bool) -> None:
        self.path = path
        self.f: Any = None
        self.inode = 0
        self.partial = b""
        self.last = b""  # the last line read: a rotation's copy is read on from after it
        self._open(at_end=not from_start)

    def _open(self, at_end: bool) -> bool:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - kept for the follow
        except FileNotFoundError:
            return False
        if self.f is not None:
            self.f.close()
        self.f, self.inode, self.partial = f, os.fstat(f.fileno()).st_ino, b""
        if at_end:
            f.seek(0, os.SEEK_END)
        return True

    def lines(self) -> Iterator[bytes]:
        """What has been appended since the last call."""
        if self.f is None:
            if not self._open(at_end=False):
                return
            yield from self._drain()
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        if st is None or (st.st_ino == self.inode and st.st_size >= self.f.tell()):
            yield from self._drain()
            return
        yield from self._drain()  # what the old file still had, then the new one
        prev = self.last
        if not self._open(at_end=False):
            return
        whole = list(self._drain())
        if prev in whole:  # a rotation kept the newer half: read on after our last line
            whole = whole[len(whole) - whole[::-1].index(prev):]
        yield from whole

    def _drain(self) -> Iterator[bytes]:
        while chunk := self.f.read(65536):
            *whole, self.partial = (self.partial + chunk).split(b"\n")
            for line in whole:
                if line.strip():
                    self.last = line
                    yield line

    def close(self) -> None:
        if self.f is not None:
            self.f.close()


def events(filters: list[str], since: str | None, until: str | None, *,
           stream: bool, stopped: Callable[[], bool] | None = None) -> Iterator[Event]:
    """`pyman events`: the log's matching events (from its end when streaming without a
    time), or the "none" backend's error at once."""
    from pyman import eventlog

    backend, path, _ = eventlog.settings()
    if backend == "none":
        raise PymanError('cannot read events with the "none" backend')
    groups = make_filters(filters, since, until)
    until_ns = parse_input_time(until, False) if until else None
    return read(path, groups, stream=stream, from_start=bool(since or until) or not stream,
                until_ns=until_ns, stopped=stopped)


def log() -> tuple[str, str]:
    """(backend, path) of the events log this process reads and writes."""
    from pyman import eventlog

    backend, path, _ = eventlog.settings()
    return backend, path


def to_json(ev: Event) -> str:
    """An event as Podman's JSON line (Go's encoding; pyman's private ``_`` keys left out)."""
    from pyman import eventlog

    return eventlog.to_json({k: v for k, v in ev.items() if not k.startswith("_")})


def read(path: str, groups: list[list[Filter]], *, stream: bool, from_start: bool,
         until_ns: int | None = None, stopped: Callable[[], bool] | None = None
         ) -> Iterator[Event]:
    """Matching events in log order; with ``stream``, wait for more until ``until_ns``
    or until ``stopped()`` says the reader has gone (asked between waits: the API's
    streams end with their clients)."""
    if stream:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    tail = Tail(path, from_start)
    watch = _Watch(os.path.dirname(path) or ".") if stream else None
    try:
        while True:
            for line in tail.lines():
                ev = decode(line, path)
                if all(any(f(ev) for f in group) for group in groups):
                    yield ev
            if not stream:
                return
            assert watch is not None
            left = None if until_ns is None else (until_ns - time.time_ns()) / 1e9
            if (left is not None and left <= 0) or (stopped is not None and stopped()):
                return
            watch.wait(left)
    finally:
        tail.close()
        if watch is not None:
            watch.close()


class _Watch:
    """Wakes on changes in the log's directory (inotify), or after a second."""

    def __init__(self, directory: str) -> None:
        self.fd = -1
        try:
            from pyman.rootless.libc import inotify_watch

            self.fd = inotify_watch(directory)
        except (OSError, ImportError, AttributeError):
            self.fd = -1

    def wait(self, timeout: float | None) -> None:
        import select

        limit = 1.0 if self.fd < 0 else 5.0  # a periodic look even with inotify
        timeout = limit if timeout is None else min(timeout, limit)
        if self.fd < 0:
            time.sleep(timeout)
            return
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            time.sleep(0.005)  # let a burst of writes land: one read for all of them
            try:
                while os.read(self.fd, 65536):
                    pass
            except BlockingIOError:
                pass

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
