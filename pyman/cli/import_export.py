"""pyman import, pyman export, pyman commit, pyman diff."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pyman.cli import complete_values as cv

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}


@app.command("import", context_settings=CTX)
def import_(
    source: Annotated[str, typer.Argument(help="Tarball file, or - for stdin.")],
    reference: Annotated[str | None, typer.Argument(help="Name for the image.")] = None,
    changes: Annotated[list[str] | None, typer.Option(
        "--change", "-c", help="Dockerfile instruction: CMD, ENTRYPOINT, ENV, WORKDIR ...")
    ] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="Commit message.")] = "",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
) -> None:
    """Import a tarball as a one-layer image."""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.images.import_export import ImportExport, ImportOptions

    svc = ImportExport(make_engine().paths)
    image_id, layer = svc.import_tarball(
        ImportOptions(source, reference, list(changes or []), message), sys.stdin.buffer)
    if not quiet:
        for line in ("Getting image source signatures", f"Copying blob {layer}",
                     f"Copying config sha256:{image_id}",
                     "Writing manifest to image destination", "Storing signatures"):
            print(line, file=sys.stderr)
    print(f"sha256:{image_id}")


@app.command("export", context_settings=CTX)
def export(
    container: Annotated[str, typer.Argument(help="Container to export.",
                                                  autocompletion=cv.containers)],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write to this file.")
                      ] = None,
) -> None:
    """Export a container's filesystem as a tar archive."""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.images.import_export import ImportExport
    from pyman.errors import PymanError

    if output is None and sys.stdout.isatty():
        raise PymanError("refusing to write the archive to a terminal: use -o FILE or "
                         "redirect stdout")
    svc = ImportExport(make_engine().paths)
    if output is None:
        sys.stdout.flush()
        svc.export(container, sys.stdout.fileno())
        return
    from pyman.cli.output_file import write_whole

    write_whole(output, lambda fd: svc.export(container, fd))


@app.command("commit", context_settings=CTX)
def commit(
    container: Annotated[str, typer.Argument(help="Container to commit.",
                                             autocompletion=cv.containers)],
    image: Annotated[str | None, typer.Argument(help="Name for the new image.")] = None,
    changes: Annotated[list[str] | None, typer.Option(
        "--change", "-c", help="Dockerfile instruction: CMD, ENTRYPOINT, ENV, WORKDIR ...")
    ] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="Commit message.")] = "",
    author: Annotated[str, typer.Option("--author", "-a", help="The image's author.")] = "",
    pause: Annotated[bool, typer.Option(
        "--pause", "-p", help="Pause a running container while its changes are read.")
                     ] = False,
    iidfile: Annotated[str | None, typer.Option(
        "--iidfile", help="Write the new image's id to this file.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="oci | docker")] = "oci",
) -> None:
    """Create a new image from a container's changes"""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.images.commit import CommitOptions
    from pyman.engine.images.commit import commit as do_commit
    from pyman.errors import PymanError

    if message and fmt == "oci":  # before anything is paused: Podman's check
        raise PymanError("messages are only compatible with the docker image format "
                         "(-f docker)")
    engine = make_engine()
    paused = False
    ctr, state = engine.containers.get(container)
    if pause and state.status == "running":
        try:
            engine.containers.pause(container)
        except PymanError as exc:
            raise PymanError(f'pausing container "{ctr.id}" to commit: {exc}',
                             exit_code=exc.exit_code) from None
        paused = True
    try:
        image_id = do_commit(engine.paths, CommitOptions(container, image, list(changes or []),
                                                         message, author, fmt))
    finally:
        if paused:
            engine.containers.pause(container, on=False)
    if not quiet:
        for line in ("Getting image source signatures", "Copying blob (the container's "
                     "changes)", f"Copying config sha256:{image_id}",
                     "Writing manifest to image destination", "Storing signatures"):
            print(line, file=sys.stderr)
    if iidfile:
        with open(iidfile, "w", encoding="utf-8") as f:
            f.write(f"sha256:{image_id}")
    print(image_id)


@app.command("diff", context_settings=CTX)
def diff(
    container: Annotated[str | None, typer.Argument(
        help="Container (name or id).", autocompletion=cv.containers)] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="json")] = None,
    latest: Annotated[bool, typer.Option("--latest", "-l", help="The last created.")
                      ] = False,
) -> None:
    """Display the changes to the object's file system"""
    import json

    from pyman.cli.context import engine as make_engine
    from pyman.engine.images.commit import diff as changes
    from pyman.errors import PymanError

    engine = make_engine()
    if latest == bool(container):
        raise PymanError("--latest and containers cannot be used together" if latest
                         else "`diff` requires a container name or id, or --latest")
    if latest:
        items = engine.containers.summaries(True)
        if not items:
            raise PymanError("no containers to diff")
        container = items[-1].id
    if fmt not in (None, "json"):
        raise PymanError(f"unknown --format {fmt!r}: use json")
    found = changes(engine.paths, str(container))
    if fmt == "json":
        print(json.dumps(found, indent=4))
        return
    marks = {"changed": "C", "added": "A", "deleted": "D"}
    for path, mark in sorted((p, marks[k]) for k, ps in found.items() for p in ps):
        print(f"{mark} {path}")
