"""pyman volume create|ls|inspect|rm|prune|exists|export|import|mount|unmount (mount:
refused rootless outside `pyman unshare`, as Podman), with Podman 4.3's output."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from pyman.cli import complete_values as cv

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}
group = typer.Typer(add_completion=False, no_args_is_help=True, context_settings=CTX,
                    help="Manage volumes.")
app.add_typer(group, name="volume")

LS_DEFAULT = "{{range .}}{{.Driver}}\t{{.Name}}\n{{end -}}"
HEADERS = {"Name": "VOLUME NAME", "Driver": "DRIVER", "Mountpoint": "MOUNTPOINT",
           "CreatedAt": "CREATED AT", "Labels": "LABELS", "Scope": "SCOPE",
           "Options": "OPTIONS"}


@group.command("create", context_settings=CTX)
def create(
    name: Annotated[str | None, typer.Argument(help="Name of the volume.")] = None,
    driver: Annotated[str, typer.Option("--driver", "-d", help="Volume driver.")] = "local",
    label: Annotated[list[str] | None, typer.Option("--label", "-l", help="key=value.")
                     ] = None,
    opt: Annotated[list[str] | None, typer.Option(
        "--opt", "-o", help="Driver options: type=, device=, o=, UID=, GID=, nocopy.")] = None,
    ignore: Annotated[bool, typer.Option("--ignore", help="Do not fail if it exists.")
                      ] = False,
) -> None:
    """Create a new volume."""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.volumes.operations import parse_kv

    rec = make_engine().volumes.create(name, labels=parse_kv(label or []),
                                       options=parse_kv(opt or []), driver=driver,
                                       ignore=ignore)
    print(rec.name)


def _ls(
    filters: Annotated[list[str] | None, typer.Option(
        "--filter", "-f", help="name=, label=, dangling=, driver=, opt=, until=")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="json or a Go template.")
                   ] = None,
    noheading: Annotated[bool, typer.Option("--noheading", help="No header row.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Names only.")] = False,
) -> None:
    """List volumes."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.template import print_listing

    svc = make_engine().volumes
    docs = [svc.inspect(r) for r in svc.ls(filters)]
    if fmt == "json":  # the fields inspect shows (Podman 4.3's ls has NeedsChown too)
        print(json.dumps(docs, indent=2))
        return
    if quiet:
        for d in docs:
            print(d["Name"])
        return
    if not docs:
        return  # as Podman: no header either
    if not fmt:
        fmt = "table {{.Driver}}\t{{.Name}}"
    print_listing(fmt, docs, HEADERS, noheading)


group.command("ls", context_settings=CTX)(_ls)
group.command("list", context_settings=CTX, hidden=True)(_ls)


@group.command("inspect", context_settings=CTX)
def inspect(
    names: Annotated[list[str] | None, typer.Argument(help="Volumes.",
                                                      autocompletion=cv.volumes)] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="All volumes.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="json or a Go template.")
                   ] = None,
) -> None:
    """Display detailed information on one or more volumes."""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.template import Template
    from pyman.errors import PymanError

    if not names and not all_:
        raise PymanError("provide one or more volume names or use --all")
    svc = make_engine().volumes
    docs = []
    missing: str | None = None
    for rec in (svc.ls() if all_ else []):
        docs.append(svc.inspect(rec))
    for name in names or []:
        found = svc.find(name)
        if found is None:
            missing = name
            continue
        docs.append(svc.inspect(found))
    if fmt in (None, "", "json"):
        print(json.dumps(docs, indent=5))
    else:
        tpl = Template(fmt)
        for d in docs:
            # the JSON leaves false flags out (omitempty); a template sees Podman's fields
            print(tpl.render({"Anonymous": False, "NeedsCopyUp": False, "NeedsChown": False,
                              **d}))
    if missing is not None:
        raise PymanError(f"inspecting object: no such volume {missing}")


