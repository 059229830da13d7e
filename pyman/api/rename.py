"""Containers: rename (compose renames a container it recreates out of the way first),
pause, unpause."""

from __future__ import annotations

from aiohttp import web

from pyman.api.common import blocking, engine
from pyman.api.errors import Handler


async def rename(request: web.Request) -> web.Response:
    """Docker's name may come with its leading slash; a bad name is the store's
    InvalidNameError, a 400."""
    name = (request.query.get("name") or "").lstrip("/")
    await blocking(engine(request).containers.rename, request.match_info["id"], name)
    return web.Response(status=204)


async def pause(request: web.Request) -> web.Response:
    on = request.path.endswith("/pause")
    await blocking(engine(request).containers.pause, request.match_info["id"], on)
    return web.Response(status=204)


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/containers/{id}/rename", rename),
    ("POST", "/containers/{id}/pause", pause), ("POST", "/containers/{id}/unpause", pause),
]
