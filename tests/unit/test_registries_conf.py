"""registries.conf loading, merging, short-name resolution and endpoints."""

from pathlib import Path

import pytest

from pyman.errors import ConfigError, RegistryError
from pyman.image.reference import parse_reference
from pyman.image.registries_conf import Endpoint, load_registries_conf

D = "sha256:" + "b" * 64


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.delenv("CONTAINERS_REGISTRIES_CONF", raising=False)
    system = tmp_path / "etc"
    user = tmp_path / "user"
    (system / "registries.conf.d").mkdir(parents=True)
    (user / "registries.conf.d").mkdir(parents=True)
    return system, user


def load(dirs):
    system, user = dirs
    return load_registries_conf(user, system_dir=system)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_nothing_configured_defaults_to_docker_io(dirs):
    conf = load(dirs)
    assert conf.files == []
    assert [str(r) for r in conf.resolve("alpine")] == ["docker.io/library/alpine:latest"]
    assert conf.endpoints(parse_reference("alpine")) == [
        Endpoint("docker.io", "library/alpine", False, False)
    ]


def test_search_registries_in_order(dirs):
    system, _ = dirs
    write(system / "registries.conf", 'unqualified-search-registries = ["quay.io", "docker.io"]\n')
    conf = load(dirs)
    assert [str(r) for r in conf.resolve("foo:1")] == ["quay.io/foo:1", "docker.io/library/foo:1"]
    assert [str(r) for r in conf.resolve(f"foo@{D}")] == [f"quay.io/foo@{D}", f"docker.io/library/foo@{D}"]
    # fully-qualified names resolve to themselves
    assert [str(r) for r in conf.resolve("ghcr.io/a/b")] == ["ghcr.io/a/b:latest"]


def test_empty_search_list_is_respected(dirs):
    system, _ = dirs
    write(system / "registries.conf", "unqualified-search-registries = []\n")
    assert load(dirs).resolve("alpine") == []


def test_aliases_keep_tag_and_digest(dirs):
    system, _ = dirs
    write(system / "registries.conf", 'unqualified-search-registries = ["quay.io"]\n[aliases]\n"py" = "docker.io/library/python"\n')
    conf = load(dirs)
    assert [str(r) for r in conf.resolve("py")] == ["docker.io/library/python:latest"]
    assert [str(r) for r in conf.resolve("py:3.11")] == ["docker.io/library/python:3.11"]
    assert [str(r) for r in conf.resolve(f"py@{D}")] == [f"docker.io/library/python@{D}"]
    assert [str(r) for r in conf.resolve("other")] == ["quay.io/other:latest"]


def test_dropins_override_in_lexical_order(dirs):
    system, user = dirs
    write(system / "registries.conf", """
unqualified-search-registries = ["a.io"]
[[registry]]
location = "a.io"
insecure = true
[aliases]
"x" = "a.io/x"
"y" = "a.io/y"
""")
    write(system / "registries.conf.d" / "20-b.conf", 'unqualified-search-registries = ["b.io"]\n[aliases]\n"y" = ""\n"z" = "b.io/z"\n')
    write(system / "registries.conf.d" / "10-a.conf", 'unqualified-search-registries = ["first.io"]\n')
    write(system / "registries.conf.d" / "ignored.txt", "not toml at all [[[")
    write(user / "registries.conf.d" / "00-user.conf", '[[registry]]\nlocation = "a.io"\ninsecure = false\nblocked = true\n')
    conf = load(dirs)
    assert [p.name for p in conf.files] == ["registries.conf", "10-a.conf", "20-b.conf", "00-user.conf"]
    assert conf.search == ["b.io"]
    assert conf.aliases == {"x": "a.io/x", "z": "b.io/z"}  # "y" erased by the empty value
    assert conf.registries["a.io"].blocked and not conf.registries["a.io"].insecure


def test_user_file_replaces_system_file_and_system_dropins(dirs):
    system, user = dirs
    write(system / "registries.conf", 'unqualified-search-registries = ["sys.io"]\n')
    write(system / "registries.conf.d" / "50.conf", '[aliases]\n"s" = "sys.io/s"\n')
    write(user / "registries.conf", 'unqualified-search-registries = ["user.io"]\n')
    write(user / "registries.conf.d" / "50.conf", '[aliases]\n"u" = "user.io/u"\n')
    conf = load(dirs)
    assert conf.search == ["user.io"]
    assert conf.aliases == {"u": "user.io/u"}


def test_env_overrides_main_file(dirs, tmp_path, monkeypatch):
    system, _ = dirs
    write(system / "registries.conf", 'unqualified-search-registries = ["sys.io"]\n')
    env = write(tmp_path / "env.conf", 'unqualified-search-registries = ["env.io"]\n')
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", str(env))
    assert load(dirs).search == ["env.io"]


MIRRORS = """
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "mirror.local:5000"
insecure = true
[[registry.mirror]]
location = "digest-only.local/cache"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tag-only.local"
pull-from-mirror = "tag-only"

[[registry]]
prefix = "docker.io/library/alpine"
location = "internal.example.com/base/alpine"
mirror-by-digest-only = true
[[registry.mirror]]
location = "m.example.com/alp"

[[registry]]
prefix = "*.corp.example"
insecure = true

[[registry]]
prefix = "bad.io"
location = "bad.io"
blocked = true
"""


def test_mirrors_then_primary(dirs):
    system, _ = dirs
    write(system / "registries.conf", MIRRORS)
    conf = load(dirs)
    eps = conf.endpoints(parse_reference("busybox"))
    assert eps == [
        Endpoint("mirror.local:5000", "library/busybox", True, True),
        Endpoint("tag-only.local", "library/busybox", False, True),
        Endpoint("docker.io", "library/busybox", False, False),
    ]
    eps = conf.endpoints(parse_reference(f"busybox@{D}"))
    assert [e.host for e in eps] == ["mirror.local:5000", "digest-only.local", "docker.io"]
    assert eps[1].repository == "cache/library/busybox"


