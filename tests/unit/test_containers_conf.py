"""containers.conf and storage.conf: which files, in which order, and what a bad one says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyman import config, containers_conf, storage_conf
from pyman.errors import ConfigError


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """System files under tmp_path/usr and tmp_path/etc, the user's under tmp_path/home."""
    (tmp_path / "usr").mkdir()
    (tmp_path / "etc" / "containers.conf.d").mkdir(parents=True)
    (tmp_path / "home" / "containers" / "containers.conf.d").mkdir(parents=True)
    monkeypatch.setattr(containers_conf, "SYSTEM_FILES", (
        str(tmp_path / "usr" / "containers.conf"), str(tmp_path / "etc" / "containers.conf")))
    monkeypatch.setattr(containers_conf, "SYSTEM_DROPINS", str(tmp_path / "etc" /
                                                               "containers.conf.d"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CONTAINERS_CONF", raising=False)
    monkeypatch.delenv("CONTAINERS_CONF_OVERRIDE", raising=False)
    return tmp_path


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_files_in_podmans_order_later_wins_key_by_key(layout: Path) -> None:
    usr = write(layout / "usr" / "containers.conf",
                '[containers]\ninit_path = "/usr-init"\nenv = ["A=1"]\n'
                '[engine]\nruntime = "crun"\n')
    etc = write(layout / "etc" / "containers.conf", '[engine]\nruntime = "runc"\n')
    d = layout / "etc" / "containers.conf.d"
    d20 = write(d / "20-b.conf", '[containers]\nenv = ["B=2"]\n')
    d10 = write(d / "10-a.conf", '[containers]\nenv = ["A=0"]\ndefault_ulimits = ["nofile=1:2"]\n')
    write(d / "30-ignored.txt", "not = [toml")  # only *.conf files count
    user = write(layout / "home" / "containers" / "containers.conf",
                 '[network]\ndefault_rootless_network_cmd = "slirp4netns"\n')
    udrop = write(layout / "home" / "containers" / "containers.conf.d" / "1.conf",
                  '[containers]\ndefault_capabilities = ["CHOWN"]\n')
    files = containers_conf.config_files(rootless=True)
    assert [f for f in files if os.path.exists(f)] == [usr, etc, d10, d20, user, udrop]
    conf = containers_conf.load(files)
    assert conf.files == [usr, etc, d10, d20, user, udrop]
    assert conf.runtime == "runc" and conf.source("engine", "runtime") == etc
    assert conf.env == ["B=2"]  # a list replaces the whole list
    assert conf.default_ulimits == ["nofile=1:2"]  # set once, kept
    assert conf.init_path == "/usr-init"
    assert conf.default_rootless_network_cmd == "slirp4netns"
    assert conf.default_capabilities == ["CHOWN"]
    # root reads no user file
    assert user not in containers_conf.config_files(rootless=False)


def test_containers_conf_env_replaces_list_and_override_comes_last(
        layout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(layout / "etc" / "containers.conf", '[engine]\nruntime = "crun"\n')
    only = write(layout / "only.conf", '[engine]\nruntime = "runc"\n')
    last = write(layout / "last.conf", '[containers]\ninit_path = "/init"\n')
    monkeypatch.setenv("CONTAINERS_CONF", only)
    monkeypatch.setenv("CONTAINERS_CONF_OVERRIDE", last)
    assert containers_conf.config_files() == [only, last]
    conf = containers_conf.load()
    assert conf.runtime == "runc" and conf.init_path == "/init"
    monkeypatch.setenv("CONTAINERS_CONF", str(layout / "missing.conf"))
    with pytest.raises(ConfigError, match=r"^CONTAINERS_CONF file: stat .*missing.conf: no such"):
        containers_conf.config_files()


def test_defaults_and_unknown_keys(layout: Path) -> None:
    path = write(layout / "etc" / "containers.conf",
                 '[engine]\nnot_a_key = 3\nimage_default_transport = "docker://"\n'
                 '[whatever]\nx = 1\n')
    conf = containers_conf.load([path])
    assert conf.files == [path]
    assert conf.runtime == "" and conf.default_capabilities is None and conf.env == []
    assert conf.helper_binaries_dir == list(containers_conf.DEFAULT_HELPER_DIRS)
    assert conf.default_rootless_network_cmd == ""


def test_malformed_file_is_one_line_with_the_position(layout: Path) -> None:
    path = write(layout / "etc" / "containers.conf", '[engine]\nruntime = "runc\n')
    with pytest.raises(ConfigError) as err:
        containers_conf.load([path])
    msg = str(err.value)
    assert msg.startswith(f"{path}: invalid TOML: ") and "(at line 2, column" in msg
    assert "\n" not in msg
    assert err.value.exit_code == 125


@pytest.mark.parametrize(("text", "words"), [
    ('[engine]\nruntime = 1\n', "[engine] runtime must be a string"),
    ('[containers]\nenv = "A=1"\n', "[containers] env must be a array of strings"),
    ('[network]\ndefault_rootless_network_cmd = "bridge"\n',
     "invalid default_rootless_network_cmd 'bridge': must be slirp4netns or pasta"),
])
def test_bad_values_name_file_and_key(layout: Path, text: str, words: str) -> None:
    path = write(layout / "etc" / "containers.conf", text)
    with pytest.raises(ConfigError, match=rf"^{path}: .*") as err:
        containers_conf.load([path])
    assert words in str(err.value)


def test_runtime_names_resolve_through_runtimes_table(layout: Path) -> None:
    binary = layout / "my-runc"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    path = write(layout / "etc" / "containers.conf",
                 f'[engine]\nruntime = "runc"\n[engine.runtimes]\n'
                 f'runc = ["/nonexistent/runc", "{binary}"]\n')
    assert containers_conf.load([path]).runtime == str(binary)


def test_helpers_come_from_helper_binaries_dir_before_path(
        layout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    helpers, on_path = layout / "helpers", layout / "bin"
    for d in (helpers, on_path):
        d.mkdir()
        tool = d / "slirp4netns"
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(on_path))
    path = write(layout / "etc" / "containers.conf",
                 f'[engine]\nhelper_binaries_dir = ["{layout / "none"}", "{helpers}"]\n')
    conf = containers_conf.load([path])
    assert conf.find_helper("slirp4netns") == str(helpers / "slirp4netns")
    (helpers / "slirp4netns").unlink()
    assert conf.find_helper("slirp4netns") == str(on_path / "slirp4netns")
    assert conf.find_helper("pasta") is None


# ------------------------------------------------------------------ storage.conf


@pytest.fixture
def storage_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "cfg").mkdir()
    monkeypatch.setattr(storage_conf, "SYSTEM_FILES", (str(tmp_path / "etc" / "storage.conf"),))
    for var in ("CONTAINERS_STORAGE_CONF", "STORAGE_DRIVER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", "/home/someone")
    return tmp_path


def test_storage_conf_user_file_wins_entirely(storage_layout: Path) -> None:
    write(storage_layout / "etc" / "storage.conf",
          '[storage]\ndriver = "vfs"\nrootless_storage_path = "/sys-path"\n')
    user = write(storage_layout / "cfg" / "storage.conf",
                 '[storage]\nrunroot = "/run/x"\ngraphroot = "$HOME/g"\n'
                 '[storage.options.overlay]\nmount_program = "/usr/bin/fuse-overlayfs"\n')
    conf = storage_conf.load(str(storage_layout / "cfg"))
    assert (conf.file, conf.user_file) == (user, True)
    assert conf.driver == "overlay"  # not the system file's vfs
    assert conf.graphroot == "/home/someone/g" and conf.runroot == "/run/x"
    assert conf.mount_program == "/usr/bin/fuse-overlayfs"


def test_storage_conf_system_file_gives_rootless_keys_only(storage_layout: Path) -> None:
    system = write(storage_layout / "etc" / "storage.conf",
                   '[storage]\ndriver = "vfs"\ngraphroot = "/var/lib/containers/storage"\n'
                   'runroot = "/run/containers/storage"\n'
                   'rootless_storage_path = "/data/$UID/s"\n')
    conf = storage_conf.load(str(storage_layout / "cfg"))
    assert (conf.file, conf.user_file, conf.driver) == (system, False, "vfs")
    assert conf.graphroot == f"/data/{os.getuid()}/s" and conf.runroot == ""


def test_storage_conf_env_file_and_errors(storage_layout: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(storage_layout / "s.conf", '[storage]\ndriver = "btrfs"\n')
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", path)
    with pytest.raises(ConfigError, match=r"driver 'btrfs' is not one pyman has"):
        storage_conf.load(str(storage_layout / "cfg"))
    write(storage_layout / "s.conf", '[storage]\nrunroot = "relative"\n')
    with pytest.raises(ConfigError, match=r"runroot 'relative' must be an absolute path"):
        storage_conf.load(str(storage_layout / "cfg"))
    write(storage_layout / "s.conf", '[storage\ndriver = "vfs"\n')
    with pytest.raises(ConfigError, match=rf"^{path}: invalid TOML: .*\(at line 1, column"):
        storage_conf.load(str(storage_layout / "cfg"))
    write(storage_layout / "s.conf", '[storage]\ndriver = "overlay"\n')
    monkeypatch.setenv("STORAGE_DRIVER", "vfs")
    assert storage_conf.load(str(storage_layout / "cfg")).driver == "vfs"


def test_paths_follow_storage_conf(storage_layout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = storage_layout / "xdg"
    (cfg / "containers").mkdir(parents=True)
    write(cfg / "containers" / "storage.conf",
          f'[storage]\ndriver = "vfs"\nrootless_storage_path = "{storage_layout}/graph"\n'
          f'runroot = "{storage_layout}/run"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(cfg))
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/root/not-mine")
    config.paths.cache_clear()
    try:
        p = config.paths()
    finally:
        config.paths.cache_clear()
    assert p.data == storage_layout / "graph" / "pyman"
    assert p.runtime == storage_layout / "run" / "pyman"
    assert p.driver == "vfs" and p.storage_conf == str(cfg / "containers" / "storage.conf")
    assert p.runtime_fallback  # auth.json keeps Podman's own fallback
