"""A container's healthcheck, from `--health-*` and the image's HEALTHCHECK, in Podman's
shape (Config.Healthcheck: Test, Interval, Timeout, StartPeriod in nanoseconds, Retries).

Pure parsing with Podman 4.3's defaults and messages: nothing is made here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pyman.errors import PymanError

ON_FAILURE = ("none", "kill", "restart", "stop")
DEFAULT_INTERVAL = "30s"
DEFAULT_TIMEOUT = "30s"
DEFAULT_START = "0s"
DEFAULT_RETRIES = 3
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_go_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds (non-negative only)."""
    if text == "0":
        return 0
    pos, total = 0, 0.0
    while pos < len(text):
        m = _PART.match(text, pos)
        if m is None:
            raise ValueError(text)
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not text:
        raise ValueError(text)
    return int(total)


def go_duration_text(ns: int) -> str:
    """Go's Duration.String() for whole-ish values: 30s, 1m30s, 500ms, 0s."""
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return f"{ns / size:g}{unit}"
    out = ""
    h, rest = divmod(ns, 3_600_000_000_000)
    m, rest = divmod(rest, 60_000_000_000)
    if h:
        out += f"{h}h"
    if h or m:
        out += f"{m}m"
    return out + f"{rest / 1e9:g}s"


@dataclass
class HealthOptions:
    """The --health-* options as given."""

    cmd: str | None = None  # --health-cmd: a command line (CMD-SHELL) or a JSON array
    interval: str | None = None  # Go duration, or "disable"
    retries: int | None = None
    start_period: str | None = None
    timeout: str | None = None
    on_failure: str = "none"
    disabled: bool = False  # --no-healthcheck


def _duration(value: str, name: str, minimum_ns: int = 0, what: str = "") -> int:
    try:
        ns = parse_go_duration(value)
    except ValueError:  # Podman's words (Go's time.ParseDuration error)
        raise PymanError(f'invalid {name}: time: invalid duration "{value}"') from None
    if ns < minimum_ns:
        raise PymanError(what)
    return ns


def _test(cmd: str) -> list[str]:
    """--health-cmd: a JSON array is the Test itself (CMD/CMD-SHELL/NONE first, else CMD
    added); anything else runs with /bin/sh -c (CMD-SHELL); "none" disables it."""
    if cmd.strip().lower() == "none":
        return ["NONE"]
    if cmd.lstrip().startswith("["):
        try:
            words = json.loads(cmd)
        except ValueError:
            words = None
        if isinstance(words, list) and all(isinstance(w, str) for w in words) and words:
            return words if words[0] in ("CMD", "CMD-SHELL", "NONE") else ["CMD", *words]
    return ["CMD-SHELL", cmd]


def build(opts: HealthOptions, image_check: Any) -> dict[str, Any]:
    """The container's Healthcheck ({} for none): the flags over the image's."""
    if opts.on_failure not in ON_FAILURE:
        raise PymanError(f'invalid on-failure action "{opts.on_failure}" for health check: '
                         f"supported actions are {', '.join(ON_FAILURE)}")
    flags_set = any(v is not None for v in (opts.cmd, opts.interval, opts.retries,
                                            opts.start_period, opts.timeout))
    if opts.disabled:
        if opts.cmd is not None:
            raise PymanError("cannot specify both --no-healthcheck and --health-cmd")
        return {}
    base: dict[str, Any] = {}
    if isinstance(image_check, dict) and isinstance(image_check.get("Test"), list) \
            and image_check["Test"] and image_check["Test"][0] != "NONE":
        base = {"Test": [str(w) for w in image_check["Test"]]}
        for key in ("Interval", "Timeout", "StartPeriod"):
            if isinstance(image_check.get(key), int) and image_check[key] > 0:
                base[key] = image_check[key]
        if isinstance(image_check.get("Retries"), int) and image_check["Retries"] > 0:
            base["Retries"] = image_check["Retries"]
    if opts.cmd is not None:
        test = _test(opts.cmd)
        if test == ["NONE"]:
            return {}
        base["Test"] = test
    if not base.get("Test"):
        if opts.on_failure != "none":  # Podman's words
            raise PymanError(f"cannot set on-failure action to {opts.on_failure} without a "
                             "health check")
        if flags_set:
            raise PymanError("healthcheck options (--health-*) need a command: add "
                             "--health-cmd, or use an image with a HEALTHCHECK")
        return {}
    check: dict[str, Any] = {"Test": base["Test"]}
    if opts.interval == "disable":
        check["Interval"] = 0
    elif opts.interval is not None:
        check["Interval"] = _duration(opts.interval, "healthcheck-interval")
    else:
        check["Interval"] = base.get("Interval", parse_go_duration(DEFAULT_INTERVAL))
    if opts.timeout is not None:
        check["Timeout"] = _duration(opts.timeout, "healthcheck-timeout", 1,
                                     "healthcheck-timeout must be at least 1 second")
    else:
        check["Timeout"] = base.get("Timeout", parse_go_duration(DEFAULT_TIMEOUT))
    if opts.start_period is not None:
        check["StartPeriod"] = _duration(opts.start_period, "healthcheck-start-period")
    else:
        check["StartPeriod"] = base.get("StartPeriod", 0)
    if opts.retries is not None:
        if opts.retries < 1:
            raise PymanError("healthcheck-retries must be greater than 0")
        check["Retries"] = opts.retries
    else:
        check["Retries"] = base.get("Retries", DEFAULT_RETRIES)
    return check


def command(test: list[str]) -> list[str]:
    """The process a Test runs (Podman's rules); [] for none."""
    if not test or test[0] in ("", "NONE"):
        return []
    if test[0] == "CMD":
        return list(test[1:])
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test)
