"""A running container's resource use, read from /proc (pyman gives containers no cgroup of
their own on hosts without delegation, so there is no cgroup to read): its processes are its
init and the init's descendants (in a pid namespace every orphan is reparented to the init),
whose /proc/<pid>/stat any local user may read; the network counters are the container's
namespace's (/proc/<init>/net/dev). Shaped as Docker's stats document."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from pyman.config import Paths
from pyman.errors import ContainerNotFoundError, ContainerStateError


def _read(path: str) -> str:
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


def _procs() -> dict[int, tuple[int, int, int, int]]:
    """pid -> (ppid, utime+stime ticks, user ticks, rss pages) of every process here."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            text = _read(f"/proc/{name}/stat")
        except OSError:
            continue  # gone meanwhile
        rest = text[text.rfind(")") + 2:].split()  # the name may hold spaces and parens
        try:
            ppid, utime, stime, rss = int(rest[1]), int(rest[11]), int(rest[12]), int(rest[21])
        except (IndexError, ValueError):
            continue
        out[int(name)] = (ppid, utime + stime, utime, rss)
    return out


def _tree(procs: dict[int, tuple[int, int, int, int]], init: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [init]
    while todo:
        pid = todo.pop()
        if pid in procs:
            found.append(pid)
            todo.extend(children.get(pid, []))
    return found


def _networks(init: int) -> dict[str, dict[str, int]]:
    nets = {}
    try:
        lines = _read(f"/proc/{init}/net/dev").splitlines()[2:]
    except OSError:
        return {}
    for line in lines:
        name, _, counters = line.partition(":")
        v = [int(x) for x in counters.split()]
        if name.strip() == "lo" or len(v) < 16:
            continue
        nets[name.strip()] = {"rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2],
                              "rx_dropped": v[3], "tx_bytes": v[8], "tx_packets": v[9],
                              "tx_errors": v[10], "tx_dropped": v[11]}
    return nets


def _system_ns(ticks: int) -> int:
    for line in _read("/proc/stat").splitlines():
        if line.startswith("cpu "):
            return sum(int(x) for x in line.split()[1:8]) * 1_000_000_000 // ticks
    return 0


def _stamp(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat().replace("+00:00", "Z")


class StatsService:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def sample(self, key: str) -> dict[str, Any]:
        """One reading of the running container ``key``."""
        from pyman.engine.containers.exec import ExecService

        try:
            t = ExecService(self.paths).target(key, "container is not running", 125)
        except ContainerNotFoundError:
            raise ContainerNotFoundError(f"no such container: {key}") from None
        now = time.time_ns()
        ticks = os.sysconf("SC_CLK_TCK")
        procs = _procs()
        mine = _tree(procs, t.pid)
        if not mine or not t.alive():
            raise ContainerStateError(f"container {t.name} is not running")
        total = sum(procs[p][1] for p in mine) * 1_000_000_000 // ticks
        user = sum(procs[p][2] for p in mine) * 1_000_000_000 // ticks
        rss = sum(procs[p][3] for p in mine) * os.sysconf("SC_PAGE_SIZE")
        limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        cpus = os.cpu_count() or 1
        return {
            "read": _stamp(now), "preread": "0001-01-01T00:00:00Z", "id": t.id,
            "name": f"/{t.name}", "num_procs": 0, "pids_stats": {"current": len(mine)},
            "cpu_stats": {"cpu_usage": {"total_usage": total, "usage_in_usermode": user,
                                        "usage_in_kernelmode": total - user},
                          "system_cpu_usage": _system_ns(ticks), "online_cpus": cpus,
                          "throttling_data": {"periods": 0, "throttled_periods": 0,
                                              "throttled_time": 0}},
            "memory_stats": {"usage": rss, "limit": limit, "stats": {}},
            "blkio_stats": {"io_service_bytes_recursive": None},
            "storage_stats": {}, "networks": _networks(t.pid),
        }