def test_longest_prefix_wins_and_rewrites(dirs):
    system, _ = dirs
    write(system / "registries.conf", MIRRORS)
    conf = load(dirs)
    # mirror-by-digest-only: no mirrors for a tag
    assert conf.endpoints(parse_reference("alpine:3")) == [
        Endpoint("internal.example.com", "base/alpine", False, False)
    ]
    eps = conf.endpoints(parse_reference(f"alpine@{D}"))
    assert eps[0] == Endpoint("m.example.com", "alp", False, True)
    # a prefix matches only at a separator: alpine-foo is not alpine
    assert conf.find_registry(parse_reference("docker.io/library/alpinefoo")).prefix == "docker.io"


def test_wildcard_prefix(dirs):
    system, _ = dirs
    write(system / "registries.conf", MIRRORS)
    conf = load(dirs)
    assert conf.endpoints(parse_reference("a.b.corp.example/x/y")) == [
        Endpoint("a.b.corp.example", "x/y", True, False)
    ]
    assert conf.find_registry(parse_reference("corp.example.evil.io/x")) is None


def test_blocked(dirs):
    system, _ = dirs
    write(system / "registries.conf", MIRRORS)
    with pytest.raises(RegistryError, match="blocked"):
        load(dirs).endpoints(parse_reference("bad.io/x"))


def test_v1_format_in_main_file(dirs):
    system, _ = dirs
    write(system / "registries.conf", '[registries.search]\nregistries = ["quay.io"]\n[registries.insecure]\nregistries = ["my.reg:5000"]\n[registries.block]\nregistries = ["evil.io"]\n')
    conf = load(dirs)
    assert conf.search == ["quay.io"]
    assert conf.registries["my.reg:5000"].insecure
    assert conf.registries["evil.io"].blocked


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("unqualified-search-registries = [", "invalid TOML"),
        ("unqualified-search-registries = \"docker.io\"", "array of strings"),
        ("unqualified-search-registries = [\"https://x.io\"]", "invalid unqualified-search-registries"),
        ("[[registry]]\ninsecure = true", "prefix or a location"),
        ("[[registry]]\nprefix = \"x.io\"", "location is unset"),
        ("[[registry]]\nlocation = \"https://x.io\"", "URI schemes"),
        ("[[registry]]\nlocation = \"x.io\"\ninsecure = \"yes\"", "true or false"),
        ("[[registry]]\nprefix = \"*.x.io/foo\"", "wildcard"),
        ("[[registry]]\nprefix = \"a.*.io\"\nlocation = \"a.io\"", "wildcard"),
        ("[[registry]]\nlocation = \"x.io\"\n[[registry.mirror]]\ninsecure = true", "location is unset"),
        ("[[registry]]\nlocation = \"x.io\"\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"sometimes\"", "pull-from-mirror"),
        ("[[registry]]\nlocation = \"x.io\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"tag-only\"", "at the same time"),
        ("[aliases]\n\"quay.io/x\" = \"quay.io/x\"", "short name"),
        ("[aliases]\n\"x\" = \"x\"", "fully-qualified"),
        ("[aliases]\n\"x\" = \"quay.io/x:1\"", "tag or digest"),
        ("short-name-mode = \"maybe\"", "short-name-mode"),
    ],
)
def test_malformed(dirs, text, why):
    system, _ = dirs
    path = write(system / "registries.conf", text + "\n")
    with pytest.raises(ConfigError) as exc:
        load(dirs)
    assert str(path) in str(exc.value)
    assert why in str(exc.value)


def test_v1_not_allowed_in_dropin(dirs):
    system, _ = dirs
    write(system / "registries.conf.d" / "x.conf", '[registries.search]\nregistries = ["quay.io"]\n')
    with pytest.raises(ConfigError, match="x.conf.*drop-in"):
        load(dirs)


def test_debian_shipped_files_load(monkeypatch, tmp_path):
    """This host's /etc/containers files (Debian's, plus the test ground's drop-in) load."""
    monkeypatch.delenv("CONTAINERS_REGISTRIES_CONF", raising=False)
    if not Path("/etc/containers/registries.conf").exists():
        pytest.skip("no /etc/containers/registries.conf here")
    conf = load_registries_conf(tmp_path)
    assert Path("/etc/containers/registries.conf") in conf.files
    if Path("/etc/containers/registries.conf.d/shortnames.conf").exists():
        assert conf.aliases["fedora"] == "registry.fedoraproject.org/fedora"
        assert [str(r) for r in conf.resolve("fedora:39")] == ["registry.fedoraproject.org/fedora:39"]
    assert all(str(r).count("/") >= 1 for r in conf.resolve("alpine"))


def test_insecure_host_is_an_insecure_location_or_mirror_only(dirs):
    """Where credentials may go over plain http (a token realm, a redirect's target)."""
    _, user = dirs
    write(user / "registries.conf", """
[[registry]]
location = "auth.example:5001"
insecure = true

[[registry]]
prefix = "example.com/team"
location = "reg.example/team"
[[registry.mirror]]
location = "mirror.example:8080/cache"
insecure = true

[[registry]]
location = "secure.example"
""")
    conf = load(dirs)
    assert conf.insecure_host("auth.example:5001")
    assert conf.insecure_host("mirror.example:8080")
    assert not conf.insecure_host("auth.example")  # another port is another place
    assert not conf.insecure_host("reg.example")
    assert not conf.insecure_host("secure.example")
    assert not conf.insecure_host("example.com")
