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
