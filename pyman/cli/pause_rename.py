"""pyman pause, unpause and rename."""

from __future__ import annotations

from typing import Annotated

import typer

from pyman.cli import complete_values as cv
from pyman.cli.lifecycle import RunningKeys, each, targets

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}


def _freeze(containers: list[str] | None, all_: bool, on: bool) -> None:
    from pyman.cli.context import engine as make_engine

    engine = make_engine()
    want = "running" if on else "paused"
    keys = [s.id for s in engine.containers.summaries(True) if s.status == want
            ] if all_ else targets(containers, False)
    each(keys, lambda k: (engine.containers.pause(k, on), None)[1])


@app.command("pause", context_settings=CTX)
def pause(containers: RunningKeys = None,
          all_: Annotated[bool, typer.Option("--all", "-a", help="All running containers.")
                          ] = False) -> None:
    """Pause all the processes in one or more containers (cgroup freezer)."""
    _freeze(containers, all_, True)


@app.command("unpause", context_settings=CTX)
def unpause(containers: Annotated[list[str] | None, typer.Argument(
                help="Containers (names or ids).", autocompletion=cv.paused_containers)] = None,
            all_: Annotated[bool, typer.Option("--all", "-a", help="All paused containers.")
                            ] = False) -> None:
    """Unpause the processes in one or more containers."""
    _freeze(containers, all_, False)


@app.command("rename", context_settings=CTX)
def rename(
    container: Annotated[str, typer.Argument(help="Container (name or id).",
                                                  autocompletion=cv.containers)],
    name: Annotated[str, typer.Argument(help="Its new name.")],
) -> None:
    """Rename an existing container."""
    from pyman.cli.context import engine as make_engine

    make_engine().containers.rename(container, name)
