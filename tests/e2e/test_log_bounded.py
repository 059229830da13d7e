"""`pyman logs` in bounded memory whatever the container wrote: --tail reads back from the
end, the rest streams; a 100 MB line (no newline for all of it) costs no more than a short
one. Peak RSS is the pyman process's own, measured by a fresh parent that only runs it."""

from __future__ import annotations

import subprocess
import sys

from lifecycle_util import NET

SIZE = 100_000_000
MEASURE = """
import resource, subprocess, sys
with open(sys.argv[1], "wb") as out:
    rc = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.PIPE).returncode
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""
BOUND_KIB = 48 * 1024  # measured ~22 MiB (the interpreter and imports); reading it whole: 200


def _logs(pyman_bin, env, out, *args: str) -> int:  # type: ignore[no-untyped-def]
    """Peak RSS (KiB) of `pyman logs <args>`, its stdout in ``out``."""
    r = subprocess.run([sys.executable, "-c", MEASURE, str(out), str(pyman_bin), "logs", *args],
                       capture_output=True, text=True, env=env, timeout=120)
    rc, rss = r.stdout.split()
    assert rc == "0", r.stderr
    return int(rss)


def test_logs_of_a_huge_line_in_bounded_memory(run_pyman, pyman_bin, pyman_env, tmp_path
                                               ) -> None:
    script = f"echo first; head -c {SIZE} /dev/zero | tr '\\0' a; echo; echo last"
    # json-file: written and read as k8s-file (Podman 4.3 too), the default's own code
    r = run_pyman("run", "-d", "--name", "hugeline", "--log-driver", "json-file", *NET,
                  "alpine", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    assert run_pyman("wait", "hugeline", timeout=120).stdout == "0\n"
    out = tmp_path / "out"

    rss = _logs(pyman_bin, pyman_env, out, "--tail", "1", "hugeline")
    assert out.read_bytes() == b"last\n" and rss < BOUND_KIB, rss

    rss = _logs(pyman_bin, pyman_env, out, "--tail", "2", "-t", "hugeline")
    data = out.read_bytes()
    # one timestamp for the line however many pieces it was read in, then the last line
    stamp, _, rest = data.partition(b" ")
    assert stamp.endswith(b"Z") and len(rest) == SIZE + 1 + len(stamp) + len(b" last\n")
    assert rest[:SIZE] == b"a" * SIZE and rest[SIZE:].endswith(b" last\n")
    assert rss < BOUND_KIB, rss

    for args in ([], ["--since", "10m", "--follow"]):  # the whole log, streamed
        rss = _logs(pyman_bin, pyman_env, out, *args, "hugeline")
        assert out.stat().st_size == len(b"first\n") + SIZE + len(b"\nlast\n")
        assert rss < BOUND_KIB, rss
    print(f"peak RSS of `logs` over a {SIZE} byte line: {rss} KiB")
    assert run_pyman("rm", "hugeline").returncode == 0
