#!/usr/bin/env python3
"""Benchmark: completing container names (a TAB) with 50 containers, pyman against podman.

Run as the unprivileged user. Each tool gets N created containers (labelled
pyman-bench=completion, named cmpbench-<i>); then what a shell runs on TAB is timed: for pyman
the bash script's call (`_PYMAN_COMPLETE=complete_bash` with the line in the environment), for
podman `podman __complete <word> ""` (what its cobra script runs). `rm` offers every container
(pyman reads each config.json), `start` the ones not running (also each state). Interleaved so
both see the same machine state; medians and the pyman/podman ratio are printed, and each
answer is checked to hold all N names. Target: under 200 ms, ratio <= 1.0. The containers are
removed afterwards. --podman may carry options (split like a shell line), e.g.
--podman "podman --root /tmp/pr --runroot /tmp/prr --storage-driver vfs".

    python3 bench/completion.py [--containers 50] [--runs 20] [--pyman PATH] [--podman CMD]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time

from _common import add_tool_args, describe_tools, run

LABEL = "pyman-bench=completion"
PREFIX = "cmpbench-"
WORDS = ("rm", "start")


def cleanup(tool: list[str]) -> None:
    ids = run([*tool, "ps", "-aq", "--filter", f"label={LABEL}"]).split()
    if ids:
        run([*tool, "rm", "-f", *ids])


def complete_argv(name: str, tool: list[str], word: str) -> tuple[list[str], dict[str, str]]:
    if name == "podman":
        return [*tool, "__complete", word, ""], dict(os.environ)
    line = f"pyman {word} "
    env = {**os.environ, "_PYMAN_COMPLETE": "complete_bash", "COMP_WORDS": line,
           "COMP_CWORD": "2", "_PYMAN_COMP_LINE": line}
    return tool, env


def timed(argv: list[str], env: dict[str, str], expect: int) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    got = sum(1 for w in proc.stdout.split() if w.startswith(PREFIX))
    if got != expect:
        sys.exit(f"{' '.join(argv)} offered {got} of the {expect} containers "
                 f"(rc {proc.returncode}): {proc.stderr.strip()}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, default=50)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--image", default="alpine")
    add_tool_args(ap)
    args = ap.parse_args()
    tools = {"pyman": shlex.split(args.pyman), "podman": shlex.split(args.podman)}
    describe_tools({"pyman": args.pyman, "podman": args.podman}, network="none",
                   allow_vfs=args.allow_vfs)
    try:
        for tool in tools.values():
            run([*tool, "pull", "-q", args.image])
            cleanup(tool)
            for i in range(args.containers):
                run([*tool, "create", "--label", LABEL, "--name", f"{PREFIX}{i}", "--network",
                     "none", args.image, "true"])
        for word in WORDS:
            calls = {name: complete_argv(name, tool, word) for name, tool in tools.items()}
            times: dict[str, list[float]] = {name: [] for name in tools}
            for argv, env in calls.values():
                timed(argv, env, args.containers)  # warm
            for _ in range(args.runs):
                for name, (argv, env) in calls.items():
                    times[name].append(timed(argv, env, args.containers))
            med = {name: statistics.median(t) for name, t in times.items()}
            for name, t in times.items():
                print(f"{name:7s} {word} <TAB> ({args.containers} containers): median "
                      f"{med[name] * 1000:6.1f} ms (min {min(t) * 1000:.1f}, "
                      f"max {max(t) * 1000:.1f}, n={len(t)})")
            print(f"ratio pyman/podman ({word}): {med['pyman'] / med['podman']:.2f} "
                  "(target <= 1.0; pyman under 200 ms)")
    finally:
        for tool in tools.values():
            cleanup(tool)


if __name__ == "__main__":
    main()
