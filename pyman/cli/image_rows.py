"""Rows that `images` and `history` render (table or Go template), with Podman's template
field names and human units."""

from __future__ import annotations

from typing import Any

from pyman.cli.humanize import ago, human_size
from pyman.engine.images.reports import ImageView, go_time, parse_created, rfc3339, split_name_tag


def since(ts: float | None) -> str:
    return ago(ts) if ts else "unknown"


def table_rows(v: ImageView, *, no_trunc: bool = False) -> list[dict[str, Any]]:
    """The rows `podman images` shows for an image: one per name, `<none>` when dangling.
    Keys are Podman's template fields."""
    rec = v.record
    created = v.created
    base = {
        "ID": "sha256:" + rec.id if no_trunc else rec.id[:12],  # Podman's imageReporter.ID
        "Id": rec.id,
        "Digest": v.digest,
        "Created": since(created),
        "CreatedSince": since(created),
        "CreatedAt": go_time(created),
        "CreatedTime": go_time(created),
        "Size": human_size(rec.size),
        "VirtualSize": human_size(rec.size),
        "SharedSize": human_size(0),
        "UniqueSize": human_size(rec.size),
        "Containers": v.containers,
        "Labels": v.labels or {},
        "Names": list(rec.names),
        "History": ", ".join(rec.names_history or rec.names),
        "Dangling": v.dangling,
        "ReadOnly": False,
        "IsReadOnly": False,
    }
    rows = []
    for name in rec.names or ["<none>:<none>"]:
        repo, tag = split_name_tag(name)
        rows.append(dict(base, Repository=repo, Tag=tag))
    return rows


def history_rows(v: ImageView, *, no_trunc: bool = False, human: bool = True
                 ) -> list[dict[str, Any]]:
    """`podman history`: newest first; the top entry carries the image id, the others
    `<missing>` (their ids are not images), as Podman shows for pulled images."""
    history = list(v.config.get("history") or [])
    layer_sizes = list(v.layer_sizes)
    rows: list[dict[str, Any]] = []
    layer_i = 0
    for entry in history:
        empty = bool(entry.get("empty_layer"))
        size = 0 if empty or layer_i >= len(layer_sizes) else layer_sizes[layer_i]
        if not empty:
            layer_i += 1
        created = parse_created(str(entry.get("created", "")))
        created_by = str(entry.get("created_by", ""))
        rows.append({
            "ID": "<missing>",
            "Created": since(created) if human else rfc3339(created),
            "CreatedSince": since(created),
            "CreatedAt": go_time(created),  # as images' (Podman's historyReporter)
            "created": rfc3339(created),  # --format json's
            "bytes": size,
            "CreatedBy": created_by if no_trunc or len(created_by) <= 45
            else created_by[:42] + "...",
            "Size": human_size(size) if human else str(size),
            "Comment": str(entry.get("comment", "")),
            "Tags": None,
        })
    if not rows:
        rows.append({"ID": "<missing>", "Created": since(v.created),
                     "CreatedSince": since(v.created), "CreatedAt": go_time(v.created),
                     "created": rfc3339(v.created), "bytes": v.record.size,
                     "CreatedBy": "", "Size": human_size(v.record.size), "Comment": "",
                     "Tags": None})
    rows.reverse()
    rows[0]["ID"] = v.record.id if no_trunc else v.record.id[:12]
    rows[0]["id"] = v.record.id
    rows[0]["Tags"] = list(v.record.names) or None
    return rows
