"""pyman run."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)

RUN_CONTEXT = {"allow_interspersed_args": False, "help_option_names": ["--help"]}


@app.command("run", context_settings=RUN_CONTEXT)
def run(
    image: Annotated[str, typer.Argument(help="Image to run.")],
    command: Annotated[list[str] | None, typer.Argument(help="Command and arguments.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Name of the container.")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e",
                                                  help="Set environment variables.")] = None,
    workdir: Annotated[str | None, typer.Option("--workdir", "-w",
                                                help="Working directory.")] = None,
    entrypoint: Annotated[str | None, typer.Option("--entrypoint",
                                                   help="Override the image's entrypoint.")
                          ] = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="user[:group]")] = None,
    hostname: Annotated[str | None, typer.Option("--hostname", "-h")] = None,
    network: Annotated[str | None, typer.Option("--network", "--net",
                                                help="pasta, slirp4netns, host or none.")
                       ] = None,
    rm: Annotated[bool, typer.Option("--rm", help="Remove the container when it exits.")
                  ] = False,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background.")
                      ] = False,
    interactive: Annotated[bool, typer.Option("--interactive", "-i",
                                              help="Keep stdin open.")] = False,
    pull: Annotated[str, typer.Option("--pull", help="always, missing, never.")] = "missing",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Suppress pull output.")
                     ] = False,
) -> None:
    """Run a command in a new container."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.env import expand_env
    from pyman.cli.progress import PullProgress
    from pyman.engine.types import RunOptions

    if pull not in ("always", "missing", "never", "newer"):
        raise typer.BadParameter(f"invalid pull policy {pull!r}: always, missing or never")
    opts = RunOptions(image=image, command=list(command or []), name=name,
                      env=expand_env(env or []), workdir=workdir, entrypoint=entrypoint,
                      user=user, hostname=hostname, network=network, rm=rm, detach=detach,
                      interactive=interactive, pull="missing" if pull == "newer" else pull)
    with PullProgress(quiet) as progress:
        result = make_engine().containers.run(opts, progress)
    if result.exit_code is None:
        print(result.id)
        return
    sys.stdout.flush()
    raise typer.Exit(result.exit_code)
