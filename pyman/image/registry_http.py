"""The transport under the registry client: TLS contexts (Podman's certs.d), one HTTP
request per call, challenge and error-body parsing, and readable network errors."""

from __future__ import annotations

import base64
import errno
import functools
import http.client
import json
import os
import re
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from pyman.errors import RegistryError
from pyman.image.auth import Credentials

USER_AGENT = "pyman/0.1"
CHUNK = 1 << 20


def cert_dirs(host: str, cert_dir: str | None = None) -> list[Path]:
    """Where Podman looks for a registry's CA (*.crt) and client certificates (*.cert/*.key):
    --cert-dir, else the first existing of the user's and the system's certs.d/<host>."""
    if cert_dir:
        return [Path(cert_dir)]
    config = os.environ.get("XDG_CONFIG_HOME")
    user = Path(config) if config and os.path.isabs(config) else Path.home() / ".config"
    return [user / "containers/certs.d" / host, Path("/etc/containers/certs.d") / host,
            Path("/etc/docker/certs.d") / host]


@functools.lru_cache(maxsize=32)
def _ssl_context(verify: bool, host: str = "", cert_dir: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    for d in cert_dirs(host, cert_dir) if host else []:
        if not d.is_dir():
            continue
        try:
            for f in sorted(d.iterdir()):
                if f.suffix == ".crt":
                    ctx.load_verify_locations(cafile=str(f))
                elif f.suffix == ".cert":
                    ctx.load_cert_chain(str(f), str(f.with_suffix(".key")))
        except (OSError, ssl.SSLError) as exc:
            raise RegistryError(f"loading certificates for {host} from {d}: {exc}. Fix or "
                                "remove the files") from None
        break  # the first directory that exists is the one, as in containers/image
    return ctx


Body = bytes | Callable[[], BinaryIO] | None


def _basic(creds: Credentials) -> str:
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _open(method: str, url: str, headers: dict[str, str], verify: bool, timeout: float,
          body: bytes | BinaryIO | None = None, cert_dir: str | None = None
          ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """One request on a fresh connection; the caller closes the connection."""
    parts = urlsplit(url)
    host = parts.netloc
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        ctx = _ssl_context(verify, host, cert_dir)
        conn = http.client.HTTPSConnection(host, timeout=timeout, context=ctx, blocksize=CHUNK)
    elif parts.scheme == "http":
        conn = http.client.HTTPConnection(host, timeout=timeout, blocksize=CHUNK)
    else:
        raise RegistryError(f"unsupported URL scheme in {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request(method, path, body=body, headers={"User-Agent": USER_AGENT, **headers})
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


def _unreachable(exc: BaseException) -> bool:
    """A failure to reach the host at all (name, route, refusal, silence): a network
    matter, not the registry's answer."""
    return isinstance(exc, ConnectionRefusedError | TimeoutError | socket.gaierror) or (
        isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH))


def _untrusted(exc: BaseException) -> bool:
    return isinstance(exc, ssl.SSLCertVerificationError)


def host_name(netloc: str) -> str:
    """``host[:port]`` (an IPv6 one in brackets) -> the host name alone, lower-cased."""
    return (urlsplit("//" + netloc).hostname or netloc).lower()


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
