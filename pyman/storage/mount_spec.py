"""A container's mount as its record keeps it (engine/specgen/mounts.py parses -v/--mount/--tmpfs
into these; the monitor mounts them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class MountSpec:
    """One mount of a container (bind, volume or tmpfs), as recorded."""

    type: str  # bind | volume | tmpfs
    destination: str
    source: str = ""  # host path (bind), volume name (volume; "" until an anonymous one is named)
    options: list[str] = field(default_factory=list)  # mount options, without ro/rw
    rw: bool = True
    propagation: str = "rprivate"
    anonymous: bool = False
    copy: bool = True  # volumes: copy the image's content in on first use
    chown: bool = False  # U: the source goes to the container's user at each start

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MountSpec:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def oci_options(self) -> list[str]:
        """The options runc gets (tmpfs: Podman's, in its order)."""
        if self.type == "tmpfs":
            return list(self.options)
        return [*self.options, self.propagation, "rw" if self.rw else "ro"]
