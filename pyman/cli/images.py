"""pyman pull, pyman images, pyman rmi."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}


@app.command("pull", context_settings=CTX)
def pull(
    reference: Annotated[str, typer.Argument(help="Image to pull.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the image id.")
                     ] = False,
    platform: Annotated[str | None, typer.Option("--platform", help="os/arch[/variant]")
                        ] = None,
    tls_verify: Annotated[bool | None, typer.Option("--tls-verify/--no-tls-verify",
                                                    help="Require HTTPS and verify certs.")
                          ] = None,
) -> None:
    """Pull an image from a registry."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.progress import PullProgress
    from pyman.engine.types import PullOptions

    with PullProgress(quiet) as progress:
        rec = make_engine().images.pull(PullOptions(reference, platform, tls_verify, quiet),
                                   progress)
    print(rec.id)


@app.command("images", context_settings=CTX)
def images(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only image ids.")
                     ] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Full image ids.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="json")] = None,
) -> None:
    """List images in local storage."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.humanize import ago, human_size, parse_time, table

    items = make_engine().images.summaries()
    if quiet:
        for image_id in dict.fromkeys(i.id for i in items):
            print(image_id if no_trunc else image_id[:12])
        return
    if fmt == "json":
        print(json.dumps([asdict(i) for i in items], indent=2))
        return
    rows = []
    for i in items:
        rows.append([i.repository, i.tag, i.id if no_trunc else i.id[:12],
                     ago(ts) if (ts := parse_time(i.created)) else "unknown",
                     human_size(i.size)])
    print(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows))


@app.command("rmi", context_settings=CTX)
def rmi(
    images: Annotated[list[str], typer.Argument(help="Images to remove.")],
    force: Annotated[bool, typer.Option("--force", "-f", help="Even if containers use it.")
                     ] = False,
) -> None:
    """Remove one or more images."""
    from pyman.cli.context import engine as make_engine

    engine = make_engine()
    for name in images:
        for line in engine.images.remove(name, engine.containers.using_image, force):
            print(line)
