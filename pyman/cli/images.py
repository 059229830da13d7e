"""pyman pull, images, rmi, tag, untag, history, and the `image` group."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Annotated, Any

import typer

from pyman.cli import complete_values as cv
from pyman.cli.login import AuthFile, TlsVerify, parse_bool

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}


@app.command("pull", context_settings=CTX)
def pull(
    reference: Annotated[str, typer.Argument(help="Image to pull.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the image id.")
                     ] = False,
    platform: Annotated[str | None, typer.Option("--platform", help="os/arch[/variant]")
                        ] = None,
    arch: Annotated[str | None, typer.Option("--arch", help="Architecture to choose.")] = None,
    os_: Annotated[str | None, typer.Option("--os", help="Operating system to choose.")
                   ] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="Architecture variant.")
                       ] = None,
    tls_verify: TlsVerify = None,
    creds: Annotated[str | None, typer.Option("--creds", help="USERNAME:PASSWORD")] = None,
    authfile: AuthFile = None,
) -> None:
    """Pull an image from a registry."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.progress import PullProgress
    from pyman.engine.images.operations import platform_option
    from pyman.engine.types import PullOptions

    opts = PullOptions(reference, platform_option(platform, os_, arch, variant),
                       parse_bool(tls_verify, "--tls-verify"), quiet, creds, authfile)
    with PullProgress(quiet) as progress:
        rec = make_engine().images.pull(opts, progress)
    print(rec.id)


