#!/usr/bin/env python3
"""Benchmark: `pyman run --rm alpine true` against `podman run --rm alpine true`.

Run as the unprivileged user, with both tools pointed at the same registry (the loopback
mirror that scripts/setup-host.sh seeds). Runs are interleaved so both see the same machine
state; medians and the pyman/podman ratio are printed. Target: ratio <= 1.0.

    python3 bench/run_true.py [--runs 20] [--pyman PATH] [--podman PATH] [--image alpine]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


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
    ap.add_argument("--pyman", default=str(Path(sys.executable).parent / "pyman")
                    if (Path(sys.executable).parent / "pyman").exists() else "pyman")
    ap.add_argument("--podman", default=shutil.which("podman") or "podman")
    args = ap.parse_args()
    tools = {"pyman": args.pyman, "podman": args.podman}
    for tool in tools.values():
        subprocess.run([tool, "pull", "-q", args.image], check=True, stdout=subprocess.DEVNULL)
        timed([tool, "run", "--rm", args.image, "true"])  # warm caches (runtime detection ...)
    times: dict[str, list[float]] = {name: [] for name in tools}
    for _ in range(args.runs):
        for name, tool in tools.items():
            times[name].append(timed([tool, "run", "--rm", args.image, "true"]))
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"{name:7s} run --rm {args.image} true: median {med[name] * 1000:7.1f} ms "
              f"(min {min(t) * 1000:.1f}, max {max(t) * 1000:.1f}, n={len(t)})")
    print(f"ratio pyman/podman: {med['pyman'] / med['podman']:.2f} (target <= 1.0)")


if __name__ == "__main__":
    main()
