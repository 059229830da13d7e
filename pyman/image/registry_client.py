"""A small client for the OCI distribution spec over http.client: pull, push and auth.

HTTPS with certificate verification by default. An insecure endpoint is tried over HTTPS
without verification first and then over plain HTTP, as Podman does.

Auth follows the registry's ``WWW-Authenticate`` challenge: ``Basic`` sends the credentials
with each request; ``Bearer`` asks the token service (realm, service, scope) for a token,
anonymously or with the credentials as HTTP basic auth, and caches it per host, scopes and
user. Pushing asks for ``repository:<name>:pull,push``, plus ``repository:<other>:pull`` for
each repository a blob may be mounted from.

Blob downloads follow redirects (a 307 to a storage host is normal); the Authorization header
is not sent on once a redirect changes the scheme or the host, and an https -> http redirect is
refused. Credentials go over plain http (to a token realm, after a redirect) only to a host
the user trusts with plain http: the insecure registry itself (same host name, any port), or
a host marked insecure in registries.conf (``insecure_host``). containers/image sends them to
any realm; a realm on http elsewhere is refused here, with how to allow it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlencode, urljoin, urlsplit

from pyman.errors import (
    DigestMismatchError,
    ImageNotFoundError,
    PymanError,
    RegistryError,
    UnauthorizedError,
)
from pyman.image.auth import Credentials
from pyman.image.manifest import MANIFEST_TYPES
from pyman.image.registry_http import (  # noqa: F401 - cert_dirs, parse_challenge re-exported
    CHUNK,
    USER_AGENT,
    Body,
    _basic,
    _describe,
    _error_codes,
    _open,
    _ssl_context,
    _unreachable,
    _untrusted,
    cert_dirs,
    host_name,
    parse_challenge,
)

MAX_MANIFEST = 4 << 20  # containers/image's limit too
MAX_REDIRECTS = 5
NOT_FOUND_CODES = {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"}
_REDIRECTS = {301, 302, 303, 307, 308}

# (host, scopes, username) -> bearer token
_tokens: dict[tuple[str, tuple[str, ...], str], str] = {}
_tokens_lock = threading.Lock()


@dataclass(frozen=True)
class Manifest:
    data: bytes
    media_type: str  # from Content-Type; may be generic, parse_manifest decides
    digest: str  # sha256 of data


class RegistryClient:
    """Talks to one repository on one registry host."""

    def __init__(self, host: str, repository: str, *, insecure: bool = False,
                 timeout: float = 30.0, credentials: Credentials | None = None,
                 push: bool = False, mount_from: tuple[str, ...] = (),
                 cert_dir: str | None = None,
                 insecure_host: Callable[[str], bool] | None = None) -> None:
        self.host = host
        self.repository = repository
        self.insecure = insecure
        self.timeout = timeout
        self.credentials = credentials
        self.push = push
        self.mount_from = tuple(r for r in mount_from if r != repository)
        self.cert_dir = cert_dir
        self.insecure_host = insecure_host  # registries.conf's insecure locations
        self._scheme: str | None = None
        self._challenge: tuple[str, dict[str, str]] | None = None
        self.trace: list[tuple[str, str, int]] = []  # (method, path, status), for diagnosis

    @property
    def name(self) -> str:
        return f"{self.host}/{self.repository}"

    @property
    def scopes(self) -> list[str]:
        if not self.repository:  # login to a whole registry: a token for no repository
            return []
        actions = "pull,push" if self.push else "pull"
        return ([f"repository:{self.repository}:{actions}"]
                + [f"repository:{r}:pull" for r in self.mount_from])

    # ---- connection and auth ----

    def ping(self) -> None:
        """Choose the scheme (https, or http for an insecure registry) and learn the auth."""
        errors = []
        failures: list[BaseException] = []
        for scheme in ("https", "http") if self.insecure else ("https",):
            try:
                conn, resp = _open("GET", f"{scheme}://{self.host}/v2/", {},
                                   not self.insecure, self.timeout, cert_dir=self.cert_dir)
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{scheme}: {_describe(exc)}")
                failures.append(exc)
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
        text = "; ".join(errors)
        if any(_unreachable(e) for e in failures):
            text += (f" (this host cannot reach {self.host}: check its DNS and proxy "
                     "(HTTPS_PROXY), or name a mirror it can reach in registries.conf)")
        elif any(_untrusted(e) for e in failures):
            text += (f" (put the registry's CA as a .crt file in /etc/containers/certs.d/"
                     f"{self.host}/, or use --tls-verify=false for a registry you trust)")
        raise RegistryError(f"pinging container registry {self.host}: {text}")

    def check_login(self) -> None:
        """What ``login`` verifies: the credentials open /v2/ (through a token if need be).

        Raises UnauthorizedError for credentials the registry refuses."""
        self.ping()
        if self._challenge is None:
            return  # the registry wants no auth at all: any credentials "work", as in Podman
        scheme, params = self._challenge
        if scheme == "bearer":
            self._fetch_token(params, self.scopes)
        conn, resp = self._request("GET", "/v2/", retry_auth=False)
        try:
            resp.read(65536)
            status = resp.status
        finally:
            conn.close()
        if status == 401:
            raise UnauthorizedError("invalid username/password")
        if status != 200:
            raise RegistryError(f"checking credentials at {self.host}: HTTP {status}")

    def _plain_ok(self, netloc: str) -> bool:
        """May credentials go to ``netloc`` over plain http? (See the module's doc.)"""
        if self.insecure and host_name(netloc) == host_name(self.host):
            return True
        return bool(self.insecure_host and self.insecure_host(netloc))

    def _token_key(self) -> tuple[str, tuple[str, ...], str]:
        user = self.credentials.username if self.credentials else ""
        return self.host, tuple(self.scopes), user

    def _token(self) -> str | None:
        with _tokens_lock:
            return _tokens.get(self._token_key())

    def _auth_headers(self) -> dict[str, str]:
        """Authorization for the next request, from what the registry asked for so far."""
        scheme = self._challenge[0] if self._challenge else ""
        if scheme == "basic" and self.credentials:
            return {"Authorization": _basic(self.credentials)}
        token = self._token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _authenticate(self, header: str) -> None:
        """React to a 401: remember the challenge, get a token when it is a bearer one."""
        challenge = parse_challenge(header) if header else (self._challenge or ("", {}))
        scheme, params = challenge
        self._challenge = challenge
        if scheme == "basic":
            if self.credentials is None:
                raise UnauthorizedError(
                    f"{self.name}: authentication required: log in with `pyman login "
                    f"{self.host}` or pass --creds"
                )
            return
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(
                f"{self.name}: the registry requires authentication of a kind pyman does not "
                f"support ({scheme or 'no challenge'})"
            )
        self._fetch_token(params, self.scopes)

    def _fetch_token(self, params: dict[str, str], scopes: list[str]) -> None:
        query: list[tuple[str, str]] = [("scope", s) for s in scopes]
        if params.get("service"):
            query.append(("service", params["service"]))
        headers = {}
        if self.credentials:
            query.append(("account", self.credentials.username))
            headers["Authorization"] = _basic(self.credentials)
        realm = params["realm"]
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryError(f"{self.name}: the registry names a token service pyman "
                                f"cannot use ({realm!r}: not an http(s) URL)")
        if headers and parts.scheme == "http" and not self._plain_ok(parts.netloc):
            raise RegistryError(
                f"the token service of {self.host} is plain http ({realm}): pyman does not "
                f"send credentials there. If you trust the network, mark {parts.netloc} "
                f'insecure in registries.conf ([[registry]] location = "{parts.netloc}", '
                "insecure = true)")
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        try:
            conn, resp = _open("GET", url, headers, not self.insecure, self.timeout,
                               cert_dir=self.cert_dir)
            try:
                body, status = resp.read(MAX_MANIFEST), resp.status
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            raise RegistryError(f"getting a token from {realm}: {_describe(exc)}") from exc
        if status == 401 and self.credentials:
            raise UnauthorizedError("invalid username/password")
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
            _tokens[(self.host, tuple(scopes), self._token_key()[2])] = token

    def _request(self, method: str, path: str, headers: dict[str, str] | None = None,
                 body: Body = None, retry_auth: bool = True
                 ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """One request with auth (a 401 is answered once); non-2xx is returned, not raised.

        ``path`` may be an absolute URL (an upload's Location). ``body`` is bytes or a function
        opening it again, so a request can be repeated after a 401."""
        if self._scheme is None:
            self.ping()
        url = path if "://" in path else f"{self._scheme}://{self.host}{path}"
        parts = urlsplit(url)
        if parts.scheme == "http" and self._scheme == "https":
            self._check_downgrade(url)
        same_host = (parts.scheme, parts.netloc) == (self._scheme, self.host)
        for attempt in (1, 2):
            hdrs = dict(headers or {})
            if same_host:
                hdrs.update(self._auth_headers())
            data = body() if callable(body) else body
            try:
                conn, resp = _open(method, url, hdrs, not self.insecure, self.timeout, data,
                                   self.cert_dir)
            except (OSError, http.client.HTTPException) as exc:
                raise RegistryError(f"{self.name}: {method} {url}: {_describe(exc)}") from exc
            finally:
                if data is not None and not isinstance(data, bytes):
                    data.close()
            self.trace.append((method, urlsplit(url).path, resp.status))
            if resp.status != 401 or attempt == 2 or not retry_auth:
                return conn, resp
            challenge = resp.getheader("WWW-Authenticate", "")
            resp.read(65536)
            conn.close()
            self._authenticate(challenge)
        raise AssertionError("unreachable")

    def _get(self, path: str, accept: str | None = None
             ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """GET ``path`` with auth and redirects; a non-2xx response is returned, not raised."""
        if self._scheme is None:
            self.ping()
        for attempt in (1, 2):
            headers = {"Accept": accept} if accept else {}
            headers.update(self._auth_headers())
            conn, resp = self._follow(f"{self._scheme}://{self.host}{path}", headers)
            self.trace.append(("GET", path, resp.status))
            if resp.status != 401 or attempt == 2:
                return conn, resp
            challenge = resp.getheader("WWW-Authenticate", "")
            conn.close()
            self._authenticate(challenge)
        raise AssertionError("unreachable")

    def _check_downgrade(self, url: str) -> None:
        netloc = urlsplit(url).netloc
        if not self._plain_ok(netloc):
            raise RegistryError(
                f"{self.name}: refusing to go from https to plain http ({url}). If you trust "
                f"the network, mark {netloc} insecure in registries.conf ([[registry]] "
                f'location = "{netloc}", insecure = true)')

    def _follow(self, url: str, headers: dict[str, str]
                ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        origin = urlsplit(url)[:2]  # (scheme, host:port)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                conn, resp = _open("GET", url, headers, not self.insecure, self.timeout,
                                   cert_dir=self.cert_dir)
            except (OSError, http.client.HTTPException) as exc:
                raise RegistryError(f"{self.name}: GET {url}: {_describe(exc)}") from exc
            if resp.status not in _REDIRECTS:
                return conn, resp
            location = resp.getheader("Location", "")
            conn.close()
            was_https = urlsplit(url).scheme == "https"
            url = urljoin(url, location)
            if was_https and urlsplit(url).scheme == "http":
                self._check_downgrade(url)
            if urlsplit(url)[:2] != origin:  # another scheme or host: not our credentials
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        raise RegistryError(f"{self.name}: too many redirects")

    def _fail(self, resp: http.client.HTTPResponse, what: str) -> PymanError:
        codes, message = _error_codes(resp.read(65536))
        if codes & NOT_FOUND_CODES or (resp.status == 404 and "BLOB_UNKNOWN" not in codes):
            return ImageNotFoundError(f"{what}: {message or 'manifest unknown'}")
        if resp.status == 401 and self.credentials is not None:
            # the registry's words last, as Podman's end (a HEAD's 401 has no body: the
            # status's own words, as distribution's client gives them)
            words = message if "UNAUTHORIZED" in codes and message else "authentication required"
            return UnauthorizedError(
                f"{what}: the registry refused the credentials of {self.credentials.username!r}"
                f" (check them: pyman login, --creds): unauthorized: {words}")
        if resp.status in (401, 403):
            hint = "" if self.credentials else (
                f". If it needs credentials: pyman login {self.host}, or --creds")
            return UnauthorizedError(f"{what}: requested access to the resource is denied{hint}")
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

    # ---- the push side ----

    def _read_close(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse
                    ) -> None:
        try:
            resp.read(65536)
        finally:
            conn.close()

    def blob_exists(self, digest: str) -> bool:
        conn, resp = self._request("HEAD", f"/v2/{self.repository}/blobs/{digest}")
        try:
            if resp.status == 200:
                return True
            if resp.status == 404:
                return False
            raise self._fail(resp, f"checking whether blob {digest} exists in {self.name}")
        finally:
            conn.close()

    def _location(self, resp: http.client.HTTPResponse, base: str, what: str) -> str:
        location = resp.getheader("Location", "")
        if not location:
            raise RegistryError(f"{what}: the registry sent no upload Location")
        base_url = base if "://" in base else f"{self._scheme}://{self.host}{base}"
        return urljoin(base_url, location)

    def start_upload(self, digest: str, mount_from: str | None = None
                     ) -> tuple[bool, str | None]:
        """POST an upload session; with ``mount_from`` ask to mount the blob from that
        repository instead. Returns (mounted, upload URL or None when mounted)."""
        path = f"/v2/{self.repository}/blobs/uploads/"
        if mount_from:
            path += "?" + urlencode({"mount": digest, "from": mount_from})
        what = f"uploading blob {digest} to {self.name}"
        conn, resp = self._request("POST", path)
        try:
            if resp.status == 201 and mount_from:
                return True, None
            if resp.status != 202:
                raise self._fail(resp, what)
            return False, self._location(resp, path, what)
        finally:
            self._read_close(conn, resp)

    def upload_blob(self, url: str, digest: str, size: int, open_blob: Callable[[], BinaryIO],
                    chunk_size: int | None = None,
                    progress: Callable[[int], None] | None = None) -> None:
        """Send the blob to an upload session: one PUT (monolithic), or PATCHes of
        ``chunk_size`` bytes with Content-Range and a closing PUT (chunked)."""
        what = f"uploading blob {digest} to {self.name}"
        if chunk_size and size > chunk_size:
            offset = 0
            with open_blob() as f:
                while offset < size:
                    data = f.read(chunk_size)
                    if not data:
                        raise RegistryError(f"{what}: the blob ended at {offset} of {size} bytes")
                    end = offset + len(data) - 1
                    headers = {"Content-Type": "application/octet-stream",
                               "Content-Range": f"{offset}-{end}"}
                    conn, resp = self._request("PATCH", url, headers, data)
                    try:
                        if resp.status != 202:
                            raise self._fail(resp, what)
                        url = self._location(resp, url, what)
                    finally:
                        self._read_close(conn, resp)
                    offset = end + 1
                    if progress:
                        progress(offset)
            body: Body = b""
            headers = {}
        else:
            body = open_blob
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        sep = "&" if urlsplit(url).query else "?"
        conn, resp = self._request("PUT", url + sep + urlencode({"digest": digest}), headers, body)
        try:
            if resp.status != 201:
                raise self._fail(resp, what)
            got = resp.getheader("Docker-Content-Digest")
            if got and got != digest:
                raise DigestMismatchError(f"{what}: the registry stored {got}")
        finally:
            self._read_close(conn, resp)
        if progress:
            progress(size)

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        """PUT a manifest under a tag or digest; returns its digest."""
        what = f"writing manifest to {self.name}"
        conn, resp = self._request("PUT", f"/v2/{self.repository}/manifests/{reference}",
                                   {"Content-Type": media_type}, data)
        try:
            if resp.status != 201:
                raise self._fail(resp, what)
        finally:
            self._read_close(conn, resp)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        got = resp.getheader("Docker-Content-Digest")
        if got and got != digest:
            raise DigestMismatchError(f"{what}: the registry stored {got}, expected {digest}")
        return digest
