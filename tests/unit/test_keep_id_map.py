"""--userns parsing and keep-id's nested map (Podman's, as `podman run --userns=keep-id` shows
it in /proc/self/uid_map)."""

from __future__ import annotations

import pytest

from pyman.engine.specgen.userns import keep_id_ids, parse
from pyman.errors import PymanError
from pyman.rootless.subid import IdMapping, keep_id_nested


def test_nested_map_like_podman() -> None:
    # podman 4.3 here, uid 1001 with 65536 sub-ids: 0 1 1001 / 1001 0 1 / 1002 1002 64535
    assert keep_id_nested(65537, 1001) == [IdMapping(0, 1, 1001), IdMapping(1001, 0, 1),
                                           IdMapping(1002, 1002, 64535)]
    assert keep_id_nested(65537, 0) == [IdMapping(0, 0, 1), IdMapping(1, 1, 65536)]
    # fewer sub-ids than the uid: what exists below it, then the user
    assert keep_id_nested(100, 1001) == [IdMapping(0, 1, 99), IdMapping(1001, 0, 1)]


def test_parse_userns() -> None:
    assert parse(None) == parse("") == parse("host") == ""
    assert parse("keep-id") == "keep-id"
    assert parse("keep-id:uid=200,gid=210") == "keep-id:uid=200,gid=210"
    assert keep_id_ids("keep-id:uid=200,gid=210") == (200, 210)
    assert keep_id_ids("") is None
    with pytest.raises(PymanError, match="^unrecognized namespace mode bogus passed$"):
        parse("bogus")
    with pytest.raises(PymanError, match="not supported by pyman"):
        parse("private")
    assert (parse("nomap"), parse("auto"), parse("auto:size=1000")) == (
        "nomap", "auto:size=0", "auto:size=1000")
    with pytest.raises(PymanError, match="invalid option 'size=x' for auto userns"):
        parse("auto:size=x")
    with pytest.raises(PymanError, match="keep-id takes uid=N and gid=N"):
        parse("keep-id:uid=x")


def test_auto_ranges_and_nested_maps() -> None:
    from pyman.engine.specgen.userns import image_size, nested_maps, pick_auto_base

    assert pick_auto_base(1000, 65537, []) == 1
    assert pick_auto_base(1000, 65537, [(1, 1024)]) == 1025
    assert pick_auto_base(1000, 65537, [(2000, 1024), (1, 500)]) == 501  # a gap that fits
    with pytest.raises(PymanError, match="not enough free sub-ids"):
        pick_auto_base(70000, 65537, [])
    assert image_size([0, 65534, 1200]) == 1201 and image_size([]) == 1024
    uid_map, _ = nested_maps("nomap", 65537) or ([], [])
    assert [(m.inside, m.outside, m.count) for m in uid_map] == [(0, 1, 65536)]
    uid_map, _ = nested_maps("auto:size=1000", 65537, 1025) or ([], [])
    assert [(m.inside, m.outside, m.count) for m in uid_map] == [(0, 1025, 1000)]
    assert nested_maps("", 65537) is None
