"""auth.json: where it is, which file wins, key matching, atomic 0600 writes."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from pyman.image import auth
from pyman.image.auth import Credentials


def entry(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    from pyman.config import paths

    paths.cache_clear()
    yield tmp_path
    paths.cache_clear()


def test_default_location_and_read_order(home: Path) -> None:
    primary = home / "run" / "containers" / "auth.json"
    assert auth.auth_file() == primary
    assert auth.read_files() == [primary, home / "config" / "containers" / "auth.json",
                                 home / "home" / ".docker" / "config.json"]


def test_docker_config_legacy_keys_and_precedence(home: Path) -> None:
    docker = home / "home" / ".docker" / "config.json"
    docker.parent.mkdir(parents=True)
    docker.write_text(json.dumps({"auths": {"https://index.docker.io/v1/": entry("d", "1"),
                                            "https://reg.example:5000": entry("e", "2")}}))
    assert auth.find("docker.io", "library/alpine") == Credentials("d", "1")
    assert auth.find("reg.example:5000") == Credentials("e", "2")
    auth.store(auth.auth_file(), "reg.example:5000", Credentials("p", "3"))
    assert auth.find("reg.example:5000") == Credentials("p", "3")  # the primary file wins


def test_most_specific_key_wins(home: Path) -> None:
    path = auth.auth_file()
    auth.store(path, "r.test", Credentials("host", "a"))
    auth.store(path, "r.test/team", Credentials("team", "b"))
    auth.store(path, "r.test/team/app", Credentials("app", "c"))
    assert auth.find("r.test", "team/app") == Credentials("app", "c")
    assert auth.find("r.test", "team/other") == Credentials("team", "b")
    assert auth.find("r.test", "else/x") == Credentials("host", "a")
    assert auth.find("other.test", "team/app") is None


def test_writes_are_0600_and_keep_other_fields(home: Path) -> None:
    path = auth.auth_file()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"auths": {}, "credHelpers": {"x.test": "pass"}}))
    auth.store(path, "r.test", Credentials("u", "p:with:colons"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["credHelpers"] == {"x.test": "pass"}
    assert auth.find("r.test") == Credentials("u", "p:with:colons")
    assert auth.remove(path, "r.test") and not auth.remove(path, "r.test")


def test_registry_auth_file_is_the_only_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = home / "elsewhere.json"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(other))
    assert auth.auth_file() == other and auth.read_files() == [other]
    assert auth.read_files("/x/given.json") == [Path("/x/given.json")]


def test_corrupt_file_is_a_clear_error(home: Path) -> None:
    path = auth.auth_file()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(auth.ConfigError, match="reading credentials from .*auth.json"):
        auth.find("r.test")


def test_creds_parse() -> None:
    assert Credentials.parse("a:b:c") == Credentials("a", "b:c")
    assert "b" not in repr(Credentials("a", "b"))
    with pytest.raises(auth.PymanError, match="USERNAME:PASSWORD"):
        Credentials.parse("alone")
