"""`inspect` of anything: Podman's lookup order (a container, then an image, then a volume
of that name) and the documents each kind has."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from pyman.errors import ContainerNotFoundError, PymanError

if TYPE_CHECKING:
    from pyman.engine import Engine

InspectType = Literal["all", "container", "image", "volume"]
INSPECT_TYPES: tuple[str, ...] = get_args(InspectType)


@dataclass
class InspectReport:
    """The documents found, in the order asked; ``error``: the last name nothing had
    (Podman shows what it found, then fails)."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    error: PymanError | None = None


def check_type(type_: str) -> None:
    if type_ not in INSPECT_TYPES:
        raise PymanError(f"invalid --type {type_!r}: container, image, volume or all")


def inspect(engine: Engine, keys: list[str], type_: str = "all") -> InspectReport:
    from pyman.engine.containers.inspect import container_inspect

    check_type(type_)
    svc = engine.containers
    report = InspectReport()
    for key in keys:
        try:
            if type_ in ("image", "volume"):
                raise ContainerNotFoundError(key)
            c, st = svc.get(key)
        except ContainerNotFoundError:
            # as podman: a container first, then an image of that name, then a volume
            rec = engine.images.find_local(key) if type_ in ("all", "image") else None
            vol = engine.volumes.store.load(key) if rec is None and type_ in (
                "all", "volume") else None
            if vol is not None:
                report.documents.append(engine.volumes.inspect(vol))
            elif rec is not None:
                report.documents.append(engine.images.inspect(rec.id))
            else:
                report.error = PymanError(f'inspecting object: no such object: "{key}"')
            continue
        report.documents.append(container_inspect(c, st, static_dir=str(svc.store.dir(c.id)),
                                                  run_dir=str(svc.store.run_dir(c.id))))
    return report
