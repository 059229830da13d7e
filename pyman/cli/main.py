"""Entry point. Builds only the command that was invoked: the module defining it is imported
and registered on a fresh root app, so `pyman run` does not pay for `pyman images`' imports."""

from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import Annotated

import typer

# command name -> module whose typer app defines it
COMMANDS = {
    "run": "pyman.cli.run",
    "ps": "pyman.cli.containers",
    "rm": "pyman.cli.containers",
    "create": "pyman.cli.run",
    "start": "pyman.cli.lifecycle",
    "stop": "pyman.cli.lifecycle",
    "kill": "pyman.cli.lifecycle",
    "restart": "pyman.cli.lifecycle",
    "wait": "pyman.cli.lifecycle",
    "logs": "pyman.cli.logs",
    "inspect": "pyman.cli.inspect",
    "container": "pyman.cli.container_group",
    "pull": "pyman.cli.images",
    "images": "pyman.cli.images",
    "rmi": "pyman.cli.images",
    "tag": "pyman.cli.images",
    "untag": "pyman.cli.images",
    "history": "pyman.cli.images",
    "import": "pyman.cli.import_export",
    "export": "pyman.cli.import_export",
    "image": "pyman.cli.images",
    "info": "pyman.cli.system",
    "version": "pyman.cli.system",
    "completion": "pyman.cli.completion",
    "login": "pyman.cli.login",
    "logout": "pyman.cli.login",
    "push": "pyman.cli.push",
    "save": "pyman.cli.archive",
    "load": "pyman.cli.archive",
    "port": "pyman.cli.port",
    "exec": "pyman.cli.exec",
    "pause": "pyman.cli.pause_rename",
    "unpause": "pyman.cli.pause_rename",
    "rename": "pyman.cli.pause_rename",
    "volume": "pyman.cli.volume",
    "top": "pyman.cli.top",
    "pod": "pyman.cli.pod",
    "cp": "pyman.cli.cp",
    "attach": "pyman.cli.attach",
    "kube": "pyman.cli.kube",
    "generate": "pyman.cli.generate",
    "quadlet": "pyman.cli.quadlet",
}
COMPLETE_VAR = "_PYMAN_COMPLETE"
GLOBAL_WITH_VALUE = {"--log-level", "--runtime"}


def invoked_command(args: list[str]) -> str | None:
    """The first word that is not a global option (or its value)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in GLOBAL_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _print_version(ctx: typer.Context, value: bool) -> None:
    """--version: eager, so it answers before click asks for a command (as a parameter of
    the root callback it never ran: `pyman --version` said "Missing command", exit 125)."""
    if value and not ctx.resilient_parsing:  # not while a TAB is being completed
        from pyman import __version__

        print(f"pyman version {__version__}")
        raise typer.Exit(0)


def build_app(name: str | None, prefix: str = ""):  # type: ignore[no-untyped-def]
    """The root command with ``name`` only (every command when it is not one; with
    ``prefix``, only those whose name starts with it: what a TAB on the word can offer)."""
    root = typer.Typer(add_completion=False, no_args_is_help=True,
                       context_settings={"help_option_names": ["--help"]})

    @root.callback()
    def _global(
        log_level: Annotated[str, typer.Option("--log-level",
                                               help="debug, info, warn or error.")] = "warn",
        version: Annotated[bool, typer.Option(
            "--version", "-v", help="Print the version and exit.", is_eager=True,
            callback=_print_version)] = False,
        runtime: Annotated[str | None, typer.Option(
            "--runtime", help="OCI runtime to use: a name on PATH or a path.")] = None,
    ) -> None:
        """pyman: manage containers and images, rootless and daemonless."""
        from pyman.cli.context import GLOBAL

        GLOBAL["runtime"] = runtime
        if log_level != "warn":
            import logging

            logging.basicConfig(level=log_level.upper(),
                                format="%(levelname)s %(name)s: %(message)s")

    names = [name] if name in COMMANDS else [n for n in COMMANDS if n.startswith(prefix)]
    for module in sorted({COMMANDS[n] for n in names}):
        for info in importlib.import_module(module).app.registered_commands:
            if info.name in names or (name not in COMMANDS and not prefix):
                root.registered_commands.append(info)
        for group in getattr(importlib.import_module(module).app, "registered_groups", []):
            if group.name in names or (name not in COMMANDS and not prefix):
                root.registered_groups.append(group)
    return typer.main.get_command(root)


def main(argv: list[str] | None = None) -> None:
    from pyman.errors import PymanError

    args = sys.argv[1:] if argv is None else argv
    if COMPLETE_VAR in os.environ:  # a shell asking for completions (the words are in env)
        from pyman.cli import complete_values as cv

        cv.completion_init()
        words, incomplete = cv.completion_words(COMPLETE_VAR)
        name, args = invoked_command(words), []
        if name is None and os.environ[COMPLETE_VAR] == "complete_bash":
            command = build_app(None, "-")  # the global options and the commands' names
            cv.add_command_names(command, [n for n in COMMANDS if n.startswith(incomplete)])
        else:  # only the command being completed, or those the word being typed can be
            command = build_app(name, "" if name is not None else incomplete)
    else:
        command = build_app(invoked_command(args))
        from pyman.cli.bool_values import normalize

        args = normalize(command, args)
    if not gc.isenabled():  # started by entry(): collect again, start-up's objects frozen
        gc.freeze()
        gc.enable()
    try:
        # without standalone mode, click returns the code of an Exit instead of raising it
        rc = command.main(args=args, prog_name="pyman", standalone_mode=False)
    except PymanError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        if "Exit" in kinds:
            sys.exit(getattr(exc, "exit_code", 0))
        if "Abort" in kinds:
            sys.exit(130)
        if "ClickException" in kinds:
            # Podman reports flag and argument errors as engine errors: exit 125
            print(f"Error: {exc.format_message()}", file=sys.stderr)  # type: ignore[attr-defined]
            sys.exit(125)
        if isinstance(exc, OSError):
            # the host said no (a full disk, a permission): one line, not a traceback
            print(f"Error: {exc.strerror or exc}"
                  + (f": {exc.filename}" if exc.filename else ""), file=sys.stderr)
            sys.exit(125)
        import logging
        import traceback

        if logging.getLogger().isEnabledFor(logging.DEBUG):
            traceback.print_exc()
        where = traceback.extract_tb(exc.__traceback__)[-1]
        print(f"Error: internal error: {type(exc).__name__}: {exc} (at "
              f"{os.path.basename(where.filename)}:{where.lineno}; --log-level debug shows "
              "the traceback; please report it)", file=sys.stderr)
        sys.exit(125)
    sys.exit(rc if isinstance(rc, int) else 0)
