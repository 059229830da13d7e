"""The log reader in bounded memory: --tail walks back from the end, everything else streams,
and a record of any length is held only in pieces."""

from __future__ import annotations

import tracemalloc

from pyman.engine.containers import logs
from pyman.engine.containers.logs import LogReader, timestamp_ns
from pyman.monitor.k8slog import K8sFileLog

TS = "2026-01-02T03:04:05.000000000+00:00"


def _text(entries) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(t + (b"\n" if full else b"") for _, _, full, t in entries)


def test_tail_counts_lines_not_entries_across_many_blocks(tmp_path) -> None:
    path = str(tmp_path / "ctr.log")
    log = K8sFileLog(path)
    for i in range(5000):  # many blocks of short records
        log.write("stdout", f"line {i}\n".encode())
    log.write("stdout", b"a" * 200_000)  # one line in partial entries over several blocks
    log.write("stdout", b"b" * 200_000 + b"\nend")
    log.close()
    assert _text(LogReader(path).read(tail=1)) == b"end"
    assert _text(LogReader(path).read(tail=2)) == b"a" * 200_000 + b"b" * 200_000 + b"\nend"
    assert _text(LogReader(path).read(tail=3)).startswith(b"line 4999\na")
    assert _text(LogReader(path).read(tail=5002)).startswith(b"line 0\n")
    assert _text(LogReader(path).read(tail=99999)) == _text(LogReader(path).read())


def test_tail_applies_to_the_entries_within_since_and_until(tmp_path) -> None:
    path = tmp_path / "ctr.log"
    times = [f"2026-01-02T03:04:0{i}.000000000+00:00" for i in range(6)]
    path.write_bytes(b"".join(f"{t} stdout F l{i}\n".encode() for i, t in enumerate(times)))
    since, until = timestamp_ns(times[1]), timestamp_ns(times[3])
    got = [e[3] for e in LogReader(str(path)).read(tail=2, since_ns=since, until_ns=until)]
    assert got == [b"l2", b"l3"]
    got = [e[3] for e in LogReader(str(path)).read(tail=9, since_ns=since)]
    assert got == [b"l1", b"l2", b"l3", b"l4", b"l5"]


def test_a_record_of_any_length_is_held_in_pieces(tmp_path, monkeypatch) -> None:
    # a log the monitor did not write (--log-opt path= is the user's file): one 24 MB record
    path = tmp_path / "ctr.log"
    size = 24_000_000
    with open(path, "wb") as f:
        f.write(f"{TS} stdout F first\n{TS} stderr F ".encode())
        for _ in range(size // 1_000_000):
            f.write(b"x" * 1_000_000)
        f.write(f"\n{TS} stdout F last\n".encode())
    for tail in (-1, 2):
        tracemalloc.start()
        total, pieces, first = 0, 0, []
        for ts, stream, full, text in LogReader(str(path)).read(tail=tail):
            if stream == "stderr":
                total += len(text)
                pieces += 1
                first.append(ts)
                assert full == (total == size)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert total == size and pieces > 1
        assert first[0] == TS and set(first[1:]) == {""}  # later pieces: the same line
        assert peak < 4 * logs.MAX_HELD, peak


def test_follow_goes_on_inside_a_long_record_being_written(tmp_path) -> None:
    path = tmp_path / "ctr.log"
    path.write_bytes(f"{TS} stdout F ".encode() + b"y" * (logs.MAX_HELD + 10))
    reader = LogReader(str(path))
    got = list(reader.read())
    assert sum(len(e[3]) for e in got) == logs.MAX_HELD + 10 and not got[-1][2]
    with open(path, "ab") as f:
        f.write(b"zz\n" + f"{TS} stdout F next\n".encode())
    got = list(reader.read())
    assert got[0] == ("", "stdout", True, b"zz") and got[1][3] == b"next"
    assert list(reader.read()) == []


def test_lines_that_are_not_records_are_skipped(tmp_path) -> None:
    path = tmp_path / "ctr.log"
    path.write_bytes(b"\n\xff\xfe garbage\n" + f"{TS} stdout F ok\n".encode() + b"x y\n")
    assert [e[3] for e in LogReader(str(path)).read()] == [b"ok"]
    assert [e[3] for e in LogReader(str(path)).read(tail=1)] == [b"ok"]
