"""Podman's human-readable sizes and durations (from Docker's go-units)."""

from __future__ import annotations

import re
import time


def _decimal(size: float) -> tuple[float, str]:
    """``size`` bytes scaled to the largest 1000-based unit below it (go-units)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000
        i += 1
    return size, units[i]


def human_size(size: float) -> str:
    """Decimal units with 3 significant digits: 7.95 MB, 1.23 GB (go-units HumanSize)."""
    value, unit = _decimal(size)
    return f"{value:.3g} {unit}"


def go_size(size: float) -> str:
    """go-units' HumanSize as Podman's system df prints sizes: 4 digits, no space."""
    value, unit = _decimal(size)
    return f"{value:.4g}{unit}"


def human_duration(seconds: float) -> str:
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{h // 24 // 365} years"


def parse_time(text: str) -> float | None:
    """RFC 3339 with up to nanoseconds (image configs) -> epoch seconds."""
    from datetime import datetime

    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", text)
    if not m:
        return None
    frac = (m.group(2) or "")[:7]
    zone = m.group(3) or "Z"
    iso = m.group(1) + frac + ("+00:00" if zone == "Z" else zone)
    return datetime.fromisoformat(iso).timestamp()


def ago(ts: float, now: float | None = None) -> str:
    return human_duration((now or time.time()) - ts) + " ago"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns padded like Go's tabwriter in Podman's output (two spaces between)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = []
    for row in [headers, *rows]:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
