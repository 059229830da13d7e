"""/etc/hosts, /etc/resolv.conf and /etc/hostname for a container, by network mode.

Stdlib only: the monitor writes these into the container's run dir and bind-mounts them.
"""

from __future__ import annotations

SLIRP_ADDR = "10.0.2.100"
SLIRP_GATEWAY = "10.0.2.2"
SLIRP_DNS = "10.0.2.3"


def host_nameservers(resolv: str = "/etc/resolv.conf") -> tuple[list[str], list[str]]:
    """(nameservers, other lines such as search/options) of the host."""
    servers: list[str] = []
    other: list[str] = []
    text = _read(resolv)
    if text is None:
        return servers, other
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            servers.append(words[1])
        elif words and words[0] in ("search", "options", "domain"):
            other.append(line.strip())
    return servers, other


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _is_loopback(addr: str) -> bool:
    return addr.startswith("127.") or addr == "::1"


def resolv_conf(mode: str, gateway: str | None = None) -> str:
    servers, other = host_nameservers()
    if mode == "slirp4netns":
        # slirp4netns answers DNS itself on 10.0.2.3 and forwards to the host's resolvers
        servers = [SLIRP_DNS]
    elif mode == "pasta":
        # a loopback resolver on the host is unreachable from the container's own loopback;
        # pasta maps its gateway address to the host, so send those queries there
        servers = [s for s in servers if not _is_loopback(s)] or ([gateway] if gateway else [])
    lines = other + [f"nameserver {s}" for s in servers]
    return "\n".join(lines) + "\n"


def with_dns(text: str, dns: dict[str, list[str]] | None) -> str:
    """--dns, --dns-search, --dns-option over a generated resolv.conf, as Podman: given
    servers, search domains or options replace those lines."""
    if not dns or not any(dns.values()):
        return text
    lines = text.splitlines()
    for key, word in (("servers", "nameserver"), ("search", "search"), ("options", "options")):
        given = dns.get(key) or []
        if not given:
            continue
        lines = [ln for ln in lines if ln.split()[:1] != [word] and
                 not (word == "search" and ln.split()[:1] == ["domain"])]
        if word == "nameserver":
            lines += [f"nameserver {s}" for s in given]
        else:
            lines.append(f"{word} {' '.join(given)}")
    return "\n".join(lines) + "\n"


def hosts_file(name: str, hostname: str, mode: str, addr: str | None, gateway: str | None,
               extra_hosts: list[str] | None = None) -> str:
    """``extra_hosts`` (--add-host host:ip) come first, as in Podman: they win lookups."""
    added = []
    for item in extra_hosts or []:
        host, _, ip = item.partition(":")
        added.append(f"{ip.strip('[]')}\t{host}")
    lines = ["127.0.0.1\tlocalhost localhost.localdomain", "::1\tlocalhost localhost.localdomain"]
    if mode == "host":
        lines = (_read("/etc/hosts") or "\n".join(lines)).rstrip("\n").splitlines()
    names = " ".join(dict.fromkeys([hostname, name]))
    lines.append(f"{addr or '127.0.1.1'}\t{names}")
    if gateway:
        lines.append(f"{gateway}\thost.containers.internal host.docker.internal")
    return "\n".join(added + lines) + "\n"


def default_gateway() -> str | None:
    """The host's IPv4 default gateway, from /proc/net/route (pasta copies it)."""
    for row in (_read("/proc/net/route") or "").splitlines()[1:]:
        f = row.split()
        if len(f) > 2 and f[1] == "00000000":
            return ".".join(str(b) for b in bytes.fromhex(f[2])[::-1])  # little-endian hex
    return None


def default_address() -> str | None:
    """The host address pasta gives the container: the one on the default route's interface."""
    import socket

    gw = default_gateway()
    if not gw:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((gw, 9))  # UDP connect sends nothing; it only picks a source address
            return str(s.getsockname()[0])
        except OSError:
            return None


def joined_files(other_run_dir: str, name: str) -> dict[str, str]:
    """A container in another's network namespace (a pod member) uses that one's
    resolv.conf, and its hosts file plus a line for its own name, as Podman does."""
    import os

    out: dict[str, str] = {}
    resolv = _read(os.path.join(other_run_dir, "resolv.conf"))
    if resolv is not None:
        out["resolv.conf"] = resolv
    hosts = _read(os.path.join(other_run_dir, "hosts"))
    if hosts is not None:
        out["hosts"] = hosts.rstrip("\n") + f"\n127.0.0.1\t{name}\n"
    return out
