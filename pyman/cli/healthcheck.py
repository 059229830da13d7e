"""pyman healthcheck run CONTAINER."""

from __future__ import annotations

from typing import Annotated

import typer

from pyman.cli import complete_values as cv

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}
group = typer.Typer(add_completion=False, no_args_is_help=True, context_settings=CTX,
                    help="Manage health checks on containers.")
app.add_typer(group, name="healthcheck")


@group.command("run", context_settings=CTX)
def run(container: Annotated[str, typer.Argument(
        help="Container (name or id).", autocompletion=cv.running_containers)]) -> None:
    """Run the health check of a container."""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.health.check import run_check

    status = run_check(make_engine().paths, container)
    if status == "unhealthy":  # as Podman: healthy prints nothing
        print(status)
        raise typer.Exit(1)
