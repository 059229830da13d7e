"""One loader for the store's JSON records: a damaged file (torn, `{}`, a field of the wrong
type) is a ``CorruptRecord`` naming it, never a traceback deep in a command.

Listing commands skip such a record with one warning line (``warn``) and go on with the
rest; commands aimed at it say which file is damaged and how to be rid of it. Field types
are checked against the dataclass's own annotations (strings, with ``from __future__ import
annotations``), parsed here so no typing import lands on `run`'s path.
"""

from __future__ import annotations

import json
import os
import stat

from pyman.errors import CorruptRecord
from pyman.errors import warn as say

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

_warned: set[str] = set()
_fields_cache: dict[type, list[tuple[str, str, bool]]] = {}


def warn(err: CorruptRecord, what: str = "") -> None:
    """One line on stderr per damaged file and process, whoever meets it how often."""
    if err.path in _warned:
        return
    _warned.add(err.path)
    say(f"WARNING: {what or 'skipping'} {err.path}: damaged ({err.why})")


def read_json(path: str | os.PathLike[str]) -> Any:
    """The parsed JSON at ``path``; None if the file is absent; CorruptRecord if it is not
    JSON (torn by a crash or a full disk, or not text at all)."""
    try:  # non-blocking: a FIFO in its place must not hang the command
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CorruptRecord(path, "not a regular file")
        with open(fd, "rb", closefd=False) as f:
            raw = f.read()
    finally:
        os.close(fd)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        why = "empty" if not raw.strip() else f"not valid JSON: {str(exc)[:80]}"
        raise CorruptRecord(path, why) from None


def parse(cls: type[T], data: Any, path: str | os.PathLike[str]) -> T:
    """``cls`` (a dataclass) from a record's JSON object: every field without a default
    present, every present field of its annotated type; unknown keys are ignored (a newer
    pyman's fields)."""
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", int: "a number",
                float: "a number"}.get(type(data), "null")
        raise CorruptRecord(path, f"{kind}, not an object")
    known = {}
    for name, ann, required in _fields(cls):
        if name not in data:
            if required:
                raise CorruptRecord(path, f"no {name!r}")
            continue
        if not fits(data[name], ann):
            raise CorruptRecord(path, f"{name!r} is not {ann}")
        known[name] = data[name]
    return cls(**known)


def load(cls: type[T], path: str | os.PathLike[str]) -> T | None:
    """The record at ``path``, None when there is none; CorruptRecord when damaged."""
    data = read_json(path)
    return None if data is None and not os.path.lexists(path) else parse(cls, data, path)


def salvaged_name(path: str) -> str:
    """The name a damaged record still shows (a torn file keeps its first lines; records
    are written with the name near the top), so `rm -f <name>` can find it."""
    import re

    try:
        with open(path, "rb") as f:
            head = f.read(4096).decode(errors="replace")
    except OSError:
        return ""
    m = re.search(r'"name": "([a-zA-Z0-9][a-zA-Z0-9_.-]*)"', head)
    return m.group(1) if m else ""


def _fields(cls: type) -> list[tuple[str, str, bool]]:
    from dataclasses import MISSING, fields

    cached = _fields_cache.get(cls)
    if cached is None:
        cached = [(f.name, str(f.type), f.default is MISSING and f.default_factory is MISSING)
                  for f in fields(cls)]  # type: ignore[arg-type]
        _fields_cache[cls] = cached
    return cached


def _split(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def fits(value: Any, ann: str) -> bool:
    """Whether a JSON value matches a (string) annotation: str, int, float, bool, None, Any,
    list[X], dict[str, X] and unions of them."""
    check = _checks.get(ann)
    if check is None:
        check = _checks[ann] = _compile(ann)
    return check(value)


_checks: dict[str, Callable[[Any], bool]] = {}
_SIMPLE: dict[str, Callable[[Any], bool]] = {
    "Any": lambda v: True,
    "object": lambda v: True,
    "None": lambda v: v is None,
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def _compile(ann: str) -> Callable[[Any], bool]:
    """A check for one annotation, built once (ps reads every record's every field)."""
    alts = [_compile(a) for a in _split(ann, "|")] if "|" in ann else []
    if len(alts) > 1:
        return lambda v: any(check(v) for check in alts)
    ann = ann.strip()
    if ann in _SIMPLE:
        return _SIMPLE[ann]
    if ann.startswith("list[") and ann.endswith("]"):
        item = _compile(ann[5:-1])
        return lambda v: isinstance(v, list) and all(item(x) for x in v)
    if ann.startswith("dict[") and ann.endswith("]"):
        key, val = (_compile(a) for a in _split(ann[5:-1], ","))
        return lambda v: isinstance(v, dict) and all(key(k) and val(x) for k, x in v.items())
    raise TypeError(f"records.fits: no rule for the annotation {ann!r}")  # a new field type
