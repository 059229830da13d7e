"""Where registry credentials may go: a token realm gets them over https only (plain http only
for a host the user trusts with it: the insecure registry's own host, or one marked insecure
in registries.conf); redirects that change scheme or host lose the Authorization header; an
https -> http redirect is refused unless its target is insecure-configured.

Real servers on loopback, made here: Debian's docker-registry with token auth for the realm
(the CLI as the user), and a small registry that answers TLS and plain http on one port for
the redirects (the client in-process: only there can a redirect target be chosen freely)."""

from __future__ import annotations

import base64
import io
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from authreg import USERS, Registry, self_signed, start_token_registry
from test_pull_auth import build, sha

from pyman.errors import RegistryError
from pyman.image.auth import Credentials
from pyman.image.registry_client import RegistryClient


@pytest.fixture
def env(fresh_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    run = tmp_path / "xdg-run"
    run.mkdir(mode=0o700)
    return dict(fresh_env, XDG_RUNTIME_DIR=str(run))


def _trust(env: dict[str, str], location: str) -> None:
    conf = Path(env["XDG_CONFIG_HOME"]) / "containers" / "registries.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(f'[[registry]]\nlocation = "{location}"\ninsecure = true\n')


def _token_port(reg: Registry) -> int:
    assert reg.token_service is not None
    return int(reg.token_service.server.server_address[1])


def _refused_realm(r: Any, reg: Registry, realm_host: str) -> None:
    realm = f"http://{realm_host}:{_token_port(reg)}/token"
    assert r.returncode == 125 and r.stderr.count("\n") == 1, r.stderr
    assert f"the token service of {reg.addr} is plain http ({realm}): pyman does not send " \
           f"credentials there. If you trust the network, mark {realm_host}:" in r.stderr, r.stderr


def test_https_registry_with_a_plain_http_realm(run_pyman, env, tmp_path: Path) -> None:
    """The registry is https (verified); its realm is http on the same host: no credentials
    go there until the realm's host is marked insecure."""
    (tmp_path / "reg").mkdir()
    reg = start_token_registry(tmp_path / "reg", tls=True)
    svc = reg.token_service
    assert svc is not None
    certs = Path(env["XDG_CONFIG_HOME"]) / "containers" / "certs.d" / reg.addr  # Podman's
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_bytes((tmp_path / "reg" / "tls.crt").read_bytes())
    auth_file = Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
    try:
        login = ["login", "-u", "alice", "-p", USERS["alice"], reg.addr]
        r = run_pyman(*login, env=env)
        _refused_realm(r, reg, "127.0.0.1")
        assert all(a is None for a in svc.authorization), svc.authorization
        assert not auth_file.exists()
        # a pull with stored credentials is refused the same way
        r = run_pyman("pull", "--creds", f"alice:{USERS['alice']}", f"{reg.addr}/team/app:v1",
                      env=env)
        assert r.returncode == 125 and "is plain http" in r.stderr, r.stderr
        assert all(a is None for a in svc.authorization), svc.authorization
        # trusted in registries.conf: the credentials go, and the login works
        _trust(env, f"127.0.0.1:{_token_port(reg)}")
        r = run_pyman(*login, env=env)
        assert r.returncode == 0, r.stderr
        creds = base64.b64encode(f"alice:{USERS['alice']}".encode()).decode()
        assert svc.authorization[-1] == f"Basic {creds}"
    finally:
        reg.stop()


def test_insecure_registry_with_a_realm_on_another_host(run_pyman, env, tmp_path: Path) -> None:
    """A plain-http registry (--tls-verify=false) may get credentials in clear, but its realm
    on another host name may not; anonymous token requests still go."""
    (tmp_path / "reg").mkdir()
    reg = start_token_registry(tmp_path / "reg", realm_host="localhost")
    svc = reg.token_service
    assert svc is not None
    try:
        login = ["login", "--tls-verify=false", "-u", "alice", "-p", USERS["alice"], reg.addr]
        _refused_realm(run_pyman(*login, env=env), reg, "localhost")
        assert all(a is None for a in svc.authorization), svc.authorization
        # without credentials the token request is anonymous, as before
        r = run_pyman("pull", "--tls-verify=false", f"{reg.addr}/public/none:v1", env=env)
        assert r.returncode == 125 and "manifest unknown" in r.stderr, r.stderr
        assert svc.requests and svc.requests[-1].account is None
        assert all(a is None for a in svc.authorization), svc.authorization
        _trust(env, f"localhost:{_token_port(reg)}")
        assert run_pyman(*login, env=env).returncode == 0
        assert svc.requests[-1].account == "alice"
    finally:
        reg.stop()


# ---- redirects ----------------------------------------------------------------------------

class DualServer(ThreadingHTTPServer):
    """TLS and plain http on one port (the first byte tells): an https -> http redirect to the
    very same host:port is possible, as on a host that serves both."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], ctx: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.ctx = ctx
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        sock.settimeout(10)
        if sock.recv(1, socket.MSG_PEEK) == b"\x16":  # a TLS handshake
            sock = self.ctx.wrap_socket(sock, server_side=True)
        return sock, addr

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class Site:
    """A registry (basic auth: alice) whose blobs and manifest redirect to ``target(path)``,
    and a storage path that serves them and records the Authorization it got."""

    def __init__(self, tmp: Path) -> None:
        self.blobs, self.manifest = build()
        cert, key = self_signed(tmp)
        self.cert_dir = str(tmp)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.registry_auth: list[str | None] = []
        self.storage_auth: list[tuple[str, str | None]] = []  # (scheme, header)
        self.target: Any = None
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.handle(self)

            do_POST = do_PUT = do_HEAD = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.registry = DualServer(Handler, ctx)
        self.other = DualServer(Handler, ctx)  # another host:port, same certificate

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        scheme = "https" if isinstance(h.connection, ssl.SSLSocket) else "http"
        header = h.headers.get("Authorization")
        path = h.path.split("?", 1)[0]
        if path.startswith("/upload"):  # where an upload Location sends the blob
            self.storage_auth.append((scheme, header))
            self.send(h, 201, b"")
            return
        if path.startswith("/storage/"):
            self.storage_auth.append((scheme, header))
            name = path.rsplit("/", 1)[1]
            self.send(h, 200, self.manifest if name == "manifest" else self.blobs[name])
            return
        self.registry_auth.append(header)
        want = "Basic " + base64.b64encode(f"alice:{USERS['alice']}".encode()).decode()
        if header != want:
            self.send(h, 401, b"{}", {"WWW-Authenticate": 'Basic realm="t"'})
        elif path == "/v2/":
            self.send(h, 200, b"{}")
        elif path == "/v2/team/app/manifests/v1":
            self.send(h, 307, b"", {"Location": self.target("manifest")})
        elif path == "/v2/team/app/blobs/uploads/":
            self.send(h, 202, b"", {"Location": self.target("upload")})
        elif path.startswith("/v2/team/app/blobs/"):
            self.send(h, 307, b"", {"Location": self.target(path.rsplit("/", 1)[1])})
        else:
            self.send(h, 404, b"{}")

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, body: bytes,
             headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        for k, v in {"Content-Type": "application/vnd.oci.image.manifest.v1+json",
                     **(headers or {})}.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def client(self, **kw: Any) -> RegistryClient:
        return RegistryClient(self.registry.addr, "team/app", cert_dir=self.cert_dir,
                              credentials=Credentials("alice", USERS["alice"]), timeout=10, **kw)

    def close(self) -> None:
        for s in (self.registry, self.other):
            s.shutdown()
            s.server_close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path)
    yield s
    s.close()


def _fetch(client: RegistryClient, site: Site) -> None:
    got = client.get_manifest("v1")
    assert got.digest == sha(site.manifest)
    for digest, data in site.blobs.items():
        assert b"".join(client.iter_blob(digest)) == data


def test_redirect_to_another_host_drops_the_header(site: Site) -> None:
    site.target = lambda name: f"https://{site.other.addr}/storage/{name}"
    _fetch(site.client(), site)
    assert site.registry_auth[-1] is not None and site.registry_auth[-1].startswith("Basic ")
    assert site.storage_auth == [("https", None)] * 3  # the manifest and two blobs


def test_https_to_http_on_the_same_host_is_refused(site: Site) -> None:
    site.target = lambda name: f"http://{site.registry.addr}/storage/{name}"
    client = site.client()
    with pytest.raises(RegistryError, match=r"refusing to go from https to plain http \(http://"
                       + site.registry.addr.replace(".", r"\.") + "/storage/manifest"):
        client.get_manifest("v1")
    assert site.storage_auth == []
    # marked insecure (registries.conf): followed, without the header (the scheme changed)
    trusted = site.client(insecure_host=lambda netloc: netloc == site.registry.addr)
    _fetch(trusted, site)
    assert site.storage_auth == [("http", None)] * 3
    # the same-host rule of an insecure registry allows it too
    site.storage_auth.clear()
    _fetch(site.client(insecure=True), site)
    assert site.storage_auth == [("http", None)] * 3


def test_https_to_http_on_another_host_is_refused(site: Site) -> None:
    site.target = lambda name: f"http://{site.other.addr}/storage/{name}"
    with pytest.raises(RegistryError, match="refusing to go from https to plain http"):
        site.client().get_manifest("v1")
    # an insecure registry's trust is for its own host name only... which 127.0.0.1 shares:
    # the header still never goes to the other port
    _fetch(site.client(insecure=True), site)
    assert site.storage_auth == [("http", None)] * 3


def test_same_host_same_scheme_redirect_keeps_the_header(site: Site) -> None:
    """The control: a redirect within the registry keeps its credentials (the header drops
    above are the rule's doing, not a client that never sends one)."""
    site.target = lambda name: f"https://{site.registry.addr}/storage/{name}"
    _fetch(site.client(), site)
    assert [scheme for scheme, _ in site.storage_auth] == ["https"] * 3
    assert all(h is not None and h.startswith("Basic ") for _, h in site.storage_auth)


def test_an_upload_location_on_plain_http_is_refused(site: Site) -> None:
    """Pushing: the registry's upload Location is followed like a redirect."""
    site.target = lambda name: f"http://{site.registry.addr}/{name}"
    client = site.client(push=True)
    mounted, url = client.start_upload(sha(b"x"))
    assert not mounted and url == f"http://{site.registry.addr}/upload"
    with pytest.raises(RegistryError, match="refusing to go from https to plain http"):
        client.upload_blob(url, sha(b"x"), 1, lambda: io.BytesIO(b"x"))
    assert site.storage_auth == []
    # on another https host the upload goes, without the header
    site.target = lambda name: f"https://{site.other.addr}/{name}"
    mounted, url = client.start_upload(sha(b"x"))
    client.upload_blob(str(url), sha(b"x"), 1, lambda: io.BytesIO(b"x"))
    assert site.storage_auth == [("https", None)]
