"""Talking to registries as a user: login, logout, push."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pyman.config import Paths
from pyman.engine.types import LoginOptions, LoginResult, PushOptions, PushReport
from pyman.errors import ImageNotFoundError, PymanError, RegistryError, UnauthorizedError
from pyman.eventlog import emit
from pyman.image import auth
from pyman.image.auth import Credentials


def registry_key(text: str) -> str:
    """What login/logout take: host[:port][/namespace/repo], a scheme tolerated."""
    key = auth.normalize_key(text.split("://", 1)[1] if "://" in text else text)
    key = key.rstrip("/")
    if not key or any(c.isspace() for c in key) or "@" in key:
        raise PymanError(f"invalid registry {text!r}: expected HOST[:PORT][/NAMESPACE/REPO]")
    host, _, repo = key.partition("/")
    if repo and ":" in repo.rsplit("/", 1)[-1]:
        raise PymanError(f"invalid registry {text!r}: a tag is not allowed, only "
                         "HOST[:PORT][/NAMESPACE/REPO]")
    return key


MAX_MOUNT = 5  # repositories asked for pull scopes to mount from, per push


def _gzip_type(media_type: str) -> str:
    if "docker" in media_type:
        return "application/vnd.docker.image.rootfs.diff.tar.gzip"
    return "application/vnd.oci.image.layer.v1.tar+gzip"


class RegistryService:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def _conf(self) -> Any:
        from pyman.image.registries_conf import load_registries_conf

        return load_registries_conf(self.paths.config)

    def _insecure(self, host: str, repository: str, tls_verify: bool | None) -> bool:
        if tls_verify is not None:
            return not tls_verify
        from pyman.image.reference import Reference

        reg = self._conf().find_registry(Reference(host, repository or "x", None, None))
        return bool(reg and reg.insecure)

    def default_registry(self) -> str:
        """The registry login/logout use when none is named: the first search registry."""
        search = self._conf().search_registries
        if not search:
            raise PymanError("no registry given and no unqualified-search-registries "
                             "configured: name the registry")
        return str(search[0])

    # ---- login / logout ----

    def stored(self, registry: str, authfile: str | None = None) -> Credentials | None:
        host, _, repo = registry_key(registry).partition("/")
        return auth.find(host, repo or None, authfile)

    def check(self, registry: str, creds: Credentials, tls_verify: bool | None = None,
              cert_dir: str | None = None) -> None:
        """Verify ``creds`` against the registry, with Podman's error shapes."""
        from pyman.image.registry_client import RegistryClient

        key = registry_key(registry)
        host, _, repo = key.partition("/")
        client = RegistryClient(host, repo, insecure=self._insecure(host, repo, tls_verify),
                                credentials=creds, cert_dir=cert_dir,
                                insecure_host=self._conf().insecure_host)
        try:
            client.check_login()
        except UnauthorizedError:
            raise UnauthorizedError(f'logging into "{key}": invalid username/password'
                                    ) from None
        except RegistryError as exc:
            raise RegistryError(f'authenticating creds for "{key}": {exc}') from None

    def login(self, opts: LoginOptions) -> LoginResult:
        """Verify the credentials, then store them (never before: a bad password stores
        nothing). Without username and password, checks the stored ones."""
        key = registry_key(opts.registry)
        path = auth.auth_file(opts.authfile)
        if opts.username is None and opts.password is None:
            creds = self.stored(key, opts.authfile)
            if creds is None:
                raise PymanError(f"no stored credentials for {key}: give --username and "
                                 "--password (or --password-stdin)")
            self.check(key, creds, opts.tls_verify, opts.cert_dir)
            return LoginResult(key, str(path), already=True)
        if not opts.username:
            raise PymanError("a username is required: use --username")
        if opts.password is None or opts.password == "":
            raise PymanError("a password is required: use --password or --password-stdin")
        creds = Credentials(opts.username, opts.password)
        self.check(key, creds, opts.tls_verify, opts.cert_dir)
        auth.store(path, key, creds)
        return LoginResult(key, str(path))

    def logout(self, registry: str | None, authfile: str | None = None,
               all_registries: bool = False) -> str:
        """Forget credentials; returns Podman's report line."""
        path = auth.auth_file(authfile)
        if all_registries:
            auth.remove_all(path)
            return "Removed login credentials for all registries"
        key = registry_key(registry or self.default_registry())
        if auth.remove(path, key):
            return f"Removed login credentials for {key}"
        host, _, repo = key.partition("/")
        elsewhere = auth.lookup(host, repo or None, authfile)
        if elsewhere is not None and elsewhere[2] == key:
            src = elsewhere[1]
            hint = ("docker logout" if src.name == "config.json"
                    else f"pyman logout --authfile {src}")
            raise PymanError(f"not logged into {key} with {path}: the credentials are in "
                             f"{src}. Use {hint} instead")
        raise PymanError(f"not logged into {key}")

    # ---- push ----

    def push(self, opts: PushOptions, events: Any = None) -> PushReport:
        from pyman.image.push import (
            FORMATS,
            convert_manifest,
            load_manifest,
            missing_blobs,
            push_image,
        )
        from pyman.image.registry_client import RegistryClient
        from pyman.storage.blobs import BlobStore
        from pyman.storage.images import ImageStore

        rec = self._find_image(opts.image, ImageStore(self.paths.data))
        if rec.is_list:
            raise PymanError(f"{opts.image} is a manifest list: pyman pushes images only "
                             "(push the images it lists by name)")
        dest_text = opts.destination or self._default_destination(opts.image, rec.names)
        dest_text = dest_text.removeprefix("docker://")
        if dest_text.startswith("dir:"):
            from pyman.engine.images.push_dir import push_dir

            report = push_dir(self, rec, dest_text[4:], opts.image, events)
            emit("image", "push", id_=rec.id, name=dest_text)
            return report
        if "://" in dest_text or dest_text.split(":", 1)[0] in ("oci", "docker-archive",
                                                                 "oci-archive", "dir"):
            raise PymanError(f"{dest_text}: only docker:// (registry) and dir: destinations are "
                             "supported by pyman push")
        conf = self._conf()
        ref = conf.resolve(dest_text)[0]
        reg = conf.find_registry(ref)
        if reg is not None and reg.blocked:
            raise RegistryError(f"registry {reg.prefix} is blocked in registries.conf: "
                                f"refusing to push to {ref}")
        insecure = self._insecure(ref.registry, ref.repository, opts.tls_verify)
        creds = (Credentials.parse(opts.creds) if opts.creds
                 else auth.find(ref.registry, ref.repository, opts.authfile))

        blobs = BlobStore(self.paths.blobs)
        data, manifest = load_manifest(blobs, rec.digest, opts.image)
        missing = missing_blobs(blobs, manifest)
        if missing:
            data, manifest = self._rebuild_layers(rec, blobs, data, manifest, set(missing),
                                                  opts.image, events)
        media_type = manifest.media_type
        if opts.format:
            if opts.format not in FORMATS:
                raise PymanError(f"unknown --format {opts.format!r}: use oci or v2s2")
            media_type = FORMATS[opts.format]
            data = convert_manifest(data, media_type)
            from pyman.image.manifest import parse_manifest

            parsed = parse_manifest(data, media_type)
            assert not hasattr(parsed, "manifests")
            manifest = parsed  # type: ignore[assignment]

        # where this registry already holds the blobs: the repositories the image was pulled
        # from, and wherever earlier pushes put them
        from pyman.image.blob_locations import BlobLocations

        locations = BlobLocations(self.paths.data / "blob-locations.json")
        pulled_from = [name.split("@", 1)[0].split("/", 1)[1] for name in rec.digests
                       if name.split("/", 1)[0] == ref.registry and "/" in name]
        digests = [manifest.config.digest] + [layer.digest for layer in manifest.layers]
        sources = {d: [r for r in dict.fromkeys(pulled_from
                                                + locations.repositories(d, ref.registry))
                       if r != ref.repository]
                   for d in digests}
        repos = tuple(dict.fromkeys(r for rs in sources.values() for r in rs[:1]))[:MAX_MOUNT]
        sources = {d: [r for r in rs if r in repos] for d, rs in sources.items()}
        client = RegistryClient(ref.registry, ref.repository, insecure=insecure,
                                credentials=creds, push=True, mount_from=repos,
                                cert_dir=opts.cert_dir, insecure_host=conf.insecure_host)
        tag = ref.digest or ref.tag or "latest"
        result = push_image(client, blobs, data, manifest, tag, media_type=media_type,
                            mount_from=sources, chunk_size=opts.chunk_size, events=events)
        locations.record(ref.registry, ref.repository, digests)
        if opts.digestfile:
            Path(opts.digestfile).write_text(result.digest)
        emit("image", "push", id_=rec.id, name=opts.destination or dest_text)
        return PushReport(str(ref), result.digest, result.blobs)

    def _rebuild_layers(self, rec: Any, blobs: Any, data: bytes, manifest: Any,
                        missing: set[str], image: str, events: Any) -> tuple[bytes, Any]:
        """Recompress layers whose blobs are not stored from their unpacked trees, and give
        the image a config and manifest that describe the new tars."""
        import hashlib
        import json
        import shutil

        from pyman.image.layer_export import export_layer
        from pyman.image.manifest import parse_manifest
        from pyman.rootless.userns import run_in_userns
        from pyman.storage.layers import LayerStore

        if manifest.config.digest in missing:
            raise PymanError(f"{image}: its config {manifest.config.digest} is not in the blob "
                             "store: the image cannot be pushed. Pull it again")
        config = json.loads(blobs.read(manifest.config.digest))
        diff_ids: list[str] = list(config.get("rootfs", {}).get("diff_ids", []))
        if len(diff_ids) != len(manifest.layers):
            raise PymanError(f"{image}: the config and the manifest disagree on the layers")
        layers = LayerStore(self.paths.layers)
        todo = [(i, layer, diff_ids[i]) for i, layer in enumerate(manifest.layers)
                if layer.digest in missing]
        for _, _layer, diff_id in todo:
            if not layers.has(diff_id):
                raise PymanError(f"{image}: layer {diff_id} is neither in the blob store nor "
                                 "unpacked: the image cannot be pushed. Pull it again")
        if events is not None and hasattr(events, "warn"):
            events.warn(f"{len(todo)} layer blob(s) of {image} are not stored: compressing them "
                        "again from the unpacked layers (the pushed image gets a new id)")
        for stale in self.paths.blobs.glob(".export-*"):  # left by a push that was killed
            pid = stale.name.removeprefix(".export-")
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(stale, ignore_errors=True)
        work = self.paths.blobs / f".export-{os.getpid()}"
        work.mkdir(parents=True, exist_ok=True)
        try:
            jobs = [(str(layers.diff(d)), str(work / str(i))) for i, _, d in todo]
            results = run_in_userns(lambda: [export_layer(src, out) for src, out in jobs],
                                    decode=_exported)
            doc = json.loads(data)
            for (i, _, _), (diff_id, digest, size), (_, out) in zip(todo, results, jobs,
                                                                    strict=True):
                with open(out, "rb") as f, blobs.writer(digest) as w:
                    while chunk := f.read(1 << 20):
                        w.write(chunk)
                diff_ids[i] = diff_id
                doc["layers"][i] = dict(doc["layers"][i], digest=digest, size=size,
                                        mediaType=_gzip_type(doc["layers"][i]["mediaType"]))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        config.setdefault("rootfs", {"type": "layers"})["diff_ids"] = diff_ids
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        if not blobs.has(config_digest):
            blobs.put(config_digest, config_bytes)
        doc["config"] = dict(doc["config"], digest=config_digest, size=len(config_bytes))
        new = json.dumps(doc, indent=3).encode()
        return new, parse_manifest(new, manifest.media_type)

    def _find_image(self, name: str, store: Any) -> Any:
        rec = store.find(name)
        if rec is None:
            try:
                cands = [str(r) for r in self._conf().resolve(name)]
            except PymanError:
                cands = []
            for cand in cands + [f"localhost/{name}", f"localhost/{name}:latest"]:
                rec = store.find(cand)
                if rec is not None:
                    break
        if rec is None:
            raise ImageNotFoundError(f"{name}: image not known")
        return rec

    def _default_destination(self, image: str, names: list[str]) -> str:
        """Podman pushes to the name the image is known by."""
        if image in names or not names:
            return image
        try:
            cands = [str(r) for r in self._conf().resolve(image)]
        except PymanError:
            cands = []
        return next((c for c in cands if c in names), names[0])


def _exported(value: object) -> list[tuple[str, str, int]]:
    """export_layer's (diff_id, digest, size) for each job, as the helper reported them."""
    import re

    digest = re.compile(r"sha256:[0-9a-f]{64}")
    out = []
    for item in value if isinstance(value, list) else [None]:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
                and isinstance(item[1], str) and isinstance(item[2], int)
                and digest.fullmatch(item[0]) and digest.fullmatch(item[1])):
            raise ValueError("not a list of (diff_id, digest, size)")
        out.append((item[0], item[1], item[2]))
    return out
