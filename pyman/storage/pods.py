"""Pod records: ``<data>/pods/<id>/pod.json``, one file per pod, written atomically.

A pod is a name, the namespaces its members share, and its infra container (which holds
those namespaces and the published ports); the members are ordinary containers whose
record names the pod.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pyman.errors import CorruptRecord, PodExistsError, PodNotFoundError, PymanError
from pyman.storage.atomic import locked, write_json
from pyman.storage.records import salvaged_name, warn


@dataclass
class PodConfig:
    """A pod's record: its name, infra container and shared namespaces."""

    id: str
    name: str
    infra_id: str = ""
    share: list[str] = field(default_factory=lambda: ["ipc", "net", "uts"])
    labels: dict[str, str] = field(default_factory=dict)
    hostname: str = ""
    created: float = field(default_factory=time.time)
    infra_pidfile: str = ""  # --infra-conmon-pidfile: the infra's monitor pid, at each start
    exit_policy: str = "continue"  # stop: the pod stops when its last member exits


class PodStore:
    def __init__(self, root: Path) -> None:
        self.root = root  # <data>/pods
        self.names_lock = root / "names.lock"

    def _file(self, pid: str) -> Path:
        return self.root / pid / "pod.json"

    def _ids(self) -> list[str]:
        try:
            return [e.name for e in os.scandir(self.root) if len(e.name) == 64]
        except FileNotFoundError:
            return []

    def _scan(self) -> tuple[list[PodConfig], list[CorruptRecord]]:
        from pyman.storage import records

        pods, bad = [], []
        for pid in self._ids():
            try:
                pod = records.load(PodConfig, self._file(pid))
                if pod is not None and pod.id != pid:
                    raise CorruptRecord(self._file(pid), f"its id is not {pid}")
            except CorruptRecord as err:
                err.pod_id = pid
                err.args = (f"{err}: `pyman pod rm -f {pid[:12]}` removes the pod",)
                bad.append(err)
                continue
            if pod is not None:
                pods.append(pod)
        return sorted(pods, key=lambda p: p.created), bad

    def all(self) -> list[PodConfig]:
        """The usable records; each damaged one is named once on stderr and left out."""
        pods, bad = self._scan()
        for err in bad:
            warn(err, f"skipping pod {err.pod_id[:12]}:")
        return pods

    def find(self, key: str) -> PodConfig:
        """By id, name or unique id prefix; Podman's message when there is none. A damaged
        record the key names (id, prefix, or the name its torn file still shows) is a
        CorruptRecord saying how to remove it."""
        pods, bad = self._scan()
        for p in pods:
            if key in (p.id, p.name):
                return p
        for err in bad:
            if key and key == salvaged_name(err.path):
                raise err
        hits: list[Any] = [p for p in pods if p.id.startswith(key)] if key else []
        hits += [e for e in bad if e.pod_id.startswith(key)] if key else []
        if len(hits) == 1:
            if isinstance(hits[0], CorruptRecord):
                raise hits[0]
            return hits[0]  # type: ignore[no-any-return]
        if len(hits) > 1:
            raise PymanError(f"more than one pod matches id prefix {key!r}: be more precise")
        raise PodNotFoundError(f"no pod with name or ID {key} found: no such pod")

    def create(self, pod: PodConfig) -> None:
        """Record a new pod; of two with one name exactly one wins."""
        from pyman.names import check_name

        check_name(pod.name, "running pod create option")
        self.root.mkdir(parents=True, exist_ok=True)
        with locked(self.names_lock):
            for other in self.all():
                if other.name == pod.name:
                    raise PodExistsError(
                        f"{pod.name}: the pod name is already in use by {other.id}; remove "
                        "that pod or pick another name: pod already exists")
            tmp = self.root / f".new-{pod.id}"
            tmp.mkdir()
            write_json(tmp / "pod.json", asdict(pod), sync=False)
            os.rename(tmp, self.root / pod.id)

    def save(self, pod: PodConfig) -> None:
        write_json(self._file(pod.id), asdict(pod), sync=False)

    def delete(self, pid: str) -> None:
        shutil.rmtree(self.root / pid, ignore_errors=True)
