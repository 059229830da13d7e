"""A Debian base image with gcc, made by the tests themselves with debootstrap, rootless:
the test user becomes root of a user namespace of its own (its sub-ids mapped, a mount and a
pid namespace with it), where debootstrap runs as in an LXC container (`container=lxc`: device
nodes are bind-mounted, not made) from the Debian mirror this host's apt uses. The tree is
tarred there with numeric owners and the tarball kept under the test ground
(`cache-<user>/`, made by scripts/setup-host.sh), so only the first run pays for it."""

from __future__ import annotations

import fcntl
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

GROUND = Path("/var/lib/pyman-testground")
PACKAGES = "gcc,libc6-dev"


def _codename() -> str | None:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return None
    m = re.search(r"^VERSION_CODENAME=\"?([a-z]+)\"?$", text, re.M)
    return m.group(1) if m and re.search(r"^ID=\"?debian\"?$", text, re.M) else None


def apt_mirror(codename: str) -> str | None:
    """The URI apt uses for ``codename``'s main component (deb822 .sources or one-line .list
    files), so debootstrap reads from the same mirror the machine already reaches."""
    files = [Path("/etc/apt/sources.list")]
    d = Path("/etc/apt/sources.list.d")
    if d.is_dir():
        files += sorted(p for p in d.iterdir() if p.suffix in (".list", ".sources"))
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        if f.suffix == ".sources":
            for block in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in block.splitlines():
                    if ":" in line and not line.startswith(("#", " ")):
                        k, _, v = line.partition(":")
                        fields[k.strip().lower()] = v.strip()
                if fields.get("enabled", "yes") == "no":
                    continue
                if "deb" in fields.get("types", "").split() and \
                        codename in fields.get("suites", "").split() and \
                        "main" in fields.get("components", "").split():
                    return fields.get("uris", "").split()[0]
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line).split()
                if len(words) >= 4 and words[0] == "deb" and words[2] == codename and \
                        "main" in words[3:]:
                    return words[1]
    return None


def debian_gcc_tarball() -> tuple[Path | None, str]:
    """The cached tarball (made now if missing), or None and why it cannot be made here."""
    codename = _codename()
    if codename is None:
        return None, "not a Debian host: no Debian mirror to debootstrap from"
    mirror = apt_mirror(codename)
    if mirror is None:
        return None, f"no apt source for {codename} main in /etc/apt"
    if shutil.which("debootstrap", path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
        return None, "debootstrap is not installed (scripts/setup-host.sh installs it)"
    cache = GROUND / f"cache-{pwd.getpwuid(os.getuid()).pw_name}"
    if not os.access(cache, os.W_OK):
        return None, f"{cache} is missing: run scripts/setup-host.sh"
    out = cache / f"debian-{codename}-gcc.tar"
    with open(cache / "debian.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one maker at a time; the others wait and reuse
        if not out.exists():
            _make(out, codename, mirror)
    return out, ""


def _make(out: Path, codename: str, mirror: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=out.parent))
    tmp = out.with_suffix(".tar.tmp")
    script = f"""set -e
debootstrap --variant=minbase --include={PACKAGES} {codename} {work}/root {mirror} \
    > {work}/log 2>&1 || {{ tail -20 {work}/log >&2; exit 1; }}
rm -rf {work}/root/var/cache/apt/archives/*.deb {work}/root/var/lib/apt/lists/* \
    {work}/root/usr/share/doc {work}/root/usr/share/man {work}/root/usr/share/locale
tar --numeric-owner --xattrs --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* \
    -C {work}/root -cf {tmp} .
"""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "container": "lxc", "LANG": "C.UTF-8",
           "HOME": str(work)}
    userns = ["unshare", "--map-auto", "--map-root-user", "--mount", "--pid", "--fork",
              "--mount-proc"]
    try:
        r = subprocess.run([*userns, "sh", "-c", script], env=env, capture_output=True,
                           text=True, timeout=1500, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError(f"debootstrap failed: {r.stderr[-3000:]}")
        os.rename(tmp, out)
    finally:
        subprocess.run([*userns[:3], "rm", "-rf", str(work)], capture_output=True, timeout=300)
        tmp.unlink(missing_ok=True)
