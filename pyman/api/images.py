"""Images: list, pull (create, with Docker's progress JSON), inspect, tag, delete."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from pyman.api.common import blocking, engine, filters, flag
from pyman.api.errors import BadRequest
from pyman.engine.types import PullOptions
from pyman.errors import PymanError


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    """`podman images --format json`'s entry in the Docker API's shape."""
    return {"Id": f"sha256:{doc['Id']}", "ParentId": "",
            "RepoTags": doc.get("Names") or ["<none>:<none>"],
            "RepoDigests": doc.get("RepoDigests") or [], "Created": doc["Created"],
            "Size": doc["Size"], "SharedSize": -1, "VirtualSize": doc["VirtualSize"],
            "Labels": doc.get("Labels") or {}, "Containers": doc.get("Containers", -1)}


async def list_images(request: web.Request) -> web.Response:
    from pyman.engine.images.reports import images_json

    eng = engine(request)
    specs = [f"{k}={v}" for k, vs in filters(request).items() for v in vs]

    def work() -> list[dict[str, Any]]:
        views = eng.images.views(filters=specs, containers=eng.containers.using_image)
        return [_summary(images_json(v)) for v in views]

    return web.json_response(await blocking(work))


class _Progress:
    """The engine's pull events as Docker's JSON lines, handed to the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any]) -> None:
        self.loop, self.queue = loop, queue
        self.shown: dict[str, int] = {}

    def _put(self, doc: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, doc)

    def started(self, name: str) -> None:
        self._put({"status": f"Trying to pull {name}..."})

    def __call__(self, digest: str, done: int, total: int) -> None:
        short = digest.split(":")[-1][:12]
        percent = done * 10 // max(total, 1)  # a line per tenth: not one per chunk
        if self.shown.get(short) == percent and done != total:
            return
        self.shown[short] = percent
        status = "Download complete" if done == total else "Downloading"
        self._put({"status": status, "id": short,
                   "progressDetail": {"current": done, "total": total}})

    def warn(self, message: str) -> None:
        self._put({"status": f"Warning: {message}"})

    def finished(self, config_digest: str) -> None:
        self._put({"status": f"Digest: {config_digest}"})


async def pull(request: web.Request) -> web.StreamResponse:
    image = request.query.get("fromImage")
    if not image:
        raise BadRequest("fromImage: the image to pull is required (import is not supported)")
    tag = request.query.get("tag")
    if tag and "@" not in image:
        image = f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"
    eng = engine(request)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    progress = _Progress(loop, queue)
    done = object()

    def work() -> None:
        try:
            rec = eng.images.pull(PullOptions(image), progress)
            progress._put({"status": f"Status: Downloaded newer image for {image}",
                           "id": rec.id})
        except PymanError as exc:
            progress._put({"error": str(exc), "errorDetail": {"message": str(exc)}})
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, done)

    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    task = loop.run_in_executor(None, work)
    while (doc := await queue.get()) is not done:
        await response.write(json.dumps(doc).encode() + b"\r\n")
    await task
    await response.write_eof()
    return response


async def inspect(request: web.Request) -> web.Response:
    doc = await blocking(engine(request).images.inspect, request.match_info["name"])
    doc["Id"] = f"sha256:{doc['Id']}" if not str(doc["Id"]).startswith("sha256:") else doc["Id"]
    doc.setdefault("Container", "")
    doc.setdefault("ContainerConfig", doc.get("Config") or {})
    return web.json_response(doc)


async def tag(request: web.Request) -> web.Response:
    repo = request.query.get("repo")
    if not repo:
        raise BadRequest("repo: the new name is required")
    name = f"{repo}:{request.query.get('tag') or 'latest'}"
    await blocking(engine(request).images.tag, request.match_info["name"], [name])
    return web.Response(status=201)


async def delete(request: web.Request) -> web.Response:
    eng = engine(request)
    lines = await blocking(lambda: eng.images.remove(
        request.match_info["name"], eng.containers.using_image, force=flag(request, "force")))
    out = []
    for line in lines:
        kind, _, what = line.partition(": ")
        out.append({"Untagged": what} if kind == "Untagged" else {"Deleted": f"sha256:{what}"})
    return web.json_response(out)
