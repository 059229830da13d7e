"""How a forked helper (in a user namespace, or inside a container's root) reports back.

The helper may have read hostile data, or run with a container's filesystem as its root, so
what it writes on the result pipe is plain JSON, never pickle: ``{"ok": value}`` or
``{"error": {"type": name, "message": text, "exit_code": n}}``. The parent reads at most
``MAX_RESULT`` bytes, checks the shape, and rebuilds an error only as one of a few known
PymanError classes (by name); anything else becomes a plain PymanError with the message.

``seal_imports`` is for the moment a helper's root becomes a container's: from then on no
module may be imported, since a path-based import would load code from the container.

Stdlib only: the monitor's helpers use this too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import traceback

from pyman import errors
from pyman.errors import PymanError, ResultError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

MAX_RESULT = 16 << 20  # the biggest honest result (layer warnings, top's tables) is far less
MAX_MESSAGE = 64 << 10

# the classes whose type callers act on (exit codes, retries, messages); names, not pickles
KNOWN_ERRORS: dict[str, type[PymanError]] = {
    cls.__name__: cls for cls in (
        PymanError, errors.LayerError, errors.StorageError, errors.RootlessSetupError,
        errors.ContainerNotFoundError, errors.ContainerStateError,
        errors.CommandNotFoundError, errors.CommandCannotRunError,
        errors.DigestMismatchError, errors.ImageNotFoundError)
}


def seal_imports() -> None:
    """Allow only modules already loaded, built in or frozen from now on: called just before a
    helper's root becomes a container's, whose /usr/lib/python3* is the image's."""
    from importlib.machinery import BuiltinImporter, FrozenImporter

    sys.meta_path[:] = [f for f in sys.meta_path if f in (BuiltinImporter, FrozenImporter)]
    sys.path_hooks.clear()
    sys.path_importer_cache.clear()
    sys.path[:] = []


def _where(exc: BaseException) -> str:
    # file:line only: formatting a traceback reads source files, through the container's root
    frames = [f"{f.f_code.co_filename}:{line} in {f.f_code.co_name}"
              for f, line in traceback.walk_tb(exc.__traceback__)]
    return "\n".join(frames[-8:])


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} cannot be reported by a helper")


def encode_error(exc: BaseException, plain_oserror: bool = False) -> bytes:
    """The JSON report of ``exc``. ``plain_oserror``: an OSError reads as its strerror and file
    (cp's wording) rather than as a failure of pyman."""
    if isinstance(exc, PymanError):
        name, message, code = type(exc).__name__, str(exc), exc.exit_code
    elif plain_oserror and isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
        name, code = "PymanError", errors.EXIT_ENGINE
        message = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    else:
        name, code = "PymanError", errors.EXIT_ENGINE
        message = f"{type(exc).__name__}: {exc}\n{_where(exc)}"
    if name not in KNOWN_ERRORS:
        name = next(c.__name__ for c in type(exc).__mro__ if c.__name__ in KNOWN_ERRORS)
    return json.dumps({"error": {"type": name, "message": message[:MAX_MESSAGE],
                                 "exit_code": code}}).encode()


def report(fd: int, fn: Callable[[], object], *, send_value: bool = True,
           plain_oserror: bool = False) -> NoReturn:
    """Child side: run ``fn``, write its result (or error) to ``fd`` as JSON, and exit."""
    code = 0
    try:
        value = fn()
        data = json.dumps({"ok": value if send_value else None}, default=_plain).encode()
    except BaseException as exc:  # noqa: BLE001 - everything must reach the parent
        code = 1
        try:
            data = encode_error(exc, plain_oserror)
        except BaseException:  # noqa: BLE001 - even a broken message must not hang it
            data = b'{"error": {"type": "PymanError", "message": "a helper failed", ' \
                   b'"exit_code": 125}}'
    try:
        while data:
            data = data[os.write(fd, data):]
    except BaseException:  # noqa: BLE001
        code = 1
    finally:
        os._exit(code)


def read_report(fd: int) -> bytes:
    """Parent side: everything the helper wrote (bounded); ``fd`` is closed."""
    chunks: list[bytes] = []
    total = 0
    try:
        while chunk := os.read(fd, 1 << 16):
            total += len(chunk)
            if total > MAX_RESULT:
                raise ResultError(f"a helper's report is larger than {MAX_RESULT >> 20} MiB: "
                                  "refused")
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def decode(data: bytes) -> object:
    """The value of a report, or its error raised; anything malformed is refused."""
    try:
        doc = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError):
        raise ResultError("a helper's report is not valid JSON: refused") from None
    if not isinstance(doc, dict) or len(doc) != 1:
        raise ResultError("a helper's report has an unknown shape: refused")
    if "ok" in doc:
        return doc["ok"]
    err = doc.get("error")
    if not isinstance(err, dict) or not isinstance(err.get("message"), str):
        raise ResultError("a helper's report has an unknown shape: refused")
    name = err.get("type")
    cls = KNOWN_ERRORS.get(name, PymanError) if isinstance(name, str) else PymanError
    code = err.get("exit_code")
    valid = isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 255
    raise cls(err["message"][:MAX_MESSAGE], exit_code=code if valid else None)


def receive(fd: int, pid: int, what: str) -> object:
    """Read and decode the report of helper ``pid`` (reaped here); ``what`` names it when it
    died without a word."""
    try:
        data = read_report(fd)
    finally:
        os.waitpid(pid, 0)
    if not data:
        raise PymanError(f"{what} died without reporting")
    return decode(data)


def str_list(value: object) -> list[str]:
    """A report that must be a list of strings."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ResultError("a helper's report is not a list of strings: refused")
    return value
