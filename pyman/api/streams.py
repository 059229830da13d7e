"""Bytes between an HTTP body and a pipe the engine reads or writes in a worker thread,
moved by the event loop itself (non-blocking pipes: no worker is held for the copying, so
busy transfers never starve the engine's calls of threads), a chunk at a time: nothing is
held whole in memory."""

from __future__ import annotations

import asyncio
import os
from typing import IO

from aiohttp import web

CHUNK = 1 << 16


async def feed(request: web.Request, fd: int) -> None:
    """The request body into ``fd`` (closed at the end); stops quietly when the reader has
    gone (it failed, and says why)."""
    loop = asyncio.get_running_loop()
    pipe = os.fdopen(fd, "wb", buffering=0)
    try:
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, pipe)
    except BaseException:
        pipe.close()
        raise
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    try:
        async for chunk in request.content.iter_chunked(CHUNK):
            if transport.is_closing():
                break
            writer.write(chunk)
            await writer.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        transport.close()


async def drain(fd: int, response: web.StreamResponse) -> None:
    """What the engine writes into the pipe ``fd`` (read end, closed at the end), on to the
    client as it comes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=CHUNK)
    pipe: IO[bytes] = os.fdopen(fd, "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        while chunk := await reader.read(CHUNK):
            await response.write(chunk)
    finally:
        transport.close()
