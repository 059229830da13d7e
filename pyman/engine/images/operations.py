"""Image operations: find locally, pull (fetch + unpack + record), list, remove."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from pyman.config import Paths
from pyman.engine.types import PullOptions
from pyman.errors import ImageInUseError, ImageNotFoundError, PymanError
from pyman.eventlog import emit
from pyman.storage.images import ImageRecord, ImageStore
from pyman.storage.layers import LayerSource, LayerStore

ARCHIVE_TRANSPORTS = ("docker-archive:", "oci-archive:")  # run/create from an archive

if TYPE_CHECKING:
    from pyman.engine.images.reports import ImageView
    from pyman.image.manifest import LayerDescriptor
    from pyman.storage.layers import LayerFeed


class PullEvents(Protocol):
    """What a pull reports as it goes (the CLI renders it; a library user may ignore it)."""

    def started(self, name: str) -> None: ...

    def __call__(self, digest: str, done: int, total: int) -> None: ...

    def warn(self, message: str) -> None: ...

    def finished(self, config_digest: str) -> None: ...


class ImageService:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.store = ImageStore(paths.data)
        self.layers = LayerStore(paths.layers)
        self._registries: Any = None

    def _conf(self) -> Any:
        """registries.conf, read once per service (as containers/image caches it per process):
        a run resolves its image name more than once."""
        if self._registries is None:
            from pyman.image.registries_conf import load_registries_conf

            self._registries = load_registries_conf(self.paths.config)
        return self._registries

    def candidates(self, name: str) -> list[str]:
        """The full names ``name`` may mean, in the order Podman tries them."""
        return [str(ref) for ref in self._conf().resolve(name)]

    def records(self) -> list[ImageRecord]:
        """Every image record, in stored order (Podman's for `rmi --all`, image tree)."""
        return self.store.all()

    def find_local(self, name: str) -> ImageRecord | None:
        return self.match_local(name)[0]

    def match_local(self, name: str) -> tuple[ImageRecord | None, str | None]:
        """The local image for a name or id, and which of its names was meant (None: by id).
        Short names also match localhost/NAME and any repository ending in /NAME, as Podman."""
        rec = self.store.find(name)
        if rec is not None:
            return rec, name if name in rec.names else None
        try:
            cands = [str(c) for c in self.candidates(name)]
        except PymanError:
            cands = []
        for cand in cands:
            rec = self.store.find(cand)
            if rec is not None:
                return rec, cand if cand in rec.names else None
        if "@" in name:
            return None, None
        last = name.rsplit("/", 1)[-1]
        full = name if ":" in last else f"{name}:latest"
        for rec in self.store.all():
            for n in rec.names:
                if n == f"localhost/{full}" or n.endswith(f"/{full}"):
                    return rec, n
        return None, None

    def pull(self, opts: PullOptions, events: PullEvents | None = None) -> ImageRecord:
        from pyman.image.auth import credentials_for
        from pyman.image.manifest import Platform
        from pyman.image.pull import fetch_image
        from pyman.storage.blobs import BlobStore

        if opts.reference.startswith(("docker-archive:", "oci-archive:")):
            return self._pull_archive(opts.reference)
        conf = self._conf()
        candidates = conf.resolve(opts.reference)
        platform = Platform.parse(opts.platform) if opts.platform else None
        blobs = BlobStore(self.paths.blobs)
        if events:
            events.started(str(candidates[0]) if len(candidates) == 1 else opts.reference)
        feed: LayerFeed | None = None

        def layers_known(layers: list[LayerDescriptor], diff_ids: list[str]
                         ) -> Callable[[str], None]:
            """Layers unpack in the user namespace as their downloads complete (the
            unpacking child is forked now, before the download threads start)."""
            nonlocal feed
            feed = self.layers.unpack_as_ready(
                [LayerSource(blobs.path(layer.digest), diff_id)
                 for layer, diff_id in zip(layers, diff_ids, strict=True)])
            return lambda digest: feed.ready(blobs.path(digest)) if feed else None

        try:
            fetched = fetch_image(candidates, conf, blobs, platform=platform,
                                  tls_verify=opts.tls_verify, progress=events,
                                  credentials=credentials_for(opts.creds, opts.authfile),
                                  have_layer=self.layers.has, layers_known=layers_known)
        except BaseException:
            if feed is not None:
                feed.abort()
            raise
        for w in feed.finish() if feed is not None else []:
            if events:
                events.warn(w)
        size = 0
        for diff_id in fetched.diff_ids:
            size += int(str(self.layers.info(diff_id).get("size", 0)))
        ref = fetched.reference
        name = str(ref)
        repo_digests = [f"{ref.registry}/{ref.repository}@{d}"
                        for d in (fetched.list_digest, fetched.manifest_digest) if d]
        record = ImageRecord(
            id=fetched.config_digest.split(":", 1)[1],
            names=[name] if ref.tag else [],
            digest=fetched.manifest_digest,
            manifest_media_type=fetched.manifest_media_type,
            config_digest=fetched.config_digest,
            layers=list(fetched.diff_ids),
            size=size,
            created=str(fetched.config.get("created", "")),
            digests=repo_digests,
            list_digest=fetched.list_digest,
        )
        if events:
            events.finished(fetched.config_digest)
        record = self.store.add(record)
        emit("image", "pull", name=opts.reference)
        return record

    def _pull_archive(self, reference: str) -> ImageRecord:
        """pull docker-archive:PATH / oci-archive:PATH: load the archive's (first) image."""
        from pyman.engine.images.archives import ArchiveService

        path = reference.split(":", 1)[1]
        if not os.path.isfile(path):
            raise PymanError(f"{reference}: no such archive file")
        report = ArchiveService(self.paths).load_file(path)
        emit("image", "pull", name=reference)
        return next(r for r in self.store.all() if r.id == report.ids[0])

    def get_or_pull(self, name: str, policy: str = "missing",
                    events: PullEvents | None = None, *, tls_verify: bool | None = None,
                    authfile: str | None = None) -> ImageRecord:
        if name.startswith(ARCHIVE_TRANSPORTS):
            return self._from_archive(name, events)
        how = PullOptions(name, tls_verify=tls_verify, authfile=authfile)
        if policy != "always":
            rec = self.find_local(name)
            if rec is not None and policy == "newer" and self._newer(how, rec):
                return self.pull(how, events)
            if rec is not None:
                return rec
            if policy == "never":
                raise ImageNotFoundError(f"{name}: image not known")  # Podman's words, --pull=never
        return self.pull(how, events)

    def _newer(self, how: PullOptions, rec: ImageRecord) -> bool:
        """--pull=newer: the registry has another manifest for the name than ``rec``'s."""
        from pyman.image.auth import credentials_for
        from pyman.image.pull import has_newer

        have = {d for d in (rec.digest, rec.list_digest) if d}
        have.update(d.rsplit("@", 1)[1] for d in rec.digests if "@" in d)
        try:
            conf = self._conf()
            return has_newer(conf.resolve(how.reference), conf, have,
                             credentials=credentials_for(how.creds, how.authfile),
                             tls_verify=how.tls_verify)
        except PymanError:
            return False

    def _from_archive(self, name: str, events: PullEvents | None) -> ImageRecord:
        """run/create docker-archive:PATH or oci-archive:PATH: the archive is loaded (as
        `load` does) and its first image used, with Podman's copy lines."""
        from pyman.engine.images.archives import ArchiveService

        path = name.partition(":")[2]
        if name.startswith("docker-archive:") and not os.path.isfile(path):
            path = path.rpartition(":")[0] or path  # docker-archive:PATH:REFERENCE
        report = ArchiveService(self.paths).load(path)
        rec = self.store.find(report.ids[0]) if report.ids else None
        if rec is None:
            raise ImageNotFoundError(f"{name}: the archive holds no image")
        if events is not None:
            for diff_id in rec.layers:
                events(diff_id, 0, 0)
            events.finished(rec.config_digest)
        return rec

    def config(self, rec: ImageRecord) -> dict[str, Any]:
        """The image's OCI config JSON (from the blob store)."""
        if rec.is_list:  # Podman's words: it looks for this platform's image in the list
            from pyman.build_info import os_arch

            arch = os_arch().split("/", 1)[1]
            raise ImageNotFoundError(f"no image found in manifest list for architecture {arch}"
                                     ', variant "", OS linux: image not known')
        from pyman.errors import CorruptRecord
        from pyman.storage.records import read_json

        path = self.paths.blobs / "sha256" / rec.config_digest.split(":", 1)[1]
        hint = f"remove the image (`pyman rmi -f {rec.id[:12]}`) and pull it again"
        try:
            data = read_json(path)
        except CorruptRecord as err:
            err.args = (f"{err}: {hint}",)
            raise
        if data is None:
            raise FileNotFoundError(f"the image's config {path} is missing: {hint}")
        if not isinstance(data, dict) or not isinstance(data.get("config") or {}, dict):
            raise CorruptRecord(path, "not an image config", hint)
        return data

    def remove(self, name: str, in_use: Callable[[str], list[str]], force: bool = False,
               every_name: bool = False) -> list[str]:
        """Untag or delete an image; returns report lines as Podman prints them.
        ``every_name``: by id with all its names (rmi --all), no --force needed for them."""
        rec, meant = self.match_local(name)
        if rec is None:
            raise ImageNotFoundError(f"{name}: image not known")
        report: list[str] = []
        digested = self._digested_name(name) if meant is None and "@" in name else None
        with self.store.transaction() as images:
            target = next(i for i in images if i.id == rec.id)
            # by one of several names: only that name goes, --force or not, in use or not
            # (libimage); by id, several names need --force
            if meant in target.names and len(target.names) > 1:
                target.names.remove(meant)
                emit("image", "untag", id_=rec.id, name=meant)
                return [f"Untagged: {meant}"]
            if digested:  # Podman's repo@digest name: it alone goes while tags keep the image
                if target.names and not every_name:
                    return [f"Untagged: {digested}"]
                report.append(f"Untagged: {digested}")
            users = in_use(rec.id)
            if users and not force:
                raise ImageInUseError(users[0])
            if len(target.names) > 1 and not (force or every_name):
                raise PymanError(f"unable to delete image {rec.id!r} by ID with more than one "
                                 f"tag ([{' '.join(target.names)}]): please force removal")
            report += [f"Untagged: {n}" for n in target.names]
            images.remove(target)
            still_used = {d for i in images for d in i.layers}
        self.layers.remove([d for d in rec.layers if d not in still_used])
        for n in rec.names:
            emit("image", "untag", id_=rec.id, name=n)
        emit("image", "remove", id_=rec.id, name=name)
        report.append(f"Deleted: {rec.id}")
        return report

    def _digested_name(self, name: str) -> str:
        """The fully qualified repo@digest a digest reference found its image by."""
        try:
            cands = [str(c) for c in self.candidates(name)]
        except PymanError:
            cands = []
        return next((c for c in cands if self.store.find(c) is not None), name)

    def untags_only(self, name: str) -> bool:
        """Would `rmi name` only take a name away (the image stays)?"""
        rec, meant = self.match_local(name)
        if rec is None:
            return False
        if meant is None and "@" in name:
            return bool(rec.names)
        return meant in rec.names and len(rec.names) > 1

    # -- reports and names ----------------------------------------------------------------
    def require(self, name: str) -> ImageRecord:
        rec = self.find_local(name)
        if rec is None:
            raise ImageNotFoundError(f"{name}: image not known")
        return rec

    def inspect(self, name: str) -> dict[str, Any]:
        from pyman.engine.images.reports import image_inspect

        rec = self.require(name)
        self.config(rec)  # a manifest list has no image document: Podman's error
        doc = image_inspect(self.view(rec))
        doc["Annotations"] = self.annotations(rec)
        return doc

    def annotations(self, rec: ImageRecord) -> dict[str, str]:
        """An OCI manifest's annotations (Podman's inspect shows them; a Docker one has
        none)."""
        import json

        from pyman.image.manifest import OCI_MANIFEST

        if rec.manifest_media_type != OCI_MANIFEST:
            return {}
        try:
            doc = json.loads((self.paths.blobs / "sha256" / rec.digest.split(":", 1)[1])
                             .read_bytes())
        except (OSError, ValueError, IndexError):
            return {}
        found = doc.get("annotations") if isinstance(doc, dict) else None
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    def view(self, rec: ImageRecord, containers: int = 0) -> ImageView:
        from pyman.engine.images.reports import ImageView
        from pyman.errors import CorruptRecord
        from pyman.storage.records import warn

        try:
            config = {} if rec.is_list else self.config(rec)
        except OSError:
            config = {}
        except CorruptRecord as err:
            warn(err, "no details from")
            config = {}
        sizes = tuple(int(str(self.layers.info(d).get("size", 0))) for d in rec.layers)
        return ImageView(rec, config, containers, sizes)

    def views(self, *, filters: list[str] | None = None, reference: str | None = None,
              containers: Callable[[str], list[str]] | None = None) -> list[ImageView]:
        """Images as `images` lists them (newest first), filtered as Podman's --filter."""
        from pyman.engine.images.reports import ImageFilter, reference_matches

        flt = ImageFilter(filters or [], self.find_local)
        out = []
        for rec in self.store.all():
            if reference and not (reference_matches(reference, rec.names)
                                  or self._is_id(reference, rec)):
                continue
            v = self.view(rec, len(containers(rec.id)) if containers else 0)
            if flt.match(v):
                out.append(v)
        return sorted(out, key=lambda v: v.created or 0, reverse=True)

    @staticmethod
    def _is_id(key: str, rec: ImageRecord) -> bool:
        key = key.removeprefix("sha256:")
        return len(key) >= 3 and rec.id.startswith(key)

    def tag(self, name: str, targets: list[str]) -> ImageRecord:
        """Add names; a name without a registry is localhost's, as Podman does it."""
        rec = self.require(name)
        new = [tag_name(t) for t in targets]
        with self.store.transaction() as images:
            for other in images:
                if other.id != rec.id:
                    other.names = [n for n in other.names if n not in new]
            target = next(i for i in images if i.id == rec.id)
            target.names += [n for n in new if n not in target.names]
        for t in targets:
            emit("image", "tag", id_=rec.id, name=t)
        return target

    def untag(self, name: str, targets: list[str]) -> ImageRecord:
        """Remove the given names, or all of them; the image stays (dangling when none is
        left)."""
        rec = self.require(name)
        with self.store.transaction() as images:
            target = next(i for i in images if i.id == rec.id)
            gone = list(target.names) if not targets else []
            for t in targets:
                full = self._own_name(target, t)
                if full is None:
                    raise PymanError(f"{t}: tag not known")  # Podman's words
                gone.append(full)
            target.names = [n for n in target.names if n not in gone]
        for n in gone:
            emit("image", "untag", id_=rec.id, name=n)
        return target

    def _own_name(self, rec: ImageRecord, name: str) -> str | None:
        if name in rec.names:
            return name
        try:
            full = tag_name(name)
        except PymanError:
            return None
        if full in rec.names:
            return full
        try:  # a short name as `run` would resolve it: alpine -> docker.io/library/alpine
            cands = self.candidates(name)
        except PymanError:
            return None
        return next((c for c in cands if c in rec.names), None)

    def delete_unused_storage(self) -> None:
        """Layers no image uses, and blobs no image references (prune's second half)."""
        import shutil

        images = self.store.all()
        used_layers = {d for i in images for d in i.layers}
        if self.paths.layers.exists():
            orphans = [f"sha256:{p.name}" for p in self.paths.layers.iterdir()
                       if not p.name.startswith(".") and f"sha256:{p.name}" not in used_layers]
            self.layers.remove(orphans)
        keep = self._referenced_blobs(images)
        blob_dir = self.paths.blobs / "sha256"
        if blob_dir.exists():
            for p in blob_dir.iterdir():
                if not p.name.startswith(".") and f"sha256:{p.name}" not in keep:
                    if p.is_dir():
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        p.unlink(missing_ok=True)

    def _referenced_blobs(self, images: list[ImageRecord]) -> set[str]:
        keep: set[str] = set()
        for rec in images:
            keep |= {rec.digest, rec.config_digest}
            path = self.paths.blobs / "sha256" / rec.digest.split(":", 1)[-1]
            try:
                manifest = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            layers = manifest.get("layers") if isinstance(manifest, dict) else None
            keep |= {str(d.get("digest")) for d in layers or []
                     if isinstance(d, dict)} if isinstance(layers, list) else set()
        # index blobs pulled with an image are referenced by its repo digests
        for rec in images:
            keep |= {d.rsplit("@", 1)[-1] for d in rec.digests}
        return keep

    def prune(self, all_: bool, in_use: Callable[[str], list[str]],
              filters: list[str] | None = None) -> list[str]:
        """Remove dangling images (all unused ones with ``all_``) no container uses; returns
        the removed ids, as `podman image prune` prints them."""
        from pyman.engine.images.reports import ImageFilter

        flt = ImageFilter(filters or [], self.find_local)
        removed: list[str] = []
        with self.store.transaction() as images:
            for rec in list(images):
                if in_use(rec.id) or (rec.names and not all_):
                    continue
                if not flt.match(self.view(rec)):
                    continue
                images.remove(rec)
                removed.append(rec.id)
                emit("image", "remove", id_=rec.id)
        if removed:
            self.delete_unused_storage()
        return removed


def tag_name(text: str) -> str:
    """Podman's normalization for new names: no registry means localhost, no tag latest."""
    from pyman.image.reference import parse_reference, split_domain

    base = text.split("@", 1)[0]
    name = base.rsplit(":", 1)[0] if base.rfind(":") > base.rfind("/") else base
    if split_domain(name)[0] is None:
        text = f"localhost/{text}"
    ref = parse_reference(text)
    if ref.digest:
        raise PymanError(f"{text}: a digest cannot be used as a tag: name[:tag] expected")
    return str(ref)


def platform_option(platform: str | None, os_: str | None, arch: str | None,
                    variant: str | None) -> str | None:
    """--os/--arch/--variant override the parts of --platform (or of the host's)."""
    if not (os_ or arch or variant):
        return platform
    import platform as host

    from pyman.image.manifest import Platform

    base = Platform.parse(platform) if platform else Platform.host()
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(host.machine(), host.machine())
    parts = [os_ or base.os or "linux", arch or base.architecture or machine]
    if variant or (base.variant and not arch):
        parts.append(variant or base.variant or "")
    return "/".join(parts)
