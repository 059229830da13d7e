#!/usr/bin/env python3
"""Benchmark: `ps -a` with 100 containers, pyman against podman.

Run as the unprivileged user. Each tool gets N containers (half exited after `true`, half
created, labelled pyman-bench=ps), then `ps -a` is timed, interleaved so both see the same
machine state; medians and the pyman/podman ratio are printed. Target: ratio <= 1.0. The
containers are removed afterwards.

    python3 bench/ps.py [--containers 100] [--runs 20] [--pyman PATH] [--podman PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import add_tool_args, cleanup, describe_tools, run

LABEL = "pyman-bench=ps"


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    run(argv)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--image", default="alpine")
    add_tool_args(ap)
    args = ap.parse_args()
    tools = {"pyman": args.pyman, "podman": args.podman}
    describe_tools(tools, network="none", allow_vfs=args.allow_vfs)
    try:
        for tool in tools.values():
            run([tool, "pull", "-q", args.image])
            cleanup(tool, LABEL)
            for i in range(args.containers):
                verb = ["run"] if i % 2 else ["create"]
                run([tool, *verb, "--label", LABEL, "--network", "none", args.image, "true"])
        times: dict[str, list[float]] = {name: [] for name in tools}
        for tool in tools.values():
            timed([tool, "ps", "-a"])  # warm
        for _ in range(args.runs):
            for name, tool in tools.items():
                times[name].append(timed([tool, "ps", "-a"]))
        med = {name: statistics.median(t) for name, t in times.items()}
        for name, t in times.items():
            print(f"{name:7s} ps -a ({args.containers} containers): median "
                  f"{med[name] * 1000:7.1f} ms (min {min(t) * 1000:.1f}, "
                  f"max {max(t) * 1000:.1f}, n={len(t)})")
        print(f"ratio pyman/podman: {med['pyman'] / med['podman']:.2f} (target <= 0.7)")
    finally:
        for tool in tools.values():
            cleanup(tool, LABEL)


if __name__ == "__main__":
    main()
