"""Podman's global options (given before the command): the root callback that takes them.

Those that move the store (--root, --runroot, --storage-driver, --volumepath) go to
config.set_overrides before anything opens the store; the engine settings (--runtime,
--events-backend, --cgroup-manager, --tmpdir, --storage-opt) to cli.context.GLOBAL; a remote
service (--remote, --url, --connection) is refused: pyman is daemonless.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

# Podman's (logrus) levels; Python's logging gets TRACE below DEBUG
LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "fatal", "panic")
TRACE = 5
# options that take a value: the first word after them is not the command
WITH_VALUE = {"--log-level", "--runtime", "--runtime-flag", "--default-mounts-file",
              "--root", "--runroot",
              "--storage-driver", "--storage-opt", "--tmpdir", "--events-backend",
              "--cgroup-manager", "--url", "--connection", "-c", "--volumepath", "--config"}


def _print_version(ctx: typer.Context, value: bool) -> None:
    """--version: eager, so it answers before click asks for a command (as a parameter of
    the root callback it never ran: `pyman --version` said "Missing command", exit 125)."""
    if value and not ctx.resilient_parsing:  # not while a TAB is being completed
        from pyman import __version__

        print(f"{ctx.find_root().info_name or 'pyman'} version {__version__}")
        raise typer.Exit(0)


def remote_hidden(args: list[str]) -> bool:
    """Podman hides --remote when a service is named already (env or --url/--connection)."""
    if os.environ.get("CONTAINER_HOST") or os.environ.get("CONTAINER_CONNECTION"):
        return True
    return any(a in ("--url", "--connection", "-c") or a.startswith(("--url=", "--connection="))
               for a in args)


def _fail(message: str, code: int = 125) -> None:
    print(message, file=sys.stderr)
    raise typer.Exit(code)


def setup_logging(level: str) -> None:
    """Podman's log lines (logrus text format: `time=... level=debug msg="..."`) on stderr."""
    import logging

    logging.addLevelName(TRACE, "trace")
    for value, name in ((logging.DEBUG, "debug"), (logging.INFO, "info"),
                        (logging.WARNING, "warning"), (logging.ERROR, "error"),
                        (logging.CRITICAL, "fatal")):
        logging.addLevelName(value, name)
    numeric = {"trace": TRACE, "debug": logging.DEBUG, "info": logging.INFO,
               "warn": logging.WARNING, "warning": logging.WARNING, "error": logging.ERROR,
               "fatal": logging.CRITICAL, "panic": logging.CRITICAL}[level]
    logging.basicConfig(level=numeric, datefmt="%Y-%m-%dT%H:%M:%SZ",
                        format='time="%(asctime)s" level=%(levelname)s msg="%(message)s"')
    log = logging.getLogger("pyman")
    log.info("%s filtering at log level %s", os.path.basename(sys.argv[0]) or "pyman", level)
    log.debug("Called with %s", " ".join(sys.argv))
    log.log(TRACE, "global options: %s", {k: v for k, v in GLOBAL_SEEN.items() if v})


GLOBAL_SEEN: dict[str, object] = {}


