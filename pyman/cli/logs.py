"""pyman logs: read the k8s-file log the monitor writes (pyman/monitor/k8slog.py)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Annotated

import typer

from pyman.cli import complete_values as cv

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}
# libpod's log colours: light gray, red, yellow, blue, magenta, cyan, green
COLORS = [f"\033[{n}m".encode() for n in (37, 31, 33, 34, 35, 36, 32)]
RESET = b"\033[0m"


@app.command("logs", context_settings=CTX)
def logs(
    containers: Annotated[list[str] | None, typer.Argument(help="Containers.",
                                                   autocompletion=cv.containers)] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Follow the output.")
                      ] = False,
    tail: Annotated[int, typer.Option("--tail", help="Only the last N lines (-1: all).")
                    ] = -1,
    since: Annotated[str | None, typer.Option("--since", help="Only output since this time "
                                              "(RFC 3339, unix time or a duration: 10m)")
                     ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Only output until this time.")
                     ] = None,
    timestamps: Annotated[bool, typer.Option("--timestamps", "-t", help="Show timestamps.")
                          ] = False,
    latest: Annotated[bool, typer.Option("--latest", "-l", help="The last created.")
                      ] = False,
    names: Annotated[bool, typer.Option("--names", "-n", help="Prefix lines with the "
                                        "container's name, not its id.")] = False,
    color: Annotated[bool, typer.Option("--color", help="Each container's lines in a "
                                        "colour of their own.")] = False,
) -> None:
    """Fetch the logs of one or more containers."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.lifecycle import targets
    from pyman.engine.containers.logs import LogReader, parse_since
    from pyman.engine.specgen.log_config import refuse_reading
    from pyman.errors import PymanError

    engine = make_engine()
    keys = targets(containers, False, latest)
    readers = []
    for key in keys:  # every name resolves before anything is printed
        c = engine.containers.find(key)
        refuse_reading(c.log_driver)
        label = c.name if names else c.id[:12]
        readers.append((c.id, label, LogReader(engine.containers.log_file(c))))
    since_ns = parse_since(since) if since else None
    until_ns = parse_since(until) if until else None
    out = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}
    # several containers: each line after its container's short id, as Podman
    prefix = len(readers) > 1
    at_start: dict[tuple[str, str], bool] = {}  # a line's partial entries: one prefix

    def emit(cid: str, label: str, entries: Iterable[tuple[str, str, bool, bytes]]) -> None:
        # --color: Podman's colours, one per container in the order named, from the
        # line's start (prefix included) to its end
        paint = COLORS[[r[0] for r in readers].index(cid) % len(COLORS)] if color else b""
        for ts, stream, full, text in entries:  # streamed: one entry held at a time
            head = b""
            if ts and at_start.get((cid, stream), True):
                head = paint + ((label.encode() + b" ") if prefix else b"")
                if timestamps:
                    head += ts.replace("+00:00", "Z").encode() + b" "
            end = (RESET if color else b"") + b"\n" if full else b""
            out[stream].write(head + text + end)
            at_start[(cid, stream)] = full
        sys.stdout.flush()
        sys.stderr.flush()

    def running(cid: str) -> bool:
        try:
            return engine.containers.live_state(cid).status in ("running", "starting",
                                                                 "restarting")
        except PymanError:
            return False  # removed meanwhile (--rm)

    if not follow:
        for cid, label, reader in readers:
            emit(cid, label, reader.read(tail=tail, since_ns=since_ns, until_ns=until_ns))
        return
    # followed together, so that lines come in the order they were written
    first = True
    while True:
        alive = [running(cid) for cid, _, _ in readers]  # before reading: nothing lost
        for cid, label, reader in readers:
            emit(cid, label, reader.read(tail=tail if first else -1, since_ns=since_ns,
                                  until_ns=until_ns))
        first = False
        if not any(alive):
            break
        time.sleep(0.1)
