"""pyman inspect (containers)."""

from __future__ import annotations

from typing import Annotated

import typer

from pyman.cli import complete_values as cv

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}


@app.command("inspect", context_settings=CTX)
def inspect(
    names: Annotated[list[str] | None, typer.Argument(
        help="Containers to inspect.", autocompletion=cv.containers_images_volumes)] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="json",
                                                   autocompletion=cv.formats)] = None,
    latest: Annotated[bool, typer.Option("--latest", "-l", help="The last created.")
                      ] = False,
    type_: Annotated[str, typer.Option(
        "--type", "-t", help="container, image or all", autocompletion=cv.inspect_types)] = "all",
    size: Annotated[bool, typer.Option("--size", "-s", help="Accepted; sizes not computed.")
                    ] = False,
) -> None:
    """Display the configuration of containers or images."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.lifecycle import targets

    report = make_engine().system.inspect(targets(names, False, latest), type_)
    from pyman.cli.images import print_inspect

    print_inspect(report.documents, fmt)
    if report.error is not None:
        raise report.error
