import os
from pathlib import Path

import pytest

from pyman import config


def test_runtime_dir_usable_requires_private_owned_dir(tmp_path: Path) -> None:
    d = tmp_path / "run"
    d.mkdir(mode=0o700)
    uid = os.getuid()
    assert config.runtime_dir_usable(str(d), uid)
    assert not config.runtime_dir_usable(str(d), uid + 1)  # someone else's (su keeps root's)
    os.chmod(d, 0o755)
    assert not config.runtime_dir_usable(str(d), uid)  # not private
    assert not config.runtime_dir_usable(None, uid)
    assert not config.runtime_dir_usable("relative/dir", uid)
    assert not config.runtime_dir_usable(str(tmp_path / "missing"), uid)


def test_paths_fall_back_when_runtime_dir_is_foreign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/root/not-mine")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    config.paths.cache_clear()
    try:
        p = config.paths()
    finally:
        config.paths.cache_clear()
    assert p.runtime_fallback
    assert p.runtime == Path(f"/tmp/pyman-run-{os.getuid()}/pyman")
    assert p.data == tmp_path / "data" / "pyman"
    assert p.config == tmp_path / "cfg" / "containers"
    st = os.stat(p.runtime_base)
    assert st.st_mode & 0o777 == 0o700 and st.st_uid == os.getuid()
