"""`POST /containers/{id}/attach`, hijacked: the connection becomes the container's output
stream (101 UPGRADED, then Docker's multiplexed frames, or raw bytes with a terminal).

`docker run` attaches before it starts the container, so the output is read from the
container's log as it is written, from where the log ended at the attach: nothing written
between the start and the first read is lost, and the file is held open, so an --rm
container removed at its exit is still read to its end. Input (stdin=1) goes to the
container through its monitor's attach socket once it runs (api/interactive.py)."""

from __future__ import annotations

import asyncio
import os
import threading

from aiohttp import web

from pyman.api.common import blocking, engine, flag, frame, hijack, release
from pyman.api.containers import settled_status
from pyman.api.errors import BadRequest
from pyman.engine.containers.logs import _parse as parse_record

STREAMS = {"stdout": 1, "stderr": 2}
ALIVE = ("running", "starting", "restarting", "paused")


class LogFollower:
    """The log file, held open once it exists; complete records as they come."""

    def __init__(self, path: str, *, from_start: bool) -> None:
        self.path, self.fd, self.rest = path, -1, b""
        self.from_start = from_start
        if not from_start:
            try:
                self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                os.lseek(self.fd, 0, os.SEEK_END)  # what was written before is not ours
            except FileNotFoundError:
                pass  # made at the start: read whole then

    def read(self, wanted: set[str], tty: bool) -> list[bytes]:
        if self.fd < 0:
            try:
                self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return []
        out = []
        while chunk := os.read(self.fd, 65536):
            self.rest += chunk
        *lines, self.rest = self.rest.split(b"\n")
        for line in lines:
            entry = parse_record(line)
            if entry is None or entry[1] not in wanted:
                continue
            _, stream, full, text = entry
            data = text + (b"\n" if full else b"")
            out.append(data if tty else frame(STREAMS[stream], data))
        return out

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


async def attach(request: web.Request) -> web.StreamResponse:
    eng = engine(request)
    key = request.match_info["id"]
    c, st = await blocking(eng.containers.get, key)
    wanted = {s for s in STREAMS if flag(request, s)}
    path = eng.containers.log_file(c)
    if not path:
        raise BadRequest(f"container {c.name} keeps no log (log driver {c.log_driver}): "
                         "attach needs one")
    # a stopped container too: the output of its next run comes (Docker's server waits; it
    # is docker's client that refuses; compose's `up` attaches before it starts one again)
    follower = LogFollower(path, from_start=st.status == "created")
    first_start = st.started_at
    conn = await hijack(request, "raw-stream" if c.tty else "multiplexed-stream")
    loop = asyncio.get_running_loop()
    cid = c.id

    def state() -> tuple[str, bool]:
        """Its status, and whether it has started since the attach: that first, so the
        status read after it is of the new run (an exit seen first could be the old one's
        with the start coming in between)."""
        restarted = eng.containers.store.state(cid).started_at != first_start
        return settled_status(eng, cid), restarted

    async def send(chunks: list[bytes]) -> None:
        for chunk in chunks:
            await loop.sock_sendall(conn, chunk)

    seen_running = st.status in ALIVE
    done = threading.Event()
    if flag(request, "stdin") and (c.interactive or c.tty):
        from pyman.api.interactive import container_stdin, start_thread

        start_thread(container_stdin, str(eng.containers.store.run_dir(cid)), conn, done)
    try:
        while True:
            await send(await blocking(follower.read, wanted, c.tty))
            status, restarted = await blocking(state)
            seen_running = seen_running or status in ALIVE or restarted
            if status == "removed" or (status == "exited" and seen_running):
                await send(await blocking(follower.read, wanted, c.tty))  # the exit's last
                break
            await asyncio.sleep(0.05)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client went away: nothing to tell it
    finally:
        done.set()
        follower.close()
        release(request, conn)
    return web.Response(status=101)  # nothing more goes out: the connection is closed
