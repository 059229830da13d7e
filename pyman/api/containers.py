"""Containers: create, start, stop, kill, restart, wait, logs, list, inspect, delete."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Any

from aiohttp import web

from pyman.api.common import blocking, body, engine, filters, flag, frame, number
from pyman.api.errors import BadRequest
from pyman.api.translate import run_options
from pyman.errors import PymanError

STREAMS = {"stdout": 1, "stderr": 2}


async def create(request: web.Request) -> web.Response:
    eng = engine(request)
    opts = run_options(await body(request), request.query.get("name"))

    def work() -> str:
        eng.containers.precheck(opts)
        image = eng.images.get_or_pull(opts.image, "missing")
        return eng.containers.create(opts, image).id

    return web.json_response({"Id": await blocking(work), "Warnings": []}, status=201)


async def start(request: web.Request) -> web.Response:
    eng = engine(request)
    key = request.match_info["id"]

    def work() -> bool:
        if eng.containers.live_state(eng.containers.store.find(key).id).status == "running":
            return False
        eng.containers.start_key(key)
        return True

    return web.Response(status=204 if await blocking(work) else 304)


async def stop(request: web.Request) -> web.Response:
    eng = engine(request)
    key = request.match_info["id"]
    timeout = number(request, "t")

    def work() -> bool:
        running = eng.containers.live_state(eng.containers.store.find(key).id).status
        if running not in ("running", "paused", "starting"):
            return False
        eng.containers.stop(key, None if timeout is None else float(timeout))
        return True

    return web.Response(status=204 if await blocking(work) else 304)


async def kill(request: web.Request) -> web.Response:
    name = request.query.get("signal") or "SIGKILL"
    try:
        sig = int(name) if name.isdigit() else signal.Signals[
            name if name.startswith("SIG") else f"SIG{name}"].value
    except KeyError:
        raise BadRequest(f"signal: {name!r} is not a signal") from None
    await blocking(engine(request).containers.kill, request.match_info["id"], sig)
    return web.Response(status=204)


async def restart(request: web.Request) -> web.Response:
    timeout = number(request, "t")
    await blocking(engine(request).containers.restart, request.match_info["id"],
                   None if timeout is None else float(timeout))
    return web.Response(status=204)


async def wait(request: web.Request) -> web.StreamResponse:
    """condition=not-running (default), next-exit (docker run asks before it starts the
    container), removed."""
    eng = engine(request)
    key = request.match_info["id"]
    condition = request.query.get("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise BadRequest(f"condition: {condition!r}: not-running, next-exit or removed")
    cid = (await blocking(eng.containers.store.find, key)).id

    def state() -> tuple[str, int | None]:
        try:
            if eng.containers.store.load(cid) is not None:
                st = eng.containers.live_state(cid)
                return st.status, st.exit_code
        except PymanError:  # its --rm monitor is deleting it right now
            pass
        return "removed", _kept_exit_code(eng, cid)

    status, code = await blocking(state)
    seen_running = status in ("running", "starting", "restarting", "paused")
    # the headers go out now, the body at the exit: `docker run` waits for them before it
    # starts the container
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    while True:
        done = (status == "removed" if condition == "removed"
                else status in ("exited", "removed") and (seen_running or condition ==
                                                           "not-running"))
        if done:
            await response.write(json.dumps({"StatusCode": code or 0, "Error": None}).encode()
                                 + b"\n")
            await response.write_eof()
            return response
        await asyncio.sleep(0.05)
        last_code = code
        status, code = await blocking(state)
        code = last_code if code is None else code
        seen_running = seen_running or status in ("running", "starting", "restarting")


def settled_status(eng: Any, cid: str) -> str:
    """The container's status; once it has exited, only after its monitor is gone (it
    writes the last output to the log, then records the exit)."""
    try:
        if eng.containers.store.load(cid) is None:
            return "removed"
        st = eng.containers.live_state(cid)
    except PymanError:  # its --rm monitor is deleting it right now
        return "removed"
    if st.status in ("exited", "stopped"):
        eng.containers.states.wait_monitor_gone(st)
    return str(st.status)


def _kept_exit_code(eng: Any, cid: str) -> int | None:
    """An --rm container's exit code, kept by its monitor (config.Paths.exits); entries
    older than 5 minutes go, as Podman forgets them."""
    exits = eng.paths.exits
    try:
        with os.scandir(exits) as entries:
            for e in entries:
                if time.time() - e.stat().st_mtime > 300:
                    os.unlink(e.path)
        text = (exits / cid).read_text()
    except OSError:
        return None
    return int(text) if text.strip().lstrip("-").isdigit() else None


async def logs(request: web.Request) -> web.StreamResponse:
    from pyman.engine.containers.logs import LogReader, parse_since

    eng = engine(request)
    key = request.match_info["id"]
    c, st = await blocking(eng.containers.get, key)
    wanted = {name for name in STREAMS if flag(request, name)}
    if not wanted:
        raise BadRequest("you must choose at least one stream (stdout=1 or stderr=1)")
    path = eng.containers.log_file(c)
    if not path:
        raise BadRequest(f"container {c.name} keeps no log (log driver {c.log_driver})")
    tail_text = request.query.get("tail") or "all"
    tail = -1 if tail_text == "all" else (number(request, "tail", -1) or 0)
    since = request.query.get("since")
    since_ns = parse_since(since) if since and since != "0" else None
    stamps = flag(request, "timestamps")
    follow = flag(request, "follow")
    response = web.StreamResponse(headers={
        "Content-Type": "application/vnd.docker.raw-stream" if c.tty
        else "application/vnd.docker.multiplexed-stream"})
    await response.prepare(request)
    reader = LogReader(path)
    held = -1  # the log, open: a client may remove the container before it has read all

    def batch(first: bool) -> list[bytes]:
        nonlocal held
        if held < 0:
            try:
                held = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                reader.path = f"/proc/self/fd/{held}"  # the same file, even once unlinked
            except FileNotFoundError:
                pass  # made when the container starts
        out = []
        for ts, stream, full, text in reader.read(tail if first else -1, since_ns):
            if stream not in wanted:
                continue
            data = (f"{ts} ".encode() if stamps and ts else b"") + text + (b"\n" if full
                                                                           else b"")
            out.append(data if c.tty else frame(STREAMS[stream], data))
        return out

    # the run followed (its start time): Docker's follow ends with it, even when a restart
    # policy starts the next (compose follows that one with a stream of its own)
    run = st.started_at if st.status in ("running", "paused") else None

    def ended() -> bool:
        nonlocal run
        started = eng.containers.store.state(c.id).started_at  # first: see attach's state()
        status = settled_status(eng, c.id)
        # Docker's and Podman's rule: only a running container is followed (a created
        # one too is read to the end); the stream ends when it stops or is removed
        if status not in ("running", "starting", "restarting", "paused"):
            return True
        if status in ("running", "paused"):
            run = started if run is None else run
            return started != run
        return status == "restarting" and run is not None

    first = True
    try:
        while True:
            for chunk in await blocking(batch, first):
                await response.write(chunk)
            first = False
            if not follow:
                break
            if await blocking(ended):
                for chunk in await blocking(batch, False):  # what came with the exit
                    await response.write(chunk)
                break
            await asyncio.sleep(0.1)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client stopped following: nothing to tell it
    finally:
        if held >= 0:
            os.close(held)
    return response


def _summary(eng: Any, c: Any, now: float) -> dict[str, Any]:
    status = c.status
    if status == "exited":
        human = f"Exited ({c.exit_code or 0}) {int(now - (c.finished_at or now))} seconds ago"
    elif status == "running":
        human = f"Up {int(now - (c.started_at or now))} seconds"
    else:
        human = status.capitalize()
    ports = []
    for p in c.ports or []:
        host_ports = p.get("host_port") if isinstance(p, dict) else None
        if host_ports is not None:
            ports.append({"IP": p.get("host_ip") or "0.0.0.0",
                          "PrivatePort": p.get("container_port"), "PublicPort": host_ports,
                          "Type": p.get("protocol", "tcp")})
    return {"Id": c.id, "Names": [f"/{c.name}"], "Image": c.image, "ImageID":
            f"sha256:{c.image_id}", "Command": " ".join(c.command), "Created": int(c.created),
            "State": status, "Status": human, "Ports": ports, "Labels": c.labels or {},
            "SizeRw": 0, "SizeRootFs": 0, "HostConfig": {"NetworkMode": "default"},
            "NetworkSettings": {"Networks": {}}, "Mounts": []}


async def list_containers(request: web.Request) -> web.Response:
    eng = engine(request)
    show_all = flag(request, "all")
    limit = number(request, "limit", -1) or -1
    wanted = filters(request)

    def work() -> list[dict[str, Any]]:
        now = time.time()
        items = sorted(eng.containers.summaries(all_=show_all), key=lambda c: -c.created)
        out = []
        for c in items:
            if not _matches(c, wanted):
                continue
            out.append(_summary(eng, c, now))
        return out if limit < 0 else out[:limit]

    return web.json_response(await blocking(work))


def _matches(c: Any, wanted: dict[str, list[str]]) -> bool:
    for key, values in wanted.items():
        if key == "id" and not any(c.id.startswith(v) for v in values):
            return False
        if key == "name" and not any(v in c.name for v in values):
            return False
        if key == "status" and c.status not in values:
            return False
        if key == "label":
            for v in values:
                k, eq, val = v.partition("=")
                if k not in c.labels or (eq and c.labels[k] != val):
                    return False
    return True


async def inspect(request: web.Request) -> web.Response:
    from pyman.engine.containers.inspect import container_inspect

    eng = engine(request)

    def work() -> dict[str, Any]:
        c, st = eng.containers.get(request.match_info["id"])
        svc = eng.containers
        return container_inspect(c, st, static_dir=str(svc.store.dir(c.id)),
                                 run_dir=str(svc.store.run_dir(c.id)))

    doc = await blocking(work)
    doc["Name"] = "/" + str(doc.get("Name", "")).lstrip("/")
    config = doc.get("Config")
    if isinstance(config, dict) and isinstance(config.get("StopSignal"), int):
        # Podman's inspect gives the number; Docker's clients read a name ("SIGTERM")
        try:
            config["StopSignal"] = signal.Signals(config["StopSignal"]).name
        except ValueError:
            config["StopSignal"] = str(config["StopSignal"])
    state = doc.get("State")
    if isinstance(state, dict) and not (state.get("Health") or {}).get("Status"):
        # no healthcheck: Docker leaves Health out (docker-compose ps shows "Up ()" for
        # an empty one)
        state.pop("Health", None)
    log = doc.get("HostConfig", {}).get("LogConfig")
    if isinstance(log, dict) and log.get("Type") == "k8s-file":
        # the same thing to a Docker client: a file the logs endpoint reads (docker-py
        # streams the output of an attached run only from json-file or journald)
        log["Type"] = "json-file"
    return web.json_response(doc)


async def delete(request: web.Request) -> web.Response:
    eng = engine(request)
    key = request.match_info["id"]
    await blocking(lambda: eng.containers.remove(key, force=flag(request, "force"),
                                                  timeout=10, volumes=flag(request, "v")))
    return web.Response(status=204)
