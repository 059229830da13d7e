"""`/containers/{id}/top` (psgo's descriptors, or ps(1) in the container for other
arguments, as Podman) and `/containers/{id}/stats` (one reading, or a stream of them)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from pyman.api.common import blocking, engine, flag
from pyman.api.errors import Handler
from pyman.errors import ContainerStateError, PymanError


async def top(request: web.Request) -> web.Response:
    from pyman.engine.containers.top import parse_descriptors

    eng = engine(request)
    key = request.match_info["id"]
    words = (request.query.get("ps_args") or "").split()
    wanted = parse_descriptors(words)
    if wanted is not None:
        rows = await blocking(eng.top.top, key, wanted)
        return web.json_response({"Titles": rows[0], "Processes": rows[1:]})
    return web.json_response(await blocking(_ps, eng, key, words))


def _ps(eng: Any, key: str, words: list[str]) -> dict[str, Any]:
    """ps(1) with the client's arguments in the container, its table as Titles/Processes."""
    import os
    import threading

    from pyman.engine.containers.exec import ExecOptions

    r, w = os.pipe2(os.O_CLOEXEC)
    got: list[bytes] = []

    def collect() -> None:  # meanwhile: a long table must not fill the pipe and block ps
        with os.fdopen(r, "rb") as f:
            got.append(f.read())

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        result = eng.exec.run(key, ExecOptions(command=["ps", *words], stdout_fd=w,
                                               stderr_fd=w))
    finally:
        os.close(w)
        reader.join()
    text = b"".join(got).decode(errors="replace")
    if result.exit_code:
        raise PymanError(f"ps {' '.join(words)} in the container failed: {text.strip()}")
    lines = text.splitlines()
    titles = lines[0].split() if lines else []
    procs = [line.split(None, max(len(titles) - 1, 0)) for line in lines[1:] if line.strip()]
    return {"Titles": titles, "Processes": procs}


async def stats(request: web.Request) -> web.StreamResponse:
    """stream=false: one document; with one-shot=false (Docker's default) after a second
    reading, so precpu_stats lets the client compute a CPU percentage."""
    from pyman.engine.containers.stats import StatsService

    service = StatsService(engine(request).paths)
    key = request.match_info["id"]
    stream = flag(request, "stream", True)
    one_shot = flag(request, "one-shot")
    first = await blocking(service.sample, key)
    first["precpu_stats"] = {"cpu_usage": {"total_usage": 0}, "throttling_data": {}}
    if not stream:
        if not one_shot:
            await asyncio.sleep(1)
            first = _next(first, await blocking(service.sample, key))
        return web.json_response(first)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    try:
        while True:
            await response.write(json.dumps(first).encode() + b"\n")
            await asyncio.sleep(1)
            try:
                first = _next(first, await blocking(service.sample, key))
            except (ContainerStateError, PymanError):
                break  # it stopped or went: the stream ends
        await response.write_eof()
    except ConnectionResetError:
        pass
    return response


def _next(before: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    now["precpu_stats"], now["preread"] = before["cpu_stats"], before["read"]
    return now


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/containers/{id}/top", top), ("GET", "/containers/{id}/stats", stats),
]
