"""Pull progress: a rich bar per layer on a terminal, a few plain lines otherwise."""

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

    def __enter__(self) -> PullProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.stop()

    def started(self, name: str) -> None:
        if not self.quiet:
            print(f"Trying to pull {name}...", file=sys.stderr, flush=True)

    def __call__(self, digest: str, done: int, total: int) -> None:
        if self.quiet:
            return
        with self._lock:
            if self.tty:
                self._bar(digest, done, total)
            elif digest not in self._seen:
                self._seen.add(digest)
                print(f"Copying blob {digest.removeprefix('sha256:')[:12]}", file=sys.stderr,
                      flush=True)

    def _bar(self, digest: str, done: int, total: int) -> None:
        if self._rich is None:
            from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

            self._rich = Progress("{task.description}", BarColumn(), DownloadColumn(),
                                  TransferSpeedColumn(), transient=False)
            self._rich.start()
        task = self._tasks.get(digest)
        if task is None:
            label = f"Copying blob {digest.removeprefix('sha256:')[:12]}"
            task = self._tasks[digest] = self._rich.add_task(label, total=total or None)
        self._rich.update(task, completed=done)

    def warn(self, message: str) -> None:
        print(f"WARN: {message}", file=sys.stderr, flush=True)

    def finished(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
        if not self.quiet:
            print("Writing manifest to image destination", file=sys.stderr, flush=True)
