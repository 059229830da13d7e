"""Sub-id ranges from /etc/subuid and /etc/subgid, and the id maps built from them.

Stdlib only: the monitor imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyman.errors import RootlessSetupError


@dataclass(frozen=True)
class IdRange:
    """A range of subordinate ids (/etc/subuid, /etc/subgid)."""

    start: int
    count: int


@dataclass(frozen=True)
class IdMapping:
    """One line of /proc/<pid>/uid_map: inside id, outside id, length."""

    inside: int
    outside: int
    count: int


def parse_subid_file(text: str, user: str, uid: int) -> list[IdRange]:
    """Ranges for ``user`` (by name or numeric id), in file order; bad lines are skipped."""
    ranges: list[IdRange] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 3 or parts[0] not in (user, str(uid)):
            continue
        try:
            start, count = int(parts[1]), int(parts[2])
        except ValueError:
            continue
        if count > 0 and start >= 0:
            ranges.append(IdRange(start, count))
    return ranges


def subid_ranges(path: Path, user: str, own_id: int, kind: str) -> list[IdRange]:
    """Read the ranges of ``user`` from ``path``; raise a setup error that says how to fix it."""
    flag = "--add-subuids" if kind == "subuid" else "--add-subgids"
    try:
        text = path.read_text()
    except FileNotFoundError:
        fix = f"add one as root: `usermod {flag} {free_range('')} {user}`"
        raise RootlessSetupError(
            f"{path} does not exist: rootless containers need {kind} ranges; {fix}"
        ) from None
    except OSError as exc:
        raise RootlessSetupError(f"cannot read {path}: {exc.strerror}") from None
    ranges = parse_subid_file(text, user, own_id)
    fix = f"add one as root: `usermod {flag} {free_range(text)} {user}`"
    if not ranges:
        raise RootlessSetupError(f"no {kind} range for user {user} in {path}: {fix}")
    for r in ranges:
        if r.start <= own_id < r.start + r.count:
            raise RootlessSetupError(
                f"the {kind} range {r.start}-{r.start + r.count - 1} of user {user} in {path} "
                f"contains the user's own id {own_id}: give the user a range that does not "
                "overlap it"
            )
    return ranges


def free_range(text: str, size: int = 65536) -> str:
    """A start-end range above every range of a subuid/subgid file's ``text``: one nobody
    else holds, to suggest to usermod (100000 up, 65536-aligned past other users')."""
    top = 100000
    for line in text.splitlines():
        parts = line.strip().split(":")
        if (len(parts) == 3 and not line.startswith("#") and parts[1].isdigit()
                and parts[2].isdigit()):
            top = max(top, int(parts[1]) + int(parts[2]))
    start = -(-top // 65536) * 65536 if top > 100000 else top
    return f"{start}-{start + size - 1}"


def full_map(own_id: int, ranges: list[IdRange]) -> list[IdMapping]:
    """Container id 0 is the user; the sub-id ranges follow from 1, as Podman maps them."""
    maps = [IdMapping(0, own_id, 1)]
    inside = 1
    for r in ranges:
        maps.append(IdMapping(inside, r.start, r.count))
        inside += r.count
    return maps


def map_args(maps: list[IdMapping]) -> list[str]:
    """The triplets newuidmap/newgidmap take after the pid."""
    args: list[str] = []
    for m in maps:
        args += [str(m.inside), str(m.outside), str(m.count)]
    return args


def keep_id_nested(total: int, target: int) -> list[IdMapping]:
    """Podman's --userns=keep-id, as a user namespace nested in the standard one (whose ids
    0..total-1 are the user, then the sub-ids): container id ``target`` is its 0 (the user),
    container 0..target-1 its 1..target, and the rest keep their ids."""
    below = min(target, total - 1)
    maps = [IdMapping(0, 1, below)] if below else []
    maps.append(IdMapping(target, 0, 1))
    if target + 1 < total:
        maps.append(IdMapping(target + 1, target + 1, total - target - 1))
    return maps
