"""Entry point. Builds only the command that was invoked: the module defining it is imported
and registered on a fresh root app, so `pyman run` does not pay for `pyman images`' imports."""

from __future__ import annotations

import gc
import importlib
import os
import sys

TYPE_CHECKING = False  # typing costs `--help` ~5 ms (cli/root_help.py imports this module)
if TYPE_CHECKING:
    from typing import Any

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
    "manifest": "pyman.cli.manifest",
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
    "commit": "pyman.cli.import_export",
    "secret": "pyman.cli.secret",
    "diff": "pyman.cli.import_export",
    "image": "pyman.cli.images",
    "build": "pyman.cli.build",
    "buildx": "pyman.cli.build",
    "info": "pyman.cli.system",
    "system": "pyman.cli.system",
    "version": "pyman.cli.system",
    "completion": "pyman.cli.completion",
    "login": "pyman.cli.login",
    "logout": "pyman.cli.login",
    "push": "pyman.cli.push",
    "save": "pyman.cli.archive",
    "load": "pyman.cli.archive",
    "port": "pyman.cli.port",
    "exec": "pyman.cli.exec",
    "events": "pyman.cli.events",
    "pause": "pyman.cli.pause_rename",
    "unpause": "pyman.cli.pause_rename",
    "rename": "pyman.cli.pause_rename",
    "volume": "pyman.cli.volume",
    "network": "pyman.cli.network",
    "top": "pyman.cli.top",
    "pod": "pyman.cli.pod",
    "cp": "pyman.cli.cp",
    "attach": "pyman.cli.attach",
    "kube": "pyman.cli.kube",
    "play": "pyman.cli.kube",
    "generate": "pyman.cli.generate",
    "quadlet": "pyman.cli.quadlet",
    "unshare": "pyman.cli.unshare",
    "healthcheck": "pyman.cli.healthcheck",
}
# command name -> its one-line help, for `pyman --help` without importing every command's
# module (tests/unit/test_cobra_help.py checks it against the commands' own docstrings)
SUMMARIES = {
    "build": "Build an image from a Containerfile",
    "buildx": "Build images (Docker buildx's spelling)",
    "attach": "Attach to a running container: its output, and (unless --no-stdin) its input",
    "commit": "Create a new image from a container's changes",
    "secret": "Manage secrets",
    "completion": "Generate a shell completion script",
    "container": "Manage containers",
    "cp": "Copy files/folders between a container and the local filesystem",
    "create": "Create but do not start a container",
    "diff": "Display the changes to the object's file system",
    "events": "Show pyman events",
    "exec": "Run a process in a running container",
    "export": "Export a container's filesystem as a tar archive",
    "generate": "Generate structured data (Kubernetes YAML, systemd units) from containers "
                "and pods",
    "healthcheck": "Manage health checks on containers",
    "history": "Show the history of an image",
    "image": "Manage images",
    "images": "List images in local storage",
    "import": "Import a tarball as a one-layer image",
    "info": "Display pyman and host information",
    "inspect": "Display the configuration of containers or images",
    "kill": "Send a signal to one or more running containers",
    "kube": "Play containers and pods from Kubernetes YAML, and generate it",
    "load": "Load image(s) from a docker-archive or oci-archive tarball",
    "login": "Log in to a container registry: verify the credentials, then store them",
    "logout": "Remove stored credentials for a registry",
    "logs": "Fetch the logs of one or more containers",
    "manifest": "Manipulate manifest lists and image indexes",
    "network": "Manage networks",
    "pause": "Pause all the processes in one or more containers (cgroup freezer)",
    "play": "Play containers, pods or volumes from a structured file",
    "pod": "Manage pods",
    "port": "List port mappings, or look up the public port of PRIVATE",
    "ps": "List containers",
    "pull": "Pull an image from a registry",
    "push": "Push an image to a registry",
    "quadlet": "Generate systemd units from .container, .volume and .pod files",
    "rename": "Rename an existing container",
    "restart": "Restart one or more containers",
    "rm": "Remove one or more containers",
    "rmi": "Remove one or more images",
    "run": "Run a command in a new container",
    "save": "Save image(s) to an archive",
    "start": "Start one or more containers",
    "stop": "Stop one or more containers: the stop signal, then SIGKILL after the timeout",
    "system": "Manage pyman",
    "tag": "Add names to a local image",
    "top": "Display the running processes of a container",
    "unpause": "Unpause the processes in one or more containers",
    "unshare": "Run a command in a modified user namespace",
    "untag": "Remove names from a local image",
    "version": "Display the pyman version",
    "volume": "Manage volumes",
    "wait": "Wait for containers to stop; print their exit codes",
}
COMPLETE_VAR = "_PYMAN_COMPLETE"


