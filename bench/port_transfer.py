#!/usr/bin/env python3
"""Benchmark: 256 MiB from a server in the container to the host through a published port.

busybox httpd in the container serves a 256 MiB file; curl on the host downloads it through
127.0.0.1:<published port>, for pyman and podman in the same network mode (slirp4netns:
Podman 4.3 has no pasta), runs interleaved. Medians and the pyman/podman ratio are printed.
Target: ratio <= 1.0. Run as the unprivileged user:

    python3 bench/port_transfer.py [--runs 5] [--mib 256] [--network slirp4netns]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time

from _common import add_tool_args, cleanup, describe_tools, run

LABEL = "pyman.bench=port_transfer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def curl(url: str) -> tuple[int, float]:
    start = time.perf_counter()
    proc = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                           url], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    code, _, size = proc.stdout.partition(" ")
    return (int(size or 0) if code == "200" else -1), elapsed


def start_server(tool: str, image: str, network: str, mib: int) -> str:
    port = free_port()
    script = (f"dd if=/dev/zero of=/big bs=1M count={mib} 2>/dev/null && touch /ready && "
              "exec httpd -f -p 80 -h /")
    run([tool, "run", "-d", "--label", LABEL, "--network", network, "-p", f"{port}:80", image,
         "sh", "-c", script])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while curl(url + "/ready")[0] < 0:
        if time.monotonic() > deadline:
            sys.exit(f"{tool}: the server in the container did not answer on {url}")
        time.sleep(0.2)
    return url + "/big"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--image", default="alpine")
    ap.add_argument("--network", default="slirp4netns")
    add_tool_args(ap)
    args = ap.parse_args()
    tools = {"pyman": args.pyman, "podman": args.podman}
    describe_tools(tools, network=args.network, allow_vfs=args.allow_vfs)
    urls = {}
    try:
        for name, tool in tools.items():
            run([tool, "pull", "-q", args.image])
            urls[name] = start_server(tool, args.image, args.network, args.mib)
        times: dict[str, list[float]] = {name: [] for name in tools}
        for _ in range(args.runs):
            for name in tools:
                size, elapsed = curl(urls[name])
                if size != args.mib << 20:
                    sys.exit(f"{name}: downloaded {size} bytes, expected {args.mib << 20}")
                times[name].append(elapsed)
    finally:
        for tool in tools.values():
            cleanup(tool, LABEL)
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"{name:7s} {args.mib} MiB over a published port ({args.network}): median "
              f"{med[name] * 1000:7.1f} ms = {args.mib / med[name]:6.0f} MiB/s "
              f"(min {min(t) * 1000:.1f}, max {max(t) * 1000:.1f}, n={len(t)})")
    print(f"ratio pyman/podman: {med['pyman'] / med['podman']:.2f} (target <= 1.0)")


if __name__ == "__main__":
    main()
