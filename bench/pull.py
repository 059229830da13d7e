#!/usr/bin/env python3
"""Benchmark: `pyman pull` against `podman pull` of a ~300 MB, 3-layer image, into empty stores.

Run as the unprivileged user. The image is built once from host files (shared libraries, the
Python standard library and /usr/share's many small files), written as an OCI layout and pushed
with skopeo into the loopback registry. Each repetition pulls into a fresh store: pyman with a
new XDG_DATA_HOME, podman (on overlay) with a new --root/--runroot, both under one fresh parent
directory, interleaved, alternating who goes first. Two cases: both stores on one tmpfs (the fair
one: on this machine's thin ext4 the first file in an untouched inode group costs ~1 ms), then
on the disk after one unmeasured warm-up round. Medians, the pyman/podman ratio and the disk
used by both stores (du) are printed. Target (issue 14): ratio <= 0.6 on tmpfs.

    sudo bash bench/run.sh pull.py [--runs 5] [--registry 127.0.0.1:5000] [--tmpfs DIR]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from _common import add_tool_args, describe_tools

# (layer name, host roots, byte budget): one layer of big files, one of thousands of small ones
LAYERS = [
    ("libs", ["/usr/lib/x86_64-linux-gnu", "/usr/lib/gcc", "/usr/libexec"], 150 << 20),
    ("small", ["/usr/share/doc", "/usr/share/man", "/usr/share/locale", "/usr/share/perl",
               "/usr/share/i18n", "/usr/share/zoneinfo"], 60 << 20),
    ("python", ["/usr/lib/python3.11", "/usr/lib/python3", "/usr/share/python3",
                "/usr/share/vim", "/usr/share/X11"], 90 << 20),
]


def build_layer(roots: list[str], budget: int) -> tuple[bytes, str, int]:
    """A gzip layer of the regular files, dirs and symlinks under ``roots``, owned by root."""
    raw = io.BytesIO()
    used = count = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for root in roots:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames.sort()
                for name in [""] + sorted(filenames):
                    path = os.path.join(dirpath, name) if name else dirpath
                    try:
                        ti = tf.gettarinfo(path, arcname=path.lstrip("/"))
                    except OSError:
                        continue
                    if not (ti.isfile() or ti.isdir() or ti.issym()):
                        continue
                    if ti.isfile() and used + ti.size > budget:
                        continue
                    ti.uid = ti.gid = 0
                    ti.uname = ti.gname = "root"
                    try:
                        if ti.isfile():
                            with open(path, "rb") as f:
                                tf.addfile(ti, f)
                            used += ti.size
                        else:
                            tf.addfile(ti)
                    except OSError:
                        continue
                    count += 1
    tar = raw.getvalue()
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    return gzip.compress(tar, compresslevel=6, mtime=0), diff_id, count


def build_oci_layout(where: Path) -> None:
    blobs = where / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict[str, object]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": "sha256:" + digest, "size": len(data)}

    layers, diff_ids = [], []
    for name, roots, budget in LAYERS:
        blob, diff_id, count = build_layer(roots, budget)
        print(f"  layer {name}: {count} entries, {len(blob) >> 20} MiB gzip", file=sys.stderr)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **put(blob)})
        diff_ids.append(diff_id)
    config = {"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
              "config": {"Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           **put(json.dumps(config).encode())},
                "layers": layers}
    mdesc = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             **put(json.dumps(manifest).encode()),
             "annotations": {"org.opencontainers.image.ref.name": "latest"}}
    (where / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (where / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [mdesc]}))


def run(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                          check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode().strip()}")
    return elapsed


def du(path: Path) -> int:
    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True,
                         check=False).stdout
    return int(out.split()[0]) if out else 0


def wipe(path: Path) -> None:
    """Stores hold files owned by sub-ids: remove them from a fully mapped user namespace."""
    subprocess.run(["podman", "unshare", "rm", "-rf", str(path)], check=False)
    shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--registry", default="127.0.0.1:5000")
    ap.add_argument("--repo", default="pyman-bench/pull")
    ap.add_argument("--rebuild", action="store_true", help="build and push the image again")
    add_tool_args(ap)
    ap.add_argument("--tmpfs", default=f"/dev/shm/pyman-bench-{os.getuid()}",
                    help="a dir on tmpfs: both stores there (the fair case on a thin disk)")
    ap.add_argument("--workdir", default=os.path.expanduser("~/.cache/pyman-bench"),
                    help="a dir on the disk: the warm-disk case")
    args = ap.parse_args()
    describe_tools({"pyman": args.pyman, "podman": args.podman}, network="(no container)",
                   allow_vfs=args.allow_vfs)
    image = f"{args.registry}/{args.repo}:latest"
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    present = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{image}"],
                             capture_output=True, check=False).returncode == 0
    if args.rebuild or not present:
        print(f"building and pushing {image} ...", file=sys.stderr)
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            build_oci_layout(Path(tmp) / "oci")
            subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false",
                            f"oci:{tmp}/oci:latest", f"docker://{image}"], check=True)
    for label, where in (("one tmpfs", Path(args.tmpfs)), ("warm disk", work)):
        where.mkdir(parents=True, exist_ok=True)
        if label == "warm disk":  # the disk's first files in fresh inode groups cost ~1 ms
            bench_pulls(args, image, where, 1, quiet=True)
        bench_pulls(args, image, where, args.runs, label=label)


def bench_pulls(args: argparse.Namespace, image: str, work: Path, runs: int, *,
                label: str = "", quiet: bool = False) -> None:
    base_env = {k: v for k, v in os.environ.items() if k != "XDG_DATA_HOME"}
    times: dict[str, list[float]] = {"pyman": [], "podman": []}
    disk: dict[str, int] = {}
    for i in range(runs):
        parent = Path(tempfile.mkdtemp(prefix="run-", dir=work))
        order = ["pyman", "podman"] if i % 2 == 0 else ["podman", "pyman"]
        for tool in order:
            if tool == "pyman":
                env = {**base_env, "XDG_DATA_HOME": str(parent / "pyman")}
                times["pyman"].append(run([args.pyman, "pull", "-q", image], env))
                disk["pyman"] = du(parent / "pyman")
            else:
                root = parent / "podman-root"
                runroot = Path(tempfile.mkdtemp(prefix="pb-", dir="/tmp"))  # <= 50 chars
                times["podman"].append(run([args.podman, "--root", str(root), "--runroot",
                                            str(runroot), "pull", "-q", "--tls-verify=false",
                                            image]))
                disk["podman"] = du(root)
                wipe(runroot)
        wipe(parent)
        if not quiet:
            print(f"  {label} run {i + 1}: pyman {times['pyman'][-1]:.2f} s, "
                  f"podman {times['podman'][-1]:.2f} s", file=sys.stderr)
    if quiet:
        return
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"{name:7s} pull {image} ({label}): median {med[name]:6.2f} s "
              f"(min {min(t):.2f}, max {max(t):.2f}, n={len(t)}); "
              f"store {disk[name] / 1e6:.0f} MB")
    print(f"ratio pyman/podman ({label}): {med['pyman'] / med['podman']:.2f} (target <= 0.6)")


if __name__ == "__main__":
    main()
