"""pyman ps (its body is cli/ps_command.py's), rm, container prune."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pyman.cli import complete_values as cv
from pyman.cli import ps_command
from pyman.cli.ps_command import status_text

__all__ = ["app", "prune_app", "status_text"]

# typer evaluates ps's string annotations in ps_command's namespace
vars(ps_command).update(typer=typer, cv=cv)

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}

app.command("ps", context_settings=CTX)(ps_command.ps)


@app.command("rm", context_settings=CTX)
def rm(
    containers: Annotated[list[str] | None, typer.Argument(help="Containers to remove.",
                                                   autocompletion=cv.containers)
                          ] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Kill running ones first.")
                     ] = False,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Remove all containers.")] = False,
    volumes: Annotated[bool, typer.Option("--volumes", "-v",
                                          help="Remove anonymous volumes too.")] = False,
    time_: Annotated[float | None, typer.Option(
        "--time", "-t", help="Seconds to wait for the stop signal before SIGKILL (default: "
        "the container's --stop-timeout if set, else SIGKILL at once)")] = None,
    ignore: Annotated[bool, typer.Option("--ignore", "-i", help="Ignore missing containers.")
                      ] = False,
    cidfile: Annotated[list[str] | None, typer.Option(
        "--cidfile", help="Read the container's id from this file (run --cidfile wrote it).")
                       ] = None,
    depend: Annotated[bool, typer.Option(
        "--depend", help="Remove the containers that depend on it first (--all implies it).")
                      ] = False,
    latest: Annotated[bool, typer.Option("--latest", "-l", help="The last created.")
                      ] = False,
) -> None:
    """Remove one or more containers."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import ContainerNotFoundError, PymanError

    if cidfile:
        from pyman.cli.lifecycle import from_cidfiles

        containers = from_cidfiles(containers, cidfile, False, ignore)
        if not containers:
            return
    if latest and (containers or all_):
        raise PymanError("--all and --latest cannot be used together" if all_
                         else "--latest and containers cannot be used together")
    engine = make_engine()
    names = list(containers or [])
    if latest:
        names = [c.id for c in engine.containers.summaries(True, external=False)][-1:]
        if not names:
            raise PymanError("no containers to remove")
    damaged: list[str] = []
    if all_:  # damaged records too: they are named, and rm is their cure
        from pyman.engine.containers.filters import every_id

        names, damaged = every_id(engine.containers)
        names += damaged
        depend = True  # as Podman: --all takes the dependents first
    elif not names:
        raise PymanError("`pyman rm` requires at least one container name or id, or --all")
    code = 0  # the last failure's
    done: set[str] = set()
    for key in names:
        try:
            if depend and key not in damaged:  # a damaged record has no joins to follow
                if key in done:
                    continue
                removed = _remove_pod_of(engine, key, force, time_) or \
                    engine.containers.remove_depend(key, force=force, timeout=time_,
                                                    volumes=volumes)
                done.update(removed)
                print("\n".join(removed), flush=True)
                continue
            engine.containers.remove(key, force=force, timeout=time_, volumes=volumes)
            print(key, flush=True)
        except ContainerNotFoundError as exc:
            if ignore or force or all_:  # Podman: rm --force of a missing one is no error
                continue
            typer.echo(f"Error: {exc}", err=True)
            code = 1  # Podman: "no such container" is 1 for rm
        except PymanError as exc:
            typer.echo(f"Error: {exc}", err=True)
            code = exc.exit_code
    if code:
        raise typer.Exit(code)


def _remove_pod_of(engine: Any, key: str, force: bool, time_: float | None) -> list[str]:
    """rm --depend (and --all) of a pod's infra container: the whole pod goes, as in
    Podman; the ids removed (members, then the infra), or [] for another container."""
    c = engine.containers.find(key)
    pod = next((p for p in engine.pods.summaries() if p.id == c.pod), None) if c.infra else None
    if pod is None:
        return []
    engine.pods.remove(pod.id, force=force, timeout=10 if time_ is None else time_)
    return [m.id for m in pod.containers if m.id != c.id] + [c.id]


prune_app = typer.Typer(add_completion=False)


@prune_app.command("prune", context_settings=CTX)
def prune(
    force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask.")] = False,
    filters: Annotated[list[str] | None, typer.Option("--filter", help="label=...")] = None,
) -> None:
    """Remove all stopped containers."""
    import sys

    from pyman.cli.context import engine as make_engine

    if not force:
        print("WARNING! This will remove all non running containers.\n"
              "Are you sure you want to continue? [y/N] ", end="", flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return
    from pyman.engine.containers.filters import matches, parse_filters

    wanted = parse_filters(filters or [])
    for cid in make_engine().containers.prune(lambda c: not matches(c, wanted)):
        print(cid)