def global_options(
    ctx: typer.Context,
    log_level: Annotated[str | None, typer.Option(
        "--log-level", help="Log messages above specified level (trace, debug, info, warn, "
        "warning, error, fatal, panic) (default \"warn\")")] = None,
    debug: Annotated[bool, typer.Option("--debug", "-D", hidden=True,
                                        help="Docker compatibility: --log-level debug.")
                     ] = False,
    version: Annotated[bool, typer.Option(
        "--version", "-v", help="Print the version and exit.", is_eager=True,
        callback=_print_version)] = False,
    runtime: Annotated[str | None, typer.Option(
        "--runtime", help="OCI runtime to use: a name on PATH or a path.")] = None,
    default_mounts_file: Annotated[str | None, typer.Option(
        "--default-mounts-file", help="Path to default mounts file: SRC:DEST lines, mounted "
        "in every container")] = None,
    runtime_flag: Annotated[list[str] | None, typer.Option(
        "--runtime-flag", help="Add global flags for the container runtime (FLAG or "
        "FLAG=VALUE, given to it as --FLAG)")] = None,
    root: Annotated[str | None, typer.Option(
        "--root", help="Path to the root directory in which data, including images, is "
        "stored (pyman's store is its pyman/ directory)")] = None,
    runroot: Annotated[str | None, typer.Option(
        "--runroot", help="Path to the 'run directory' where all state information is "
        "stored (pyman's is its pyman/ directory)")] = None,
    storage_driver: Annotated[str | None, typer.Option(
        "--storage-driver", help="Select which storage driver is used to manage storage of "
        "images and containers (overlay or vfs)")] = None,
    storage_opt: Annotated[list[str] | None, typer.Option(
        "--storage-opt", help="Used to pass an option to the storage driver (accepted; "
        "pyman's drivers take none)")] = None,
    volumepath: Annotated[str | None, typer.Option(
        "--volumepath", help="Path to the volume directory in which volume data is stored")
                          ] = None,
    tmpdir: Annotated[str | None, typer.Option(
        "--tmpdir", help="Path to the tmp directory for libpod state content (accepted; "
        "pyman keeps its state in --runroot)")] = None,
    events_backend: Annotated[str | None, typer.Option(
        "--events-backend", help="Events backend to use (\"file\"|\"journald\"|\"none\"; "
        "journald writes the file too: pyman does not speak to the journal)")] = None,
    cgroup_manager: Annotated[str | None, typer.Option(
        "--cgroup-manager", help="Cgroup manager to use (\"cgroupfs\"|\"systemd\"; info "
        "reports it, pyman's runtime places the cgroups itself)")] = None,
    noout: Annotated[bool, typer.Option("--noout", help="do not output to stdout")] = False,
    remote: Annotated[bool, typer.Option(
        "--remote", "-r", help="Access remote Podman service (pyman has none: refused)")
                      ] = False,
    url: Annotated[str | None, typer.Option(
        "--url", help="URL to access Podman service (pyman has none: refused)")] = None,
    connection: Annotated[str | None, typer.Option(
        "--connection", "-c", help="Connection to use for remote Podman service (pyman has "
        "none: refused)")] = None,
    config: Annotated[str | None, typer.Option(
        "--config", hidden=True, help="Docker compatibility: ignored")] = None,
) -> None:
    """Manage pods, containers and images

    pyman: Podman's commands, rootless and daemonless."""
    from pyman.cli.context import GLOBAL

    GLOBAL_SEEN.update(ctx.params)
    if debug and log_level is not None:
        _fail("Setting --log-level and --debug is not allowed", 1)
    level = "debug" if debug else (log_level or "warn").lower()
    if level not in LOG_LEVELS:
        _fail(f'Log Level "{log_level}" is not supported, choose from: '
              + ", ".join(LOG_LEVELS), 1)
    if level not in ("warn", "warning"):
        setup_logging(level)
    if config is not None:
        print("The --config flag is ignored by Podman. Exists for Docker compatibility",
              file=sys.stderr)
    if ctx.resilient_parsing:
        return
    if remote or url or connection:
        _fail("Error: pyman is daemonless and has no remote service: run it without "
              "--remote, --url and --connection")
    if storage_driver is not None and storage_driver not in ("overlay", "vfs"):
        _fail(f'Error: unsupported storage driver "{storage_driver}": use overlay or vfs')
    if events_backend is not None and events_backend not in ("file", "journald", "none"):
        _fail(f'Error: invalid events backend "{events_backend}": use file, journald or none')
    if cgroup_manager is not None and cgroup_manager not in ("cgroupfs", "systemd"):
        _fail(f'Error: invalid cgroup manager "{cgroup_manager}": use cgroupfs or systemd')
    for name, path in (("--root", root), ("--runroot", runroot), ("--volumepath", volumepath),
                       ("--tmpdir", tmpdir)):
        if path is not None and not path:
            _fail(f"Error: {name} needs a directory path")
    GLOBAL.update(runtime=runtime, events_backend=events_backend,
                  cgroup_manager=cgroup_manager, tmpdir=tmpdir)
    GLOBAL["storage_opt"] = ",".join(storage_opt or []) or None
    GLOBAL["runtime_flags"] = "\n".join(runtime_flag or []) or None
    GLOBAL["default_mounts_file"] = default_mounts_file
    if root or runroot or storage_driver or volumepath or events_backend is not None:
        from pyman.engine import configure

        configure(root=os.path.abspath(root) if root else "",
                  runroot=os.path.abspath(runroot) if runroot else "",
                  driver=storage_driver or "",
                  volumepath=os.path.abspath(volumepath) if volumepath else "",
                  events_backend=events_backend)
    if noout:  # Podman's --noout: its own output goes nowhere (errors still on stderr)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
