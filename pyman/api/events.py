"""GET /events: the engine's events log as Docker's event messages, streamed.

``since``/``until`` (unix seconds with a fraction, RFC 3339, Go durations) read the log
from its start, as Podman's compat API does; without them only new events come. The stream
ends at ``until``, when the client goes, or (``stream=false``, libpod's) at the log's end.
A thread of its own follows the log (it waits on inotify): a stream that lasts as long as
its client must not hold one of the few workers the other handlers share."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from aiohttp import web

from pyman.api.common import filters, flag
from pyman.api.errors import BadRequest, Handler
from pyman.errors import PymanError

Event = dict[str, Any]
KEYS = ("container", "image", "volume", "network", "pod", "type", "event", "label", "scope")


def docker_event(ev: Event) -> Event:
    """A log line as Docker's events.Message (Podman's compat conversion: image remove
    is delete, died is die with exitCode; every event carries image, name,
    containerExitCode and podId in its attributes)."""
    kind, status = str(ev.get("Type", "")), str(ev.get("Status", ""))
    attrs = {str(k): str(v) for k, v in (ev.get("Attributes") or {}).items()}
    attrs.update(image=str(ev.get("Image") or ""), name=str(ev.get("Name") or ""),
                 containerExitCode=str(ev.get("ContainerExitCode") or 0),
                 podId=str(ev.get("PodID") or ""))
    if ev.get("network"):
        attrs["network"] = str(ev["network"])
    if kind == "image" and status == "remove":
        status = "delete"
    if status == "died":
        status = "die"
        attrs["exitCode"] = attrs["containerExitCode"]
    actor = str(ev.get("ID") or (ev.get("Name") if kind == "volume" else "") or "")
    out: Event = {"status": status, "id": actor, "from": str(ev.get("Image") or ""),
                  "Type": kind, "Action": status, "Actor": {"ID": actor, "Attributes": attrs},
                  "scope": "local", "time": ev["_ns"] // 1_000_000_000, "timeNano": ev["_ns"]}
    for key in ("status", "id", "from"):  # omitempty, as Go writes them
        if not out[key]:
            del out[key]
    if ev.get("health_status"):
        out["HealthStatus"] = ev["health_status"]
    return out


def _matches_one(key: str, value: str, ev: Event) -> bool:
    attrs: dict[str, str] = ev["Actor"]["Attributes"]
    actor, kind = str(ev["Actor"]["ID"]), str(ev["Type"])

    def named(wanted_kind: str) -> bool:
        return kind == wanted_kind and bool(value) and (
            value in (attrs.get("name"), actor) or actor.startswith(value))

    if key in ("container", "pod", "volume"):
        return named(key)
    if key == "network":
        return kind == "network" and value in (attrs.get("network"), actor)
    if key == "image":
        return value in (ev.get("from"), attrs.get("image")) or (
            kind == "image" and bool(value) and actor.startswith(value))
    if key == "type":
        return kind == value
    if key == "event":
        return str(ev["Action"]) == value
    if key == "label":
        name, eq, want = value.partition("=")
        return name in attrs and (not eq or attrs[name] == want)
    return value == "local"  # scope


def _check(wanted: dict[str, list[str]]) -> None:
    for key in wanted:
        if key not in KEYS:
            raise BadRequest(f"filters: invalid filter {key!r} ({', '.join(KEYS)})")


def matches(ev: Event, wanted: dict[str, list[str]]) -> bool:
    """Docker's rule: values of one key are alternatives, keys all apply."""
    return all(any(_matches_one(k, v, ev) for v in values) for k, values in wanted.items())


async def events(request: web.Request) -> web.StreamResponse:
    from pyman.engine.system.events import log, make_filters, parse_input_time, read, to_json

    wanted = filters(request)
    _check(wanted)
    since, until = request.query.get("since") or None, request.query.get("until") or None
    try:
        groups = make_filters([], since, until)
        until_ns = parse_input_time(until, False) if until else None
    except PymanError as exc:
        raise BadRequest(str(exc)) from None
    stream = flag(request, "stream", True)
    backend, path = log()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event | PymanError | None] = asyncio.Queue()
    gone = threading.Event()

    def follow() -> None:
        item: Event | PymanError | None = None
        try:
            if backend != "none":
                for ev in read(path, groups, stream=stream, from_start=bool(since or until)
                               or not stream, until_ns=until_ns, stopped=gone.is_set):
                    if gone.is_set():
                        return
                    loop.call_soon_threadsafe(queue.put_nowait, ev)
        except PymanError as exc:
            item = exc
        finally:
            if not gone.is_set():
                loop.call_soon_threadsafe(queue.put_nowait, item)

    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)  # the headers now: clients wait for them
    threading.Thread(target=follow, name="events", daemon=True).start()
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=1.0)
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    break  # the client has gone
                continue
            if item is None:
                break
            if isinstance(item, PymanError):  # the status went out already: say it last
                await response.write(json.dumps({"message": str(item)}).encode() + b"\n")
                break
            doc = docker_event(item)
            if matches(doc, wanted):
                await response.write(to_json(doc).encode() + b"\n")
        await response.write_eof()
    except ConnectionResetError:
        pass
    finally:
        gone.set()
    return response


ROUTES: list[tuple[str, str, Handler]] = [("GET", "/events", events)]
