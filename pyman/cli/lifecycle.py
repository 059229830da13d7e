"""pyman start, stop, kill, restart, wait: each prints what Podman prints per container."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from pyman.cli import complete_values as cv

if TYPE_CHECKING:
    from pyman.engine import Engine
    from pyman.errors import PymanError

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}

Keys = Annotated[list[str] | None, typer.Argument(help="Containers (names or ids).",
                                                 autocompletion=cv.containers)]
RunningKeys = Annotated[list[str] | None, typer.Argument(
    help="Containers (names or ids).", autocompletion=cv.running_containers)]
StartableKeys = Annotated[list[str] | None, typer.Argument(
    help="Containers (names or ids).", autocompletion=cv.startable_containers)]
All = Annotated[bool, typer.Option("--all", "-a", help="All containers.")]
CidFiles = Annotated[list[str] | None, typer.Option(
    "--cidfile", help="Read the container's id from this file (run --cidfile wrote it).")]


def from_cidfiles(keys: list[str] | None, cidfiles: list[str], latest: bool, ignore: bool
                  ) -> list[str]:
    """The ids --cidfile files name. A missing file is an error, or nothing with --ignore
    (as Podman 4.4 on; 4.3 failed even then, which made a unit's ExecStopPost fail when its
    start never got as far as writing the file)."""
    from pyman.engine.specgen.systemd_opts import missing_cidfile, read_cidfile
    from pyman.errors import PymanError

    if keys or latest:
        raise PymanError("no arguments are needed with --latest or --cidfile")
    out = []
    for path in cidfiles:
        cid = read_cidfile(path)
        if cid is None and not ignore:
            raise missing_cidfile(path)
        if cid:
            out.append(cid)
    return out


def parse_signal(text: str) -> int:
    """TERM, SIGTERM, term or 15, as Podman accepts them."""
    from pyman.engine.specgen.limits import parse_signal as parse

    return parse(text)


SKIP = object()  # what an action returns for a key it has nothing to say about (--ignore)


def each(keys: list[str], action: Callable[[str], object], show: bool = True,
         exit_code: Callable[[PymanError], int] | None = None) -> None:
    """Run ``action`` on every key; print what it returns (or the key given, as Podman
    does); report failures one line each and exit with the last one's code (``exit_code``:
    the command's own code for an error, where Podman's differs from the error's)."""
    from pyman.errors import PymanError

    code = 0
    for key in keys:
        try:
            out = action(key)
        except PymanError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            code = exit_code(exc) if exit_code is not None else exc.exit_code
            continue
        if show and out is not SKIP:
            print(key if out is None else out, flush=True)
    if code:
        raise typer.Exit(code)


def targets(keys: list[str] | None, all_: bool, latest: bool = False,
            running_only: bool = False) -> list[str]:
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    if latest and (keys or all_):  # Podman's words
        raise PymanError("--all and --latest cannot be used together" if all_
                         else "--latest and containers cannot be used together")
    if all_ or latest:
        items = make_engine().containers.summaries(True)
        if running_only:
            items = [c for c in items if c.status == "running"]
        if latest:
            items = items[-1:]
        return [c.id for c in items]
    if not keys:
        raise PymanError("you must provide at least one container name or id")
    return keys


