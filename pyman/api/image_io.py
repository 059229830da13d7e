"""Images in and out: push (progress JSON), get (`docker save`: the archive streamed as it is
written), load (`docker load`: the body streamed to the engine, which spools it to disk) and
build (a tar context streamed into a private directory, built by pyman's own build engine,
its output as Docker's JSON stream). Nothing is held whole in memory."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import IO, Any

from aiohttp import web

from pyman.api.common import blocking, engine, flag
from pyman.api.errors import BadRequest, Handler, answer
from pyman.api.streams import drain, feed
from pyman.errors import PymanError

Put = Callable[[dict[str, Any]], None]
DONE = object()


async def json_stream(request: web.Request, work: Callable[[Put], None]
                      ) -> web.StreamResponse:
    """Docker's progress answer: ``work`` (in a worker) puts documents, each written as a
    line as it comes; its failure is the last one, {"error": ...}, as Docker ends them."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def put(doc: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, doc)

    def run() -> None:
        try:
            work(put)
        except PymanError as exc:
            put({"error": str(exc), "errorDetail": {"message": str(exc)}})
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, DONE)

    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    task = loop.run_in_executor(None, run)
    try:
        while (doc := await queue.get()) is not DONE:
            await response.write(json.dumps(doc).encode() + b"\r\n")
    except ConnectionResetError:
        pass  # the client went away: the work still finishes (a push is not half-done)
    await task
    await response.write_eof()
    return response


def _credentials(request: web.Request) -> str | None:
    """X-Registry-Auth: base64url JSON {username, password} (or an identity token)."""
    raw = request.headers.get("X-Registry-Auth")
    if not raw:
        return None
    try:
        doc = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        raise BadRequest("X-Registry-Auth: not base64-encoded JSON") from None
    if not isinstance(doc, dict) or not doc.get("username"):
        return None  # anonymous ({}), as docker sends it without a login
    return f"{doc['username']}:{doc.get('password') or ''}"


def _loopback(name: str) -> bool:
    host = name.split("/", 1)[0] if "/" in name else ""
    return host.split(":")[0] in ("localhost", "::1") or host.startswith("127.")


class _PushEvents:
    def __init__(self, put: Put) -> None:
        self.put = put

    def started(self) -> None:
        pass

    def blob(self, digest: str, kind: str, how: str) -> None:
        if kind == "config":
            return  # Docker lists the layers only
        short = digest.split(":")[-1][:12]
        self.put({"status": "Layer already exists" if how == "exists" else "Pushed",
                  "id": short, "progressDetail": {}})

    def warn(self, message: str) -> None:
        self.put({"status": f"Warning: {message}"})

    def progress(self, digest: str, done: int, total: int) -> None:
        if done == total:
            return
        self.put({"status": "Pushing", "id": digest.split(":")[-1][:12],
                  "progressDetail": {"current": done, "total": total}})


async def push(request: web.Request) -> web.StreamResponse:
    from pyman.engine.types import PushOptions

    eng = engine(request)
    name = request.match_info["name"]
    tag = request.query.get("tag")
    if tag:
        name = f"{name}@{tag}" if tag.startswith("sha256:") else f"{name}:{tag}"
    creds = _credentials(request)
    verify = request.query.get("tlsVerify")
    # Docker's rule: registries on loopback addresses are insecure (plain HTTP) by default
    tls = (verify.lower() in ("1", "true") if verify else None if not _loopback(name)
           else False)
    await blocking(eng.images.require, name)  # a missing image: 404 before the stream

    def work(put: Put) -> None:
        put({"status": f"The push refers to repository [{name.rsplit(':', 1)[0]}]"})
        report = eng.registry.push(PushOptions(name, tls_verify=tls, creds=creds),
                                   _PushEvents(put))
        tag_text = name.rsplit(":", 1)[-1] if ":" in name.split("/")[-1] else "latest"
        put({"status": f"{tag_text}: digest: {report.digest}"})
        put({"progressDetail": {}, "aux": {"Tag": tag_text, "Digest": report.digest}})

    return await json_stream(request, work)


async def get(request: web.Request) -> web.StreamResponse:
    """One image (/images/{name}/get) or several (/images/get?names=...), docker-archive."""
    from pyman.engine.images.archives import ArchiveService, SaveOptions

    eng = engine(request)
    names = [request.match_info["name"]] if "name" in request.match_info \
        else request.query.getall("names", [])
    if not names:
        raise BadRequest("names: at least one image is required")
    for n in names:
        await blocking(eng.images.require, n)  # 404 while the status can still say it
    r, w = os.pipe2(os.O_CLOEXEC)

    def produce() -> None:
        with os.fdopen(w, "wb") as out:
            ArchiveService(eng.paths).save(SaveOptions(images=names,
                                                       multi_image=len(names) > 1), out)

    task = asyncio.get_running_loop().run_in_executor(None, produce)
    response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
    await response.prepare(request)
    try:
        await drain(r, response)
    finally:
        try:
            await task
        except (PymanError, BrokenPipeError) as exc:  # the status has gone out already
            import logging

            logging.getLogger("pyman").error("save %s: %s", names, exc)
    await response.write_eof()
    return response


