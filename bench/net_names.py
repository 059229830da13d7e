#!/usr/bin/env python3
"""Benchmark: containers on one user-defined network, by name, pyman beside podman.

1. Time to first byte: from `run -d` of a fresh busybox httpd server on the network until a
   client container on the same network (started right after it) gets a page from it by
   name; the server is removed after each run (the rootless netns stays up: a long-lived
   container keeps it, as a compose stack would).
2. 256 MiB between two containers on the network: the server container holds a 256 MiB file,
   `exec` in the client fetches it by name (nc, HTTP/1.0); the time of an `exec true` in the
   client is subtracted.

Runs alternate between the tools; medians and pyman/podman ratios are printed (target
<= 1.0). Run as root through the login-like wrapper:

    sudo bash bench/run.sh net_names.py [--runs 5] [--mib 256]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from _common import add_tool_args, cleanup, describe_tools, run

LABEL = "pyman.bench=net_names"
GET = 'printf "GET /{path} HTTP/1.0\\r\\n\\r\\n" | nc -w 5 {host} 80'


def timed(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed, proc.stdout


def ttfb(tool: str, net: str, image: str, n: int) -> float:
    name = f"bsrv{os.getpid()}x{n}"
    serve = "echo ttfb > /index.html && exec httpd -f -p 80 -h /"
    poll = (f"until {GET.format(path='index.html', host=name)} 2>/dev/null | grep -q ttfb; "
            "do sleep 0.01; done")
    start = time.perf_counter()
    run([tool, "run", "-d", "--label", LABEL, "--name", name, "--network", net, image,
         "sh", "-c", serve])
    run([tool, "run", "--rm", "--label", LABEL, "--network", net, image, "sh", "-c", poll])
    elapsed = time.perf_counter() - start
    run([tool, "rm", "-f", "-t", "0", name])
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--image", default="alpine")
    add_tool_args(ap)
    args = ap.parse_args()
    tools = {"pyman": args.pyman, "podman": args.podman}
    describe_tools(tools, network="a user-defined bridge network (netavark)",
                   allow_vfs=args.allow_vfs)
    net = f"benchnet{os.getpid()}"
    first: dict[str, list[float]] = {t: [] for t in tools}
    bulk: dict[str, list[float]] = {t: [] for t in tools}
    try:  # one definition serves both: they share Podman's networks directory
        run([args.pyman, "network", "create", net])
        for name, tool in tools.items():
            run([tool, "pull", "-q", args.image])
            big = f"dd if=/dev/zero of=/big bs=1M count={args.mib} 2>/dev/null && " \
                  "exec httpd -f -p 80 -h /"
            run([tool, "run", "-d", "--label", LABEL, "--name", f"bbig{name}", "--network",
                 net, args.image, "sh", "-c", big])
            run([tool, "run", "-d", "--label", LABEL, "--name", f"bcli{name}", "--network",
                 net, args.image, "sleep", "3600"])
        for n in range(args.runs):
            for name, tool in tools.items():
                first[name].append(ttfb(tool, net, args.image, n))
                base, _ = timed([tool, "exec", f"bcli{name}", "true"])
                took, out = timed([tool, "exec", f"bcli{name}", "sh", "-c",
                                   f"{GET.format(path='big', host=f'bbig{name}')} | wc -c"])
                if int(out.strip() or 0) < args.mib << 20:
                    sys.exit(f"{name}: got {out.strip()} bytes, expected {args.mib << 20}+")
                bulk[name].append(max(took - base, 1e-6))
    finally:
        for tool in tools.values():
            cleanup(tool, LABEL)
        subprocess.run([args.pyman, "network", "rm", net], capture_output=True, check=False)
    for title, data in (("time to first byte by name", first),
                        (f"{args.mib} MiB between two containers", bulk)):
        med = {name: statistics.median(t) for name, t in data.items()}
        for name, t in data.items():
            print(f"{name:7s} {title}: median {med[name] * 1000:7.1f} ms (min "
                  f"{min(t) * 1000:.1f}, max {max(t) * 1000:.1f}, n={len(t)})")
        print(f"ratio pyman/podman ({title}): {med['pyman'] / med['podman']:.2f} "
              "(target <= 1.0)")


if __name__ == "__main__":
    main()