@app.command("start", context_settings=CTX)
def start(
    containers: StartableKeys = None,
    attach: Annotated[bool, typer.Option("--attach", "-a", help="Attach to the output.")
                      ] = False,
    interactive: Annotated[bool, typer.Option("--interactive", "-i",
                                              help="Keep stdin open.")] = False,
    all_: Annotated[bool, typer.Option("--all", help="All containers.")] = False,
    detach_keys: Annotated[str, typer.Option(
        "--detach-keys", help="Keys that detach from the container (with --attach).")
                           ] = "ctrl-p,ctrl-q",
    sig_proxy: Annotated[bool, typer.Option(
        "--sig-proxy/--no-sig-proxy", help="Proxy received signals to the container "
        "(with --attach).")] = True,
    filters: Annotated[list[str] | None, typer.Option(
        "--filter", "-f", help="Start only the containers that match: restart-policy=, and "
        "ps's filters (name=, id=, label=, status=, exited=, ancestor=)")] = None,
) -> None:
    """Start one or more containers."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    if all_ and containers:
        raise PymanError("either start all containers or the container(s) provided in the "
                         "arguments")
    engine = make_engine()
    if all_:  # Podman's start --all leaves the running ones alone
        keys = [c.id for c in engine.containers.summaries(True) if c.status != "running"]
    else:
        keys = targets(containers, all_)
    if filters:
        keys = _start_filter(engine, keys, filters)
    if attach or interactive:
        if len(keys) > 1:
            raise PymanError("you cannot start and attach multiple containers at once")
        from pyman.cli.attach_session import parse_detach_keys, terminal_client

        detach_bytes = parse_detach_keys(detach_keys)
        if engine.containers.get(keys[0])[1].status == "running":  # Podman attaches to it
            from pyman.cli.attach import attach_running

            code = attach_running(engine, keys[0], detach_bytes, stdin=interactive,
                                  sig_proxy=sig_proxy)
            raise typer.Exit(code or 0)
        session, size = terminal_client(interactive, detach_bytes)
        result = engine.containers.start_key(keys[0], attach=True, interactive=interactive,
                                             session=session, console_size=size,
                                             sig_proxy=sig_proxy)
        sys.stdout.flush()
        raise typer.Exit(result.exit_code or 0)
    def start_one(key: str) -> None:
        engine.containers.start_key(key)

    # Podman: a start that fails is an engine error, even a command that cannot run
    each(keys, start_one, exit_code=lambda e: 125 if e.exit_code in (126, 127) else e.exit_code)


# Podman's define.RestartPolicyMap: "none" is the policy never set
RESTART_POLICIES = {"none": "", "no": "no", "on-failure": "on-failure", "always": "always",
                    "unless-stopped": "unless-stopped"}


def _start_filter(engine: Engine, keys: list[str], filters: list[str]) -> list[str]:
    from pyman.engine.containers.filters import matches, parse_filters
    from pyman.errors import PymanError

    wanted = parse_filters(filters)
    policies = wanted.pop("restart-policy", [])
    for policy in policies:
        if policy not in RESTART_POLICIES:
            raise PymanError(f"{policy} invalid restart policy")
    summaries = {c.id: c for c in engine.containers.summaries(True)}
    out = []
    for key in keys:
        config = engine.containers.find(key)
        if policies and config.restart_policy not in {RESTART_POLICIES[p] for p in policies}:
            continue
        if wanted and not matches(summaries[config.id], wanted):
            continue
        out.append(key)
    return out


@app.command("stop", context_settings=CTX)
def stop(
    containers: RunningKeys = None,
    time_: Annotated[float | None, typer.Option(
        "--time", "-t", "--timeout", help="Seconds to wait before killing the container "
        "(--timeout: Podman's other spelling; default: its "
        "--stop-timeout, 10).")] = None,
    all_: All = False,
    latest: Annotated[bool, typer.Option("--latest", "-l")] = False,
    ignore: Annotated[bool, typer.Option("--ignore", "-i", help="Ignore missing containers.")
                      ] = False,
    cidfile: CidFiles = None,
) -> None:
    """Stop one or more containers: the stop signal, then SIGKILL after the timeout."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import ContainerNotFoundError

    engine = make_engine()
    if cidfile:
        containers = from_cidfiles(containers, cidfile, latest, ignore)
        if not containers:
            return

    def one(key: str) -> object:
        try:
            engine.containers.stop(key, time_)
        except ContainerNotFoundError:
            if not ignore:
                raise
            return SKIP
        return None

    each(targets(containers, all_, latest, running_only=True), one)


@app.command("kill", context_settings=CTX)
def kill(
    containers: RunningKeys = None,
    sig: Annotated[str, typer.Option("--signal", "-s", help="Signal to send.",
                                     autocompletion=cv.signals)] = "KILL",
    all_: All = False,
    latest: Annotated[bool, typer.Option("--latest", "-l")] = False,
) -> None:
    """Send a signal to one or more running containers."""
    from pyman.cli.context import engine as make_engine

    number = parse_signal(sig)
    engine = make_engine()
    each(targets(containers, all_, latest, running_only=True),
         lambda k: (engine.containers.kill(k, number), None)[1])


@app.command("restart", context_settings=CTX)
def restart(
    containers: Keys = None,
    time_: Annotated[float | None, typer.Option(
        "--time", "-t", help="Seconds to wait before killing the container (default: its "
        "--stop-timeout, 10).")] = None,
    all_: All = False,
    latest: Annotated[bool, typer.Option("--latest", "-l")] = False,
) -> None:
    """Restart one or more containers."""
    from pyman.cli.context import engine as make_engine

    engine = make_engine()
    each(targets(containers, all_, latest),
         lambda k: (engine.containers.restart(k, time_), None)[1])


@app.command("wait", context_settings=CTX)
def wait(
    containers: Keys = None,
    latest: Annotated[bool, typer.Option("--latest", "-l")] = False,
    interval: Annotated[str, typer.Option("--interval", "-i", help="Polling interval.")
                        ] = "250ms",
    condition: Annotated[list[str] | None, typer.Option(
        "--condition", help="Wait until the container is in this state: created, running, "
        "paused, stopping, exited or stopped (default: it stops).")] = None,
) -> None:
    """Wait for containers to stop; print their exit codes."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    for cond in condition or []:
        if cond not in WAIT_CONDITIONS:
            raise PymanError(f"{cond} is not a valid condition: use one of "
                             + ", ".join(WAIT_CONDITIONS))
    engine = make_engine()
    keys = targets(containers, False, latest)
    for key in keys:  # Podman resolves every name before waiting on any
        engine.containers.find(key)
    if condition:
        wanted = set(condition)
        each(keys, lambda k: engine.containers.wait_for(k, wanted))
        return
    each(keys, lambda k: engine.containers.wait(k))


WAIT_CONDITIONS = ("configured", "created", "running", "paused", "stopping", "exited",
                   "stopped")
