"""pyman attach: the terminal (or output and input) of a running container."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from pyman.cli import complete_values as cv

if TYPE_CHECKING:
    from pyman.engine import Engine

app = typer.Typer(add_completion=False)


@app.command("attach", context_settings={"help_option_names": ["--help"]})
def attach(
    container: Annotated[str | None, typer.Argument(
        help="Container (name or id).", autocompletion=cv.running_containers)] = None,
    detach_keys: Annotated[str, typer.Option(
        "--detach-keys", help="Keys that detach from the container: a character or "
        "ctrl-<value>, comma separated; empty: none.")] = "ctrl-p,ctrl-q",
    latest: Annotated[bool, typer.Option("--latest", "-l",
                                         help="Act on the latest container created.")
                      ] = False,
    no_stdin: Annotated[bool, typer.Option("--no-stdin", help="Do not attach STDIN.")
                        ] = False,
    sig_proxy: Annotated[bool, typer.Option(
        "--sig-proxy/--no-sig-proxy", help="Proxy received signals to the container.")
                         ] = True,
) -> None:
    """Attach to a running container: its output, and (unless --no-stdin) its input."""
    from pyman.cli.attach_session import parse_detach_keys
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    keys = parse_detach_keys(detach_keys)
    engine = make_engine()
    if latest and container:
        raise PymanError("--latest and containers cannot be used together")
    if latest:
        items = engine.containers.summaries(True)
        if not items:
            raise PymanError("no containers to attach to: create one first")
        container = items[-1].id
    if not container:
        raise PymanError('"pyman attach" requires a name, id, or the "--latest" flag')
    code = attach_running(engine, container, keys, stdin=not no_stdin, sig_proxy=sig_proxy)
    if code is None:
        return  # detached: the container runs on; Podman prints nothing
    raise typer.Exit(code)


def attach_running(engine: Engine, key: str, keys: bytes, *, stdin: bool, sig_proxy: bool
                   ) -> int | None:
    """A session on a running container's attach socket: its exit code, or None when the
    client detached. Also `start -a` of a container that runs already, as Podman."""
    from pyman.cli.attach_session import session

    c, st, sock = engine.containers.attach(key)
    if sig_proxy:
        from pyman.engine.containers import sig_proxy as proxy

        proxy.forward(st.monitor_pid)  # the monitor passes them on to the container
    sys.stdout.flush()
    # read even for a container without stdin (the monitor drops it): the detach keys
    code = session(sock, tty=c.tty, stdin=stdin, keys=keys)
    if code is not None and code < 0:  # the monitor went away without a word
        code = engine.containers.wait(c.id)
    return code
