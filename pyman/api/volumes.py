"""Volumes: list, inspect, create, delete, prune, over the engine's VolumeService."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyman.api.common import blocking, body, engine, filters, flag
from pyman.api.errors import ApiError, BadRequest, Handler
from pyman.engine import Engine
from pyman.errors import PymanError

DOCKER_FILTERS = ("name", "label", "driver", "dangling")


def _doc(eng: Engine, rec: Any) -> dict[str, Any]:
    """Docker's Volume: Podman's document without its own fields (Anonymous, MountCount,
    NeedsCopyUp ...), as Podman's compat API gives it."""
    full = eng.volumes.inspect(rec)
    return {k: full[k] for k in ("CreatedAt", "Driver", "Labels", "Mountpoint", "Name",
                                 "Options", "Scope")}


def _filter_words(wanted: dict[str, list[str]], allowed: tuple[str, ...]) -> list[str]:
    out = []
    for key, values in wanted.items():
        if key not in allowed:
            raise BadRequest(f"filters: invalid filter {key!r} ({', '.join(allowed)})")
        out += [f"{key}={v}" for v in values]
    return out


async def list_volumes(request: web.Request) -> web.Response:
    eng = engine(request)
    words = _filter_words(filters(request), DOCKER_FILTERS)

    def work() -> list[dict[str, Any]]:
        return [_doc(eng, r) for r in eng.volumes.ls(words)]

    return web.json_response({"Volumes": await blocking(work), "Warnings": []})


async def inspect(request: web.Request) -> web.Response:
    eng = engine(request)
    name = request.match_info["name"]
    return web.json_response(await blocking(lambda: _doc(eng, eng.volumes.get(name))))


def _strings(doc: dict[str, Any], key: str) -> dict[str, str]:
    value = doc.get(key) or {}
    if not isinstance(value, dict):
        raise BadRequest(f"{key}: an object is expected")
    return {str(k): str(v) for k, v in value.items()}


async def create(request: web.Request) -> web.Response:
    """Docker's create is idempotent: an existing volume of that name is the answer."""
    eng = engine(request)
    doc = await body(request)
    if not isinstance(doc, dict):
        raise BadRequest("the request body must be a JSON object")
    name = doc.get("Name") or None
    if name is not None and not isinstance(name, str):
        raise BadRequest("Name: a string is expected")
    driver = doc.get("Driver") or "local"
    if not isinstance(driver, str):
        raise BadRequest("Driver: a string is expected")
    labels, options = _strings(doc, "Labels"), _strings(doc, "DriverOpts")

    def work() -> dict[str, Any]:
        if name and eng.volumes.exists(name):
            return _doc(eng, eng.volumes.get(name))
        try:
            rec = eng.volumes.create(name, labels=labels, options=options, driver=driver,
                                     ignore=True)
        except PymanError as exc:
            raise BadRequest(str(exc)) from None
        return _doc(eng, rec)

    return web.json_response(await blocking(work), status=201)


async def delete(request: web.Request) -> web.Response:
    """In use: 409, unless force (Podman's: the containers using it go first)."""
    from pyman.errors import VolumeInUseError

    eng = engine(request)
    name = request.match_info["name"]
    force = flag(request, "force")

    def work() -> None:
        try:
            eng.volumes.remove(name, force=force, remove_container=lambda cid: (
                eng.containers.remove(cid, force=True)))
        except VolumeInUseError as exc:
            raise ApiError(409, str(exc)) from None

    await blocking(work)
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    eng = engine(request)
    words = _filter_words(filters(request), ("label", "until"))
    removed = await blocking(eng.volumes.prune, words)
    return web.json_response({"VolumesDeleted": removed, "SpaceReclaimed": 0})


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/volumes", list_volumes), ("POST", "/volumes/create", create),
    ("POST", "/volumes/prune", prune), ("GET", "/volumes/{name}", inspect),
    ("DELETE", "/volumes/{name}", delete),
]
