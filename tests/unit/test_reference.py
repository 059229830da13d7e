"""Image reference parsing and normalization."""

import pytest

from pyman.errors import InvalidReferenceError
from pyman.image.reference import Reference, is_short_name, parse_name, parse_reference

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alpine", "docker.io/library/alpine:latest"),
        ("alpine:3.18", "docker.io/library/alpine:3.18"),
        ("library/alpine", "docker.io/library/alpine:latest"),
        ("docker.io/alpine", "docker.io/library/alpine:latest"),
        ("index.docker.io/foo/bar", "docker.io/foo/bar:latest"),
        ("user/repo:v1", "docker.io/user/repo:v1"),
        ("quay.io/podman/stable", "quay.io/podman/stable:latest"),
        ("localhost/img", "localhost/img:latest"),
        ("localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t"),
        ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest"),
        ("[::1]:5000/x:y", "[::1]:5000/x:y"),
        (f"alpine@{D}", f"docker.io/library/alpine@{D}"),
        (f"alpine:3@{D}", f"docker.io/library/alpine:3@{D}"),
        ("a.b/c__d/e-f.g_h", "a.b/c__d/e-f.g_h:latest"),
    ],
)
def test_normalized(text, expected):
    assert str(parse_reference(text)) == expected


def test_fields():
    ref = parse_reference(f"registry.example.com:8443/ns/app:1.0@{D}")
    assert ref == Reference("registry.example.com:8443", "ns/app", "1.0", D)
    assert ref.name == "registry.example.com:8443/ns/app"
    assert parse_reference(f"x.io/y@{D}").tag is None


def test_default_registry_for_short_names():
    assert str(parse_reference("alpine", default_registry="quay.io")) == "quay.io/alpine:latest"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Alpine", "must be lowercase"),
        ("docker.io/Library/alpine", "must be lowercase"),
        ("", "empty"),
        ("alpine:", "invalid tag"),
        ("alpine:-bad", "invalid tag"),
        ("alpine:" + "x" * 129, "invalid tag"),
        ("foo bar", "whitespace"),
        ("foo//bar", "repository name may contain"),
        ("foo/", "repository name"),
        ("-foo", "repository name may contain"),
        ("foo_-bar", "repository name may contain"),
        ("foo$", "repository name may contain"),
        ("alpine@sha256:abc", "64 lowercase hex"),
        ("alpine@sha256:" + "A" * 64, "64 lowercase hex"),
        ("alpine@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("alpine@", "not of the form"),
        ("a" * 64, "image id"),
        ("example.com/" + "a" * 250, "255"),
        ("exa_mple.com:x/foo", "invalid registry"),
    ],
)
def test_invalid(text, why):
    with pytest.raises(InvalidReferenceError) as exc:
        parse_reference(text)
    msg = str(exc.value)
    assert why in msg
    assert f'"{text}"' in msg
    assert "expected [registry[:port]/]repository[:tag]" in msg
    assert "\n" not in msg


def test_lowercase_message_matches_brief():
    with pytest.raises(InvalidReferenceError, match=r'^invalid reference format "Alpine": repository name must be lowercase'):
        parse_reference("Alpine")


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("alpine", True),
        ("alpine:3", True),
        (f"alpine@{D}", True),
        ("library/alpine", True),
        ("docker.io/alpine", False),
        ("localhost/x", False),
        ("host:5000/x", False),
        ("quay.io/a/b", False),
    ],
)
def test_is_short_name(text, short):
    assert is_short_name(text) is short


def test_parse_name_refuses_tag_and_short():
    assert parse_name("quay.io/a/b") == Reference("quay.io", "a/b", None, None)
    with pytest.raises(InvalidReferenceError):
        parse_name("quay.io/a/b:1")
    with pytest.raises(InvalidReferenceError):
        parse_name("alpine")
