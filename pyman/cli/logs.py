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
) -> None:
    """Fetch the logs of one or more containers."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.lifecycle import targets
    from pyman.engine.log_config import refuse_reading
    from pyman.engine.logs import LogReader, parse_since

    engine = make_engine()
    keys = targets(containers, False, latest)
    readers = []
    for key in keys:  # every name resolves before anything is printed
        c = engine.containers.store.find(key)
        refuse_reading(c.log_driver)
        readers.append((c.id, LogReader(engine.containers.log_file(c))))
    since_ns = parse_since(since) if since else None
    until_ns = parse_since(until) if until else None
    out = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}

    at_start = {"stdout": True, "stderr": True}  # a line's partial entries: one timestamp

    def emit(entries: Iterable[tuple[str, str, bool, bytes]]) -> None:
        for ts, stream, full, text in entries:  # streamed: one entry held at a time
            if timestamps and ts and at_start[stream]:
                out[stream].write(ts.replace("+00:00", "Z").encode() + b" ")
            out[stream].write(text + (b"\n" if full else b""))
            at_start[stream] = full
        sys.stdout.flush()
        sys.stderr.flush()

    for cid, reader in readers:
        emit(reader.read(tail=tail, since_ns=since_ns, until_ns=until_ns))
        while follow:
            running = engine.containers.live_state(cid).status in ("running", "starting",
                                                                     "restarting")
            emit(reader.read(since_ns=since_ns, until_ns=until_ns))
            if not running:
                break
            time.sleep(0.1)
