"""Pull progress on stderr: a rich bar per layer (bytes and speed) on a terminal; without
one (CI logs), Podman's plain lines and no control characters. stdout keeps only the id."""

from __future__ import annotations

import sys
import threading
from typing import Any


class PullProgress:
    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._rich: Any = None
        self._tasks: dict[str, Any] = {}
        self._signatures = False

    def __enter__(self) -> PullProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_bars()

    def _say(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def started(self, name: str) -> None:
        if not self.quiet:
            self._say(f"Trying to pull {name}...")

    def _header(self) -> None:
        if not self._signatures:
            self._signatures = True
            self._say("Getting image source signatures")

    def __call__(self, digest: str, done: int, total: int) -> None:
        if self.quiet:
            return
        with self._lock:
            self._header()
            if self.tty:
                self._bar(digest, done, total)
            elif digest not in self._seen:
                self._seen.add(digest)
                self._say(f"Copying blob {digest}")

    def _bar(self, digest: str, done: int, total: int) -> None:
        if self._rich is None:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

            self._rich = Progress("{task.description}", BarColumn(), DownloadColumn(),
                                  TransferSpeedColumn(), console=Console(stderr=True),
                                  transient=False)
            self._rich.start()
        task = self._tasks.get(digest)
        if task is None:
            label = f"Copying blob {digest.removeprefix('sha256:')[:12]}"
            task = self._tasks[digest] = self._rich.add_task(label, total=total or None)
        self._rich.update(task, completed=done)

    def _stop_bars(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None

    def warn(self, message: str) -> None:
        print(f"WARN: {message}", file=sys.stderr, flush=True)

    def finished(self, config_digest: str) -> None:
        self._stop_bars()
        if self.quiet:
            return
        self._header()
        self._say(f"Copying config {config_digest}")
        self._say("Writing manifest to image destination")
        self._say("Storing signatures")
