"""Exec sessions: create (kept in this service's memory, as a session exists only until it
has run), start (attached: the connection hijacked for the multiplexed output; detached: run
in the background) and inspect. A terminal or input (-it) is not relayed yet: 501."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from aiohttp import web

from pyman.api.common import blocking, body, engine, frame, hijack, release
from pyman.api.errors import BadRequest, answer
from pyman.engine.containers.exec import ExecOptions
from pyman.errors import ContainerStateError, PymanError

SESSIONS: web.AppKey[dict[str, dict[str, Any]]] = web.AppKey("exec_sessions", dict)


async def create(request: web.Request) -> web.Response:
    eng = engine(request)
    doc = await body(request)
    cmd = doc.get("Cmd") if isinstance(doc, dict) else None
    if not isinstance(cmd, list) or not cmd or not all(isinstance(w, str) for w in cmd):
        raise BadRequest("Cmd: a non-empty list of strings is required")
    env = doc.get("Env") or []
    if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
        raise BadRequest("Env: a list of KEY=VALUE strings is expected")
    c, st = await blocking(eng.containers.get, request.match_info["id"])
    if st.status != "running":
        raise ContainerStateError(f"container {c.id} is not running: can only create exec "
                                  "sessions on running containers")
    sid = os.urandom(32).hex()
    request.app[SESSIONS][sid] = {
        "ID": sid, "ContainerID": c.id, "Running": False, "ExitCode": None, "Pid": 0,
        "OpenStdin": bool(doc.get("AttachStdin")), "OpenStdout": doc.get("AttachStdout",
                                                                        True) is not False,
        "OpenStderr": doc.get("AttachStderr", True) is not False, "CanRemove": False,
        "ProcessConfig": {"entrypoint": cmd[0], "arguments": cmd[1:], "tty": bool(
            doc.get("Tty")), "user": doc.get("User") or "", "privileged": bool(
            doc.get("Privileged"))},
        "_opts": ExecOptions(command=list(cmd), env=list(env), user=doc.get("User") or None,
                             workdir=doc.get("WorkingDir") or None,
                             privileged=bool(doc.get("Privileged"))),
    }
    return web.json_response({"Id": sid}, status=201)


def _session(request: web.Request) -> dict[str, Any]:
    session = request.app[SESSIONS].get(request.match_info["id"])
    if session is None:
        raise web.HTTPNotFound(reason=f"No such exec instance: {request.match_info['id']}")
    return session


async def inspect(request: web.Request) -> web.Response:
    session = _session(request)
    return web.json_response({k: v for k, v in session.items() if not k.startswith("_")})


async def start(request: web.Request) -> web.StreamResponse:
    eng = engine(request)
    session = _session(request)
    doc = await body(request)
    if session["Running"] or session["ExitCode"] is not None:
        raise ContainerStateError(f"exec session {session['ID']} has already run")
    if session["OpenStdin"] or session["ProcessConfig"]["tty"] or (
            isinstance(doc, dict) and doc.get("Tty")):
        return answer(501, "exec with a terminal or input (-it) is not supported by pyman's "
                      "API yet: use `pyman exec -it`")
    opts: ExecOptions = session["_opts"]
    session["Running"] = True

    def run(out: int | None, err: int | None) -> int:
        opts.stdout_fd, opts.stderr_fd = out, err
        try:
            return eng.exec.run(session["ContainerID"], opts).exit_code or 0
        except PymanError as exc:
            if err is not None:
                os.write(err, f"{exc}\n".encode())
            return exc.exit_code

    def finished(code: int) -> None:
        session["Running"], session["ExitCode"] = False, code

    if isinstance(doc, dict) and doc.get("Detach"):
        null = os.open(os.devnull, os.O_WRONLY)
        def background() -> None:
            try:
                finished(run(null, null))
            finally:
                os.close(null)

        asyncio.get_running_loop().run_in_executor(None, background)
        return web.Response(status=200)
    return await _attached(request, session, run, finished)


async def _attached(request: web.Request, session: dict[str, Any], run: Any, finished: Any
                    ) -> web.StreamResponse:
    conn = await hijack(request, "multiplexed-stream")
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    pipes = [os.pipe2(os.O_CLOEXEC) for _ in range(2)]

    def pump(fd: int, stream: int) -> None:
        with os.fdopen(fd, "rb", buffering=0) as f:
            while data := f.read(65536):
                loop.call_soon_threadsafe(queue.put_nowait, frame(stream, data))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    for (r, _), stream in zip(pipes, (1, 2), strict=True):
        threading.Thread(target=pump, args=(r, stream), daemon=True).start()

    def work() -> int:
        try:
            return int(run(pipes[0][1], pipes[1][1]))
        finally:
            for _, w in pipes:
                os.close(w)

    task = loop.run_in_executor(None, work)
    open_pipes = 2
    try:
        while open_pipes:
            chunk = await queue.get()
            if chunk is None:
                open_pipes -= 1
            else:
                await loop.sock_sendall(conn, chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        finished(await task)
        release(request, conn)
    return web.Response(status=200)
