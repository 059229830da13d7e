"""pyman inspect (containers)."""

from __future__ import annotations

from typing import Annotated, Any

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
    from pyman.engine.containers.inspect import container_inspect
    from pyman.errors import ContainerNotFoundError, PymanError

    if type_ not in ("all", "container", "image", "volume"):
        raise PymanError(f"invalid --type {type_!r}: container, image, volume or all")
    engine = make_engine()
    svc = engine.containers
    docs: list[dict[str, Any]] = []
    failed: PymanError | None = None
    for key in targets(names, False, latest):
        try:
            if type_ in ("image", "volume"):
                raise ContainerNotFoundError(key)
            c, st = svc.get(key)
        except ContainerNotFoundError:
            # as podman: a container first, then an image of that name
            rec = engine.images.find_local(key) if type_ in ("all", "image") else None
            vol = engine.volumes.store.load(key) if rec is None and type_ in (
                "all", "volume") else None
            if vol is not None:  # then a volume, as podman
                docs.append(engine.volumes.inspect(vol))
                continue
            if rec is None:
                failed = PymanError(f'inspecting object: no such object: "{key}"')
                continue
            docs.append(engine.images.inspect(rec.id))
            continue
        docs.append(container_inspect(c, st, static_dir=str(svc.store.dir(c.id)),
                                      run_dir=str(svc.store.run_dir(c.id))))
    from pyman.cli.images import print_inspect

    print_inspect(docs, fmt)
    if failed is not None:
        raise failed
