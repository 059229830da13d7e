"""Where a build reads from: the context (a directory, a tarball on stdin, or nothing with
`-` and a Containerfile on stdin) and the Containerfile(s) (-f, Containerfile first, then
Dockerfile)."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from typing import IO

from pyman.errors import PymanError


@dataclass
class Prepared:
    context: str
    text: str
    name: str  # how errors name the Containerfile
    temp: list[str] = field(default_factory=list)  # dirs to remove at the end

    def cleanup(self) -> None:
        for d in self.temp:
            shutil.rmtree(d, ignore_errors=True)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise PymanError(f"the Containerfile {path}: no such file or directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PymanError(f"cannot read the Containerfile {path}: {exc}") from None


def _is_tar(head: bytes) -> bool:
    return head[257:262] == b"ustar" or head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or \
        head[:6] == b"\xfd7zXZ\x00"


def _from_stdin(stdin: IO[bytes], prepared: Prepared) -> str | None:
    """`-` as the context: a tarball (extracted into a temp dir; returns None) or a
    Containerfile (returned; the context is an empty temp dir)."""
    data = stdin.read()
    d = tempfile.mkdtemp(prefix="pyman-build-context-")
    prepared.temp.append(d)
    prepared.context = d
    if not _is_tar(data[:512]):
        return data.decode("utf-8", "replace")
    import bz2
    import gzip
    import io
    import lzma

    from pyman.engine.copy.tar import extract_tar

    try:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        elif data[:3] == b"BZh":
            data = bz2.decompress(data)
        elif data[:6] == b"\xfd7zXZ\x00":
            data = lzma.decompress(data)
        extract_tar(io.BytesIO(data), d)  # members leading out of the dir are refused
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError) as exc:
        raise PymanError(f"the build context on stdin is not a usable tarball: {exc}"
                         ) from None
    return None


def prepare(context: str | None, files: list[str], stdin: IO[bytes] | None) -> Prepared:
    prepared = Prepared("", "", "Containerfile")
    try:
        return _prepare(prepared, context, files, stdin)
    except BaseException:
        prepared.cleanup()
        raise


def _prepare(prepared: Prepared, context: str | None, files: list[str],
             stdin: IO[bytes] | None) -> Prepared:
    stdin_text = None
    if context is not None and "://" in context or (context or "").startswith("git@"):
        raise PymanError(f"{context}: a remote build context is not supported by pyman "
                         "build: clone or download it and build from the directory")
    if context == "-":
        if stdin is None:
            raise PymanError("no build context on stdin")
        stdin_text = _from_stdin(stdin, prepared)
    elif context is None:
        first = next((f for f in files if f != "-"), None)
        prepared.context = os.path.dirname(os.path.abspath(first)) if first else os.getcwd()
    else:
        if not os.path.isdir(context):
            raise PymanError(f"the build context {context}: no such directory")
        prepared.context = os.path.realpath(context)
    texts = []
    for f in files:
        if f == "-":
            if stdin is None:
                raise PymanError("-f -: no Containerfile on stdin")
            texts.append(stdin.read().decode("utf-8", "replace"))
            prepared.name = "Containerfile (stdin)"
            continue
        path = f
        if not os.path.isabs(f) and not os.path.exists(f):
            in_context = os.path.join(prepared.context, f)
            if os.path.exists(in_context):
                path = in_context
        texts.append(_read(path))
        prepared.name = f
    if not files:
        if stdin_text is not None:
            texts.append(stdin_text)
            prepared.name = "Containerfile (stdin)"
        else:
            for cand in ("Containerfile", "Dockerfile"):
                path = os.path.join(prepared.context, cand)
                if os.path.exists(path):
                    texts.append(_read(path))
                    prepared.name = cand
                    break
            else:
                raise PymanError(
                    "no Containerfile or Dockerfile specified or found in context directory "
                    f"{prepared.context}: stat {prepared.context}/Dockerfile: no such file or "
                    "directory")
    prepared.text = "\n".join(texts)
    return prepared


def read_arg_file(path: str) -> dict[str, str]:
    """--build-arg-file: KEY=VALUE lines, # comments."""
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise PymanError(f"--build-arg-file {path}: {exc.strerror}") from None
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        k, eq, v = line.partition("=")
        out[k.strip()] = v if eq else os.environ.get(k.strip(), "")
    return out
