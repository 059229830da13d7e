"""`pyman system service`: the Docker-compatible API (pyman/api), registered on the system
group by cli/system.py; aiohttp is imported only here."""

from __future__ import annotations

from typing import Annotated

import typer


def service(
    uri: Annotated[str | None, typer.Argument(
        help="Where to listen: unix:///path.sock or tcp://127.0.0.1:PORT (default "
        "unix://$XDG_RUNTIME_DIR/pyman/pyman.sock).")] = None,
    time_: Annotated[int, typer.Option(
        "--time", "-t", help="Seconds without a request before the service exits; 0: "
        "never.")] = 5,
    cors: Annotated[str, typer.Option(
        "--cors", help="Cross-origin resource sharing: the Access-Control-Allow-Origin "
        "header's value (e.g. \"*\").")] = "",
    log_level: Annotated[str | None, typer.Option(
        "--log-level", hidden=True, help="Podman's global option, also taken after the "
        "command (Podman's flags are persistent).")] = None,
) -> None:
    """Run the API service (Docker-compatible: DOCKER_HOST=unix://...)."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    if log_level is not None:
        from pyman.cli.global_opts import LOG_LEVELS, setup_logging

        if log_level.lower() not in LOG_LEVELS:
            raise PymanError(f'Log Level "{log_level}" is not supported, choose from: '
                             + ", ".join(LOG_LEVELS))
        setup_logging(log_level.lower())
    if time_ < 0:
        raise PymanError(f"--time {time_}: seconds must be 0 (never exit) or more")
    try:
        from pyman.api.server import run
    except ImportError as exc:  # aiohttp is a dependency; a broken install says so
        raise PymanError(f"the API service needs aiohttp ({exc}): pip install aiohttp"
                         ) from None
    run(uri, time_, make_engine(), cors)
