"""Input and terminals over hijacked connections (`docker exec -it`, `docker run -it`,
`docker attach`): what the client types goes to the process, a terminal's output goes back
raw, and window sizes follow (the resize endpoints).

The relays run in threads of their own with plain select loops (a session lasts as long as
the user likes: it must not hold one of the engine's worker threads). The connection stays
non-blocking for the event loop's side, so every read and write here waits with select."""

from __future__ import annotations

import os
import select
import signal
import socket
import threading
import time
from typing import Any

from aiohttp import web

from pyman.api.common import blocking, engine, number
from pyman.api.errors import BadRequest, Handler

CHUNK = 65536


def send_all(conn: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[conn.send(view):]
        except BlockingIOError:
            select.select([], [conn], [])


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [])


def recv(conn: socket.socket) -> bytes | None:
    """What the client sent; b"" at its end (or when it went); None: nothing after all."""
    try:
        return conn.recv(CHUNK)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _drain(master: int) -> bytes:
    out = b""
    while True:
        try:
            data = os.read(master, CHUNK)
        except OSError:  # EAGAIN: nothing more now; EIO: every slave side closed
            return out
        if not data:
            return out
        out += data


def tty_relay(conn: socket.socket, master: int, pidfd: int, stdin: bool) -> None:
    """An exec's terminal: keys to the pty, its output to the client, until the process
    exits. A client that goes away (its connection hung up, not only its input ended)
    hangs the terminal up (SIGHUP), as closing a terminal does, so a shell left behind ends."""
    os.set_blocking(master, False)
    poller = select.poll()
    for fd in (master, pidfd):
        poller.register(fd, select.POLLIN)
    # without input wanted, only the hang-up is watched (poll reports it unasked)
    poller.register(conn, select.POLLIN if stdin else 0)
    watching, reading = True, stdin

    def gone() -> None:
        nonlocal watching, reading
        if watching:
            poller.unregister(conn)
            watching = reading = False
            signal.pidfd_send_signal(pidfd, signal.SIGHUP)

    while True:
        events = dict(poller.poll())
        ev = events.get(conn.fileno(), 0) if watching else 0
        if ev & select.POLLIN and reading:
            data = recv(conn)
            if data == b"":  # no more input: a terminal has no end-of-file to pass on
                reading = False
                poller.modify(conn, 0)
            elif data:
                write_all(master, data)
        elif ev & (select.POLLHUP | select.POLLERR):
            gone()
        if master in events or pidfd in events:
            out = _drain(master)
            if out and watching:
                try:
                    send_all(conn, out)
                except OSError:
                    gone()
        if pidfd in events:
            return


def pump_stdin(conn: socket.socket, fd: int, done: threading.Event) -> None:
    """The client's input into ``fd`` (closed at its end: the process reads end-of-file)."""
    try:
        while not done.is_set():
            ready, _, _ = select.select([conn], [], [], 0.2)
            if not ready:
                continue
            data = recv(conn)
            if data == b"":
                return
            if data:
                write_all(fd, data)
    except OSError:
        pass  # nobody reads it any more (EPIPE): the process ended or closed its stdin
    finally:
        os.close(fd)


def container_stdin(run_dir: str, conn: socket.socket, done: threading.Event) -> None:
    """A container's input: once it runs, through its monitor's attach socket (the relay
    there passes it to the pipe or the pty); the output the monitor sends there too is
    dropped (the attach streams it from the log, from the moment of the attach)."""
    from pyman.engine.containers.monitor_client import connect_attach

    sock = None
    while not done.is_set():
        try:
            sock = socket.socket(fileno=connect_attach(run_dir))
            break
        except OSError:
            time.sleep(0.05)  # not started yet
    if sock is None:
        return
    reading = True
    try:
        while not done.is_set():
            ready, _, _ = select.select([sock] + ([conn] if reading else []), [], [], 0.2)
            if sock in ready:
                msg = sock.recv(CHUNK + 1)
                if not msg or msg[:1] == b"x":
                    return  # the container exited
            if conn in ready:
                data = recv(conn)
                if data == b"":
                    sock.send(b"e")
                    reading = False
                elif data:
                    for i in range(0, len(data), CHUNK):
                        sock.send(b"0" + data[i:i + CHUNK])
    except OSError:
        pass
    finally:
        sock.close()


def start_thread(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def _size(request: web.Request) -> tuple[int, int]:
    rows, cols = number(request, "h"), number(request, "w")
    if rows is None or cols is None or not (0 < rows < 65536 and 0 < cols < 65536):
        raise BadRequest("h and w: the terminal's rows and columns are required (1-65535)")
    return rows, cols


def resize_fd(fd: int, rows: int, cols: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


async def exec_resize(request: web.Request) -> web.Response:
    from pyman.api.exec import SESSIONS

    session = request.app[SESSIONS].get(request.match_info["id"])
    if session is None:
        raise web.HTTPNotFound(reason=f"No such exec instance: {request.match_info['id']}")
    rows, cols = _size(request)
    session["_size"] = (rows, cols)  # for a terminal not made yet: given at its start
    master = session.get("_master", -1)
    if master >= 0:
        try:
            resize_fd(master, rows, cols)
        except OSError:
            pass  # it ended meanwhile
    return web.Response(status=201)


async def container_resize(request: web.Request) -> web.Response:
    """The window size to the container's terminal, through its monitor's attach socket."""
    from pyman.engine.containers.monitor_client import connect_attach
    from pyman.errors import ContainerStateError

    eng = engine(request)
    rows, cols = _size(request)

    def work() -> None:
        c, st = eng.containers.get(request.match_info["id"])
        if st.status != "running":
            raise ContainerStateError(f"container {c.name} is not running: cannot resize "
                                      "its terminal")
        if not c.tty:
            return  # nothing to size, as Podman: no error
        try:
            with socket.socket(fileno=connect_attach(str(eng.containers.store.run_dir(c.id)))
                               ) as sock:
                sock.send(f"w{rows} {cols}".encode())
                # answered once the monitor has read our end (and so the size before it):
                # the docker CLI sends two sizes in a row, the last must win
                sock.shutdown(socket.SHUT_WR)
                sock.settimeout(2)
                while sock.recv(CHUNK + 1):
                    pass  # its output to attach clients: not ours to read
        except TimeoutError:
            pass  # a monitor this busy still gets it
        except OSError as exc:
            raise ContainerStateError(f"container {c.name}: its terminal cannot be "
                                      f"reached: {exc.strerror}") from None

    await blocking(work)
    return web.Response(status=200)


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/exec/{id}/resize", exec_resize),
    ("POST", "/containers/{id}/resize", container_resize),
]
