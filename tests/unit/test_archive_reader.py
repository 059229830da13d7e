"""The archive reader's member checks: names, links, formats (no store involved)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from pyman.errors import ArchiveError
from pyman.image.archive import ArchiveReader, read_archive


def _tar(path: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/x", "a\\..\\x"])
def test_hostile_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ArchiveError):
        ArchiveReader(_tar(tmp_path / "t.tar", {name: b"x"}), "t.tar")


@pytest.mark.parametrize("target", ["/etc/passwd", "../../etc/passwd", "a/../../../x"])
def test_symlinks_out_of_the_archive_are_refused(tmp_path: Path, target: str) -> None:
    with pytest.raises(ArchiveError, match="symlink out of the archive"):
        ArchiveReader(_tar(tmp_path / "t.tar", {"f": b"x"}, {"d/layer.tar": target}), "t.tar")


def test_inner_symlinks_resolve_inside_the_archive(tmp_path: Path) -> None:
    """Docker's legacy layout: <id>/layer.tar -> ../<diff>.tar."""
    reader = ArchiveReader(_tar(tmp_path / "t.tar", {"abc.tar": b"layer"},
                                {"id/layer.tar": "../abc.tar"}), "t.tar")
    assert reader.open("id/layer.tar").read() == b"layer"
    assert not reader.has("id/json")


def test_unknown_layout_and_missing_files(tmp_path: Path) -> None:
    reader = ArchiveReader(_tar(tmp_path / "t.tar", {"hello": b"x"}), "t.tar")
    with pytest.raises(ArchiveError, match="supported image formats"):
        read_archive(reader)
    reader = ArchiveReader(_tar(tmp_path / "m.tar", {"manifest.json": b'[{"Config": "c.json",'
                                                     b' "Layers": []}]'}), "m.tar")
    with pytest.raises(ArchiveError, match="lacks 'c.json'"):
        read_archive(reader)
