"""Who is really alive: a pid is only "ours" with the same start time and boot id.

Stdlib only: the monitor imports this module.
"""

from __future__ import annotations


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot), None if the pid is gone or
    a zombie (dead, only waiting for a parent that may be slow to reap it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the comm field may contain spaces and parens: split after the last ')'
    rest = data[data.rindex(b")") + 2 :].split()
    if rest[0] in (b"Z", b"X"):
        return None
    return int(rest[19])


_boot_id: str | None = None


def boot_id() -> str:
    global _boot_id
    if _boot_id is None:
        try:
            with open("/proc/sys/kernel/random/boot_id") as f:
                _boot_id = f.read().strip()
        except OSError:
            _boot_id = ""
    return _boot_id


def same_process(pid: int, started: int | None, boot: str) -> bool:
    """True when ``pid`` is still the process recorded with ``started`` in boot ``boot``."""
    if pid <= 0 or boot != boot_id():
        return False
    now = start_time(pid)
    return now is not None and (started is None or now == started)
