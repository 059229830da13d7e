"""`system prune`: every kind of unused object, in Podman's order, with the space freed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyman.errors import PymanError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyman.engine import Engine

PRUNE_KEYS = ("label", "label!", "until")


@dataclass
class SystemPruneReport:
    pods: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    reclaimed: int = 0  # bytes the store shrank by

    def sections(self) -> list[tuple[str, list[str]]]:
        """(title, ids) in the order Podman prints them."""
        return [("Deleted Pods", self.pods), ("Deleted Containers", self.containers),
                ("Deleted Volumes", self.volumes), ("Deleted Images", self.images),
                ("Deleted Networks", self.networks)]


def check_filters(specs: list[str]) -> dict[str, list[str]]:
    """The ``--filter`` values by key; a key prune does not take is refused."""
    from pyman.engine.containers.filters import parse_filters

    wanted = parse_filters(specs)
    bad = [k for k in wanted if k not in PRUNE_KEYS]
    if bad:
        raise PymanError(f"invalid filter {bad[0]!r}: system prune takes "
                         f"{', '.join(k + '=' for k in PRUNE_KEYS)}")
    return wanted


def usage(engine: Engine) -> int:
    """Bytes the store's images, containers and volumes take."""
    from pyman.engine.system.df import disk_usage

    use = disk_usage(engine)
    return int(sum(i["size"] for i in use.images) + sum(c["size"] for c in use.containers)
               + sum(v["size"] for v in use.volumes))


def prune(engine: Engine, all_: bool = False, volumes: bool = False,
          filters: list[str] | None = None) -> SystemPruneReport:
    """Podman's order: pods, containers, volumes, images, networks; containers and images
    again while a round frees more (a removed container frees its image)."""
    from pyman.engine.volumes.operations import parse_when

    specs = list(filters or [])
    wanted = check_filters(specs)
    until = [parse_when(v) for v in wanted.get("until", [])]

    def labels_ok(labels: dict[str, str]) -> bool:
        def has(spec: str) -> bool:
            k, eq, v = spec.partition("=")
            return k in labels and (not eq or labels[k] == v)

        return (all(has(s) for s in wanted.get("label", []))
                and not any(has(s) for s in wanted.get("label!", [])))

    def old_enough(created: float) -> bool:
        return all(created < u for u in until)

    before = usage(engine)
    report = SystemPruneReport(pods=engine.pods.prune())
    image_specs = [s for s in specs if not s.startswith("label!")]
    while True:
        gone = engine.containers.prune(
            lambda c: not (labels_ok(c.labels) and old_enough(c.created)))
        freed = engine.images.prune(all_, engine.containers.using_image, image_specs)
        report.containers += gone
        report.images += freed
        if not gone and not freed:
            break
    if volumes:
        report.volumes = engine.volumes.prune(image_specs)
    report.networks = _prune_networks(engine, labels_ok, old_enough)
    report.reclaimed = max(0, before - usage(engine))
    return report


def _prune_networks(engine: Engine, labels_ok: Callable[[dict[str, str]], bool],
                    old_enough: Callable[[float], bool]) -> list[str]:
    def keep(doc: dict[str, Any]) -> bool:
        created = _rfc3339(str(doc.get("created", ""))[:35]) or 0.0
        return not labels_ok(doc.get("labels") or {}) or not old_enough(created)

    return list(engine.networks.prune(keep=keep))


def _rfc3339(text: str) -> float | None:
    """A network's `created` (RFC 3339, up to nanoseconds) -> epoch seconds."""
    from datetime import datetime

    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", text)
    if not m:
        return None
    zone = m.group(3) or "Z"
    iso = m.group(1) + (m.group(2) or "")[:7] + ("+00:00" if zone == "Z" else zone)
    return datetime.fromisoformat(iso).timestamp()
