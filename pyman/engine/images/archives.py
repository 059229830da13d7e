"""save and load: images to and from docker-archive / oci-archive tarballs."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pyman.config import Paths
from pyman.errors import PymanError
from pyman.eventlog import emit

FORMATS = ("docker-archive", "oci-archive")


@dataclass
class SaveOptions:
    images: list[str]
    output: str | None = None  # None: write to ``stream``
    format: str = "docker-archive"
    multi_image: bool = False
    uncompressed: bool = False  # oci-archive: the layers as plain tars


@dataclass
class LoadReport:
    names: list[str] = field(default_factory=list)  # what `Loaded image:` lines show
    ids: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class ArchiveService:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    # ---------------------------------------------------------------- save

    def save(self, opts: SaveOptions, stream: IO[bytes] | None = None,
             events: Any = None) -> None:
        """Write the archive to ``opts.output`` (atomically: all or nothing) or ``stream``."""
        from pyman.storage.blobs import BlobStore

        if opts.format not in FORMATS:
            raise PymanError(f"unsupported format {opts.format!r} for saving: use "
                             "docker-archive or oci-archive")
        if not opts.images:
            raise PymanError("no image given: name at least one image to save")
        if opts.multi_image and opts.format != "docker-archive":
            raise PymanError(f'unsupported format "{opts.format}" for saving multiple images '
                             "(only docker-archive)")
        if opts.output is None and stream is None:
            raise PymanError("no output: use -o FILE")
        if opts.output and opts.format == "docker-archive" and os.path.exists(opts.output) \
                and os.path.getsize(opts.output) > 0:
            raise PymanError(f"{opts.output}: docker-archive doesn't support modifying existing "
                             "images. Remove the file or choose another name")
        blobs = BlobStore(self.paths.blobs)
        images = self._save_images(opts, blobs, events)
        self.paths.data.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".save-", dir=self.paths.data) as work:
            if opts.output is None:
                assert stream is not None
                self._write(opts, stream, images, blobs, Path(work))
                stream.flush()
                _saved(images, "")
                return
            target = Path(opts.output)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
            try:
                with os.fdopen(fd, "wb") as out:
                    self._write(opts, out, images, blobs, Path(work))
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        _saved(images, opts.output or "")

    @staticmethod
    def _write(opts: SaveOptions, out: IO[bytes], images: list[Any], blobs: Any, work: Path
               ) -> None:
        from pyman.image.archive import write_docker_archive, write_oci_archive

        if opts.format == "docker-archive":
            write_docker_archive(out, images, blobs, work)
        else:
            write_oci_archive(out, images[0], blobs, work if opts.uncompressed else None)

    def _save_images(self, opts: SaveOptions, blobs: Any, events: Any) -> list[Any]:
        """The images to write, in order, each with the names it goes under."""
        import json

        from pyman.engine.images.operations import ImageService, tag_name
        from pyman.engine.images.registry import RegistryService
        from pyman.errors import ImageNotFoundError
        from pyman.image.archive import SaveImage
        from pyman.image.manifest import diff_ids_of
        from pyman.image.push import load_manifest, missing_blobs

        service = ImageService(self.paths)
        wanted = opts.images if opts.multi_image else opts.images[:1]
        extra_tags = [] if opts.multi_image else [tag_name(t) for t in opts.images[1:]]
        chosen: dict[str, SaveImage] = {}
        for name in wanted:
            rec = service.find_local(name)
            if rec is None:  # a short name Podman gave localhost/ (tag, load of an oci-archive)
                with contextlib.suppress(PymanError):
                    rec = service.store.find(tag_name(name))
            if rec is None:
                raise ImageNotFoundError(f"{name}: image not known")
            service.config(rec)  # a manifest list holds no image to save: Podman's error
            own = self._own_name(service, rec, name)
            if rec.id in chosen:
                if own and own not in chosen[rec.id].names:
                    chosen[rec.id].names.append(own)
                continue
            data, manifest = load_manifest(blobs, rec.digest, name)
            missing = missing_blobs(blobs, manifest)
            if missing:  # loaded or imported without compressed blobs: compress them again
                data, manifest = RegistryService(self.paths)._rebuild_layers(
                    rec, blobs, data, manifest, set(missing), name, events)
            config = json.loads(blobs.read(manifest.config.digest))
            chosen[rec.id] = SaveImage([own] if own else [], data, manifest.config.digest,
                                       diff_ids_of(config))
        images = list(chosen.values())
        for tag in extra_tags:
            if tag not in images[0].names:
                images[0].names.append(tag)
        return images

    @staticmethod
    def _own_name(service: Any, rec: Any, name: str) -> str | None:
        """The image's name the user meant; None when they gave an id."""
        if name.removeprefix("sha256:") and rec.id.startswith(name.removeprefix("sha256:")):
            return None
        own = service._own_name(rec, name)
        return str(own) if own else None

    # ---------------------------------------------------------------- load

    def load(self, source: str | None, stdin: IO[bytes] | None = None) -> LoadReport:
        """Load every image of an archive (a path, or ``stdin``); all or nothing."""
        self.paths.data.mkdir(parents=True, exist_ok=True)
        if source is not None:
            if not os.path.isfile(source):
                raise PymanError(f"{source}: no such archive file")
            report = self._load_path(Path(source), source)
            emit("image", "loadfromarchive", name=source)
            return report
        if stdin is None:
            raise PymanError("no input: use -i FILE or redirect an archive to stdin")
        with tempfile.NamedTemporaryFile(prefix=".load-", dir=self.paths.data) as spool:
            shutil.copyfileobj(stdin, spool, 1 << 20)
            spool.flush()
            report = self._load_path(Path(spool.name), "stdin")
            emit("image", "loadfromarchive", name=spool.name)
            return report

    def load_file(self, path: str) -> LoadReport:
        """An archive's images, stored (pull docker-archive:: no load event)."""
        return self._load_path(Path(path), path)

    def _load_path(self, path: Path, label: str) -> LoadReport:
        from pyman.image.archive import ArchiveReader, read_archive, verify_layer

        reader = ArchiveReader(path, label)
        try:
            fmt, images = read_archive(reader)
            verified: dict[str, Any] = {}
            for img in images:
                for layer in img.layers:
                    key = f"{layer.member}\0{layer.diff_id}"
                    if key in verified:
                        layer.digest, layer.size, layer.compression = verified[key]
                        continue
                    verify_layer(reader, layer)
                    verified[key] = (layer.digest, layer.size, layer.compression)
            return self._store(reader, fmt, images)
        finally:
            reader.close()

    def _store(self, reader: Any, fmt: str, images: list[Any]) -> LoadReport:
        import hashlib

        from pyman.image.archive import docker_manifest
        from pyman.storage.blobs import BlobStore
        from pyman.storage.images import ImageRecord, ImageStore
        from pyman.storage.layers import LayerSource, LayerStore

        blobs = BlobStore(self.paths.blobs)
        layers = LayerStore(self.paths.layers)
        new_blobs: list[str] = []
        new_layers: list[str] = []
        report = LoadReport()
        records = []

        def put(digest: str, chunks: Any) -> None:
            if not blobs.has(digest):
                blobs.put_stream(digest, chunks)
                new_blobs.append(digest)

        try:
            for img in images:
                if img.manifest is None:
                    img.manifest = docker_manifest(img)
                    img.manifest_digest = "sha256:" + hashlib.sha256(img.manifest).hexdigest()
                for layer in img.layers:
                    put(layer.digest, reader.chunks(layer.member))
                put(img.config_digest, [img.config])
                put(img.manifest_digest, [img.manifest])
                sources = [LayerSource(blobs.path(layer.digest), layer.diff_id)
                           for layer in img.layers]
                new_layers += [s.diff_id for s in sources if not layers.has(s.diff_id)]
                report.warnings += layers.ensure(sources)
                records.append(self._record(img, fmt, layers, ImageRecord))
        except BaseException:
            with contextlib.suppress(Exception):
                layers.remove(list(dict.fromkeys(new_layers)))
            for digest in new_blobs:
                blobs.remove(digest)
            raise
        store = ImageStore(self.paths.data)
        for rec in records:
            store.add(rec)
            report.ids.append(rec.id)
            report.names += rec.names or [f"sha256:{rec.id}"]
        return report

    @staticmethod
    def _record(img: Any, fmt: str, layers: Any, record_type: Any) -> Any:
        import json

        config = json.loads(img.config)
        size = sum(int(str(layers.info(layer.diff_id).get("size", 0))) for layer in img.layers)
        return record_type(
            id=img.config_digest.split(":", 1)[1],
            names=list(dict.fromkeys(_qualify(n, fmt) for n in img.names)),
            digest=img.manifest_digest,
            manifest_media_type=img.manifest_media_type,
            config_digest=img.config_digest,
            layers=[layer.diff_id for layer in img.layers],
            size=size,
            created=str(config.get("created", "")) if isinstance(config, dict) else "",
        )


def _saved(images: list[Any], output: str) -> None:
    for img in images:
        emit("image", "save", id_=img.config_digest.split(":", 1)[-1], name=output)


def _qualify(name: str, fmt: str) -> str:
    """Podman's names for loaded images: docker-archive tags are normalized as Docker does
    (alpine -> docker.io/library/alpine:latest), OCI ref.names without a registry go to
    localhost/."""
    from pyman.errors import InvalidReferenceError

    try:
        if fmt == "docker-archive":
            from pyman.image.reference import parse_reference

            return str(parse_reference(name))
        from pyman.engine.images.operations import tag_name

        return tag_name(name)
    except (InvalidReferenceError, PymanError) as exc:
        raise PymanError(f"the archive names its image {name!r}, which is not a valid image "
                         f"name: {exc}") from None