@group.command("rm", context_settings=CTX)
def rm(
    names: Annotated[list[str] | None, typer.Argument(help="Volumes.",
                                                      autocompletion=cv.volumes)] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="All volumes.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", "-f", help="Also remove the containers that use them.")] = False,
    time_: Annotated[int, typer.Option("--time", "-t", help="Seconds to wait for running "
                                       "containers to stop before killing them.")] = 10,
) -> None:
    """Remove one or more volumes."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError, VolumeNotFoundError

    if bool(names) == all_:
        raise PymanError("choose either one or more volumes or all")
    engine = make_engine()
    svc = engine.volumes
    keys = [r.name for r in svc.ls()] if all_ else list(names or [])

    def remove_container(cid: str) -> None:
        engine.containers.remove(cid, force=True, timeout=time_)

    code = 0  # the last failure's
    for key in keys:
        try:
            print(svc.remove(key, force=force, remove_container=remove_container), flush=True)
        except VolumeNotFoundError as exc:
            if force:  # Podman: rm --force of a missing volume is no error
                continue
            print(f"Error: {exc}", file=sys.stderr)
            code = 1  # as Podman
        except PymanError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            code = exc.exit_code
    if code:
        raise typer.Exit(code)


@group.command("prune", context_settings=CTX)
def prune(
    force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask.")] = False,
    filters: Annotated[list[str] | None, typer.Option("--filter", help="label=, until=")
                       ] = None,
) -> None:
    """Remove all unused volumes."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    svc = make_engine().volumes
    if not force:
        used = svc.used()
        doomed = [r.name for r in svc.ls(filters) if r.name not in used]
        print("WARNING! This will remove all volumes not used by at least one container. "
              "The following volumes will be removed:")
        for name in doomed:
            print(name)
        print("Are you sure you want to continue? [y/N] ", end="", flush=True)
        answer = sys.stdin.readline()
        if not answer:
            raise PymanError("EOF")
        if answer.strip().lower() not in ("y", "yes"):
            return
    for name in svc.prune(filters):
        print(name)


@group.command("exists", context_settings=CTX)
def exists(name: Annotated[str, typer.Argument(help="Volume.", autocompletion=cv.volumes)]) -> None:
    """Exit 0 if the volume exists, 1 if not."""
    from pyman.cli.context import engine as make_engine

    raise typer.Exit(0 if make_engine().volumes.exists(name) else 1)


@group.command("export", context_settings=CTX)
def export(
    name: Annotated[str, typer.Argument(help="Volume.", autocompletion=cv.volumes)],
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write to this file (default: stdout, which must be "
        "redirected).")] = None,
) -> None:
    """Export volumes."""

    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    if output == "":
        raise PymanError("expects output path, use --output=[path]")
    volumes = make_engine().volumes
    if output is None or output == "/dev/stdout":
        if sys.stdout.isatty():
            raise PymanError("refusing to write the archive to a terminal: use -o FILE or "
                             "redirect stdout")
        sys.stdout.flush()
        volumes.export(name, sys.stdout.fileno())
        return
    volumes.get(name)  # a missing volume leaves no file behind
    from pyman.cli.output_file import write_whole

    write_whole(output, lambda fd: volumes.export(name, fd))


@group.command("import", context_settings=CTX)
def import_(
    name: Annotated[str, typer.Argument(help="Volume.", autocompletion=cv.volumes)],
    source: Annotated[str, typer.Argument(help="Tarball, or - for stdin.")],
) -> None:
    """Import a tarball contents into a pyman volume."""
    import os

    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    volumes = make_engine().volumes
    if source == "-":
        volumes.import_tar(name, sys.stdin.fileno(), "stdin")
        return
    try:
        fd = os.open(source, os.O_RDONLY)
    except OSError as exc:
        raise PymanError(f"open {source}: {exc.strerror.lower() if exc.strerror else exc}"
                         ) from None
    try:
        volumes.import_tar(name, fd, source)
    finally:
        os.close(fd)


@group.command("mount", context_settings=CTX)
def mount(name: Annotated[str, typer.Argument(help="Volume.", autocompletion=cv.volumes)]
          ) -> None:
    """Mount volume."""
    import os

    from pyman.cli.context import engine as make_engine
    from pyman.cli.main import _prog_name
    from pyman.errors import PymanError

    if os.environ.get("_CONTAINERS_USERNS_CONFIGURED") != "done" or os.getuid() != 0:
        prog = _prog_name(None)  # as Podman: it names itself after argv[0]
        raise PymanError(f'cannot run command "{prog} volume mount" in rootless mode, must '
                         f"execute `{prog} unshare` first")
    print(make_engine().volumes.data_dir(name))



@group.command("unmount", context_settings=CTX)
def unmount(names: Annotated[list[str], typer.Argument(help="Volumes.",
                                                      autocompletion=cv.volumes)]) -> None:
    """Unmount volume."""
    from pyman.cli.context import engine as make_engine

    volumes = make_engine().volumes
    for name in names:  # a local volume's data dir is never a mount of its own: nothing to do
        print(volumes.get(name).name)
