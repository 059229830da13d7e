#!/usr/bin/python3
"""Build pyman's test images from busybox-static and (optionally) push them to a registry.

Stdlib only, so Debian's /usr/bin/python3 runs it as root on a fresh machine. Output is
deterministic (fixed mtimes, gzip without timestamps, sorted entries): the same busybox binary
gives the same digests, so a rerun pushes nothing new.

    build_images.py --out /var/lib/pyman-testground/oci \
        [--push 127.0.0.1:5000 --manifest /var/lib/pyman-testground/images.json]

Images (repository paths inside the registry):

  library/alpine:latest      OCI image index: linux/amd64 (busybox base) and linux/arm64 (the
                             same files plus /arch-arm64, so its digest differs); Cmd /bin/sh
  library/busybox:latest     the same base as a single Docker schema2 manifest
  pyman-test/layers:latest   Docker schema2, 3 gzip layers: owners, modes, hard/sym links,
                             whiteouts and an opaque directory
  pyman-test/config:latest   OCI manifest; Env, WorkingDir /srv, Entrypoint, Cmd, Labels
  pyman-test/user:latest     OCI manifest; User "tester" (uid 1000)

The manifest file written with --manifest maps "<repo>:<tag>" to the pushed manifest digest
(for alpine, the index digest); a sibling images-detail.json adds media types, per-platform
digests, config digests and layer digests.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

MTIME = 1_700_000_000  # 2023-11-14, fixed so that layers are reproducible
CREATED = "2023-11-14T22:13:20Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX = "/bin/busybox"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST, DOCKER_LIST])

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
tester:x:1000:1000:pyman tester:/home/tester:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """\
root:x:0:
tester:x:1000:
nogroup:x:65534:
"""
OS_RELEASE = """\
NAME="pyman test image"
ID=pyman-test
PRETTY_NAME="pyman test image (built from Debian's busybox-static by tests/images/build_images.py)"
"""


# ---------------------------------------------------------------- tar layers


@dataclass
class Entry:
    name: str  # without leading "/" or "./"
    kind: bytes = tarfile.REGTYPE
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    linkname: str = ""


def d(name: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(name, tarfile.DIRTYPE, mode=mode, uid=uid, gid=gid)


def f(name: str, data: bytes | str, mode: int = 0o644, uid: int = 0, gid: int = 0) -> Entry:
    raw = data.encode() if isinstance(data, str) else data
    return Entry(name, tarfile.REGTYPE, raw, mode=mode, uid=uid, gid=gid)


def sym(name: str, target: str) -> Entry:
    return Entry(name, tarfile.SYMTYPE, mode=0o777, linkname=target)


def hard(name: str, target: str) -> Entry:
    return Entry(name, tarfile.LNKTYPE, linkname=target)


@dataclass
class Layer:
    tar: bytes
    gz: bytes
    diff_id: str = field(init=False)
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        self.diff_id = sha256(self.tar)
        self.digest = sha256(self.gz)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_layer(entries: list[Entry]) -> Layer:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            ti = tarfile.TarInfo(e.name)
            ti.type = e.kind
            ti.mode = e.mode
            ti.uid, ti.gid = e.uid, e.gid
            ti.uname = ti.gname = ""
            ti.mtime = MTIME
            ti.linkname = e.linkname
            if e.kind == tarfile.REGTYPE:
                ti.size = len(e.data)
                tf.addfile(ti, io.BytesIO(e.data))
            else:
                tf.addfile(ti)
    raw = buf.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, filename="", compresslevel=6) as z:
        z.write(raw)
    return Layer(raw, gz.getvalue())


def base_entries(busybox: bytes, applets: list[str]) -> list[Entry]:
    entries = [
        d("bin"),
        f("bin/busybox", busybox, 0o755),
    ]
    for name in sorted(set(applets) - {"busybox"}):
        if "/" in name or not name:
            continue
        entries.append(sym(f"bin/{name}", "busybox"))
    entries += [
        d("dev"),
        d("etc"),
        f("etc/group", GROUP),
        f("etc/os-release", OS_RELEASE),
        f("etc/passwd", PASSWD),
        d("home"),
        d("home/tester", 0o755, 1000, 1000),
        d("proc"),
        d("root", 0o700),
        d("sbin"),
        d("sys"),
        d("tmp", 0o1777),
        d("usr"),
        d("usr/bin"),
        d("usr/sbin"),
        d("var"),
        d("var/tmp", 0o1777),
    ]
    return entries


def busybox_applets() -> list[str]:
    out = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout
    return out.split()


# ---------------------------------------------------------------- OCI layout


class OciLayout:
    """Writes one OCI image layout directory (oci-layout, index.json, blobs/sha256)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if root.exists():
            shutil.rmtree(root)
        (root / "blobs" / "sha256").mkdir(parents=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')

    def blob(self, data: bytes) -> str:
        digest = sha256(data)
        (self.root / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
        return digest

    def json_blob(self, obj: object) -> tuple[str, int, bytes]:
        data = json.dumps(obj, indent=2, sort_keys=True).encode()
        return self.blob(data), len(data), data

    def image(self, layers: list[Layer], config: dict[str, object],
              platform: dict[str, str]) -> dict[str, object]:
        """Write layers, config and manifest; return the manifest's descriptor."""
        for layer in layers:
            self.blob(layer.gz)
        cfg = {
            "architecture": platform["architecture"],
            "os": platform["os"],
            "created": CREATED,
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": [
                {"created": CREATED, "created_by": f"tests/images/build_images.py layer {i}"}
                for i in range(len(layers))
            ],
        }
        cfg_digest, cfg_size, _ = self.json_blob(cfg)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": cfg_digest, "size": cfg_size},
            "layers": [
                {"mediaType": OCI_LAYER_GZ, "digest": layer.digest, "size": len(layer.gz)}
                for layer in layers
            ],
        }
        digest, size, _ = self.json_blob(manifest)
        return {"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
                "platform": dict(platform)}

    def index(self, manifests: list[dict[str, object]]) -> dict[str, object]:
        idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        digest, size, _ = self.json_blob(idx)
        return {"mediaType": OCI_INDEX, "digest": digest, "size": size}

    def tag(self, desc: dict[str, object], tag: str) -> None:
        top = {k: v for k, v in desc.items() if k != "platform"}
        top["annotations"] = {"org.opencontainers.image.ref.name": tag}
        index = {"schemaVersion": 2, "manifests": [top]}
        (self.root / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True))


