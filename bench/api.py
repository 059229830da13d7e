#!/usr/bin/env python3
"""Benchmark: the Docker API through `pyman system service` against `podman system service`.

Both services run as the unprivileged user on sockets of their own; two loads, interleaved so
both see the same machine state: Debian's docker CLI running `docker run --rm alpine true`
(DOCKER_HOST pointed at each service), and docker-py creating, starting, waiting for and
removing 50 containers in a loop. Medians and the pyman/podman ratio are printed. Target
(issue 18): at or below 1.0.

    sudo bash bench/run.sh api.py [--runs 10] [--loop 50]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_tool_args, describe_tools, run  # noqa: E402

DOCKER_CLI = "/usr/bin/docker"


def start_service(argv: list[str], sock: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([*argv, f"unix://{sock}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(sock))
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"{argv[0]} system service did not listen on {sock}")
            time.sleep(0.05)


def cli_run(sock: Path, config: str, image: str) -> float:
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": config}
    start = time.perf_counter()
    proc = subprocess.run([DOCKER_CLI, "run", "--rm", image, "true"], env=env,
                          capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"docker run via {sock} failed: {proc.stderr.decode().strip()}")
    return elapsed


def py_loop(sock: Path, image: str, n: int) -> float:
    import docker

    client = docker.DockerClient(base_url=f"unix://{sock}", version="1.41", timeout=120)
    start = time.perf_counter()
    for _ in range(n):
        ctr = client.containers.create(image, ["true"], network_mode="none")
        ctr.start()
        ctr.wait()
        ctr.remove()
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--loop", type=int, default=50)
    ap.add_argument("--image", default="alpine")
    add_tool_args(ap)
    args = ap.parse_args()
    tools = {"pyman": args.pyman, "podman": args.podman}
    describe_tools(tools, network=None, allow_vfs=args.allow_vfs)
    for tool in tools.values():
        run([tool, "pull", "-q", args.image])
    with tempfile.TemporaryDirectory(prefix="pyman-bench-api-") as tmp:
        socks = {name: Path(tmp, f"{name}.sock") for name in tools}
        procs = [start_service([tool, "system", "service", "--time", "0"], socks[name])
                 for name, tool in tools.items()]
        try:
            results: dict[str, dict[str, list[float]]] = {"cli": {}, "py": {}}
            for i in range(args.runs):
                order = list(tools) if i % 2 == 0 else list(reversed(tools))
                for name in order:
                    results["cli"].setdefault(name, []).append(
                        cli_run(socks[name], str(Path(tmp, "docker-config")), args.image))
            for i in range(max(1, args.runs // 5)):
                order = list(tools) if i % 2 == 0 else list(reversed(tools))
                for name in order:
                    results["py"].setdefault(name, []).append(
                        py_loop(socks[name], args.image, args.loop))
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(30)
    for load, label in (("cli", "docker run --rm alpine true"),
                        ("py", f"docker-py {args.loop}x create/start/wait/remove")):
        med = {name: statistics.median(v) for name, v in results[load].items()}
        for name, value in med.items():
            print(f"{name:7} {label}: median {value * 1000:8.1f} ms "
                  f"(n={len(results[load][name])})")
        print(f"ratio pyman/podman ({label}): {med['pyman'] / med['podman']:.2f} "
              "(target <= 1.0)")


if __name__ == "__main__":
    main()
