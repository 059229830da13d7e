"""`system service --cors`: Podman's Cross-Origin Resource Sharing headers on every answer
(a browser page may then call the API: only when asked for)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

ALLOW_HEADERS = ("Origin, X-Requested-With, Content-Type, Accept, X-Registry-Auth, "
                 "Connection, Upgrade, X-Registry-Config")
ALLOW_METHODS = "HEAD, GET, POST, DELETE, PUT, OPTIONS"


def enable(app: web.Application, origin: str) -> None:
    """On every answer, streamed ones too: aiohttp calls this before the headers go out."""

    async def add(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS

    hook: Callable[[web.Request, web.StreamResponse], Awaitable[None]] = add
    app.on_response_prepare.append(hook)
