"""pyman image tree [--whatrequires]: an image's layers as Podman draws them (layer ids are
chain ids), each marked with the images it is the top layer of."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import typer

from pyman.cli import complete_values as cv

MID, LAST, PIPE, SPACE = "├── ", "└── ", "│   ", "    "


def _chain(diff_ids: list[str]) -> list[str]:
    """OCI chain ids: the first layer's is its diff_id, then sha256(parent + " " + diff_id)."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else
                   "sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


def image_tree(
    image: Annotated[str, typer.Argument(help="Image.", autocompletion=cv.images)],
    whatrequires: Annotated[bool, typer.Option(
        "--whatrequires", help="Show all child images and layers of the specified image")
                            ] = False,
) -> None:
    """Print the layer hierarchy of an image in a tree format"""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.humanize import go_size
    from pyman.errors import ImageNotFoundError

    eng = make_engine()
    rec = eng.images.find_local(image)
    if rec is None:
        raise ImageNotFoundError(f"{image}: image not known")
    layers = eng.images.layers
    images = eng.images.records()
    tops: dict[str, list[str]] = {}
    for i in images:
        if i.layers and i.names:
            tops.setdefault(_chain(i.layers)[-1], []).extend(i.names)

    def line(chain_id: str, diff_id: str) -> str:
        size = int(str(layers.info(diff_id).get("size", 0) or 0))
        text = f"ID: {chain_id.split(':')[1][:12]} Size: {go_size(size):>7}"
        if chain_id in tops:
            text += f" Top Layer of: [{' '.join(tops[chain_id])}]"
        return text

    print(f"Image ID: {rec.id[:12]}")
    print(f"Tags:     [{' '.join(rec.names)}]")
    print(f"Size:     {go_size(rec.size)}")
    print("Image Layers")
    chain = _chain(rec.layers)
    children: list[Any] = []
    if whatrequires:
        children = [i for i in images if i.id != rec.id and len(i.layers) > len(rec.layers)
                    and i.layers[:len(rec.layers)] == rec.layers]
    for n, (cid, did) in enumerate(zip(chain, rec.layers, strict=True)):
        last = n == len(chain) - 1
        print((LAST if last and not children else MID) + line(cid, did))
    for k, child in enumerate(children):
        extra = list(zip(_chain(child.layers), child.layers, strict=True))[len(rec.layers):]
        indent = SPACE if k == len(children) - 1 else PIPE
        for n, (cid, did) in enumerate(extra):
            print(indent + (LAST if n == len(extra) - 1 else MID) + line(cid, did))
