"""pyman unshare [--rootless-netns] [COMMAND [ARG...]]."""

from __future__ import annotations

import os
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"], "allow_interspersed_args": False,
       "ignore_unknown_options": True}


@app.command("unshare", context_settings=CTX)
def unshare(
    command: Annotated[list[str] | None, typer.Argument(help="Command and its arguments "
                                                        "(default: $SHELL).")] = None,
    rootless_netns: Annotated[bool, typer.Option(
        "--rootless-netns", help="Join the rootless network namespace (not supported).")
    ] = False,
) -> None:
    """Run a command in a modified user namespace."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    if rootless_netns:
        raise PymanError("--rootless-netns is not supported by pyman: run the command in a "
                         "container on the network instead")
    args = list(command or [])
    if not args:
        shell = os.environ.get("SHELL")
        if shell is None:
            raise PymanError("no command specified and no $SHELL specified")
        args = [shell]
    raise typer.Exit(make_engine().system.unshare(args))