AMD64 = {"architecture": "amd64", "os": "linux"}
ARM64 = {"architecture": "arm64", "os": "linux", "variant": "v8"}


@dataclass
class Built:
    repo: str  # e.g. library/alpine
    tag: str
    layout: Path
    format: str  # "oci", "v2s2" (push converts), "index" (push --all)
    source_digest: str  # top-level descriptor digest in the layout


def build_all(out: Path) -> list[Built]:
    out.mkdir(parents=True, exist_ok=True)
    busybox = Path(BUSYBOX).read_bytes()
    base = make_layer(base_entries(busybox, busybox_applets()))
    arm_marker = make_layer([f("arch-arm64", "linux/arm64 variant of the pyman test image\n")])
    alpine_cfg: dict[str, object] = {"Env": [PATH_ENV], "Cmd": ["/bin/sh"]}
    built: list[Built] = []

    def single(repo: str, fmt: str, layers: list[Layer], cfg: dict[str, object]) -> None:
        lay = OciLayout(out / repo.replace("/", "_"))
        desc = lay.image(layers, cfg, AMD64)
        lay.tag(desc, "latest")
        built.append(Built(repo, "latest", lay.root, fmt, str(desc["digest"])))

    # library/alpine: a real multi-platform index
    lay = OciLayout(out / "library_alpine")
    amd = lay.image([base], alpine_cfg, AMD64)
    arm = lay.image([base, arm_marker], alpine_cfg, ARM64)
    idx = lay.index([amd, arm])
    lay.tag(idx, "latest")
    built.append(Built("library/alpine", "latest", lay.root, "index", str(idx["digest"])))

    single("library/busybox", "v2s2", [base], alpine_cfg)

    layer2 = make_layer([
        d("data"),
        f("data/keep.txt", "keep\n"),
        f("data/gone.txt", "gone\n"),
        d("data/dir"),
        f("data/dir/a.txt", "a\n"),
        hard("data/hard", "data/keep.txt"),
        sym("data/link", "keep.txt"),
        sym("data/abs", "/etc/passwd"),
        f("data/owned", "owned by tester\n", 0o640, 1000, 1000),
        f("data/nobody", "owned by nobody\n", 0o644, 65534, 65534),
        f("data/suid", "#!/bin/sh\necho suid\n", 0o4755),
        d("opaque"),
        f("opaque/old.txt", "old\n"),
    ])
    layer3 = make_layer([
        d("data"),
        f("data/.wh.gone.txt", b""),
        f("data/added.txt", "added\n"),
        d("opaque"),
        f("opaque/.wh..wh..opq", b""),
        f("opaque/new.txt", "new\n"),
    ])
    single("pyman-test/layers", "v2s2", [base, layer2, layer3], alpine_cfg)

    srv = make_layer([d("srv")])
    single("pyman-test/config", "oci", [base, srv], {
        "Env": [PATH_ENV, "GREETING=hello from config"],
        "WorkingDir": "/srv",
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ['echo "$GREETING" in $(pwd)'],
        "User": "",
        "Labels": {"org.pyman.test": "config"},
    })
    single("pyman-test/user", "oci", [base], {"Env": [PATH_ENV], "Cmd": ["/bin/sh"],
                                                "User": "tester"})
    return built


