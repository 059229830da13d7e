"""Helpers the side-by-side benchmarks share (run as scripts: `python3 bench/x.py`)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path


def run(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def cleanup(tool: str, label: str) -> None:
    """Remove the containers a benchmark made (they carry its label)."""
    ids = run([tool, "ps", "-aq", "--filter", f"label={label}"]).split()
    if ids:
        run([tool, "rm", "-f", *ids])


def add_tool_args(ap: argparse.ArgumentParser) -> None:
    """--pyman (default: the one next to this python, as in pymanci's venv) and --podman."""
    here = Path(sys.executable).parent / "pyman"
    ap.add_argument("--pyman", default=str(here) if here.exists() else "pyman")
    ap.add_argument("--podman", default=shutil.which("podman") or "podman")
    ap.add_argument("--allow-vfs", action="store_true",
                    help="measure against a podman on vfs anyway (unfair: it copies layers)")


def _info(tool: str) -> dict[str, object]:
    import json

    data: dict[str, object] = json.loads(run([tool, "info", "--format", "json"]))
    return data


def _dig(doc: dict[str, object], *keys: str) -> str:
    cur: object = doc
    for key in keys:
        cur = cur.get(key) if isinstance(cur, dict) else None
    return str(cur) if cur not in (None, "") else "?"


def describe_tools(tools: dict[str, str], *, network: str | None = None,
                   allow_vfs: bool = False) -> None:
    """Print, beside the figures, what each tool runs on: graph driver, network mode, OCI
    runtime, XDG_RUNTIME_DIR and the machine's load. A reference podman on vfs copies every
    layer and every container, which flatters pyman: refuse it (overlay is what Podman users
    get on any modern kernel) unless ``allow_vfs``. Without XDG_RUNTIME_DIR podman runs
    outside a login-like environment: refuse that too (bench/run.sh sets one up)."""
    import os

    if not os.environ.get("XDG_RUNTIME_DIR"):
        sys.exit("XDG_RUNTIME_DIR is not set: benchmarks compare tools as a logged-in user runs "
                 "them; run them through `sudo bash bench/run.sh BENCH.py` (it sets one up)")
    for name, tool in tools.items():
        info = _info(tool)
        driver = _dig(info, "store", "graphDriverName")
        runtime = _dig(info, "host", "ociRuntime", "name")
        if network:
            net = network
        elif name == "podman":
            net = "slirp4netns (podman 4.3's rootless default)"
        else:
            net = _dig(info, "host", "network", "default")
        print(f"# {name}: {tool}; graph driver {driver}, network {net}, runtime {runtime}")
        if name == "podman" and driver != "overlay" and not allow_vfs:
            sys.exit(f"the reference podman uses the {driver} driver, not overlay as Podman users "
                     "get: give it overlay (`driver = \"overlay\"` in "
                     "~/.config/containers/storage.conf, then `podman system reset -f`; "
                     "scripts/setup-host.sh does this for the CI user), or pass --allow-vfs")
    load = os.getloadavg()
    print(f"# XDG_RUNTIME_DIR={os.environ['XDG_RUNTIME_DIR']}; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs")
