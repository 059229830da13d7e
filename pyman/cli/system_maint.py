"""The `system` group's host and store commands: check, reset, prune, migrate, renumber
(registered on pyman.cli.system's group)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from pyman.cli.system import CTX, group


@group.command("check", context_settings=CTX)
def check(
    fmt: Annotated[str | None, typer.Option("--format", help="json")] = None,
) -> None:
    """Check this host's prerequisites for rootless containers, each with its fix"""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.system.check_host import run_checks

    engine = make_engine()
    checks = run_checks(engine.paths, engine.runtime)
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
    from pyman.engine.system.ops import reset as do_reset

    if not force and not _confirm(
            "WARNING! This will remove:\n        - all containers\n        - all pods\n"
            "        - all images\n        - all networks\n        - all build cache\n"
            "        - all machines\n        - all volumes\n"
            "Are you sure you want to continue? [y/N] "):
        return
    for warning in do_reset(make_engine()):
        print(f"Error: {warning}", file=sys.stderr)


PRUNE_KEYS = ("label", "label!", "until")


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
    from pyman.engine.containers.filters import parse_filters
    from pyman.errors import PymanError

    wanted = parse_filters(filters or [])
    bad = [k for k in wanted if k not in PRUNE_KEYS]
    if bad:
        raise PymanError(f"invalid filter {bad[0]!r}: system prune takes "
                         f"{', '.join(k + '=' for k in PRUNE_KEYS)}")
    if not force:
        vol = "\n\t- all volumes not used by at least one container" if volumes else ""
        images = ("all images without at least one container associated with them"
                  if all_ else "all dangling images")
        cache = "all build cache" if all_ else "all dangling build cache"
        if not _confirm("WARNING! This command removes:\n\t- all stopped containers\n\t- all "
                        f"networks not used by at least one container{vol}\n\t- {images}\n"
                        f"\t- {cache}\n\nAre you sure you want to continue? [y/N] "):
            return
    engine = make_engine()
    before = _usage(engine)
    sections = _prune_all(engine, all_, volumes, wanted, filters or [])
    for title, ids in sections:
        if ids:
            print(title)
            for i in ids:
                print(i)
    print(f"Total reclaimed space: {go_size(max(0, before - _usage(engine)))}")


def _usage(engine: Any) -> int:
    from pyman.engine.system.df import disk_usage

    use = disk_usage(engine)
    return int(sum(i["size"] for i in use.images) + sum(c["size"] for c in use.containers)
               + sum(v["size"] for v in use.volumes))


def _prune_all(engine: Any, all_: bool, volumes: bool, wanted: dict[str, list[str]],
               specs: list[str]) -> list[tuple[str, list[str]]]:
    """Podman's order: pods, containers, volumes, images, networks; containers and images
    again while a round frees more (a removed container frees its image)."""
    from pyman.engine.volumes.operations import parse_when

    until = [parse_when(v) for v in wanted.get("until", [])]

    def labels_ok(labels: dict[str, str]) -> bool:
        def has(spec: str) -> bool:
            k, eq, v = spec.partition("=")
            return k in labels and (not eq or labels[k] == v)

        return (all(has(s) for s in wanted.get("label", []))
                and not any(has(s) for s in wanted.get("label!", [])))

    def old_enough(created: float) -> bool:
        return all(created < u for u in until)

    pods = engine.pods.prune()
    containers: list[str] = []
    images: list[str] = []
    image_specs = [s for s in specs if not s.startswith("label!")]
    while True:
        gone = engine.containers.prune(
            lambda c: not (labels_ok(c.labels) and old_enough(c.created)))
        freed = engine.images.prune(all_, engine.containers.using_image, image_specs)
        containers += gone
        images += freed
        if not gone and not freed:
            break
    vols = engine.volumes.prune([s for s in specs if not s.startswith("label!")]
                                ) if volumes else []
    return [("Deleted Pods", pods), ("Deleted Containers", containers),
            ("Deleted Volumes", vols), ("Deleted Images", images),
            ("Deleted Networks", _prune_networks(engine, labels_ok, old_enough))]


def _prune_networks(engine: Any, labels_ok: Any, old_enough: Any) -> list[str]:
    from pyman.cli.humanize import parse_time

    def keep(doc: dict[str, Any]) -> bool:
        created = parse_time(str(doc.get("created", ""))[:35]) or 0.0
        return not labels_ok(doc.get("labels") or {}) or not old_enough(created)

    return list(engine.networks.prune(keep=keep))


@group.command("migrate", context_settings=CTX)
def migrate(
    new_runtime: Annotated[str | None, typer.Option(
        "--new-runtime", help="Accepted for Podman's sake: pyman picks the runtime per "
                              "container start")] = None,
) -> None:
    """Migrate the store after the user's sub-id range changed"""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.system.ops import migrate as do_migrate

    done = do_migrate(make_engine())
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
