"""pyman cp: copy files between a container and the host, between containers, or a tar
stream on stdio."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pyman.cli import complete_paths

app = typer.Typer(add_completion=False)


@app.command("cp", context_settings={"help_option_names": ["--help"]})
def cp(
    src: Annotated[str, typer.Argument(autocompletion=complete_paths.copy_paths,
                                       help="CONTAINER:PATH, a host path, or - (a tar "
                                            "archive on stdin).")],
    dest: Annotated[str, typer.Argument(autocompletion=complete_paths.copy_paths,
                                        help="CONTAINER:PATH, a host path, or - (a tar "
                                             "archive on stdout).")],
    archive: Annotated[bool, typer.Option(
        "--archive/--no-archive", "-a",
        help="Chown copied files to the primary uid/gid of the destination container. "
             "(default true)")
    ] = True,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite",
        help="Allow to overwrite directories with non-directories and vice versa")] = False,
    pause: Annotated[bool, typer.Option("--pause/--no-pause", hidden=True,
                                        help="Deprecated (nothing is paused)")] = True,
    extract: Annotated[bool, typer.Option("--extract", hidden=True,
                                          help="Deprecated")] = False,
) -> None:
    """Copy files/folders between a container and the local filesystem."""
    from pyman.cli.context import engine as make_engine

    sys.stdout.flush()
    make_engine().copy.copy(src, dest, stdin=sys.stdin.buffer, stdout_fd=sys.stdout.fileno(),
                            archive=archive, overwrite=overwrite)
