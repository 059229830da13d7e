#!/usr/bin/env python3
"""Benchmark: `pyman exec <ctr> true` against `podman exec <ctr> true`.

Each tool runs one container (`sleep`, --network none, labelled for clean-up); the exec calls
are interleaved so both see the same machine state; medians and the pyman/podman ratio are
printed. Run as the unprivileged user. Target: ratio <= 1.0.

    python3 bench/exec_true.py [--runs 20] [--pyman PATH] [--podman PATH] [--image alpine]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_tool_args, describe_tools, run  # noqa: E402

LABEL = "pyman-bench=exec_true"


def cleanup(tool: str) -> None:
    """Remove the benchmark's containers at once (-t 0: `sleep` ignores SIGTERM)."""
    ids = run([tool, "ps", "-aq", "--filter", f"label={LABEL}"]).split()
    if ids:
        run([tool, "rm", "-f", "-t", "0", *ids])


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode().strip()}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--image", default="alpine")
    add_tool_args(ap)
    args = ap.parse_args()
    tools = {"pyman": args.pyman, "podman": args.podman}
    describe_tools(tools, network="none", allow_vfs=args.allow_vfs)
    ctrs = {}
    try:
        for name, tool in tools.items():
            cleanup(tool)
            run([tool, "pull", "-q", args.image])
            ctrs[name] = run([tool, "run", "-d", "--network", "none", "--label", LABEL,
                              args.image, "sleep", "3600"]).strip()
            timed([tool, "exec", ctrs[name], "true"])  # warm caches
        times: dict[str, list[float]] = {name: [] for name in tools}
        for _ in range(args.runs):
            for name, tool in tools.items():
                times[name].append(timed([tool, "exec", ctrs[name], "true"]))
    finally:
        for tool in tools.values():
            cleanup(tool)
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"{name:7s} exec <ctr> true: median {med[name] * 1000:7.1f} ms "
              f"(min {min(t) * 1000:.1f}, max {max(t) * 1000:.1f}, n={len(t)})")
    print(f"ratio pyman/podman: {med['pyman'] / med['podman']:.2f} (target <= 0.6)")


if __name__ == "__main__":
    main()
