"""Writing Podman's events (its `events_logger = "file"` backend): one JSON line per event,
in Podman's field order, appended to the user's events log.

pyman has no daemon: every process that does something writes its own events (the monitor
writes a container's ``died``), so each write is one ``write(2)`` of a whole line on an
``O_APPEND`` descriptor, under ``<log>.lock`` (a POSIX lock, as Podman's lockfile takes):
lines of concurrent writers never interleave and a rotation never loses one. Stdlib only, and
only os/json/time: the monitor imports it, and a write costs ~50 us.

Where and whether (``settings``): ``--events-backend`` (``set_backend``), else
containers.conf's ``[engine] events_logger``; ``events_logfile_path`` (default
``<runtime>/events/events.log``, pyman's runtime dir: Podman's own log lists Podman's
containers); ``events_logfile_max_size`` (0: never rotated). Rotation is Podman's: the
older half of the file goes (up to a line start), then a ``system log-rotation`` event.
"""

from __future__ import annotations

import json
import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyman.monitor.protocol import EventsCfg, MonitorConfig

_BACKEND: str | None = None  # --events-backend
_SETTINGS: tuple[str, str, int] | None = None  # (backend, path, max size), once resolved


def set_backend(backend: str | None) -> None:
    global _BACKEND, _SETTINGS
    _BACKEND, _SETTINGS = backend, None


def go_time(ns: int | None = None) -> str:
    """Go's RFC 3339 with nanoseconds (trailing zeros dropped), in the local zone, as
    encoding/json writes a time.Time."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    tm = time.localtime(secs)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", tm)
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    off = tm.tm_gmtoff or 0
    if off == 0:
        return text + "Z"
    sign = "+" if off > 0 else "-"
    return text + f"{sign}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}"


def record(type_: str, status: str, *, id_: str = "", name: str = "", image: str = "",
           pod_id: str = "", attributes: dict[str, str] | None = None, exit_code: int = 0,
           network: str = "", time_ns: int | None = None) -> dict[str, Any]:
    """One event as Podman's JSON has it (omitempty fields left out; Attributes null)."""
    ev: dict[str, Any] = {}
    if exit_code:
        ev["ContainerExitCode"] = exit_code
    if id_:
        ev["ID"] = id_
    if image:
        ev["Image"] = image
    if name:
        ev["Name"] = name
    if network:
        ev["network"] = network
    ev["Status"] = status
    ev["Time"] = go_time(time_ns)
    ev["Type"] = type_
    if pod_id:
        ev["PodID"] = pod_id
    ev["Attributes"] = attributes or None
    return ev


def to_json(ev: dict[str, Any]) -> str:
    """Go's json.Marshal: compact, UTF-8 kept, <, > and & escaped."""
    text = json.dumps(ev, separators=(",", ":"), ensure_ascii=False)
    if "<" in text or ">" in text or "&" in text:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def settings() -> tuple[str, str, int]:
    """(backend, log path, max size) of this process: "none" writes nothing."""
    global _SETTINGS
    if _SETTINGS is None:
        from pyman.config import paths

        backend, path, max_size = _from_conf()
        backend = _BACKEND or backend or "file"
        path = path or str(paths().runtime / "events" / "events.log")
        _SETTINGS = (backend, path, max_size)
    return _SETTINGS


def _from_conf() -> tuple[str, str, int]:
    """containers.conf's events keys; files that never set them are not parsed (most
    commands then pay a read of a few files, ~0.1 ms, not tomllib's parse)."""
    from pyman import containers_conf

    for path in containers_conf.config_files():
        try:
            with open(path, "rb") as f:
                if _sets_events(f.read()):
                    break
        except OSError:
            continue
    else:
        return "", "", 0
    conf = containers_conf.current()
    return (conf.get("engine", "events_logger") or "",
            conf.get("engine", "events_logfile_path") or "",
            conf.get("engine", "events_logfile_max_size") or 0)


def container_fields(c: Any) -> dict[str, Any]:
    """A container's part of its events (a ContainerConfig or anything with its fields)."""
    return {"id_": c.id, "name": c.name, "image": c.image_name, "pod_id": c.pod,
            "attributes": dict(sorted(c.labels.items()))}


def container(c: Any, status: str, **extra: Any) -> None:
    emit("container", status, **container_fields(c), **extra)


def _sets_events(data: bytes) -> bool:
    """An ``events_*`` key at a line's start (the shipped file names them in comments)."""
    i = data.find(b"events_")
    while i >= 0:
        if not data[data.rfind(b"\n", 0, i) + 1:i].strip():
            return True
        i = data.find(b"events_", i + 7)
    return False


def monitor_settings(c: Any) -> EventsCfg | None:
    """What a monitor needs to write its container's events (None: it writes none)."""
    backend, path, max_size = settings()
    return None if backend == "none" else {"path": path, "max": max_size,
                                           "ctr": container_fields(c)}


def from_monitor(cfg: MonitorConfig, status: str, **extra: Any) -> None:
    """The monitor's events (died, cleanup, remove), with what monitor_settings gave it."""
    ev = cfg.get("events")
    if not ev:
        return
    if status == "died" and cfg.get("container_dir"):  # renamed while it ran?
        try:
            with open(os.path.join(cfg["container_dir"], "config.json"), "rb") as f:
                name = json.load(f).get("name")
            if isinstance(name, str) and name:
                ev["ctr"]["name"] = name
        except (OSError, ValueError, AttributeError):
            pass
    try:
        append(ev["path"], int(ev.get("max") or 0),
               to_json(record("container", status, **ev["ctr"], **extra)))
    except OSError:
        pass  # nobody to tell: the container's end is recorded in its state all the same


def emit(type_: str, status: str, **fields: Any) -> None:
    """Write one event, or nothing with the "none" backend. A log that cannot be written
    costs a warning, never the command (Podman logs the error and goes on)."""
    backend, path, max_size = settings()
    if backend == "none":
        return
    try:
        append(path, max_size, to_json(record(type_, status, **fields)))
    except OSError as exc:
        from pyman.errors import warn

        warn(f'time="{time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}" level=error '
             f'msg="Unable to write {type_} event: {exc}"')


def append(path: str, max_size: int, line: str) -> None:
    """Append one JSON line under the lock, rotating first when it would reach max_size."""
    from fcntl import LOCK_EX, lockf

    try:
        lock = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        lock = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        lockf(lock, LOCK_EX)
        data = line.encode() + b"\n"
        if max_size > 0 and _rotate(path, len(line), max_size):
            data = (to_json(record("system", "log-rotation", name=path)) + "\n").encode() + data
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    finally:
        os.close(lock)  # releases the lock


def _rotate(path: str, adding: int, max_size: int) -> bool:
    """Podman's rotation: when the log would reach max_size, keep only what follows the first
    line break after its middle (a new file renamed over it)."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return False
    if size + adding < max_size:
        return False
    with open(path, "rb") as f:
        f.seek(size // 2)
        f.readline()  # the rest of the line the middle falls in (a whole one at a start)
        rest = f.read()
    tmp = f"{path}.rot-{os.getpid()}"
    with open(tmp, "wb") as out:
        out.write(rest)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return True