IMAGE_HEADERS = {"ID": "IMAGE ID", "Id": "IMAGE ID", "CreatedSince": "CREATED",
                 "CreatedAt": "CREATED AT", "VirtualSize": "VIRTUAL SIZE",
                 "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}
SORT_KEYS = ("created", "id", "repository", "size", "tag")


@app.command("images", context_settings=CTX)
def images(
    reference: Annotated[str | None, typer.Argument(help="Only images matching this name.")
                         ] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Also intermediate images.")
                    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only image ids.")
                     ] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Full image ids.")] = False,
    digests: Annotated[bool, typer.Option("--digests", help="Show digests.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="json or a Go template.")
                   ] = None,
    filters: Annotated[list[str] | None, typer.Option(
        "--filter", "-f", help="dangling=, reference=, label=, before=, since=, id=")] = None,
    sort: Annotated[str, typer.Option("--sort", help="created, id, repository, size, tag")
                    ] = "created",
    noheading: Annotated[bool, typer.Option("--noheading", "-n", help="No header row.")
                         ] = False,
) -> None:
    """List images in local storage."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.image_rows import table_rows
    from pyman.cli.template import render_list
    from pyman.engine.images.reports import images_json
    from pyman.errors import PymanError

    if sort not in SORT_KEYS:
        raise PymanError(f"invalid --sort {sort!r}: use one of {', '.join(SORT_KEYS)}")
    engine = make_engine()
    views = engine.images.views(filters=filters, reference=reference,
                                containers=engine.containers.using_image)
    if quiet:
        for image_id in dict.fromkeys(v.record.id for v in views):
            print("sha256:" + image_id if no_trunc else image_id[:12])
        return
    if fmt == "json":
        print(json.dumps([images_json(v) for v in views], indent=4))
        return
    rows = [r for v in views for r in table_rows(v, no_trunc=no_trunc)]
    if reference:  # as podman: only the names that match, unless an id was given
        from pyman.engine.images.reports import reference_matches

        named = [r for r in rows
                 if reference_matches(reference, [f"{r['Repository']}:{r['Tag']}"])]
        rows = named or rows
    if sort != "created":
        field = {"id": "Id", "repository": "Repository", "tag": "Tag"}.get(sort)
        if field:
            rows.sort(key=lambda r: str(r[field]))
        else:
            sizes = {v.record.id: v.record.size for v in views}
            rows.sort(key=lambda r: sizes[r["Id"]], reverse=True)
    if not fmt:
        cols = ["{{.Repository}}", "{{.Tag}}"] + (["{{.Digest}}"] if digests else [])
        fmt = "table " + "\t".join(cols + ["{{.ID}}", "{{.Created}}", "{{.Size}}"])
    if noheading:
        fmt = fmt.lstrip().removeprefix("table").lstrip()
        from pyman.cli.template import Template, tabwrite

        tpl = Template(fmt)
        out = tabwrite(line for r in rows for line in tpl.render(r).split("\n"))
    else:
        out = render_list(fmt, rows, IMAGE_HEADERS)
    if out:
        print(out)


@app.command("rmi", context_settings=CTX)
def rmi(
    images: Annotated[list[str] | None, typer.Argument(help="Images to remove.",
                                                       autocompletion=cv.images)] = None,
    force: Annotated[bool, typer.Option("--force", "-f",
                                        help="Also remove containers that use them.")
                     ] = False,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Remove all images.")] = False,
    ignore: Annotated[bool, typer.Option("--ignore", "-i",
                                         help="A missing image is no error.")] = False,
) -> None:
    """Remove one or more images."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import ImageInUseError, ImageNotFoundError, PymanError

    engine = make_engine()
    names = list(images or [])
    if all_:
        names += [rec.id for rec in engine.images.records()]  # stored order, as Podman
        if not names:  # Podman: `rmi -a` with no images is no error
            return
    if not names:
        raise PymanError("image name or id must be specified: pyman rmi IMAGE... or --all")
    lines: list[str] = []
    errors: list[PymanError] = []
    for name in dict.fromkeys(names):
        try:
            rec, _ = engine.images.match_local(name)
            if force and rec is not None and not engine.images.untags_only(name):
                _remove_users(engine, rec.id)
            lines += engine.images.remove(name, engine.containers.using_image, force,
                                          every_name=all_)
        except ImageNotFoundError as exc:
            if ignore or force:  # Podman: neither --ignore nor --force minds a missing one
                continue
            errors.append(exc)
        except ImageInUseError as exc:
            errors.append(exc)
    # as Podman: every Untagged line, then every Deleted one
    for line in sorted(lines, key=lambda ln: not ln.startswith("Untagged")):
        print(line)
    if len(errors) == 1:
        print(f"Error: {errors[0]}", file=sys.stderr)
    elif errors:
        print(f"Error: {len(errors)} errors occurred:", file=sys.stderr)
        for err in errors:
            print(f"\t* {err}", file=sys.stderr)
    if errors:
        # as podman: a name that is not known exits 1, not 125
        codes = {1 if isinstance(e, ImageNotFoundError) else e.exit_code for e in errors}
        raise typer.Exit(2 if 2 in codes else 125 if 125 in codes else 1)


def _remove_users(engine: Any, image_id: str) -> None:
    """rmi --force: the image's containers go first; a pod's infra takes its pod along,
    members and all (as Podman)."""
    from pyman.errors import ContainerNotFoundError

    for cid in engine.containers.using_image(image_id):
        try:
            config, _ = engine.containers.get(cid)
        except ContainerNotFoundError:  # gone with a pod removed before it
            continue
        if config.infra and config.pod:
            engine.pods.remove(config.pod, force=True, timeout=0, ignore=True)
        else:
            engine.containers.remove(cid, force=True)


@app.command("tag", context_settings=CTX)
def tag(
    image: Annotated[str, typer.Argument(help="Image to tag.",
                                                autocompletion=cv.images)],
    targets: Annotated[list[str], typer.Argument(help="New names.")],
) -> None:
    """Add names to a local image."""
    from pyman.cli.context import engine as make_engine

    make_engine().images.tag(image, targets)


@app.command("untag", context_settings=CTX)
def untag(
    image: Annotated[str, typer.Argument(help="Image to untag.",
                                                autocompletion=cv.images)],
    targets: Annotated[list[str] | None, typer.Argument(help="Names to remove (all if none).")
                       ] = None,
) -> None:
    """Remove names from a local image."""
    from pyman.cli.context import engine as make_engine

    make_engine().images.untag(image, list(targets or []))


HISTORY_HEADERS = {"ID": "ID", "Created": "CREATED", "CreatedBy": "CREATED BY",
                   "CreatedSince": "CREATED", "CreatedAt": "CREATED AT"}


@app.command("history", context_settings=CTX)
def history(
    image: Annotated[str, typer.Argument(help="Image.", autocompletion=cv.images)],
    human: Annotated[bool, typer.Option("--human/--no-human", "-H",
                                        help="Human-readable sizes and dates.")] = True,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Do not truncate.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only ids.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="json or a Go template.")
                   ] = None,
) -> None:
    """Show the history of an image."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.image_rows import history_rows
    from pyman.cli.template import render_list

    svc = make_engine().images
    rows = history_rows(svc.view(svc.require(image)), no_trunc=no_trunc, human=human)
    if quiet:
        print("\n".join(r["ID"] for r in rows))
        return
    if fmt == "json":
        # Podman's: the full id (or <missing>), RFC 3339 time, size in bytes
        print(json.dumps([{"id": r.get("id", r["ID"]), "created": r["created"],
                           "CreatedBy": r["CreatedBy"], "size": r["bytes"],
                           "comment": r["Comment"], "tags": r["Tags"]}
                          for r in rows], indent=4))
        return
    fmt = fmt or "table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    print(render_list(fmt, rows, HISTORY_HEADERS))


def image_inspect(
    images: Annotated[list[str], typer.Argument(help="Images to inspect.",
                                                   autocompletion=cv.images)],
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="json or a Go template.")
                   ] = None,
) -> None:
    """Display the details of images."""
    from pyman.cli.context import engine as make_engine

    svc = make_engine().images
    print_inspect([svc.inspect(name) for name in images], fmt)


def print_inspect(docs: list[dict[str, object]], fmt: str | None) -> None:
    """JSON array as podman prints it, or one rendered template per document."""
    from pyman.cli.template import Template

    if fmt in (None, "", "json"):
        print(json.dumps(docs, indent=4))
        return
    tpl = Template(fmt)
    for doc in docs:
        print(tpl.render(doc))


def image_prune(
    all_: Annotated[bool, typer.Option("--all", "-a", help="All unused images, not only "
                                       "dangling ones.")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask.")] = False,
    filters: Annotated[list[str] | None, typer.Option("--filter", help="Filters.")] = None,
) -> None:
    """Remove unused images."""
    from pyman.cli.context import engine as make_engine

    if not force:
        what = "all images without at least one container" if all_ else "all dangling images"
        print(f"WARNING! This command removes {what}.\nAre you sure you want to continue? "
              "[y/N] ", end="", flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return
    engine = make_engine()
    for image_id in engine.images.prune(all_, engine.containers.using_image, filters):
        print(image_id)


def image_exists(image: Annotated[str, typer.Argument(help="Image.", autocompletion=cv.images)]
                 ) -> None:
    """Exit 0 if the image is in local storage, 1 if not."""
    from pyman.cli.context import engine as make_engine

    if make_engine().images.find_local(image) is None:
        raise typer.Exit(1)


# `pyman image <sub>`: the same commands under the group, as Podman has them
group = typer.Typer(add_completion=False, no_args_is_help=True, context_settings=CTX,
                    help="Manage images.")
app.add_typer(group, name="image")
for _name, _fn in (("pull", pull), ("ls", images), ("list", images), ("rm", rmi),
                   ("tag", tag), ("untag", untag), ("history", history),
                   ("inspect", image_inspect), ("prune", image_prune),
                   ("exists", image_exists)):
    group.command(_name, context_settings=CTX, help=_fn.__doc__)(_fn)
from pyman.cli.image_tree import image_tree  # noqa: E402 - the group's own module

group.command("tree", context_settings=CTX, help=image_tree.__doc__)(image_tree)
# save, load, push and import live in their own modules; the group has them too, as Podman's
for _module in ("pyman.cli.archive", "pyman.cli.push", "pyman.cli.import_export",
                "pyman.cli.build"):
    for _info in importlib.import_module(_module).app.registered_commands:
        if _info.name in ("save", "load", "push", "import", "build"):
            group.registered_commands.append(_info)
