"""The `system` group's host and store commands: check, reset, prune, migrate, renumber
(registered on pyman.cli.system's group)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from pyman.cli.system import CTX, group


@group.command("check", context_settings=CTX)
def check(
    fmt: Annotated[str | None, typer.Option("--format", help="json")] = None,
) -> None:
    """Check this host's prerequisites for rootless containers, each with its fix"""
    from pyman.cli.context import engine as make_engine

    checks = make_engine().system.check()
    if fmt == "json":
        print(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        for c in checks:
            print(c.line())
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        from pyman.errors import PymanError

        raise PymanError(f"{len(failed)} prerequisite(s) of a rootless run missing "
                         f"({', '.join(failed)}): see the fixes above")


def _confirm(text: str) -> bool:
    import sys

    print(text, end="", flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower()[:1] == "y"


@group.command("reset", context_settings=CTX)
def reset(
    force: Annotated[bool, typer.Option("--force", "-f", help="Do not prompt for "
                                        "confirmation")] = False,
) -> None:
    """Reset pyman storage: every container, pod, image, volume and network of yours"""
    import sys

    from pyman.cli.context import engine as make_engine

    if not force and not _confirm(
            "WARNING! This will remove:\n        - all containers\n        - all pods\n"
            "        - all images\n        - all networks\n        - all build cache\n"
            "        - all machines\n        - all volumes\n"
            "Are you sure you want to continue? [y/N] "):
        return
    for warning in make_engine().system.reset():
        print(f"Error: {warning}", file=sys.stderr)


@group.command("prune", context_settings=CTX)
def prune(
    all_: Annotated[bool, typer.Option("--all", "-a", help="Remove all unused data")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Do not prompt for "
                                        "confirmation.  The default is false")] = False,
    volumes: Annotated[bool, typer.Option("--volumes", help="Prune volumes")] = False,
    filters: Annotated[list[str] | None, typer.Option(
        "--filter", help="Provide filter values (e.g. 'label=<key>=<value>')")] = None,
) -> None:
    """Remove unused data"""
    from pyman.cli.context import engine as make_engine
    from pyman.cli.humanize import go_size

    system = make_engine().system
    system.check_prune_filters(filters or [])  # before the question
    if not force:
        vol = "\n\t- all volumes not used by at least one container" if volumes else ""
        images = ("all images without at least one container associated with them"
                  if all_ else "all dangling images")
        cache = "all build cache" if all_ else "all dangling build cache"
        if not _confirm("WARNING! This command removes:\n\t- all stopped containers\n\t- all "
                        f"networks not used by at least one container{vol}\n\t- {images}\n"
                        f"\t- {cache}\n\nAre you sure you want to continue? [y/N] "):
            return
    report = system.prune(all_=all_, volumes=volumes, filters=filters)
    for title, ids in report.sections():
        if ids:
            print(title)
            for i in ids:
                print(i)
    print(f"Total reclaimed space: {go_size(report.reclaimed)}")


@group.command("migrate", context_settings=CTX)
def migrate(
    new_runtime: Annotated[str | None, typer.Option(
        "--new-runtime", help="Accepted for Podman's sake: pyman picks the runtime per "
                              "container start")] = None,
) -> None:
    """Migrate the store after the user's sub-id range changed"""
    from pyman.cli.context import engine as make_engine

    done = make_engine().system.migrate()
    if not (done.stale_layers or done.stale_containers):
        return  # nothing to do, as Podman's migrate says nothing
    redone = [d for d in done.stale_layers if d not in done.unrecoverable]
    if redone:
        print(f"re-unpacked {len(redone)} layer(s) for the current sub-id range; the old "
              f"trees are in {done.moved_to}: as root run `rm -rf {done.moved_to}`")
    for d in done.unrecoverable:
        print(f"layer {d[:19]} has no blob to unpack again: remove its images "
              "(`pyman rmi -f`) and pull them again")
    for name in done.stale_containers:
        print(f"container {name} holds files of the old sub-id range: `pyman rm -f {name}` "
              "and create it again")


@group.command("renumber", context_settings=CTX)
def renumber() -> None:
    """Migrate lock numbers (pyman has none: nothing to do)"""
