"""MergedView: the overlay stack's listing without a mount (whiteouts, opaque dirs, links
kept inside the stack)."""

from __future__ import annotations

import os
from pathlib import Path

from pyman.cli.complete_paths import DEFAULT, NO_SPACE, path_completion
from pyman.storage.merged_view import MergedView


def _stack(tmp_path: Path) -> list[str]:
    low, mid, top = (tmp_path / n for n in ("low", "mid", "top"))
    for d in (low / "etc" / "old", low / "opt" / "below", mid / "opt", top / "etc", low / "empty"):
        d.mkdir(parents=True)
    (low / "etc" / "passwd").write_text("x")
    (low / "etc" / "gone").write_text("x")
    (low / "etc" / "hosts").write_text("x")
    (mid / "etc").mkdir()
    (mid / "etc" / ".wh.gone").write_text("")  # fuse-overlayfs' whiteout file
    (mid / "opt" / ".wh..wh..opq").write_text("")  # opaque: low's opt/below is hidden
    (mid / "opt" / "new").write_text("x")
    (top / "etc" / "old").write_text("a file over the dir below")
    os.symlink("/etc", top / "link")  # absolute: the stack's /etc, not the host's
    os.symlink("../../../..", top / "up")
    return [str(top), str(mid), str(low)]


def test_listing_honours_whiteouts_opaque_dirs_and_files_over_dirs(tmp_path: Path) -> None:
    view = MergedView(_stack(tmp_path))
    etc = [(e.name, e.is_dir) for e in view.listdir(("etc",))]
    assert etc == [("hosts", False), ("old", False), ("passwd", False)]
    assert [e.name for e in view.listdir(("opt",))] == ["new"]
    assert not view.is_dir(("etc", "old"))
    assert [e.name for e in view.listdir(())] == ["empty", "etc", "link", "opt", "up"]


def test_links_resolve_inside_the_stack(tmp_path: Path) -> None:
    view = MergedView(_stack(tmp_path))
    assert view.resolve("/link/passwd") == ("etc", "passwd")
    assert view.resolve("/up/etc") == ("etc",)  # `..` stops at the root
    assert view.resolve("../../nope/x") == ("nope", "x")


def test_path_completion_in_podmans_shape(tmp_path: Path) -> None:
    layers = _stack(tmp_path)
    values, directive = path_completion(layers, "")
    assert values == ["/empty/", "/etc/", "/link", "/opt/", "/up"]
    assert directive == DEFAULT | NO_SPACE
    assert path_completion(layers, "/etc/pa") == (["/etc/passwd"], DEFAULT)
    assert path_completion(layers, "/link/h")[0] == ["/link/hosts"]
    assert path_completion(layers, "/empty") == (["/empty/"], DEFAULT | NO_SPACE)
    assert path_completion(layers, "/nope/x") == ([], DEFAULT)
