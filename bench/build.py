#!/usr/bin/env python3
"""Benchmark: `pyman build` against `podman build` on the same Containerfiles, cold and fully
cached.

Run as the unprivileged user in a login-like environment (`sudo bash bench/run.sh build.py`),
both tools pulling busybox through the loopback mirror scripts/setup-host.sh seeds, the
reference podman on overlay. "cold" is `build --no-cache` (the base image is there, every step
runs and commits its layer); "cached" is the same build again with nothing changed (every step
from the cache). Runs are interleaved so both see the same machine state; medians and the
pyman/podman ratio are printed per Containerfile, with each tool's driver, network and runtime.
Targets (issue 17): cold <= 1.0x podman; cached <= 0.5x podman and under 0.5 s.

    python3 bench/build.py [--runs 5] [--cached-runs 10] [--case NAME ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import add_tool_args, describe_tools

COLD_TARGET, CACHED_TARGET, CACHED_LIMIT = 1.0, 0.5, 0.5

CASES: dict[str, str] = {
    # the everyday shape: config steps, two RUNs, a COPY from the context
    "simple": """FROM busybox
ENV APP=/app
WORKDIR /app
RUN echo built > /app/stamp && mkdir -p /app/data
COPY data/ /app/data/
RUN ls /app/data | wc -l > /app/count
LABEL bench=simple
CMD ["cat", "/app/count"]
""",
    # two stages: the artefact made in one, copied into the other
    "multistage": """FROM busybox AS build
RUN mkdir /out && for i in 1 2 3 4 5 6 7 8; do echo "part $i" > /out/p$i; done
FROM busybox
COPY --from=build /out /opt/out
RUN cat /opt/out/* > /opt/all
CMD ["cat", "/opt/all"]
""",
    # the context hashed on every build: 400 files, ~6 MiB
    "context": """FROM busybox
COPY . /src/
RUN du -s /src > /size
""",
}


def _make_context(root: Path, name: str) -> Path:
    ctx = root / name
    (ctx / "data").mkdir(parents=True)
    (ctx / "Containerfile").write_text(CASES[name])
    count, size = (400, 16 << 10) if name == "context" else (20, 1 << 10)
    for i in range(count):
        sub = ctx / "data" / f"d{i % 10}"
        sub.mkdir(exist_ok=True)
        (sub / f"f{i}.bin").write_bytes(os.urandom(size))
    return ctx


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode().strip()}")
    return elapsed


def _measure(tools: dict[str, str], ctx: Path, tag: str, runs: int, cold: bool
             ) -> dict[str, float]:
    extra = ["--no-cache"] if cold else []
    times: dict[str, list[float]] = {name: [] for name in tools}
    for i in range(runs):
        order = list(tools.items()) if i % 2 == 0 else list(tools.items())[::-1]
        for name, tool in order:
            times[name].append(_timed([tool, "build", "-q", *extra, "-t", tag, str(ctx)]))
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="cold builds per tool and case")
    ap.add_argument("--cached-runs", type=int, default=10)
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    add_tool_args(ap)
    args = ap.parse_args()
    tools = {"pyman": args.pyman, "podman": args.podman}
    describe_tools(tools, allow_vfs=args.allow_vfs)
    work = Path(tempfile.mkdtemp(prefix="pyman-bench-build-"))
    ok = True
    try:
        for tool in tools.values():
            subprocess.run([tool, "pull", "-q", "busybox"], check=True,
                           stdout=subprocess.DEVNULL)
        for name in args.case or list(CASES):
            ctx = _make_context(work, name)
            tag = f"localhost/pyman-bench-build-{name}"
            for tool in tools.values():  # warm the page cache and fill each tool's cache
                _timed([tool, "build", "-q", "-t", tag, str(ctx)])
            for kind, runs in (("cold", args.runs), ("cached", args.cached_runs)):
                med = _measure(tools, ctx, tag, runs, kind == "cold")
                ratio = med["pyman"] / med["podman"]
                target = COLD_TARGET if kind == "cold" else CACHED_TARGET
                met = ratio <= target and (kind == "cold" or med["pyman"] < CACHED_LIMIT)
                ok = ok and met
                load = os.getloadavg()[0]
                print(f"{name:10s} {kind:6s} pyman {med['pyman'] * 1000:7.0f} ms  podman "
                      f"{med['podman'] * 1000:7.0f} ms  ratio {ratio:.2f} (target <= "
                      f"{target}{'' if kind == 'cold' else ', < 500 ms'}: "
                      f"{'met' if met else 'MISSED'}); load {load:.2f}", flush=True)
            for tool in tools.values():
                subprocess.run([tool, "rmi", "-f", tag], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
