"""`/containers/{id}/archive`: HEAD (a path's stat), GET (the path as tar) and PUT (a tar
extracted into a directory), what `docker cp` uses both ways. The engine's cp code does the
work in children whose root is the container's; here the path is checked first (no climbing
out with "..") and the engine's refusals become 4xx answers."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from typing import Any

from aiohttp import web

from pyman.api.common import blocking, engine, flag
from pyman.api.errors import BadRequest, Handler, answer
from pyman.api.streams import drain, feed
from pyman.errors import PymanError

log = logging.getLogger("pyman")
STAT_HEADER = "X-Docker-Container-Path-Stat"
# what the engine refuses in an archive or a path: the client's doing (400), not ours
REFUSALS = ("refusing archive member", "broken archive", "must be a (compressed) tar",
            "must be a directory", "zstd-compressed")


def _path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise BadRequest("missing `path` parameter")
    if "\0" in path:
        raise BadRequest("path: a NUL byte is not allowed")
    depth = 0
    for part in path.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise BadRequest(f"path {path!r} climbs out of the container's root with "
                                 "\"..\": name a path inside it")
        elif part not in ("", "."):
            depth += 1
    return path


def _archives(request: web.Request) -> Any:
    from pyman.engine.copy.archive import PathArchive

    return PathArchive(engine(request).paths)


async def _refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    from pyman.errors import NotADirectory, PathMissing

    try:
        return await handler(request)
    except PathMissing as exc:
        return answer(404, str(exc))
    except NotADirectory as exc:
        return answer(400, str(exc))
    except BadRequest:
        raise
    except PymanError as exc:
        if any(r in str(exc) for r in REFUSALS):
            return answer(400, str(exc))
        raise


async def _stat(request: web.Request) -> tuple[Any, str, dict[str, Any], str]:
    service = _archives(request)
    key, path = request.match_info["id"], _path(request)
    found = await blocking(service.stat, key, path)
    header = base64.urlsafe_b64encode(json.dumps(found).encode()).decode()
    return service, key, found, header


async def head(request: web.Request) -> web.StreamResponse:
    async def work(request: web.Request) -> web.StreamResponse:
        _, _, _, header = await _stat(request)
        return web.Response(status=200, headers={STAT_HEADER: header})

    return await _refusals(request, work)


async def get(request: web.Request) -> web.StreamResponse:
    async def work(request: web.Request) -> web.StreamResponse:
        service, key, _, header = await _stat(request)
        r, w = os.pipe2(os.O_CLOEXEC)

        def produce() -> None:
            try:
                service.get(key, request.query["path"], w, r)
            finally:
                os.close(w)

        task = asyncio.get_running_loop().run_in_executor(None, produce)
        response = web.StreamResponse(headers={STAT_HEADER: header,
                                               "Content-Type": "application/x-tar"})
        await response.prepare(request)
        try:
            await drain(r, response)
        finally:
            try:
                await task
            except PymanError as exc:  # the status has gone out: the log says it
                log.error("archive of %s:%s: %s", key, request.query["path"], exc)
        await response.write_eof()
        return response

    return await _refusals(request, work)


async def put(request: web.Request) -> web.StreamResponse:
    async def work(request: web.Request) -> web.StreamResponse:
        service = _archives(request)
        key, path = request.match_info["id"], _path(request)
        overwrite = not flag(request, "noOverwriteDirNonDir")
        chown = flag(request, "copyUIDGID")
        r, w = os.pipe2(os.O_CLOEXEC)

        def consume() -> None:
            with os.fdopen(r, "rb") as stream:
                service.put(key, path, stream, overwrite=overwrite, chown=chown)

        loop = asyncio.get_running_loop()
        task = loop.run_in_executor(None, consume)
        feeder = asyncio.ensure_future(feed(request, w))
        await asyncio.wait([task, feeder], return_when=asyncio.FIRST_COMPLETED)
        if task.done() and not feeder.done():  # it failed early: the rest is not needed
            feeder.cancel()
        await asyncio.gather(task, feeder, return_exceptions=True)
        task.result()  # its error, if any, is the answer
        return web.Response(status=200)

    return await _refusals(request, work)


ROUTES: list[tuple[str, str, Handler]] = [
    ("HEAD", "/containers/{id}/archive", head), ("GET", "/containers/{id}/archive", get),
    ("PUT", "/containers/{id}/archive", put),
]
