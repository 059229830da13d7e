"""top: the processes of a running container, from /proc, shaped like Podman's (psgo's).

A child joins the container's user namespace: there it may look at every process of the
container (ptrace access, whatever uid they run as), /proc shows their uids as the
container knows them, and the container's /etc/passwd is readable through
/proc/<init>/root. A process belongs to the container when its pid namespace is the one of
the container's init; its pids are the last NSpid entries (as the container sees them).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, fields

from pyman.config import Paths
from pyman.errors import ContainerNotFoundError, PymanError

# psgo's descriptors (Podman's `top` formats) -> column header
HEADERS = {
    "pcpu": "%CPU", "group": "GROUP", "hgroup": "HGROUP", "hpid": "HPID", "huser": "HUSER",
    "nice": "NI", "pgid": "PGID", "pid": "PID", "ppid": "PPID", "user": "USER",
    "args": "COMMAND", "comm": "COMMAND", "etime": "ELAPSED", "tty": "TTY", "time": "TIME",
    "vsz": "VSZ", "state": "STATE", "rgroup": "RGROUP", "ruser": "RUSER",
}
AIX = {"%C": "pcpu", "%G": "group", "%P": "ppid", "%U": "user", "%a": "args", "%c": "comm",
       "%g": "rgroup", "%n": "nice", "%p": "pid", "%r": "pgid", "%t": "etime", "%u": "ruser",
       "%x": "time", "%y": "tty", "%z": "vsz"}
DEFAULT = ("user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args")


def parse_descriptors(args: list[str]) -> list[str] | None:
    """The descriptors asked for (comma- or space-separated), None when one is not ours:
    then Podman runs ps(1) in the container with the arguments as given."""
    if not args:
        return list(DEFAULT)
    out: list[str] = []
    for arg in args:
        for word in arg.replace(",", " ").split():
            name = AIX.get(word, word)
            if name not in HEADERS:
                return None
            out.append(name)
    return out


def go_duration(ns: int) -> str:
    """Go's time.Duration.String(): 0s, 350ms, 3.039222231s, 1m2.5s, 1h0m3s."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size, digits in (("ms", 1_000_000, 6), ("µs", 1_000, 3), ("ns", 1, 0)):
            if ns >= size:
                whole, frac = divmod(ns, size)
                text = str(whole) + (f".{frac:0{digits}d}".rstrip("0").rstrip(".")
                                     if digits else "")
                return f"{sign}{text}{unit}"
    secs, frac = divmod(ns, 1_000_000_000)
    minutes, secs = divmod(secs, 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{secs}" + (f".{frac:09d}".rstrip("0") if frac else "") + "s"
    if hours:
        text = f"{hours}h{minutes}m{text}"
    elif minutes:
        text = f"{minutes}m{text}"
    return sign + text


def tty_name(tty_nr: int) -> str:
    if tty_nr == 0:
        return "?"
    major = (tty_nr >> 8) & 0xFFF
    minor = (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)
    if 136 <= major <= 143:
        return f"pts/{minor + (major - 136) * 256}"
    if major == 4:
        return f"tty{minor}" if minor < 64 else f"ttyS{minor - 64}"
    return "?"


def tabulate(rows: list[list[str]]) -> str:
    """Go's tabwriter as Podman sets it up (minwidth 12, padding 2): every cell but a line's
    last padded to its column's width."""
    if not rows:
        return ""
    widths = [max(12, max(len(r[i]) for r in rows if i < len(r)) + 2)
              for i in range(max(len(r) for r in rows))]
    lines = []
    for r in rows:
        cells = [c.ljust(widths[i]) for i, c in enumerate(r[:-1])] + r[-1:]
        lines.append("".join(cells))
    return "\n".join(lines) + "\n"


@dataclass
class Proc:
    hpid: int
    pid: int
    ppid_host: int
    uid: int  # as the container sees them
    gid: int
    ruid: int
    rgid: int
    comm: str
    args: list[str]
    state: str
    tty_nr: int
    cpu_ticks: int
    start_ticks: int
    nice: int
    pgrp_host: int
    vsz_kib: int


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _scan(init_pid: int) -> list[Proc]:
    """In the container's user namespace: every process in the pid namespace of
    ``init_pid``."""
    target = os.readlink(f"/proc/{init_pid}/ns/pid")
    procs = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") != target:
                continue
            status = _read(f"/proc/{entry}/status").decode(errors="replace")
            stat = _read(f"/proc/{entry}/stat")
            cmdline = _read(f"/proc/{entry}/cmdline")
        except OSError:
            continue  # gone meanwhile, or not ours to see
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rest = stat[stat.rindex(b")") + 2:].split()
        comm = stat[stat.index(b"(") + 1: stat.rindex(b")")].decode(errors="replace")
        uids = fields.get("Uid", "0 0").split()
        gids = fields.get("Gid", "0 0").split()
        procs.append(Proc(
            hpid=int(entry), pid=int(fields.get("NSpid", entry).split()[-1]),
            ppid_host=int(rest[1]), uid=int(uids[1]), gid=int(gids[1]), ruid=int(uids[0]),
            rgid=int(gids[0]), comm=comm,
            args=cmdline.decode(errors="replace").split("\0") if cmdline else [],
            state=rest[0].decode(), tty_nr=int(rest[4]), cpu_ticks=int(rest[11]) + int(rest[12]),
            start_ticks=int(rest[19]), nice=int(rest[16]), pgrp_host=int(rest[2]),
            vsz_kib=int(rest[20]) // 1024))
    return sorted(procs, key=lambda p: p.pid)


def _names(rootfs: str, rel: str) -> list[tuple[int, str]]:
    from pyman.runtime.users import read_entries

    out: dict[int, str] = {}
    for e in read_entries(rootfs, rel)[0]:
        if len(e) >= 3 and e[2].isdigit():
            out.setdefault(int(e[2]), e[0])
    return list(out.items())


def _snapshot(init_pid: int) -> dict[str, object]:
    """In the helper: the container's processes and the names its passwd and group give."""
    root = f"/proc/{init_pid}/root"
    return {"procs": _scan(init_pid), "users": _names(root, "etc/passwd"),
            "groups": _names(root, "etc/group")}


_PROC_TYPES = {f.name: f.type for f in fields(Proc)}


def _decode_snapshot(value: object) -> tuple[list[Proc], dict[int, str], dict[int, str]]:
    """The helper's snapshot, each field checked: it came over a pipe from a process that
    read the container's files."""
    if not isinstance(value, dict) or set(value) != {"procs", "users", "groups"}:
        raise ValueError("not a snapshot")
    procs = []
    for item in value["procs"]:
        if not isinstance(item, dict) or set(item) != set(_PROC_TYPES):
            raise ValueError("not a process")
        for key, kind in _PROC_TYPES.items():
            v = item[key]
            ok = (isinstance(v, str) if kind == "str" else
                  isinstance(v, list) and all(isinstance(a, str) for a in v)
                  if kind == "list[str]" else isinstance(v, int) and not isinstance(v, bool))
            if not ok:
                raise ValueError(f"bad {key}")
        procs.append(Proc(**item))

    def names(pairs: object) -> dict[int, str]:
        if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], int)
                and isinstance(p[1], str) for p in pairs):
            raise ValueError("not a list of (id, name)")
        return {p[0]: p[1] for p in pairs}

    return procs, names(value["users"]), names(value["groups"])


