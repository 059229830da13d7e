"""--log-driver and --log-opt: Podman 4.3's drivers, options, sizes and messages.

k8s-file (the default) and json-file both write the k8s-file format (Podman 4.3 treats
json-file as k8s-file but reports the name given); none keeps no log; passthrough hands the
client's stdio to the container. The monitor writes the log (monitor/k8slog.py) and
truncates it when an entry would take it past max-size, as conmon does.
"""

from __future__ import annotations

import os
import re

from pyman.errors import PymanError

DRIVERS = ("k8s-file", "json-file", "none", "passthrough")
LOGGING = ("k8s-file", "json-file")  # the drivers that write a file `pyman logs` reads
_SIZE = re.compile(r"(\d+(?:\.\d+)*) ?([kmgtp])?i?b?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4, "p": 1000**5}


def parse_size(text: str) -> int:
    """go-units FromHumanSize, as Podman parses max-size: decimal units (1k = 1000)."""
    m = _SIZE.fullmatch(text)
    if not m:
        raise PymanError(f"invalid size: '{text}'")
    try:
        value = float(m.group(1))
    except ValueError:
        raise PymanError(f"invalid size: '{text}'") from None
    return int(value * _UNITS[(m.group(2) or "").lower()])


def human_size(size: int) -> str:
    """go-units HumanSize (4 significant digits, decimal units): inspect's LogConfig.Size."""
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    value, i = float(size), 0
    while value >= 1000 and i < len(units) - 1:
        value /= 1000
        i += 1
    return f"{value:.4g}{units[i]}"


def parse(driver: str, opts: list[str]) -> tuple[str, dict[str, str | int]]:
    """(driver, {"path", "max_size", "tag"}) from --log-driver and --log-opt; without a
    driver, containers.conf's log_driver, else k8s-file."""
    if not driver:
        from pyman.containers_conf import current

        driver = current().log_driver or "k8s-file"
    if driver == "journald":
        raise PymanError("running container create option: the journald log driver is not "
                         "available to pyman: use k8s-file (the default), json-file, none or "
                         "passthrough")
    if driver not in DRIVERS:
        raise PymanError("running container create option: invalid log driver: invalid "
                         "argument")
    out: dict[str, str | int] = {}
    for opt in opts:
        key, eq, value = opt.partition("=")
        if not eq:
            raise PymanError(f'invalid log option "{opt}"')
        if key == "max-size":
            out["max_size"] = parse_size(value)
        elif key == "path" and value:
            out["path"] = os.path.abspath(value)
        elif key == "tag":
            out["tag"] = value
    return driver, out


def size_limit(size: int) -> int:
    """The limit the monitor applies: the container's max-size, else containers.conf's
    log_size_max (read at each start, as Podman hands it to conmon); 0: none."""
    if size > 0:
        return size
    from pyman.containers_conf import current

    return max(current().log_size_max, 0)


def check_passthrough(driver: str) -> None:
    """Podman refuses passthrough on a terminal: the container would own it unmediated."""
    if driver == "passthrough" and any(os.isatty(fd) for fd in (0, 1, 2)):
        raise PymanError("the '--log-driver passthrough' option cannot be used on a TTY")


def log_file(driver: str, path: str, static_dir: str) -> str:
    """Where the log is written and read; "" for the drivers that keep none."""
    if driver not in LOGGING:
        return ""
    return path or os.path.join(static_dir, "ctr.log")


def inspect(driver: str, path: str, size: int, tag: str, static_dir: str
            ) -> dict[str, object]:
    return {"Type": driver, "Config": None, "Path": log_file(driver, path, static_dir),
            "Tag": tag, "Size": human_size(size)}


def refuse_reading(driver: str) -> None:
    if driver not in LOGGING:
        raise PymanError(f"this container is using the '{driver}' log driver, cannot read "
                         "logs: this container is not logging output")
