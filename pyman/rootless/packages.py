"""The host packages pyman uses, by distribution: the install command a fix names.

Stdlib only, no I/O beyond /etc/os-release (read once).
"""

from __future__ import annotations

from functools import cache

# our name -> {distribution family: its package}
PACKAGES = {
    "uidmap": {"debian": "uidmap", "fedora": "shadow-utils", "arch": "shadow",
               "suse": "shadow"},
    "runc": {},
    "crun": {},
    "fuse-overlayfs": {},
    "passt": {},
    "slirp4netns": {},
    "catatonit": {},
}
INSTALL = {"debian": "apt-get install", "fedora": "dnf install", "arch": "pacman -S",
           "suse": "zypper install"}


@cache
def family() -> str:
    """debian, fedora, arch or suse, from /etc/os-release's ID and ID_LIKE (debian when it
    says nothing we know: the test ground's)."""
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            pairs = dict(ln.rstrip("\n").split("=", 1) for ln in f if "=" in ln)
    except OSError:
        pairs = {}
    ids = (pairs.get("ID", "") + " " + pairs.get("ID_LIKE", "")).replace('"', "").split()
    for word in ids:
        for fam, members in (("debian", ("debian", "ubuntu")),
                             ("fedora", ("fedora", "rhel", "centos", "rocky", "almalinux")),
                             ("arch", ("arch", "manjaro")),
                             ("suse", ("suse", "opensuse", "sles"))):
            if word in members or word.startswith("opensuse") and fam == "suse":
                return fam
    return "debian"


def package(name: str, fam: str | None = None) -> str:
    return PACKAGES.get(name, {}).get(fam or family(), name)


def install_command(*names: str, fam: str | None = None) -> str:
    """``apt-get install uidmap`` (as root), for this host's distribution."""
    fam = fam or family()
    return f"{INSTALL[fam]} {' '.join(package(n, fam) for n in names)}"
