#!/usr/bin/env python3
"""Benchmark: resident memory of pyman's monitor per running container, against conmon.

Run as the unprivileged user. Starts N detached `sleep` containers with each tool, reads
VmRSS from /proc/<pid>/status of each container's monitor (pyman's monitor process,
podman's conmon: State.ConmonPid in inspect) and prints the mean, the ratio and the
target (pyman's monitor <= 10 MiB). The containers are removed afterwards.

    python3 bench/monitor_rss.py [--containers 5] [--pyman PATH] [--podman PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from _common import add_tool_args, cleanup, describe_tools, run

LABEL = "pyman-bench=rss"


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, default=5)
    ap.add_argument("--image", default="alpine")
    add_tool_args(ap)
    args = ap.parse_args()
    tools = {"pyman": args.pyman, "podman": args.podman}
    describe_tools(tools, network="none", allow_vfs=args.allow_vfs)
    mean: dict[str, float] = {}
    try:
        for name, tool in tools.items():
            run([tool, "pull", "-q", args.image])
            cleanup(tool, LABEL)
            ids = [run([tool, "run", "-d", "--label", LABEL, "--network", "none", args.image,
                        "sleep", "600"]).split()[-1] for _ in range(args.containers)]
            time.sleep(1)  # settled: past start-up, relaying
            pids = [json.loads(run([tool, "inspect", cid]))[0]["State"]["ConmonPid"]
                    for cid in ids]
            sizes = [rss_kib(pid) for pid in pids]
            mean[name] = statistics.mean(sizes)
            print(f"{name:7s} monitor RSS: mean {mean[name] / 1024:5.2f} MiB "
                  f"(min {min(sizes) / 1024:.2f}, max {max(sizes) / 1024:.2f}, "
                  f"n={len(sizes)})")
        print(f"ratio pyman/conmon: {mean['pyman'] / mean['podman']:.2f}; pyman monitor "
              f"{mean['pyman'] / 1024:.2f} MiB (target <= 10 MiB)")
    finally:
        for tool in tools.values():
            cleanup(tool, LABEL)


if __name__ == "__main__":
    main()
