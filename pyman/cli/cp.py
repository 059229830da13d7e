"""pyman cp: copy files between a container and the host (or a tar stream on stdio)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pyman.cli import complete_values as cv

app = typer.Typer(add_completion=False)


@app.command("cp", context_settings={"help_option_names": ["--help"]})
def cp(
    src: Annotated[str, typer.Argument(autocompletion=cv.copy_paths,
                                       help="CONTAINER:PATH, a host path, or - (a tar "
                                            "archive on stdin).")],
    dest: Annotated[str, typer.Argument(autocompletion=cv.copy_paths,
                                        help="CONTAINER:PATH, a host path, or - (a tar "
                                             "archive on stdout).")],
    archive: Annotated[bool, typer.Option(
        "--archive", "-a", help="Chown copied files to the container's primary uid/gid.")
    ] = True,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Accepted for compatibility: files are always replaced.")
    ] = False,
) -> None:
    """Copy files/folders between a container and the local filesystem."""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.copy import CopyService

    sys.stdout.flush()
    CopyService(make_engine().paths).copy(src, dest, stdin=sys.stdin.buffer,
                                          stdout_fd=sys.stdout.fileno())