def invoked_command(args: list[str]) -> str | None:
    """The first word that is not a global option (or its value)."""
    from pyman.cli.global_opts import WITH_VALUE

    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def build_app(name: str | None, prefix: str = "",
              args: list[str] | None = None) -> Any:
    """The root command with ``name`` only (every command when it is not one; with
    ``prefix``, only those whose name starts with it: what a TAB on the word can offer)."""
    import typer

    from pyman.cli.global_opts import global_options, remote_hidden

    root = typer.Typer(add_completion=False, no_args_is_help=True,
                       context_settings={"help_option_names": ["--help"]})
    root.callback()(global_options)
    if name is None and not prefix and args is not None:
        names = []  # no command word: help, version or an error; SUMMARIES list them
    else:
        names = [name] if name in COMMANDS else [n for n in COMMANDS if n.startswith(prefix)]
    for module in sorted({COMMANDS[n] for n in names}):
        for info in importlib.import_module(module).app.registered_commands:
            if info.name in names or (name not in COMMANDS and not prefix):
                root.registered_commands.append(info)
        for group in getattr(importlib.import_module(module).app, "registered_groups", []):
            if group.name in names or (name not in COMMANDS and not prefix):
                root.registered_groups.append(group)
    command = typer.main.get_command(root)
    if not names:
        command.summaries = SUMMARIES  # type: ignore[attr-defined]
    if remote_hidden(args or []):
        for param in command.params:
            if param.name == "remote":
                param.hidden = True  # type: ignore[attr-defined]
    from pyman.cli.cobra_help import install

    install(command)
    return command


def _prog_name(argv: list[str] | None) -> str:
    """Podman names itself after argv[0] in usage and errors; so does pyman."""
    base = os.path.basename(sys.argv[0]) if argv is None and sys.argv else ""
    return base if base and not base.endswith(".py") else "pyman"


def _help_words(args: list[str]) -> list[str]:
    """`pyman help [COMMAND...]` is `pyman [COMMAND...] --help`."""
    i = args.index("help")
    return [*args[:i], *args[i + 1:], "--help"]


def _fast(args: list[str]) -> Any:
    """run/create/exec/ps's everyday command lines, answered without typer (cli/fast.py)."""
    if args[:1] not in (["run"], ["create"], ["exec"], ["ps"]):
        return None
    from pyman.cli.fast import runner

    return runner(args)


def main(argv: list[str] | None = None) -> None:
    from pyman.errors import PymanError

    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["__complete"], ["__completeNoDesc"]):  # cobra's completion protocol
        from pyman.cli.cobra_complete import complete

        sys.exit(complete(args[1:], args[0] == "__complete"))
    if args in (["--version"], ["-v"]):  # answered before typer is even imported
        from pyman import __version__

        print(f"{_prog_name(argv)} version {__version__}")
        sys.exit(0)
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
    elif (fast := _fast(args)) is not None:
        command = None  # no typer: the command line is one cli/fast.py takes
    else:
        if invoked_command(args) == "help":
            if args[args.index("help") + 1:] in (["--help"], ["-h"]):
                prog = _prog_name(argv)  # the help of `help` itself, as cobra's
                print(f"Help about any command\n\nDescription:\n  Help provides help for "
                      f"any command in the application.\n  Simply type {prog} help [path to "
                      f"command] for full details.\n\nUsage:\n  {prog} help [command]\n")
                sys.exit(0)
            args = _help_words(args)
        command = build_app(invoked_command(args), args=args)
        from pyman.cli.bool_values import normalize

        args = normalize(command, args)
        if "--pull" in args and invoked_command(args) in ("build", "buildx", "image"):
            from pyman.cli.build import bare_pull

            args = bare_pull(args)
    if not gc.isenabled():  # started by entry(): collect again, start-up's objects frozen
        gc.freeze()
        gc.enable()
    try:
        # without standalone mode, click returns the code of an Exit instead of raising it
        if command is None:
            fast()
            rc = 0
        else:
            rc = command.main(args=args, prog_name=_prog_name(argv), standalone_mode=False)
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
        if "ClickException" in kinds and command is not None:
            # Podman reports flag and argument errors as engine errors: exit 125
            from pyman.cli.cobra_help import path_in, usage_error_message

            message, help_first = usage_error_message(
                exc, path_in(command, _prog_name(argv), args), args)
            if help_first:  # a group without its command: its help, then the error
                print(exc.ctx.get_help(), flush=True)  # type: ignore[attr-defined]
            print(message, file=sys.stderr)
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
