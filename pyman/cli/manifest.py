"""pyman manifest create|add|inspect|remove|rm|exists: local manifest lists, in Podman 4.3's
words and shapes."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from pyman.cli import complete_values as cv

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}
group = typer.Typer(add_completion=False, no_args_is_help=True, context_settings=CTX,
                    help="Manipulate manifest lists and image indexes.")
app.add_typer(group, name="manifest")


def _service() -> Any:
    from pyman.cli.context import engine as make_engine
    from pyman.engine.images.manifests import ManifestService

    engine = make_engine()
    return ManifestService(engine.paths, engine.images)


@group.command("create", context_settings=CTX)
def create(
    name: Annotated[str, typer.Argument(metavar="LIST", help="Name of the list.")],
    images: Annotated[list[str] | None, typer.Argument(
        metavar="IMAGE", help="Local images to list.", autocompletion=cv.images)] = None,
    all_: Annotated[bool, typer.Option(
        "--all", help="Add all of the lists' images if the images to add are lists.")] = False,
    amend: Annotated[bool, typer.Option(
        "--amend", "-a", help="Modify an existing list if one with the name exists.")
    ] = False,
) -> None:
    """Create manifest list or image index."""
    print(_service().create(name, list(images or []), amend=amend))


def _annotations(values: list[str]) -> dict[str, str]:
    from pyman.errors import PymanError

    out = {}
    for value in values:
        key, eq, val = value.partition("=")
        if not eq or not key:
            raise PymanError(f"no value given for annotation {value!r}: use key=value")
        out[key] = val
    return out


@group.command("add", context_settings=CTX)
def add(
    name: Annotated[str, typer.Argument(metavar="LIST", help="The list.")],
    images: Annotated[list[str], typer.Argument(
        metavar="IMAGE", help="Local images to add.", autocompletion=cv.images)],
    all_: Annotated[bool, typer.Option(
        "--all", help="Add all of the list's images if the image is a list.")] = False,
    annotation: Annotated[list[str] | None, typer.Option(
        "--annotation", help="Set an annotation for the image (key=value).")] = None,
    arch: Annotated[str, typer.Option("--arch", help="Override the image's architecture.")
                    ] = "",
    os_: Annotated[str, typer.Option("--os", help="Override the image's OS.")] = "",
    variant: Annotated[str, typer.Option("--variant", help="Override the image's variant.")
                       ] = "",
) -> None:
    """Add images to a manifest list or image index."""
    from pyman.engine.images.manifests import AddOptions

    svc = _service()
    opts = AddOptions(arch=arch, os=os_, variant=variant,
                      annotations=_annotations(annotation or []))
    ident = ""
    for image in images:
        ident = svc.add(name, image, opts)
    print(ident)


@group.command("inspect", context_settings=CTX)
def inspect(name: Annotated[str, typer.Argument(metavar="IMAGE", help="The list.",
                                                autocompletion=cv.images)]) -> None:
    """Display the contents of a manifest list or image index."""
    print(json.dumps(_service().inspect(name), indent=4))


@group.command("remove", context_settings=CTX)
def remove(
    name: Annotated[str, typer.Argument(metavar="LIST", help="The list.")],
    digest: Annotated[str, typer.Argument(metavar="IMAGE", help="The entry's digest.")],
) -> None:
    """Remove an entry from a manifest list or image index."""
    print(_service().remove_entry(name, digest))


@group.command("rm", context_settings=CTX)
def rm(lists: Annotated[list[str], typer.Argument(metavar="LIST", help="Lists to remove.",
                                                  autocompletion=cv.images)]) -> None:
    """Remove manifest list or image index from local storage."""
    import sys

    from pyman.errors import ImageNotFoundError

    svc, code = _service(), 0
    for name in lists:
        try:
            for line in svc.remove(name):
                print(line)
        except ImageNotFoundError as exc:  # as Podman: an unknown name exits 1
            print(f"Error: {exc}", file=sys.stderr)
            code = 1
    raise typer.Exit(code)


@group.command("exists", context_settings=CTX)
def exists(name: Annotated[str, typer.Argument(metavar="MANIFEST", help="The list.")]
           ) -> None:
    """Check if a manifest list exists in local storage."""
    raise typer.Exit(0 if _service().exists(name) else 1)
