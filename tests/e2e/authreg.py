"""Real docker-registry instances with authentication, started on free loopback ports.

- ``start_basic_registry``: HTTP basic auth from an htpasswd file (bcrypt, as distribution
  requires).
- ``start_token_registry``: ``auth: token`` as Docker Hub does it. The registry trusts a
  self-signed certificate; a small token service (here, on loopback) hands out RS256 JWTs
  carrying that certificate in ``x5c``: anonymous users get ``pull`` on ``public/*`` only,
  authenticated users what they ask for. Every token request is recorded.

The registry itself is Debian's /usr/bin/docker-registry (CNCF distribution 2.8), unmodified.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

USERS = {"alice": "wonderland", "bob": "builder"}
SERVICE = "pyman-test-registry"
ISSUER = "pyman-test-token-issuer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_htpasswd(path: Path, users: dict[str, str]) -> None:
    import bcrypt

    lines = [f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=5)).decode()}"
             for u, p in users.items()]
    path.write_text("\n".join(lines) + "\n")


@dataclass
class Registry:
    addr: str  # 127.0.0.1:port
    root: Path  # its storage
    proc: subprocess.Popen[bytes]
    log: Path
    token_service: TokenService | None = None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.token_service:
            self.token_service.stop()

    def blob_data_dirs(self) -> list[Path]:
        """The blobs the registry stores (content-addressed, once per registry)."""
        base = self.root / "docker/registry/v2/blobs/sha256"
        return [d for p in base.glob("*") for d in p.iterdir()] if base.exists() else []

    def repo_has_layer_link(self, repo: str, digest: str) -> bool:
        link = (self.root / "docker/registry/v2/repositories" / repo / "_layers/sha256"
                / digest.split(":", 1)[1] / "link")
        return link.exists()


def self_signed(tmp: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A server certificate for ``host`` (an IP SAN) and its key, as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp / "tls.crt", tmp / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def _start(tmp: Path, auth_yaml: str, token: TokenService | None = None,
           tls: bool = False) -> Registry:
    port = free_port()
    tls_yaml = ""
    if tls:
        cert, key = self_signed(tmp)
        tls_yaml = f"  tls:\n    certificate: {cert}\n    key: {key}\n"
    root = tmp / "storage"
    root.mkdir(parents=True, exist_ok=True)
    config = tmp / "config.yml"
    config.write_text(f"""version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
{tls_yaml}{auth_yaml}""")
    log = tmp / "registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(config)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    reg = Registry(f"127.0.0.1:{port}", root, proc, log, token)
    deadline = time.monotonic() + 15
    scheme = "https" if tls else "http"
    import ssl

    unverified = ssl._create_unverified_context()
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{scheme}://{reg.addr}/v2/", timeout=1, context=unverified)
            return reg
        except urllib.error.HTTPError:
            return reg  # 401: up, and asking for credentials
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    reg.stop()
    raise RuntimeError(f"docker-registry did not start: {log.read_text()[-2000:]}")


def start_basic_registry(tmp: Path, users: dict[str, str] = USERS, tls: bool = False
                         ) -> Registry:
    htpasswd = tmp / "htpasswd"
    write_htpasswd(htpasswd, users)
    return _start(tmp, f"""auth:
  htpasswd:
    realm: pyman-test
    path: {htpasswd}
""", tls=tls)


def start_token_registry(tmp: Path, users: dict[str, str] = USERS, tls: bool = False,
                         realm_host: str = "127.0.0.1") -> Registry:
    """``realm_host``: the host name the realm URL gives for the (loopback) token service."""
    service = TokenService(users)
    cert = tmp / "token-ca.pem"
    cert.write_bytes(service.cert_pem)
    return _start(tmp, f"""auth:
  token:
    realm: http://{realm_host}:{service.server.server_address[1]}/token
    service: {SERVICE}
    issuer: {ISSUER}
    rootcertbundle: {cert}
""", service, tls=tls)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenRequest:
    account: str | None  # authenticated user, None for anonymous
    scopes: list[str]
    service: str | None
    granted: list[dict[str, Any]] = field(default_factory=list)


class TokenService:
    def __init__(self, users: dict[str, str]) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.users = users
        self.requests: list[TokenRequest] = []
        self.authorization: list[str | None] = []  # each request's header, as it came
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyman test token issuer")])
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             crl_sign=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .sign(self.key, hashes.SHA256()))
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                service._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        signing_input = (_b64(json.dumps(header).encode()) + "." +
                         _b64(json.dumps(claims).encode())).encode()
        sig = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return signing_input.decode() + "." + _b64(sig)

    def _reply(self, h: BaseHTTPRequestHandler, status: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        self.authorization.append(h.headers.get("Authorization"))
        parts = urlsplit(h.path)
        if parts.path != "/token":
            self._reply(h, 404, {"error": "not found"})
            return
        q = parse_qs(parts.query)
        scopes = [s for value in q.get("scope", []) for s in value.split(" ") if s]
        account = None
        header = h.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if self.users.get(user) != password:
                self.requests.append(TokenRequest(user, scopes, q.get("service", [None])[0]))
                self._reply(h, 401, {"details": "invalid username or password"})
                return
            account = user
        req = TokenRequest(account, scopes, q.get("service", [None])[0])
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = [a for a in actions.split(",") if a]
            if kind != "repository":
                continue
            allowed = wanted if account else (["pull"] if name.startswith("public/") else [])
            granted = [a for a in wanted if a in allowed]
            if granted:
                req.granted.append({"type": kind, "name": name, "actions": granted})
        self.requests.append(req)
        now = int(time.time())
        token = self.sign({"iss": ISSUER, "sub": account or "", "aud": SERVICE,
                           "exp": now + 300, "nbf": now - 10, "iat": now,
                           "jti": secrets.token_hex(8), "access": req.granted})
        self._reply(h, 200, {"token": token, "access_token": token, "expires_in": 300})


def skopeo_env(tmp: Path) -> dict[str, str]:
    """An environment for podman/skopeo as the test user that touches none of its own state."""
    env = {k: v for k, v in os.environ.items() if k in ("HOME", "USER", "LOGNAME", "LANG", "PATH")}
    env["REGISTRY_AUTH_FILE"] = str(tmp / "podman-auth.json")
    return env
