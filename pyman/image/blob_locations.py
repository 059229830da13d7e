"""Where blobs are known to exist in registries: what push has sent (or found) where.

A small JSON map, blob digest -> ["host/repository", ...] (most recent first, a few each), so a
later push of an image sharing those blobs to another repository of the same registry can
mount them instead of uploading them again (Podman keeps a blob info cache for the same end).
A lost or corrupt file only costs uploads: it is a cache.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pyman.storage.atomic import locked, read_json, write_json

KEEP = 4  # locations remembered per blob


class BlobLocations:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = path.with_name(path.name + ".lock")

    def _load(self) -> dict[str, list[str]]:
        try:
            data = read_json(self.path, {})
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def repositories(self, digest: str, host: str) -> list[str]:
        """Repositories on ``host`` known to hold ``digest``, most recent first."""
        out = []
        for loc in self._load().get(digest, []):
            if isinstance(loc, str) and loc.startswith(host + "/"):
                out.append(loc[len(host) + 1:])
        return out

    def record(self, host: str, repository: str, digests: Iterable[str]) -> None:
        where = f"{host}/{repository}"
        with locked(self.lock):
            data = self._load()
            for digest in digests:
                known = [loc for loc in data.get(digest, []) if loc != where]
                data[digest] = [where, *known][:KEEP]
            write_json(self.path, data)
