"""pyman container <command>: the container commands under one group, as Podman has them."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(add_completion=False)
group = typer.Typer(add_completion=False, no_args_is_help=True,
                    context_settings={"help_option_names": ["--help"]},
                    help="Manage containers.")
app.add_typer(group, name="container")

# sub-command -> (module, name there)
SUBCOMMANDS = {
    "create": "pyman.cli.run", "run": "pyman.cli.run",
    "start": "pyman.cli.lifecycle", "stop": "pyman.cli.lifecycle",
    "kill": "pyman.cli.lifecycle", "restart": "pyman.cli.lifecycle",
    "wait": "pyman.cli.lifecycle", "logs": "pyman.cli.logs", "inspect": "pyman.cli.inspect",
    "ps": "pyman.cli.containers", "list": "pyman.cli.containers", "ls": "pyman.cli.containers",
    "rm": "pyman.cli.containers", "port": "pyman.cli.port",
    "pause": "pyman.cli.pause_rename", "unpause": "pyman.cli.pause_rename",
    "rename": "pyman.cli.pause_rename",
    "exec": "pyman.cli.exec", "top": "pyman.cli.top", "cp": "pyman.cli.cp",
    "attach": "pyman.cli.attach",
}

for _module in sorted(set(SUBCOMMANDS.values())):
    for _info in importlib.import_module(_module).app.registered_commands:
        group.registered_commands.append(_info)
        if _info.name == "ps":
            for alias in ("list", "ls"):
                group.command(alias, context_settings=_info.context_settings,
                              help=_info.callback.__doc__ if _info.callback else None,
                              )(_info.callback)  # type: ignore[arg-type]
for _info in importlib.import_module("pyman.cli.containers").prune_app.registered_commands:
    group.registered_commands.append(_info)


@group.command("exists", context_settings={"help_option_names": ["--help"]})
def exists(
    container: str = typer.Argument(..., help="Container name or id."),
    external: bool = typer.Option(
        False, "--external", help="Count the containers of builds too (Podman's external)."),
) -> None:
    """Exit 0 if the container exists, 1 if not (as Podman)."""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.types import is_build_container
    from pyman.errors import ContainerNotFoundError

    try:
        c = make_engine().containers.find(container)
    except ContainerNotFoundError:
        raise typer.Exit(1) from None
    if not external and is_build_container(c.labels):
        raise typer.Exit(1)
