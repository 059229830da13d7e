"""pyman exec's body: run a process in a running container.

No typer at run time here: cli/exec.py registers exec_ with typer (which reads its
annotations, strings naming typer and cv, in this module's namespace: exec.py puts them in it
first), and cli/fast.py calls it directly for the everyday command lines."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

if TYPE_CHECKING:
    import typer

    from pyman.cli import complete_values as cv


def exec_(
    container: Annotated[str, typer.Argument(help="Container (name or id).",
                                                  autocompletion=cv.running_containers)],
    command: Annotated[list[str] | None, typer.Argument(help="Command and arguments.")
                       ] = None,
    detach: Annotated[bool, typer.Option("--detach", "-d",
                                         help="Run the exec session in the background.")
                      ] = False,
    detach_keys: Annotated[str | None, typer.Option(
        "--detach-keys", help="Accepted for compatibility; not used.")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e",
                                                  help="Set environment variables.")] = None,
    env_file: Annotated[list[str] | None, typer.Option(
        "--env-file", help="Read environment variables from a file.")] = None,
    interactive: Annotated[bool, typer.Option("--interactive", "-i",
                                              help="Keep STDIN open.")] = False,
    latest: Annotated[bool, typer.Option("--latest", "-l",
                                         help="Act on the latest container created.")
                      ] = False,
    privileged: Annotated[bool, typer.Option(
        "--privileged", help="Give the process every capability.")] = False,
    tty: Annotated[bool, typer.Option("--tty", "-t", help="Allocate a pseudo-TTY.")] = False,
    user: Annotated[str | None, typer.Option(
        "--user", "-u", help="user[:group], names or ids, as the container knows them.")
    ] = None,
    workdir: Annotated[str | None, typer.Option("--workdir", "-w",
                                                help="Working directory inside the container.")
                       ] = None,
) -> None:
    """Run a process in a running container."""
    from pyman.cli.context import engine as make_engine
    from pyman.engine.containers.exec import ExecOptions
    from pyman.engine.specgen.env import expand_env, read_env_file

    engine = make_engine()
    args = list(command or [])
    if latest:  # no container argument: the first word is the command
        args.insert(0, container)
        items = engine.containers.summaries(True)
        if not items:
            from pyman.errors import PymanError

            raise PymanError("no containers to exec in: create one first")
        container = items[-1].id
    env_items: list[str] = []
    for path in env_file or []:
        env_items += read_env_file(path)
    env_items += expand_env(env or [])
    opts = ExecOptions(command=args, env=env_items, user=user, workdir=workdir,
                       interactive=interactive, tty=tty, detach=detach,
                       privileged=privileged)
    service = engine.exec
    attach = None
    size = None
    if tty and not detach:
        from pyman.cli.terminal import attach_pty, local_terminal, window_size

        local = local_terminal()
        size = window_size(local) if local is not None else None

        def attach(master: int, done: int) -> None:
            sys.stdout.flush()
            attach_pty(master, done, interactive)

    sys.stdout.flush()
    result = service.run(container, opts, attach, size)
    if result.exit_code is None:
        print(result.session_id)
        return
    raise SystemExit(result.exit_code)  # as typer.Exit: click returns its code
