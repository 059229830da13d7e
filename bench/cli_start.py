#!/usr/bin/env python3
"""Benchmark: answers that need no container: `--version`, `--help`, `run --help`, `ps -a`
(no containers), pyman against podman, interleaved; medians and ratios. Targets (issues 13
and 14): `--version` and `--help` under 50 ms.

    sudo bash bench/run.sh cli_start.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time

from _common import add_tool_args, describe_tools

ASKS = [["--version"], ["--help"], ["run", "--help"], ["ps", "-a"]]


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   check=False)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    add_tool_args(ap)
    args = ap.parse_args()
    tools = {"pyman": args.pyman, "podman": args.podman}
    describe_tools(tools, network="(no container)", allow_vfs=args.allow_vfs)
    with tempfile.TemporaryDirectory() as empty:  # ps -a of empty stores, for both
        env = {**os.environ, "XDG_DATA_HOME": empty}
        podman_root = ["--root", f"{empty}/podman", "--runroot", f"{empty}/podman-run"]
        for ask in ASKS:
            argvs = {"pyman": [args.pyman, *ask],
                     "podman": [args.podman, *(podman_root if ask[0] == "ps" else []), *ask]}
            for argv in argvs.values():
                timed(argv, env)  # warm
            times: dict[str, list[float]] = {name: [] for name in tools}
            for i in range(args.runs):
                for name in (tools if i % 2 == 0 else list(tools)[::-1]):
                    times[name].append(timed(argvs[name], env))
            med = {name: statistics.median(t) * 1000 for name, t in times.items()}
            target = " (target < 50 ms)" if ask[0] in ("--version", "--help") else ""
            print(f"{' '.join(ask):12s} pyman {med['pyman']:6.1f} ms  podman "
                  f"{med['podman']:6.1f} ms  ratio {med['pyman'] / med['podman']:.2f}{target}")


if __name__ == "__main__":
    main()