def _host_id(container_id: int, id_map: str) -> int:
    for line in id_map.splitlines():
        inside, outside, count = (int(x) for x in line.split())
        if inside <= container_id < inside + count:
            return outside + container_id - inside
    return 65534  # unmapped: the overflow id


class TopService:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def top(self, key: str, descriptors: list[str]) -> list[list[str]]:
        """Rows (the header first) of ``descriptors`` for each process of ``key``."""
        from pyman.engine.containers.exec import ExecService
        from pyman.rootless.nsenter import call_in, open_namespaces

        try:
            t = ExecService(self.paths).target(
                key, "top can only be used on running containers", 125)
        except ContainerNotFoundError as exc:
            raise ContainerNotFoundError(f"unable to look up requested container: {exc}"
                                         ) from None
        # the init's own user namespace: the monitor's, or one nested in it (keep-id, nomap,
        # auto), where /proc shows the ids as the container knows them
        fds = open_namespaces(t.pid, ("user",))
        try:
            if not t.alive():
                raise PymanError("top can only be used on running containers")
            procs, users, groups = call_in(fds, lambda: _snapshot(t.pid),
                                           _decode_snapshot)
            uid_map = _read(f"/proc/{t.pid}/uid_map").decode()  # read from here: host ids
            gid_map = _read(f"/proc/{t.pid}/gid_map").decode()
        finally:
            for fd in fds:
                os.close(fd)
        ticks = os.sysconf("SC_CLK_TCK")
        btime = 0
        for line in _read("/proc/stat").decode().splitlines():
            if line.startswith("btime "):
                btime = int(line.split()[1])
        now = time.time_ns()
        in_ns = {p.hpid: p.pid for p in procs}
        rows = [[HEADERS[d] for d in descriptors]]
        for p in procs:
            elapsed = now - (btime + p.start_ticks // ticks) * 1_000_000_000
            cpu_secs = p.cpu_ticks // ticks
            values = {
                "pid": str(p.pid), "hpid": str(p.hpid),
                "ppid": str(in_ns.get(p.ppid_host, 0)),
                "pgid": str(in_ns.get(p.pgrp_host, 0)),
                "user": users.get(p.uid, str(p.uid)), "ruser": users.get(p.ruid, str(p.ruid)),
                "group": groups.get(p.gid, str(p.gid)),
                "rgroup": groups.get(p.rgid, str(p.rgid)),
                "huser": str(_host_id(p.uid, uid_map)),
                "hgroup": str(_host_id(p.gid, gid_map)),
                "args": " ".join(p.args) if p.args else f"[{p.comm}]",
                "comm": p.comm, "state": p.state, "nice": str(p.nice),
                "etime": go_duration(elapsed), "time": go_duration(cpu_secs * 1_000_000_000),
                "pcpu": f"{100 * cpu_secs / max(elapsed / 1e9, 1e-9):.3f}",
                "tty": tty_name(p.tty_nr), "vsz": str(p.vsz_kib),
            }
            rows.append([values[d] for d in descriptors])
        return rows
