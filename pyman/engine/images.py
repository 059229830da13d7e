"""Image operations: find locally, pull (fetch + unpack + record), list, remove."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from pyman.config import Paths
from pyman.engine.types import ImageSummary, PullOptions
from pyman.errors import ImageNotFoundError, PymanError
from pyman.storage.images import ImageRecord, ImageStore
from pyman.storage.layers import LayerSource, LayerStore


class PullEvents(Protocol):
    """What a pull reports as it goes (the CLI renders it; a library user may ignore it)."""

    def started(self, name: str) -> None: ...

    def __call__(self, digest: str, done: int, total: int) -> None: ...

    def warn(self, message: str) -> None: ...

    def finished(self) -> None: ...


class ImageService:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.store = ImageStore(paths.data)
        self.layers = LayerStore(paths.layers)

    def _conf(self) -> Any:
        from pyman.image.registries_conf import load_registries_conf

        return load_registries_conf(self.paths.config)

    def candidates(self, name: str) -> list[str]:
        """The full names ``name`` may mean, in the order Podman tries them."""
        return [str(ref) for ref in self._conf().resolve(name)]

    def find_local(self, name: str) -> ImageRecord | None:
        rec = self.store.find(name)
        if rec is not None:
            return rec
        try:
            cands = self.candidates(name)
        except PymanError:
            return None
        for cand in cands:
            rec = self.store.find(cand)
            if rec is not None:
                return rec
        return None

    def pull(self, opts: PullOptions, events: PullEvents | None = None) -> ImageRecord:
        from pyman.image.auth import credentials_for
        from pyman.image.manifest import Platform
        from pyman.image.pull import fetch_image
        from pyman.storage.blobs import BlobStore

        conf = self._conf()
        candidates = conf.resolve(opts.reference)
        platform = Platform.parse(opts.platform) if opts.platform else None
        blobs = BlobStore(self.paths.blobs)
        if events:
            events.started(str(candidates[0]) if len(candidates) == 1 else opts.reference)
        fetched = fetch_image(candidates, conf, blobs, platform=platform,
                              tls_verify=opts.tls_verify, progress=events,
                              credentials=credentials_for(opts.creds, opts.authfile))
        sources = [LayerSource(blobs.path(layer.digest), diff_id)
                   for layer, diff_id in zip(fetched.layers, fetched.diff_ids, strict=True)]
        for w in self.layers.ensure(sources):
            if events:
                events.warn(w)
        size = 0
        for diff_id in fetched.diff_ids:
            size += int(str(self.layers.info(diff_id).get("size", 0)))
        ref = fetched.reference
        name = str(ref)
        repo_digest = f"{ref.registry}/{ref.repository}@{fetched.manifest_digest}"
        record = ImageRecord(
            id=fetched.config_digest.split(":", 1)[1],
            names=[name] if ref.tag else [],
            digest=fetched.manifest_digest,
            manifest_media_type=fetched.manifest_media_type,
            config_digest=fetched.config_digest,
            layers=list(fetched.diff_ids),
            size=size,
            created=str(fetched.config.get("created", "")),
            digests=[repo_digest],
        )
        if events:
            events.finished()
        return self.store.add(record)

    def get_or_pull(self, name: str, policy: str = "missing",
                    events: PullEvents | None = None) -> ImageRecord:
        if policy != "always":
            rec = self.find_local(name)
            if rec is not None:
                return rec
            if policy == "never":
                raise ImageNotFoundError(f"{name}: image not known locally and --pull=never")
        return self.pull(PullOptions(name), events)

    def config(self, rec: ImageRecord) -> dict[str, Any]:
        """The image's OCI config JSON (from the blob store)."""
        path = self.paths.blobs / "sha256" / rec.config_digest.split(":", 1)[1]
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}

    def summaries(self) -> list[ImageSummary]:
        out: list[ImageSummary] = []
        for rec in self.store.all():
            names = rec.names or ["<none>:<none>"]
            for name in names:
                repo, tag = split_name_tag(name)
                out.append(ImageSummary(rec.id, repo, tag, rec.digest, rec.created, rec.size,
                                        rec.names))
        return sorted(out, key=lambda s: s.created, reverse=True)

    def remove(self, name: str, in_use: Callable[[str], list[str]], force: bool = False
               ) -> list[str]:
        """Untag or delete an image; returns report lines as Podman prints them."""
        rec = self.find_local(name)
        if rec is None:
            raise ImageNotFoundError(f"{name}: image not known")
        users = in_use(rec.id)
        if users and not force:
            raise PymanError(
                f"image {rec.id[:12]} is in use by container(s) {', '.join(users)}: "
                "remove them first or use --force"
            )
        report: list[str] = []
        with self.store.transaction() as images:
            target = next(i for i in images if i.id == rec.id)
            if name in target.names and len(target.names) > 1:
                target.names.remove(name)
                return [f"Untagged: {name}"]
            report += [f"Untagged: {n}" for n in target.names]
            images.remove(target)
            still_used = {d for i in images for d in i.layers}
        self.layers.remove([d for d in rec.layers if d not in still_used])
        report.append(f"Deleted: {rec.id}")
        return report


def split_name_tag(name: str) -> tuple[str, str]:
    if name == "<none>:<none>":
        return "<none>", "<none>"
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:]
    return name, "<none>"
