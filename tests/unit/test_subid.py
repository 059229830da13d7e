from pathlib import Path

import pytest

from pyman.errors import RootlessSetupError
from pyman.rootless.subid import (
    IdMapping,
    IdRange,
    full_map,
    map_args,
    parse_subid_file,
    subid_ranges,
)

SUBUID = """# comment
alice:100000:65536
1001:200000:1000
bob:300000:65536
alice:400000:10
broken:line
"""


def test_parse_by_name_and_uid() -> None:
    assert parse_subid_file(SUBUID, "alice", 1000) == [IdRange(100000, 65536), IdRange(400000, 10)]
    assert parse_subid_file(SUBUID, "carol", 1001) == [IdRange(200000, 1000)]
    assert parse_subid_file(SUBUID, "nobody", 5) == []


def test_full_map_puts_user_at_zero_then_ranges() -> None:
    maps = full_map(1000, [IdRange(100000, 65536), IdRange(400000, 10)])
    assert maps == [IdMapping(0, 1000, 1), IdMapping(1, 100000, 65536), IdMapping(65537, 400000, 10)]
    assert map_args(maps[:2]) == ["0", "1000", "1", "1", "100000", "65536"]


def test_missing_entry_names_file_and_fix(tmp_path: Path) -> None:
    f = tmp_path / "subuid"
    f.write_text("bob:300000:65536\n")
    with pytest.raises(RootlessSetupError, match=r"no subuid range for user alice in .*subuid: .*usermod"):
        subid_ranges(f, "alice", 1000, "subuid")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RootlessSetupError, match="does not exist"):
        subid_ranges(tmp_path / "nope", "alice", 1000, "subuid")


def test_range_containing_own_uid_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "subuid"
    f.write_text("alice:1000:65536\n")
    with pytest.raises(RootlessSetupError, match="contains the user's own id 1000"):
        subid_ranges(f, "alice", 1000, "subuid")
