"""What every handler uses: the engine, blocking calls off the event loop, request bodies,
query flags as Docker clients write them, and the multiplexed stream format."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from pyman.api.errors import BadRequest
from pyman.engine import Engine

T = TypeVar("T")
ENGINE: web.AppKey[Engine] = web.AppKey("engine", Engine)
API_VERSION = "1.41"
MIN_API_VERSION = "1.24"


def engine(request: web.Request) -> Engine:
    return request.app[ENGINE]


async def blocking(fn: Callable[..., T], *args: Any) -> T:
    """The engine's calls take file locks, fork and wait: never on the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def body(request: web.Request) -> Any:
    if not request.can_read_body:
        return {}
    try:
        return await request.json(loads=json.loads)
    except ValueError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None


def flag(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    return value.lower() in ("1", "true", "yes", "")


def number(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except ValueError:
        raise BadRequest(f"{name}: {value!r} is not a number") from None


def filters(request: web.Request) -> dict[str, list[str]]:
    """The ``filters`` query: {"key": ["v", ...]} (or Docker's older {"key": {"v": true}})."""
    raw = request.query.get("filters")
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError:
        raise BadRequest(f"filters: not JSON: {raw[:100]}") from None
    if not isinstance(doc, dict):
        raise BadRequest("filters: a JSON object is expected")
    out: dict[str, list[str]] = {}
    for key, values in doc.items():
        if isinstance(values, dict):
            values = [k for k, on in values.items() if on]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise BadRequest(f"filters: {key}: a list of strings is expected")
        out[str(key)] = values
    return out


def frame(stream: int, data: bytes) -> bytes:
    """One frame of Docker's multiplexed stream: 1 stdout, 2 stderr."""
    return struct.pack(">BxxxL", stream, len(data)) + data


async def hijack(request: web.Request, kind: str) -> socket.socket:
    """Take the connection over (attach, exec start): our own descriptor of its socket,
    taken before anything is sent (the client half-closes its side once its input is done,
    docker's CloseWrite, and the HTTP server then closes its transport: the output goes on
    through this one), and the status line written at once (the server would hold headers
    back until a body): 101 when the client asked for the upgrade, else 200."""
    transport = request.transport
    raw = transport.get_extra_info("socket") if transport is not None else None
    if raw is None:
        raise BadRequest(f"{request.path}: needs a stream connection (a unix or TCP socket)")
    conn = socket.socket(fileno=os.dup(raw.fileno()))
    conn.setblocking(False)
    if transport is not None:
        transport.pause_reading()  # what the client sends now is the process's input: ours
    upgrade = request.headers.get("Upgrade", "").lower() == "tcp"
    status = "101 UPGRADED" if upgrade else "200 OK"
    extra = "Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else ""
    await asyncio.get_running_loop().sock_sendall(conn, (
        f"HTTP/1.1 {status}\r\nContent-Type: application/vnd.docker.{kind}\r\n{extra}\r\n"
    ).encode())
    return conn


def release(request: web.Request, conn: socket.socket) -> None:
    """The hijacked connection's end: our side shut (the client reads the end of the
    output), the server's descriptor closed, and ours once the client's unread input is
    read away (closing a socket with input unread resets the connection: the client would
    lose the output's end)."""
    import threading

    try:
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    if request.transport is not None:
        request.transport.close()
    threading.Thread(target=_linger, args=(conn,), daemon=True).start()


def _linger(conn: socket.socket, seconds: float = 10) -> None:
    import select
    import time

    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([conn], [], [], left)
            if ready and not conn.recv(1 << 16):
                break
    except OSError:
        pass
    finally:
        conn.close()
