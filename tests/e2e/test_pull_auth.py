"""The registry client's bearer-token flow and cross-host blob redirects, against a fake registry.

The fake exists for what Debian's docker-registry (filesystem storage) never does: redirecting
blob downloads to another host. Auth against real registries (htpasswd and token) is in
test_auth_login.py and test_push.py.

Docker Hub's shape: /v2/ answers 401 with a Bearer challenge, a token service hands out
anonymous tokens, and blobs redirect (307) to a storage host that must not get the token.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pyman.errors import RegistryError
from pyman.image.pull import fetch_image
from pyman.image.registries_conf import load_registries_conf
from pyman.image.registry_client import RegistryClient
from pyman.storage.blobs import BlobStore

TOKEN = "anon-token-123"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build() -> tuple[dict[str, bytes], bytes]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("hello")
        ti.size = 3
        tf.addfile(ti, io.BytesIO(b"hi\n"))
    tar = buf.getvalue()
    layer = gzip.compress(tar, mtime=0)
    config = json.dumps({"os": "linux", "architecture": "amd64",
                         "rootfs": {"type": "layers", "diff_ids": [sha(tar)]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha(layer), "size": len(layer)}],
    }).encode()
    return {sha(config): config, sha(layer): layer}, manifest


class Fake:
    def __init__(self, auth_scheme: str = "Bearer") -> None:
        self.blobs, self.manifest = build()
        self.auth_scheme = auth_scheme
        self.token_requests: list[str] = []
        self.storage_auth_headers: list[str | None] = []
        self.registry = self._serve(self._registry_handler)
        self.storage = self._serve(self._storage_handler)

    @staticmethod
    def _serve(handle: Any) -> ThreadingHTTPServer:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return server

    def addr(self, server: ThreadingHTTPServer) -> str:
        return f"127.0.0.1:{server.server_address[1]}"

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes = b"",
              headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _registry_handler(self, h: BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/token"):
            self.token_requests.append(h.path)
            self._send(h, 200, json.dumps({"token": TOKEN}).encode())
            return
        if h.headers.get("Authorization") != f"Bearer {TOKEN}":
            realm = f"http://{self.addr(self.registry)}/token"
            challenge = (f'Bearer realm="{realm}",service="fake"' if self.auth_scheme == "Bearer"
                         else 'Basic realm="fake"')
            body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
            self._send(h, 401, body, {"WWW-Authenticate": challenge})
            return
        if h.path == "/v2/":
            self._send(h, 200, b"{}")
        elif h.path == "/v2/team/app/manifests/v1":
            self._send(h, 200, self.manifest,
                       {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        elif h.path.startswith("/v2/team/app/blobs/"):
            digest = h.path.rsplit("/", 1)[1]
            location = f"http://{self.addr(self.storage)}/storage/{digest}?sig=x"
            self._send(h, 307, b"", {"Location": location})
        else:
            self._send(h, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')

    def _storage_handler(self, h: BaseHTTPRequestHandler) -> None:
        self.storage_auth_headers.append(h.headers.get("Authorization"))
        digest = h.path.split("/storage/", 1)[1].split("?", 1)[0]
        self._send(h, 200, self.blobs[digest])

    def close(self) -> None:
        for s in (self.registry, self.storage):
            s.shutdown()
            s.server_close()


@pytest.fixture
def fake() -> Iterator[Fake]:
    f = Fake()
    yield f
    f.close()


def test_bearer_token_and_redirected_blobs(fake: Fake, tmp_path: Path) -> None:
    addr = fake.addr(fake.registry)
    user = tmp_path / "config"
    user.mkdir()
    (user / "registries.conf").write_text(f'[[registry]]\nlocation = "{addr}"\ninsecure = true\n')
    conf = load_registries_conf(user, system_dir=tmp_path / "no-etc")
    store = BlobStore(tmp_path / "blobs")
    got = fetch_image(conf.resolve(f"{addr}/team/app:v1"), conf, store)
    assert got.manifest_digest == sha(fake.manifest)
    assert all(store.has(d) for d in fake.blobs)
    # one token for the repository, asked with its pull scope and the service
    assert len(fake.token_requests) == 1
    assert "scope=repository%3Ateam%2Fapp%3Apull" in fake.token_requests[0]
    assert "service=fake" in fake.token_requests[0]
    # the storage host got the blobs without our registry token
    assert len(fake.storage_auth_headers) == 2
    assert fake.storage_auth_headers == [None, None]


def test_missing_manifest_is_not_found(fake: Fake) -> None:
    from pyman.errors import ImageNotFoundError

    client = RegistryClient(fake.addr(fake.registry), "team/app", insecure=True)
    with pytest.raises(ImageNotFoundError, match="reading manifest v2 in .*team/app: manifest unknown"):
        client.get_manifest("v2")


def test_basic_auth_without_credentials_says_how_to_log_in() -> None:
    fake = Fake(auth_scheme="Basic")
    try:
        client = RegistryClient(fake.addr(fake.registry), "team/app", insecure=True)
        with pytest.raises(RegistryError, match="authentication required: log in with `pyman login"):
            client.get_manifest("v1")
    finally:
        fake.close()


def test_secure_client_refuses_plain_http(fake: Fake) -> None:
    client = RegistryClient(fake.addr(fake.registry), "team/app", insecure=False, timeout=5)
    with pytest.raises(RegistryError, match=f"pinging container registry {fake.addr(fake.registry)}"):
        client.get_manifest("v1")
