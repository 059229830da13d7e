"""Image references, parsed per the distribution grammar and normalized as Docker does.

``alpine`` -> ``docker.io/library/alpine:latest``; ``quay.io/a/b@sha256:...`` stays as is.
The first path component is a registry when it contains ``.`` or ``:`` or is ``localhost``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyman.errors import InvalidReferenceError

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
MAX_NAME_LENGTH = 255
EXPECTED_FORM = "expected [registry[:port]/]repository[:tag][@algorithm:hex]"

# Grammar from distribution/reference (regexp.go), compiled once.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
_PATH_RE = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_HEX64_RE = re.compile(r"^[a-f0-9]{64}$")
# go-digest's registered algorithms and their hex lengths.
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


@dataclass(frozen=True)
class Reference:
    """A parsed image reference: registry, repository, tag and digest."""

    registry: str  # host[:port], e.g. docker.io, quay.io, 127.0.0.1:5000
    repository: str  # path inside the registry, e.g. library/alpine
    tag: str | None
    digest: str | None  # algorithm:hex

    @property
    def name(self) -> str:
        """registry/repository, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, None, digest)


def _error(text: str, why: str) -> InvalidReferenceError:
    return InvalidReferenceError(f'invalid reference format "{text}": {why} ({EXPECTED_FORM})')


def split_domain(name: str) -> tuple[str | None, str]:
    """Split ``name`` (no tag or digest) into its registry, if it names one, and the path."""
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return None, name


def is_valid_domain(text: str) -> bool:
    """True for ``host[:port]`` as the grammar allows it."""
    return _DOMAIN_RE.match(text) is not None


def is_short_name(text: str) -> bool:
    """True when ``text`` names no registry (``alpine``, ``library/alpine``, ``alpine:3``)."""
    name = _strip_tag_digest(text)[0]
    return split_domain(name)[0] is None


def _strip_tag_digest(text: str) -> tuple[str, str | None, str | None]:
    name, at, digest = text.partition("@")
    tag: str | None = None
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, (digest if at else None)


def check_digest(digest: str, text: str | None = None) -> str:
    """Validate ``algorithm:hex``; return it unchanged."""
    where = text if text is not None else digest
    if not _DIGEST_RE.match(digest):
        raise _error(where, f"digest {digest!r} is not of the form algorithm:hex")
    algo, _, hexpart = digest.partition(":")
    want = DIGEST_HEX_LENGTHS.get(algo)
    if want is None:
        raise _error(where, f"unsupported digest algorithm {algo!r} (use sha256)")
    if len(hexpart) != want or not re.fullmatch(r"[a-f0-9]+", hexpart):
        raise _error(where, f"{algo} digest must be {want} lowercase hex characters")
    return digest


def _check_parts(text: str, domain: str | None, path: str, tag: str | None) -> None:
    if domain is not None and not _DOMAIN_RE.match(domain):
        raise _error(text, f"invalid registry name {domain!r}")
    if not path:
        raise _error(text, "repository name is empty")
    if path.lower() != path:
        raise _error(text, "repository name must be lowercase")
    if not _PATH_RE.match(path):
        raise _error(
            text,
            "repository name may contain only lowercase letters, digits and separators "
            "(. _ __ -) between them, with / between components",
        )
    if tag is not None and not _TAG_RE.match(tag):
        raise _error(text, f"invalid tag {tag!r} (letters, digits, _ . -, at most 128)")


def parse_reference(text: str, default_registry: str = DEFAULT_REGISTRY) -> Reference:
    """Parse and normalize ``text``; a name without a registry gets ``default_registry``."""
    if not text:
        raise _error(text, "empty reference")
    if _HEX64_RE.match(text):
        raise _error(text, "a 64-character hex string is an image id, not a repository name")
    if any(c.isspace() for c in text):
        raise _error(text, "whitespace is not allowed")
    name, tag, digest = _strip_tag_digest(text)
    domain, path = split_domain(name)
    _check_parts(text, domain, path, tag)
    if digest is not None:
        check_digest(digest, text)
    registry = domain if domain is not None else default_registry
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    if len(f"{registry}/{path}") > MAX_NAME_LENGTH:
        raise _error(text, f"repository name must not be more than {MAX_NAME_LENGTH} characters")
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(registry, path, tag, digest)


def parse_name(text: str) -> Reference:
    """Parse a fully-qualified repository name with no tag or digest (aliases, prefixes)."""
    name, tag, digest = _strip_tag_digest(text)
    if tag is not None or digest is not None:
        raise _error(text, "a tag or digest is not allowed here")
    if split_domain(name)[0] is None:
        raise _error(text, "a fully-qualified name with a registry is required here")
    ref = parse_reference(text)
    return Reference(ref.registry, ref.repository, None, None)
