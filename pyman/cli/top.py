"""pyman top: the processes of a running container."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pyman.cli import complete_values as cv

app = typer.Typer(add_completion=False)


@app.command("top", context_settings={"allow_interspersed_args": False,
                                      "help_option_names": ["--help"]})
def top(
    container: Annotated[str, typer.Argument(help="Container (name or id).",
                                                  autocompletion=cv.containers)],
    descriptors: Annotated[list[str] | None, typer.Argument(
        help="Format descriptors (user, pid, ppid, pcpu, etime, tty, time, args, comm, huser, "
             "hpid, group, hgroup, nice, pgid, vsz, state); others are passed to ps(1) in "
             "the container.")] = None,
    latest: Annotated[bool, typer.Option("--latest", "-l",
                                         help="Act on the latest container created.")
                      ] = False,
) -> None:
    """Display the running processes of a container."""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.containers.top import parse_descriptors, tabulate

    engine = make_engine()
    words = list(descriptors or [])
    if latest:
        words.insert(0, container)
        items = engine.containers.summaries(True)
        if not items:
            from pyman.errors import PymanError

            raise PymanError("no containers to show: create one first")
        container = items[-1].id
    wanted = parse_descriptors(words)
    if wanted is None:  # as Podman: descriptors psgo does not know go to ps(1) inside
        from pyman.engine.containers.exec import ExecOptions

        sys.stdout.flush()
        result = engine.exec.run(container, ExecOptions(command=["ps", *words]))
        raise typer.Exit(result.exit_code or 0)
    sys.stdout.write(tabulate(engine.top.top(container, wanted)))