async def _streamed_in(request: web.Request, consume: Callable[[IO[bytes]], Any]) -> Any:
    """The body, streamed through a pipe into ``consume`` (run in a worker); its result."""
    r, w = os.pipe2(os.O_CLOEXEC)

    def work() -> Any:
        with os.fdopen(r, "rb") as stream:
            return consume(stream)

    task = asyncio.get_running_loop().run_in_executor(None, work)
    feeder = asyncio.ensure_future(feed(request, w))
    await asyncio.wait([task, feeder], return_when=asyncio.FIRST_COMPLETED)
    if task.done() and not feeder.done():
        feeder.cancel()
    await asyncio.gather(task, feeder, return_exceptions=True)
    return task.result()


async def load(request: web.Request) -> web.Response:
    from pyman.engine.images.archives import ArchiveService

    eng = engine(request)
    try:
        report = await _streamed_in(request, lambda stream: ArchiveService(eng.paths).load(
            None, stdin=stream))
    except PymanError as exc:  # the archive is the client's: its faults are a 400
        return answer(400, str(exc))
    lines = [{"stream": f"Loaded image: {n}\n"} for n in report.names]
    lines += [{"stream": f"Loaded image ID: sha256:{i}\n"} for i in report.ids
              if not report.names]
    return web.Response(body=b"".join(json.dumps(d).encode() + b"\n" for d in lines),
                        headers={"Content-Type": "application/json"})


def _json_query(request: web.Request, key: str) -> dict[str, str]:
    raw = request.query.get(key)
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError:
        raise BadRequest(f"{key}: not JSON: {raw[:100]}") from None
    if not isinstance(doc, dict):
        raise BadRequest(f"{key}: a JSON object is expected")
    return {str(k): str(v) for k, v in doc.items() if v is not None}


def _unpack_context(stream: IO[bytes], into: str) -> None:
    """The context tar (plain, gzip, bzip2 or xz) extracted member by member: whatever
    leads out of ``into`` is refused (copy_tar.extract_tar)."""
    import io
    import tarfile

    from pyman.engine.copy.tar import extract_tar

    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(
        stream)  # type: ignore[arg-type,type-var]
    head = buffered.peek(6)[:6]
    source: IO[bytes] = buffered
    if head.startswith(b"\x1f\x8b"):
        import gzip

        source = gzip.GzipFile(fileobj=buffered)  # type: ignore[assignment]
    elif head.startswith(b"BZh"):
        import bz2

        source = bz2.BZ2File(buffered)  # type: ignore[assignment]
    elif head.startswith(b"\xfd7zXZ\x00"):
        import lzma

        source = lzma.LZMAFile(buffered)  # type: ignore[assignment]
    try:
        extract_tar(source, into)
    except PymanError as exc:  # a member leading out of the context
        raise BadRequest(f"the build context: {exc}") from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BadRequest(f"the build context is not a usable tar archive: {exc}") from None


def _network(mode: str | None) -> str | None:
    return None if mode in (None, "", "default", "bridge") else mode  # Docker's defaults


class _Output:
    """RUN steps' output, a file object the engine writes to: Docker's {"stream": ...}."""

    def __init__(self, put: Put) -> None:
        self.put = put

    def write(self, data: bytes) -> int:
        self.put({"stream": data.decode(errors="replace")})
        return len(data)

    def flush(self) -> None:
        pass


async def build(request: web.Request) -> web.StreamResponse:
    from pyman.engine.build.builder import Builder, BuildOptions
    from pyman.engine.build.context import prepare

    eng = engine(request)
    q = request.query
    tags = q.getall("t", [])
    dockerfile = q.get("dockerfile") or ""
    if dockerfile and (os.path.isabs(dockerfile) or ".." in dockerfile.split("/")):
        raise BadRequest(f"dockerfile: {dockerfile!r} must be a path inside the context")
    args, labels = _json_query(request, "buildargs"), _json_query(request, "labels")
    pull = "always" if flag(request, "pull") else "missing"
    eng.paths.data.mkdir(parents=True, exist_ok=True)
    context = tempfile.mkdtemp(prefix=".build-context-", dir=eng.paths.data)  # 0700
    try:
        await _streamed_in(request, lambda stream: _unpack_context(stream, context))

        def work(put: Put) -> None:
            files = [os.path.join(context, dockerfile)] if dockerfile else []
            prepared = prepare(context, files, None)
            opts = BuildOptions(
                context=prepared.context, containerfile=prepared.text,
                file_name=dockerfile or prepared.name, tags=tags, build_args=args,
                target=q.get("target") or None, no_cache=flag(request, "nocache"),
                pull=pull, labels=labels, quiet=flag(request, "q"),
                network=_network(q.get("networkmode")), platform=q.get("platform") or None,
                output=_Output(put))
            image_id = Builder(eng, opts, say=lambda line: put({"stream": line + "\n"})
                               ).build()
            put({"aux": {"ID": f"sha256:{image_id}"}})
            put({"stream": f"Successfully built {image_id[:12]}\n"})

        return await json_stream(request, work)
    finally:
        shutil.rmtree(context, ignore_errors=True)


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/images/{name:.+}/push", push), ("GET", "/images/get", get),
    ("GET", "/images/{name:.+}/get", get), ("POST", "/images/load", load),
    ("POST", "/build", build),
]
