#!/usr/bin/env python3
"""Benchmark: `pyman run --rm alpine true` against `podman run --rm alpine true`.

Run as the unprivileged user in a login-like environment (`sudo bash bench/run.sh
run_true.py`), both tools pointed at the same registry (the loopback mirror that
scripts/setup-host.sh seeds), the reference podman on overlay. Runs are interleaved so both see
the same machine state; medians and the pyman/podman ratio are printed, per network mode:
each tool's default (pasta for pyman where installed, slirp4netns for podman 4.3) and `none`.
Targets (issue 14): <= 0.8 with the defaults, <= 0.7 with --network none.

    python3 bench/run_true.py [--runs 20] [--network MODE ...] [--pyman PATH] [--podman PATH]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _common import add_tool_args, describe_tools

TARGETS = {"default": 0.8, "none": 0.7}


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
    ap.add_argument("--network", action="append",
                    help="a network mode, or `default` (each tool's own); repeatable; "
                         "default: default and none")
    add_tool_args(ap)
    args = ap.parse_args()
    tools = {"pyman": args.pyman, "podman": args.podman}
    describe_tools(tools, allow_vfs=args.allow_vfs)
    for mode in args.network or ["default", "none"]:
        net = [] if mode == "default" else ["--network", mode]
        for tool in tools.values():
            subprocess.run([tool, "pull", "-q", args.image], check=True,
                           stdout=subprocess.DEVNULL)
            timed([tool, "run", "--rm", *net, args.image, "true"])  # warm caches
        times: dict[str, list[float]] = {name: [] for name in tools}
        for i in range(args.runs):
            order = list(tools.items()) if i % 2 == 0 else list(tools.items())[::-1]
            for name, tool in order:
                times[name].append(timed([tool, "run", "--rm", *net, args.image, "true"]))
        med = {name: statistics.median(t) for name, t in times.items()}
        for name, t in times.items():
            print(f"{name:7s} run --rm --network {mode} {args.image} true: median "
                  f"{med[name] * 1000:7.1f} ms (min {min(t) * 1000:.1f}, "
                  f"max {max(t) * 1000:.1f}, n={len(t)})")
        target = TARGETS.get(mode, 0.8)
        print(f"ratio pyman/podman (--network {mode}): {med['pyman'] / med['podman']:.2f} "
              f"(target <= {target})")


if __name__ == "__main__":
    main()
