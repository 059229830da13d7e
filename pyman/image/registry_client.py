"""A small client for the OCI distribution spec (pull side) over http.client.

HTTPS with certificate verification by default. An insecure endpoint is tried over HTTPS
without verification first and then over plain HTTP, as Podman does. Anonymous bearer tokens
come from the registry's ``WWW-Authenticate`` challenge and are cached per repository.
Blob downloads follow redirects (a 307 to a storage host is normal); the Authorization header
is not sent to another host.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit

from pyman.errors import DigestMismatchError, ImageNotFoundError, PymanError, RegistryError
from pyman.image.manifest import MANIFEST_TYPES

USER_AGENT = "pyman/0.1"
CHUNK = 1 << 20
MAX_MANIFEST = 4 << 20  # containers/image's limit too
MAX_REDIRECTS = 5
NOT_FOUND_CODES = {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"}
_REDIRECTS = {301, 302, 303, 307, 308}

_tokens: dict[tuple[str, str], str] = {}  # (host, repository) -> bearer token
_tokens_lock = threading.Lock()


@dataclass(frozen=True)
class Manifest:
    data: bytes
    media_type: str  # from Content-Type; may be generic, parse_manifest decides
    digest: str  # sha256 of data


def _ssl_context(verify: bool) -> ssl.SSLContext:
    if verify:
        return ssl.create_default_context()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _open(method: str, url: str, headers: dict[str, str], verify: bool,
          timeout: float) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """One request on a fresh connection; the caller closes the connection."""
    parts = urlsplit(url)
    host = parts.netloc
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, timeout=timeout, context=_ssl_context(verify))
    elif parts.scheme == "http":
        conn = http.client.HTTPConnection(host, timeout=timeout)
    else:
        raise RegistryError(f"unsupported URL scheme in {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request(method, path, headers={"User-Agent": USER_AGENT, **headers})
        return conn, conn.getresponse()
    except BaseException:
        conn.close()
        raise


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({exc.verify_message})"
    return str(exc) or type(exc).__name__


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {realm: ..., service: ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}
    return scheme.lower(), params


def _error_codes(body: bytes) -> tuple[set[str], str]:
    try:
        errors = json.loads(body).get("errors") or []
        codes = {str(e.get("code", "")) for e in errors}
        message = "; ".join(str(e.get("message", "")) for e in errors if e.get("message"))
        return codes, message
    except (ValueError, AttributeError, TypeError):
        return set(), ""


class RegistryClient:
    """Talks to one repository on one registry host."""

    def __init__(self, host: str, repository: str, *, insecure: bool = False,
                 timeout: float = 30.0) -> None:
        self.host = host
        self.repository = repository
        self.insecure = insecure
        self.timeout = timeout
        self._scheme: str | None = None
        self._challenge: tuple[str, dict[str, str]] | None = None

    @property
    def name(self) -> str:
        return f"{self.host}/{self.repository}"

    # ---- connection and auth ----

    def ping(self) -> None:
        """Choose the scheme (https, or http for an insecure registry) and learn the auth."""
        errors = []
        for scheme in ("https", "http") if self.insecure else ("https",):
            try:
                conn, resp = _open("GET", f"{scheme}://{self.host}/v2/", {},
                                   not self.insecure, self.timeout)
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{scheme}: {_describe(exc)}")
                continue
            try:
                resp.read(65536)
                if resp.status == 401:
                    self._challenge = parse_challenge(resp.getheader("WWW-Authenticate", ""))
            finally:
                conn.close()
            self._scheme = scheme
            return
        if len(errors) == 1:
            errors = [errors[0].split(": ", 1)[1]]
        raise RegistryError(f"pinging container registry {self.host}: {'; '.join(errors)}")

    def _token(self) -> str | None:
        with _tokens_lock:
            return _tokens.get((self.host, self.repository))

    def _authenticate(self, header: str) -> None:
        scheme, params = parse_challenge(header) if header else (self._challenge or ("", {}))
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(
                f"{self.name}: the registry requires authentication ({scheme or 'no challenge'}), "
                "and pyman pulls anonymously only"
            )
        query = {"scope": f"repository:{self.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        realm = params["realm"]
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        try:
            conn, resp = _open("GET", url, {}, not self.insecure, self.timeout)
            try:
                body, status = resp.read(MAX_MANIFEST), resp.status
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            raise RegistryError(f"getting a token from {realm}: {_describe(exc)}") from exc
        if status != 200:
            raise RegistryError(f"getting a token from {realm}: HTTP {status}")
        try:
            doc = json.loads(body)
            token = str(doc.get("token") or doc.get("access_token") or "")
        except (ValueError, AttributeError):
            token = ""
        if not token:
            raise RegistryError(f"the token service {realm} returned no token")
        with _tokens_lock:
            _tokens[(self.host, self.repository)] = token

    def _get(self, path: str, accept: str | None = None
             ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """GET ``path`` with auth and redirects; a non-2xx response is returned, not raised."""
        if self._scheme is None:
            self.ping()
        for attempt in (1, 2):
            headers = {"Accept": accept} if accept else {}
            token = self._token()
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn, resp = self._follow(f"{self._scheme}://{self.host}{path}", headers)
            if resp.status != 401 or attempt == 2:
                return conn, resp
            challenge = resp.getheader("WWW-Authenticate", "")
            conn.close()
            self._authenticate(challenge)
        raise AssertionError("unreachable")

    def _follow(self, url: str, headers: dict[str, str]
                ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        origin = urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            try:
                conn, resp = _open("GET", url, headers, not self.insecure, self.timeout)
            except (OSError, http.client.HTTPException) as exc:
                raise RegistryError(f"{self.name}: GET {url}: {_describe(exc)}") from exc
            if resp.status not in _REDIRECTS:
                return conn, resp
            location = resp.getheader("Location", "")
            conn.close()
            url = urljoin(url, location)
            if urlsplit(url).netloc != origin:
                headers = {k: v for k, v in headers.items() if k != "Authorization"}
        raise RegistryError(f"{self.name}: too many redirects")

    def _fail(self, resp: http.client.HTTPResponse, what: str) -> PymanError:
        codes, message = _error_codes(resp.read(65536))
        if codes & NOT_FOUND_CODES or (resp.status == 404 and "BLOB_UNKNOWN" not in codes):
            return ImageNotFoundError(f"{what}: {message or 'manifest unknown'}")
        if resp.status in (401, 403):
            return RegistryError(f"{what}: requested access to the resource is denied")
        detail = message or resp.reason
        return RegistryError(f"{what}: HTTP {resp.status} {detail}")

    # ---- the API ----

    def get_manifest(self, tag_or_digest: str) -> Manifest:
        """Fetch a manifest or index; verified against the digest when asked by digest."""
        what = f"reading manifest {tag_or_digest} in {self.name}"
        conn, resp = self._get(f"/v2/{self.repository}/manifests/{tag_or_digest}",
                               ", ".join(MANIFEST_TYPES))
        try:
            if resp.status != 200:
                raise self._fail(resp, what)
            data = resp.read(MAX_MANIFEST + 1)
            media_type = resp.getheader("Content-Type", "")
        except (OSError, http.client.HTTPException) as exc:
            raise RegistryError(f"{what}: {_describe(exc)}") from exc
        finally:
            conn.close()
        if len(data) > MAX_MANIFEST:
            raise RegistryError(f"{what}: manifest larger than {MAX_MANIFEST} bytes")
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if ":" in tag_or_digest and tag_or_digest != digest:
            raise DigestMismatchError(
                f"{what}: digest mismatch: expected {tag_or_digest}, got {digest}"
            )
        return Manifest(data, media_type, digest)

    def iter_blob(self, digest: str, size: int | None = None) -> Iterator[bytes]:
        """Stream a blob's bytes; refuses more than ``size`` bytes. Not verified here."""
        what = f"fetching blob {digest} from {self.name}"
        conn, resp = self._get(f"/v2/{self.repository}/blobs/{digest}")
        try:
            if resp.status != 200:
                raise self._fail(resp, what)
            total = 0
            while chunk := resp.read(CHUNK):
                total += len(chunk)
                if size is not None and total > size:
                    raise RegistryError(f"{what}: more data than the {size} bytes declared")
                yield chunk
        except (OSError, http.client.HTTPException) as exc:
            raise RegistryError(f"{what}: {_describe(exc)}") from exc
        finally:
            conn.close()
