"""Files of a container's filesystem read from outside: resolved inside its root, never
blocking, regular files of bounded size only; with openat2 and with the fallback walk."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyman.runtime import inroot
from pyman.runtime.inroot import NotReadable, not_regular, read_in_root
from pyman.runtime.users import resolve_user


@pytest.fixture(params=["openat2", "walk"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(inroot, "_openat2_works", None if request.param == "openat2" else False)
    yield request.param
    if request.param == "openat2":
        assert inroot._openat2_works is True  # this kernel has it: the path was really taken


def _host_secret(tmp_path: Path) -> Path:
    secret = tmp_path / "host" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("evil:x:0:0::/:/bin/sh\nSECRET\n")
    return secret


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "a" / "b" / "rootfs"
    (root / "etc").mkdir(parents=True)
    return root


def test_symlinks_stay_in_the_root(tmp_path: Path, mode: str) -> None:
    secret = _host_secret(tmp_path)
    root = _root(tmp_path)
    os.symlink(str(secret), root / "etc" / "passwd")  # absolute: the host's path
    assert read_in_root(str(root), "etc/passwd") is None  # no such file in the container
    os.unlink(root / "etc" / "passwd")
    os.symlink("../../../../host/id_rsa", root / "etc" / "passwd")  # climbing out
    assert read_in_root(str(root), "etc/passwd") is None
    # an intermediate component too
    os.symlink(str(secret.parent), root / "up")
    assert read_in_root(str(root), "up/id_rsa") is None
    # what the image has at those paths is what is read
    (root / "host").mkdir()
    (root / "host" / "id_rsa").write_text("app:x:7:7::/app:/bin/sh\n")
    assert read_in_root(str(root), "etc/passwd") == b"app:x:7:7::/app:/bin/sh\n"
    assert resolve_user(str(root), "app").uid == 7
    with pytest.raises(Exception, match="unable to find user evil"):
        resolve_user(str(root), "evil")


def test_fifo_device_loop_and_size_are_refused_at_once(tmp_path: Path, mode: str) -> None:
    root = _root(tmp_path)
    os.mkfifo(root / "etc" / "passwd")
    start = time.monotonic()
    with pytest.raises(NotReadable, match="not a regular file"):
        read_in_root(str(root), "etc/passwd")
    assert not_regular(str(root), "etc/passwd")
    assert not not_regular(str(root), "etc/absent")
    with pytest.raises(Exception, match="unable to find user x: .*not a regular file"):
        resolve_user(str(root), "x")
    assert resolve_user(str(root), "0").uid == 0  # numeric ids need no file
    assert time.monotonic() - start < 5
    os.symlink("/dev/zero", root / "etc" / "group")  # resolved inside: absent here
    assert read_in_root(str(root), "etc/group") is None
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    with pytest.raises(NotReadable, match="loop"):
        read_in_root(str(root), "loop1")
    (root / "big").write_bytes(b"x" * 5000)
    with pytest.raises(NotReadable, match="larger"):
        read_in_root(str(root), "big", limit=4096)
    assert read_in_root(str(root), "big", limit=5000) == b"x" * 5000
    assert not not_regular(str(root), "big")
    assert read_in_root(str(root), "etc/none") is None
    assert read_in_root(str(root), "big/x") is None
