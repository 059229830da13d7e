"""pyman port: the published ports of a container, as Podman prints them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pyman.cli import complete_values as cv

app = typer.Typer(add_completion=False)


def _lines(ports: list[dict[str, Any]]) -> list[str]:
    return [f"{m['container_port']}/{m['protocol']} -> {m['host_ip'] or '0.0.0.0'}:"
            f"{m['host_port']}" for m in ports]


@app.command("port", context_settings={"help_option_names": ["--help"]})
def port(
    container: Annotated[str | None, typer.Argument(help="Container name or id.",
                                                         autocompletion=cv.containers)] = None,
    private: Annotated[str | None, typer.Argument(
        help="Only this container port: PORT[/PROTOCOL].")] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="All containers.")] = False,
    latest: Annotated[bool, typer.Option("--latest", "-l",
                                         help="The latest created container.")] = False,
) -> None:
    """List port mappings, or look up the public port of PRIVATE."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    engine = make_engine()
    if all_:
        if container:
            raise typer.BadParameter("no arguments are needed with --all")
        for s in engine.containers.summaries(False):
            c, _st = engine.containers.get(s.id)
            for line in _lines(c.ports):
                print(f"{c.id[:12]}\t{line}")
        return
    if latest:
        if private is None:
            private = container
        found = sorted(engine.containers.summaries(True), key=lambda s: s.created)
        if not found:
            raise PymanError("no containers to show the ports of")
        container = found[-1].id
    if not container:
        raise typer.BadParameter("requires a container name or id, or --all or --latest")
    c, _st = engine.containers.get(container)
    if private is None:
        for line in _lines(c.ports):
            print(line)
        return
    number, _, proto = private.partition("/")
    proto = proto or "tcp"
    hits = [m for m in c.ports
            if str(m["container_port"]) == number and m["protocol"] == proto]
    if not hits:
        raise PymanError(f'failed to find published port "{number}/{proto}"')
    for m in hits:
        print(f"{m['host_ip'] or '0.0.0.0'}:{m['host_port']}")
