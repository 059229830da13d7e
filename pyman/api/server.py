"""The service: routes (versioned /v1.xx/... and unversioned), the listening socket (a
unix socket 0600 in the 0700 runtime dir, loopback TCP, or one systemd passed), and the
idle exit (--time)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from pathlib import Path

from aiohttp import web

from pyman.api import (
    archive,
    attach,
    containers,
    events,
    exec,
    image_io,
    images,
    interactive,
    networks,
    rename,
    system,
    top_stats,
    volumes,
)
from pyman.api.common import ENGINE
from pyman.api.errors import Handler, errors_as_json
from pyman.engine import Engine
from pyman.errors import PymanError

ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/_ping", system.ping), ("HEAD", "/_ping", system.ping),
    ("GET", "/version", system.version), ("GET", "/info", system.info),
    ("GET", "/images/json", images.list_images), ("POST", "/images/create", images.pull),
    ("GET", "/images/{name:.+}/json", images.inspect),
    ("POST", "/images/{name:.+}/tag", images.tag),
    ("DELETE", "/images/{name:.+}", images.delete),
    ("GET", "/containers/json", containers.list_containers),
    ("POST", "/containers/create", containers.create),
    ("GET", "/containers/{id}/json", containers.inspect),
    ("POST", "/containers/{id}/start", containers.start),
    ("POST", "/containers/{id}/stop", containers.stop),
    ("POST", "/containers/{id}/kill", containers.kill),
    ("POST", "/containers/{id}/restart", containers.restart),
    ("POST", "/containers/{id}/wait", containers.wait),
    ("GET", "/containers/{id}/logs", containers.logs),
    ("POST", "/containers/{id}/attach", attach.attach),
    ("POST", "/containers/{id}/exec", exec.create),
    ("POST", "/exec/{id}/start", exec.start), ("GET", "/exec/{id}/json", exec.inspect),
    ("DELETE", "/containers/{id}", containers.delete),
]
# each module's own list: fewer hands on this one
ROUTES += networks.ROUTES + volumes.ROUTES + events.ROUTES + rename.ROUTES
ROUTES += archive.ROUTES + top_stats.ROUTES + interactive.ROUTES + image_io.ROUTES
log = logging.getLogger("pyman")
MAX_BODY = 4 << 20  # a create body is a few KiB; more is refused with 413


class Idle:
    """Counts requests in flight; the service ends after ``seconds`` with none (0: never)."""

    def __init__(self, seconds: int) -> None:
        self.seconds, self.busy = seconds, 0
        self.last = asyncio.get_event_loop().time() if seconds else 0.0
        self.done = asyncio.Event()

    @web.middleware
    async def track(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.busy += 1
        try:
            return await handler(request)
        finally:
            self.busy -= 1
            self.last = asyncio.get_running_loop().time()

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        while self.seconds:
            left = self.last + self.seconds - loop.time()
            if left <= 0 and not self.busy:
                self.done.set()
                return
            await asyncio.sleep(max(left, 0.5))  # asleep between checks: no busy loop


def make_app(engine: Engine, idle: Idle) -> web.Application:
    app = web.Application(middlewares=[idle.track, errors_as_json], client_max_size=MAX_BODY)
    app[ENGINE] = engine
    app[exec.SESSIONS] = {}
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
        app.router.add_route(method, "/v{version:[0-9.]+}" + path, handler)
    return app


def default_socket(engine: Engine) -> Path:
    """$XDG_RUNTIME_DIR/pyman/pyman.sock: pyman's own, never Podman's podman.sock."""
    return engine.paths.service_socket


def listening_socket(uri: str | None, engine: Engine) -> tuple[socket.socket, str]:
    if uri is None and os.environ.get("LISTEN_FDS") == "1" \
            and os.environ.get("LISTEN_PID") == str(os.getpid()):
        sock = socket.socket(fileno=3)  # systemd socket activation: fd 3
        for key in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):  # ours, as sd_listen_fds
            os.environ.pop(key, None)  # unsets them: containers started here must not get it
        return sock, "the socket systemd passed"
    if uri is None:
        uri = f"unix://{default_socket(engine)}"
    for scheme in ("unix", "tcp"):  # Podman also takes tcp:HOST:PORT and unix:/path
        if uri.startswith(f"{scheme}:") and not uri.startswith(f"{scheme}://"):
            uri = f"{scheme}://{uri.removeprefix(f'{scheme}:')}"
    if uri.startswith("unix://"):
        path = Path(uri.removeprefix("unix://"))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # bound and listening under a temporary name, then renamed into place: a client
        # that sees the path can connect
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # born 0600: no moment where another user could connect
        try:
            sock.bind(str(tmp))
        finally:
            os.umask(old)
        sock.listen(128)
        os.rename(tmp, path)
        return sock, uri
    if uri.startswith("tcp://"):
        host, _, port = uri.removeprefix("tcp://").rpartition(":")
        if host not in ("127.0.0.1", "localhost", "[::1]", "::1"):
            raise PymanError(f"{uri}: pyman serves TCP on loopback only (tcp://127.0.0.1:PORT):"
                             " the API has no authentication")
        if not port.isdigit():
            raise PymanError(f"{uri}: the port must be a number (tcp://127.0.0.1:8080)")
        family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]").replace("localhost", "127.0.0.1"), int(port)))
        print(f"WARN: {uri} is unauthenticated: any local user can use it", file=sys.stderr)
        return sock, uri
    raise PymanError(f"{uri}: not a service address: unix:///path.sock or tcp://127.0.0.1:PORT")


async def serve(uri: str | None, seconds: int, engine: Engine, cors: str = "") -> None:
    from concurrent.futures import ThreadPoolExecutor

    sock, where = listening_socket(uri, engine)
    # the engine's calls wait on locks and children: more of them than cores may wait at
    # once (threads are made as needed)
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=64, thread_name_prefix="engine"))
    idle = Idle(seconds)
    app = make_app(engine, idle)
    if cors:
        from pyman.api.cors import enable

        enable(app, cors)
        log.debug('CORS Headers were set to \\"%s\\"', cors)  # Podman's %q, in logrus' quotes
    else:
        log.debug("CORS Headers were not set")
    runner = web.AppRunner(app, access_log=None, handle_signals=True)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    print(f"pyman API service listening on {where}", file=sys.stderr, flush=True)
    try:
        if seconds:
            await idle.watch()
        else:
            await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        if where.startswith("unix://"):
            Path(where.removeprefix("unix://")).unlink(missing_ok=True)


def run(uri: str | None, seconds: int, engine: Engine, cors: str = "") -> None:
    try:
        asyncio.run(serve(uri, seconds, engine, cors))
    except KeyboardInterrupt:
        pass
