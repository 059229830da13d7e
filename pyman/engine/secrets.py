"""Secrets (Podman's file driver): `<data>/secrets/secrets.json` names them, each one's data
is `<data>/secrets/data/<id>` (0600, the store's 0700 dir around it), written under
`secrets.lock`. A container names them with --secret; at each start the monitor copies a
mount secret into its run dir, owned and moded as asked, and binds it read-only at
/run/secrets/<name> (or the target); an env secret becomes a variable of the process then,
never of the record."""

from __future__ import annotations

import os
import re
import secrets as random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pyman.errors import PymanError, SecretNotFoundError
from pyman.storage.atomic import locked, read_json, write_json

NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")  # Podman's, at most 253 characters
MAX_SIZE = 512000  # bytes, Podman's maxSecretSize


@dataclass
class Secret:
    id: str
    name: str
    driver: str = "file"
    created: float = field(default_factory=time.time)
    updated: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)


class SecretStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "secrets"
        self.file = self.root / "secrets.json"

    def _load(self) -> list[Secret]:
        from pyman.storage import records

        doc = read_json(self.file, {"secrets": []})
        items = doc.get("secrets") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise PymanError(f"{self.file} is damaged: remove it (its secrets are lost) and "
                             "create them again")
        return [records.parse(Secret, s, self.file) for s in items]

    def all(self) -> list[Secret]:
        return self._load()

    def find(self, key: str) -> Secret:
        """By name, full id or unique id prefix, as Podman looks them up."""
        found = self._load()
        for s in found:
            if key in (s.name, s.id):
                return s
        hits = [s for s in found if key and s.id.startswith(key)]
        if len(hits) == 1:
            return hits[0]
        raise SecretNotFoundError(f'no secret with name or id "{key}": no such secret')

    def data_path(self, s: Secret) -> Path:
        return self.root / "data" / s.id

    def create(self, name: str, data: bytes, labels: dict[str, str] | None = None,
               driver: str = "file") -> Secret:
        if not NAME.match(name) or len(name) > 253:
            raise PymanError(f"secret name {name!r} is invalid: use letters, digits, '_', "
                             "'.' and '-', starting with a letter or digit (at most 253)")
        if driver != "file":
            raise PymanError(f"secret driver {driver!r} is not supported by pyman: use file")
        if not 0 < len(data) < MAX_SIZE:
            raise PymanError(f"secret data must be larger than 0 and less than {MAX_SIZE} "
                             "bytes")
        (self.root / "data").mkdir(parents=True, exist_ok=True, mode=0o700)
        with locked(self.root / "secrets.lock"):
            items = self._load()
            if any(s.name == name for s in items):
                raise PymanError(f"{name}: secret name in use")
            s = Secret(id=random.token_hex(13)[:25], name=name, labels=dict(labels or {}))
            s.updated = s.created
            tmp = self.data_path(s).with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.data_path(s))
            write_json(self.file, {"secrets": [asdict(x) for x in [*items, s]]})
        return s

    def remove(self, key: str) -> Secret:
        with locked(self.root / "secrets.lock"):
            s = self.find(key)
            write_json(self.file, {"secrets": [asdict(x) for x in self._load()
                                               if x.id != s.id]})
            self.data_path(s).unlink(missing_ok=True)
        return s

    def inspect(self, s: Secret) -> dict[str, Any]:
        from pyman.engine.containers.inspect import rfc3339

        return {"ID": s.id, "CreatedAt": rfc3339(s.created), "UpdatedAt": rfc3339(s.updated),
                "Spec": {"Name": s.name, "Driver": {"Name": s.driver, "Options": {
                    "path": str(self.root / "data")}}, "Labels": s.labels}}


def parse_specs(specs: list[str], store: SecretStore) -> list[dict[str, Any]]:
    """--secret NAME[,type=mount|env,target=T,uid=U,gid=G,mode=M] (or source=NAME,...):
    checked at create (the secret must exist), recorded by id."""
    out = []
    for spec in specs:
        fields = spec.split(",")
        opts: dict[str, str] = {"source": fields[0]} if "=" not in fields[0] else {}
        for item in fields[1 if opts else 0:]:
            key, eq, value = item.partition("=")
            if not eq or key not in ("source", "type", "target", "uid", "gid", "mode"):
                raise PymanError(f"invalid secret option {item!r} in --secret {spec!r}: "
                                 "use type=, target=, uid=, gid=, mode=")
            opts[key] = value
        kind = opts.get("type", "mount")
        if kind not in ("mount", "env") or not opts.get("source"):
            raise PymanError(f"--secret {spec!r}: name a secret, with type mount or env")
        s = store.find(opts["source"])
        try:
            ids = {k: int(opts.get(k, "0")) for k in ("uid", "gid")}
            mode = int(opts.get("mode", "444"), 8)
        except ValueError:
            raise PymanError(f"--secret {spec!r}: uid, gid and mode are numbers") from None
        if kind == "env" and ({"uid", "gid", "mode"} & set(opts)):
            raise PymanError("UID, GID, Mode options cannot be set with secret type env")
        target = opts.get("target") or s.name
        if kind == "mount" and not target.startswith("/"):
            target = f"/run/secrets/{target}"
        out.append({"id": s.id, "name": s.name, "type": kind, "target": target, **ids,
                    "mode": mode})
    return out


def for_monitor(recorded: list[dict[str, Any]], store: SecretStore
                ) -> tuple[list[dict[str, Any]], list[str]]:
    """(mount secrets with their data file, env entries) for a start; a secret removed
    since create is one error naming it."""
    mounts, env = [], []
    for r in recorded:
        s = store.find(str(r["id"]))
        path = store.data_path(s)
        if r["type"] == "env":
            env.append(f"{r['target']}={path.read_bytes().decode(errors='replace')}")
        else:
            mounts.append({**r, "data": str(path)})
    return mounts, env