# ---------------------------------------------------------------- push


def registry_digest(registry: str, repo: str, ref: str) -> str | None:
    req = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/{ref}", method="HEAD",
                                 headers={"Accept": ACCEPT})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            digest: str | None = resp.headers.get("Docker-Content-Digest")
            return digest
    except (urllib.error.URLError, OSError):
        return None


def push(b: Built, registry: str, workdir: Path) -> str:
    dest = f"docker://{registry}/{b.repo}:{b.tag}"
    digestfile = workdir / (b.repo.replace("/", "_") + ".digest")
    cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--digestfile",
           str(digestfile)]
    if b.format == "v2s2":
        cmd += ["--format", "v2s2"]
    elif b.format == "oci":
        cmd += ["--format", "oci"]
    else:
        cmd += ["--all"]
    cmd += [f"oci:{b.layout}:{b.tag}", dest]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"build_images: {' '.join(cmd)} failed:\n{r.stderr}")
    return digestfile.read_text().strip()


def detail_for(registry: str, repo: str, digest: str) -> dict[str, object]:
    req = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/{digest}",
                                 headers={"Accept": ACCEPT})
    with urllib.request.urlopen(req, timeout=10) as resp:
        manifest = json.loads(resp.read())
    info: dict[str, object] = {"digest": digest, "mediaType": manifest.get("mediaType")}
    if "manifests" in manifest:
        plats = {}
        for m in manifest["manifests"]:
            p = m["platform"]
            key = f"{p['os']}/{p['architecture']}" + (f"/{p['variant']}" if p.get("variant")
                                                      else "")
            plats[key] = m["digest"]
        info["platforms"] = plats
    else:
        info["config"] = manifest["config"]["digest"]
        info["layers"] = [la["digest"] for la in manifest["layers"]]
    return info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="directory for the OCI layouts")
    ap.add_argument("--push", metavar="HOST:PORT", help="registry to push to (plain http)")
    ap.add_argument("--manifest", type=Path, help="write name -> digest JSON here")
    args = ap.parse_args()

    built = build_all(args.out)
    if not args.push:
        for b in built:
            print(f"built {b.repo}:{b.tag} {b.source_digest} in {b.layout}")
        return 0

    stamp_path = args.out / "pushed.json"
    try:
        stamp = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        stamp = {}
    names: dict[str, str] = {}
    details: dict[str, object] = {}
    for b in built:
        name = f"{b.repo}:{b.tag}"
        prev = stamp.get(name, {})
        digest = None
        if prev.get("source") == b.source_digest and prev.get("registry") == args.push:
            current = registry_digest(args.push, b.repo, b.tag)
            if current and current == prev.get("digest"):
                digest = current
        if digest is None:
            digest = push(b, args.push, args.out)
            print(f"pushed {args.push}/{name} {digest}")
        else:
            print(f"up to date {args.push}/{name} {digest}")
        stamp[name] = {"source": b.source_digest, "registry": args.push, "digest": digest}
        names[name] = digest
        details[name] = detail_for(args.push, b.repo, digest)
    stamp_path.write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
    if args.manifest:
        args.manifest.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.manifest.with_suffix(".tmp")
        tmp.write_text(json.dumps(names, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, args.manifest)
        detail_path = args.manifest.with_name(args.manifest.stem + "-detail.json")
        detail_path.write_text(json.dumps(details, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
