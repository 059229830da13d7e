"""pyman ps, pyman rm."""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import asdict
from typing import Annotated

import typer

from pyman.cli.humanize import ago, human_duration, table

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}


def status_text(status: str, exit_code: int | None, started: float | None,
                finished: float | None, now: float) -> str:
    if status == "running":
        return f"Up {human_duration(now - (started or now))}"
    if status == "exited":
        return f"Exited ({exit_code if exit_code is not None else -1}) " + ago(finished or now,
                                                                               now)
    return "Created"


@app.command("ps", context_settings=CTX)
def ps(
    all_: Annotated[bool, typer.Option("--all", "-a", help="Show all containers.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only ids.")] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Full ids and commands.")
                        ] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="json")] = None,
) -> None:
    """List containers."""
    from pyman.cli.context import engine as make_engine

    items = make_engine().containers.summaries(all_)
    if quiet:
        for c in items:
            print(c.id if no_trunc else c.id[:12])
        return
    if fmt == "json":
        print(json.dumps([asdict(c) for c in items], indent=2))
        return
    now = time.time()
    rows = []
    for c in items:
        cmd = shlex.join(c.command)
        if not no_trunc and len(cmd) > 20:
            cmd = cmd[:17] + "..."
        rows.append([c.id if no_trunc else c.id[:12], c.image, cmd, ago(c.created, now),
                     status_text(c.status, c.exit_code, c.started_at, c.finished_at, now), "",
                     c.name])
    print(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
                rows))


@app.command("rm", context_settings=CTX)
def rm(
    containers: Annotated[list[str] | None, typer.Argument(help="Containers to remove.")
                          ] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Kill running ones first.")
                     ] = False,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Remove all containers.")] = False,
) -> None:
    """Remove one or more containers."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    engine = make_engine()
    names = list(containers or [])
    if all_:
        names = [c.id for c in engine.containers.summaries(True)]
    elif not names:
        raise PymanError("`pyman rm` requires at least one container name or id, or --all")
    failed: PymanError | None = None
    for key in names:
        try:
            print(engine.containers.remove(key, force=force))
        except PymanError as exc:
            typer.echo(f"Error: {exc}", err=True)
            failed = exc
    if failed is not None:
        raise typer.Exit(1 if len(names) > 1 else failed.exit_code)
