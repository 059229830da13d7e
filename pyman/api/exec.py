"""Exec sessions: create (kept in this service's memory, as a session exists only until it
has run), start (attached: the connection hijacked for the multiplexed output and the
client's input; with a terminal, raw both ways; detached: run in the background) and
inspect. Resizes: api/interactive.py."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from aiohttp import web

from pyman.api.common import blocking, body, engine, frame, hijack, release
from pyman.api.errors import BadRequest
from pyman.api.fields import check
from pyman.engine.containers.exec import ExecOptions
from pyman.errors import ContainerStateError, PymanError

SESSIONS: web.AppKey[dict[str, dict[str, Any]]] = web.AppKey("exec_sessions", dict)


async def create(request: web.Request) -> web.Response:
    eng = engine(request)
    doc = await body(request)
    check(doc, "exec create: ")
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
    check(doc, "exec start: ")
    if session["Running"] or session["ExitCode"] is not None:
        raise ContainerStateError(f"exec session {session['ID']} has already run")
    opts: ExecOptions = session["_opts"]
    session["Running"] = True

    def run(out: int | None, err: int | None, stdin: int | None = None) -> int:
        opts.stdout_fd, opts.stderr_fd = out, err
        opts.interactive, opts.stdin_fd = stdin is not None, stdin
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

        # a thread of its own, not a worker: the process may run for as long as the
        # container does, and the service's exit waits for its workers
        threading.Thread(target=background, daemon=True).start()
        return web.Response(status=200)
    if session["ProcessConfig"]["tty"] or (isinstance(doc, dict) and doc.get("Tty")):
        return await _terminal(request, session, finished)
    return await _attached(request, session, run, finished)


async def _terminal(request: web.Request, session: dict[str, Any], finished: Any
                    ) -> web.StreamResponse:
    """-t: the process on a pty whose master is relayed raw over the connection."""
    from pyman.api.interactive import resize_fd, send_all, tty_relay

    eng = engine(request)
    opts: ExecOptions = session["_opts"]
    opts.tty, opts.interactive = True, bool(session["OpenStdin"])
    conn = await hijack(request, "raw-stream")

    def attach(master: int, pidfd: int) -> None:
        session["_master"] = master
        if session.get("_size"):  # a resize that came before the terminal
            resize_fd(master, *session["_size"])
        try:
            tty_relay(conn, master, pidfd, opts.interactive)
        finally:
            session["_master"] = -1

    def work() -> None:
        try:
            code = eng.exec.run(session["ContainerID"], opts, attach=attach,
                                console_size=session.get("_size")).exit_code or 0
        except PymanError as exc:
            try:
                send_all(conn, f"{exc}\r\n".encode())
            except OSError:
                pass
            code = exc.exit_code
        finished(code)

    try:
        await in_thread(work)
    finally:
        release(request, conn)
    return web.Response(status=200)


async def in_thread(fn: Any) -> None:
    """``fn`` in a thread of its own (a session lasts as long as its user wants: it must
    not hold one of the engine's workers), awaited."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(exc: BaseException | None) -> None:
        if not done.done():
            if exc is None:
                done.set_result(None)
            else:
                done.set_exception(exc)

    def body() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting side
            loop.call_soon_threadsafe(settle, exc)
        else:
            loop.call_soon_threadsafe(settle, None)

    threading.Thread(target=body, daemon=True).start()
    await done


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

    stdin_r = -1
    stop_stdin = threading.Event()
    if session["OpenStdin"]:
        from pyman.api.interactive import pump_stdin

        stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC)
        threading.Thread(target=pump_stdin, args=(conn, stdin_w, stop_stdin),
                         daemon=True).start()

    def work() -> int:
        try:
            return int(run(pipes[0][1], pipes[1][1], None if stdin_r < 0 else stdin_r))
        finally:
            for fd in (pipes[0][1], pipes[1][1], stdin_r):
                if fd >= 0:
                    os.close(fd)  # the last read end of stdin: a blocked pump gets EPIPE
            stop_stdin.set()

    task = asyncio.ensure_future(_in_thread_value(work))
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


async def _in_thread_value(fn: Any) -> int:
    box: list[int] = []
    await in_thread(lambda: box.append(fn()))
    return box[0]
