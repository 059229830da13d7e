"""Podman-shaped image reports: `images --format json`, `image inspect`, `history`, and the
rows `images` renders (table or Go template)."""

from __future__ import annotations

import calendar
import fnmatch
import time
from dataclasses import dataclass
from typing import Any

from pyman.errors import PymanError
from pyman.storage.images import ImageRecord


def parse_created(value: str) -> float | None:
    """RFC 3339 (any fraction, Z or offset) -> epoch seconds."""
    if not value:
        return None
    text = value.strip()
    offset = 0
    if text.endswith("Z"):
        text = text[:-1]
    elif len(text) > 6 and text[-6] in "+-" and text[-3] == ":":
        sign = 1 if text[-6] == "+" else -1
        offset = sign * (int(text[-5:-3]) * 3600 + int(text[-2:]) * 60)
        text = text[:-6]
    base, _, frac = text.partition(".")
    try:
        secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
    return secs - offset + (float(f"0.{frac}") if frac.isdigit() else 0.0)


def go_time(ts: float | None) -> str:
    """Go's default time.Time String() in UTC, as Podman prints CreatedAt in templates."""
    if ts is None:
        return "0001-01-01 00:00:00 +0000 UTC"
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(ts))


def rfc3339(ts: float | None) -> str:
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass
class ImageView:
    """One image with what its reports need (config loaded once)."""

    record: ImageRecord
    config: dict[str, Any]
    containers: int = 0
    layer_sizes: tuple[int, ...] = ()

    @property
    def created(self) -> float | None:
        return parse_created(self.record.created)

    @property
    def labels(self) -> dict[str, str] | None:
        labels = (self.config.get("config") or {}).get("Labels")
        return dict(labels) if labels else None

    @property
    def dangling(self) -> bool:
        return not self.record.names

    @property
    def digest(self) -> str:
        """Podman's Digest: what the image was pulled by (the index, when there was one)."""
        return self.record.list_digest or self.record.digest

    def repo_digests(self) -> list[str]:
        out = list(self.record.digests)
        for name in self.record.names:
            repo = split_name_tag(name)[0]
            for digest in dict.fromkeys((self.digest, self.record.digest)):
                if f"{repo}@{digest}" not in out:
                    out.append(f"{repo}@{digest}")
        return sorted(out)


def split_name_tag(name: str) -> tuple[str, str]:
    if name == "<none>:<none>":
        return "<none>", "<none>"
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:]
    return name, "<none>"


def images_json(v: ImageView) -> dict[str, Any]:
    """An entry of `podman images --format json` (podman 4.3's field order)."""
    rec = v.record
    doc: dict[str, Any] = {
        "Id": rec.id,
        "ParentId": "",
        "RepoTags": None,
        "RepoDigests": v.repo_digests(),
        "Size": rec.size,
        "SharedSize": 0,
        "VirtualSize": rec.size,
        "Labels": v.labels,
        "Containers": v.containers,
    }
    if v.dangling:
        doc["Dangling"] = True
    doc.update({
        "Names": list(rec.names) or None,
        "Digest": v.digest,
        "History": list(rec.names) or None,
        "Created": int(v.created or 0),
        "CreatedAt": rfc3339(v.created),
    })
    if doc["Names"] is None:
        del doc["Names"]
    return doc


def image_inspect(v: ImageView) -> dict[str, Any]:
    """`podman image inspect`'s document."""
    rec, cfg = v.record, v.config
    icfg = dict(cfg.get("config") or {})
    return {
        "Id": rec.id,
        "Digest": v.digest,
        "RepoTags": list(rec.names),
        "RepoDigests": v.repo_digests(),
        "Parent": "",
        "Comment": cfg.get("comment", ""),
        "Created": rfc3339(v.created) if v.created is None else rec.created,
        "Config": icfg,
        "Version": cfg.get("docker_version", ""),
        "Author": cfg.get("author", ""),
        "Architecture": cfg.get("architecture", ""),
        "Os": cfg.get("os", ""),
        "Size": rec.size,
        "VirtualSize": rec.size,
        "GraphDriver": {"Name": "overlay", "Data": None},
        "RootFS": {"Type": "layers", "Layers": list(rec.layers)},
        "Labels": v.labels,
        "Annotations": {},
        "ManifestType": rec.manifest_media_type,
        "User": icfg.get("User", ""),
        "History": list(cfg.get("history") or []),
        "NamesHistory": list(rec.names_history or rec.names),
    }


class ImageFilter:
    """`--filter` for images: dangling, reference, label, before, since, id, intermediate."""

    KEYS = ("dangling", "reference", "label", "before", "since", "after", "id",
            "intermediate", "readonly", "until")

    def __init__(self, specs: list[str], resolve: Any) -> None:
        self.rules: list[tuple[str, str]] = []
        for spec in specs:
            key, eq, value = spec.partition("=")
            key = "since" if key == "after" else key  # Podman's other spelling
            if not eq or key not in self.KEYS:
                raise PymanError(f"invalid image filter {spec!r}: use one of "
                                 f"{', '.join(k + '=...' for k in self.KEYS)}")
            if key in ("dangling", "intermediate", "readonly") and value not in ("true",
                                                                                  "false"):
                raise PymanError(f"invalid filter {spec!r}: {key} takes true or false")
            if key in ("before", "since"):
                rec = resolve(value)
                if rec is None:
                    raise PymanError(f"{value}: image not known (in filter {spec!r})")
                value = str(parse_created(rec.created) or 0)
            if key == "until":  # created before a time (prune's filter)
                from pyman.engine.volumes.operations import parse_when

                value = str(parse_when(value))
            self.rules.append((key, value))

    def match(self, v: ImageView) -> bool:
        by_key: dict[str, list[bool]] = {}
        for key, value in self.rules:
            by_key.setdefault(key, []).append(self._one(key, value, v))
        # as Podman: the same key given twice ORs, different keys AND
        return all(any(hits) for hits in by_key.values())

    @staticmethod
    def _one(key: str, value: str, v: ImageView) -> bool:
        rec = v.record
        if key == "dangling":
            return v.dangling == (value == "true")
        if key in ("intermediate", "readonly"):
            return value == "false"
        if key == "id":
            return rec.id.startswith(value.removeprefix("sha256:"))
        if key == "label":
            k, eq, want = value.partition("=")
            labels = v.labels or {}
            return k in labels and (not eq or labels[k] == want)
        if key == "until":
            return (v.created or 0) < float(value)
        if key in ("before", "since"):
            created = v.created or 0
            limit = float(value)
            return created < limit if key == "before" else created > limit
        return reference_matches(value, rec.names)


def reference_matches(pattern: str, names: list[str]) -> bool:
    """Podman's reference filter: a glob against the full name, the name without the tag,
    and the trailing path (so `alpine` finds docker.io/library/alpine:latest)."""
    for name in names:
        repo, tag = split_name_tag(name)
        candidates = {name, repo}
        parts = repo.split("/")
        for i in range(1, len(parts)):
            tail = "/".join(parts[i:])
            candidates |= {tail, f"{tail}:{tag}"}
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            return True
    return False
