"""/etc/hosts, /etc/resolv.conf and /etc/hostname for a container, by network mode.

Stdlib only: the monitor writes these into the container's run dir and bind-mounts them.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:

    from pyman.monitor.protocol import DnsCfg, MonitorConfig

SLIRP_CIDR = "10.0.2.0/24"
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


def resolv_conf(mode: str, gateway: str | None = None, slirp_dns: str = SLIRP_DNS) -> str:
    servers, other = host_nameservers()
    if mode == "slirp4netns":
        # slirp4netns answers DNS itself (.3 of its subnet) and forwards to the host's
        servers = [slirp_dns]
    elif mode == "pasta":
        # a loopback resolver on the host is unreachable from the container's own loopback;
        # pasta maps its gateway address to the host, so send those queries there
        servers = [s for s in servers if not _is_loopback(s)] or ([gateway] if gateway else [])
    lines = other + [f"nameserver {s}" for s in servers]
    return "\n".join(lines) + "\n"


def with_dns(text: str, dns: DnsCfg | None) -> str:
    """--dns, --dns-search, --dns-option (and containers.conf's dns_servers, dns_searches,
    dns_options, put first by the engine) over a generated resolv.conf, as Podman: given
    servers, search domains or options replace those lines; search comes first, as
    Podman writes it."""
    if not dns or not any(dns.values()):
        return text
    search: list[str] = []
    servers: list[str] = []
    options: list[str] = []
    other: list[str] = []
    for ln in text.splitlines():
        words = ln.split()
        if words[:1] in (["search"], ["domain"]):
            search += words[1:]
        elif words[:1] == ["nameserver"] and len(words) > 1:
            servers.append(words[1])
        elif words[:1] == ["options"]:
            options += words[1:]
        elif words:
            other.append(ln)
    search = list(dns.get("search") or []) or search
    servers = list(dns.get("servers") or []) or servers
    options = list(dns.get("options") or []) or options
    lines = ([f"search {' '.join(search)}"] if search else []) + \
        [f"nameserver {s}" for s in servers] + \
        ([f"options {' '.join(options)}"] if options else []) + other
    return "\n".join(lines) + "\n"


def hosts_entries(path: str, rootfs: str = "") -> list[tuple[str, list[str]]]:
    """(address, names) of a hosts file: comments and address-only lines dropped. A path in
    ``rootfs`` (the image's own, base_hosts_file = "image") is resolved inside it."""
    if rootfs and path.startswith(rootfs + "/"):
        from pyman.runtime.inroot import NotReadable, read_in_root

        try:
            raw = read_in_root(rootfs, path[len(rootfs) + 1:])
        except (NotReadable, OSError):
            raw = None
        text = (raw or b"").decode(errors="replace")
    else:
        text = _read(path) or ""
    out = []
    for line in text.splitlines():
        words = line.partition("#")[0].split()
        if len(words) >= 2:
            out.append((words[0], words[1:]))
    return out


def hosts_file(names: list[str], addrs: list[str], host_ip: str | None,
               extra_hosts: list[str] | None = None, base: str = "/etc/hosts",
               rootfs: str = "") -> str:
    """Podman's /etc/hosts: ``extra_hosts`` (--add-host host:ip), then the base file's
    entries (containers.conf base_hosts_file: the host's /etc/hosts by default, "" none),
    then localhost, host.containers.internal (``host_ip``) and the container's own
    addresses with ``names`` (hostname, name), each with only the names not there yet: a
    name the user placed is never overridden."""
    entries = []
    for item in extra_hosts or []:
        host, _, ip = item.partition(":")
        entries.append((ip.strip("[]"), [host]))
    if base:
        entries += hosts_entries(base, rootfs)
    taken = {n for _, ns in entries for n in ns}
    ours = [("127.0.0.1", ["localhost"]), ("::1", ["localhost"])]
    if host_ip:
        ours.append((host_ip, ["host.containers.internal", "host.docker.internal"]))
    ours += [(a, list(names)) for a in addrs]
    lines = [f"{ip}\t{' '.join(ns)}" for ip, ns in entries]
    for ip, ns in ours:
        free = [n for n in ns if n not in taken]
        if free:
            lines.append(f"{ip}\t{' '.join(free)}")
    return "\n".join(lines) + "\n"


def local_ip() -> str | None:
    """The host's first global IPv4 address (an IPv6 one when it has none), by interface
    order: what Podman gives host.containers.internal for rootless containers."""
    import fcntl
    import socket
    import struct

    v6 = None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in sorted(socket.if_nameindex()):
            try:
                got = fcntl.ioctl(s.fileno(), 0x8915,  # SIOCGIFADDR
                                  struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            addr = socket.inet_ntoa(got[20:24])
            if not addr.startswith(("127.", "169.254.", "0.")):
                return addr
    for line in (_read("/proc/net/if_inet6") or "").splitlines():
        f = line.split()
        if len(f) >= 6 and f[3] == "00" and f[5] != "lo":  # scope global
            v6 = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(f[0]))
            break
    return v6


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


def for_container(cfg: MonitorConfig, rootfs: str,
                  plug: tuple[list[str], str | None] | None = None) -> dict[str, str]:
    """hosts, resolv.conf and hostname of a container by its network mode; ``plug``: the
    addresses and resolv.conf on user-defined networks. ``cfg["etc"]``: containers.conf's
    base_hosts_file, host_containers_internal_ip and no_hosts, as the engine read them."""
    mode, spec = cfg["network"], cfg["spec"]
    etc = cfg.get("etc") or {"base_hosts_file": "", "host_containers_internal_ip": "",
                              "no_hosts": False}
    host_ip: str | None = None
    addrs: list[str] = []
    resolv = None
    if mode == "slirp4netns":
        addr, dns = SLIRP_ADDR, SLIRP_DNS
        if (cfg.get("slirp") or {}).get("cidr", SLIRP_CIDR) != SLIRP_CIDR:
            from pyman.netns.slirp import addresses

            addr, _, dns = addresses(cfg["slirp"])
        addrs, host_ip, resolv = [addr], local_ip(), resolv_conf(mode, slirp_dns=dns)
    elif mode == "pasta":  # the host's own address is the container's: the gateway is
        gateway, found = default_gateway(), default_address()  # pasta's way to the host
        addrs, host_ip, resolv = [found] if found else [], gateway, resolv_conf(mode, gateway)
    elif plug is not None:  # the rootless netns's uplink is pasta: the same way out
        addrs, resolv, host_ip = plug[0], plug[1], default_gateway()
    else:
        addrs = ["127.0.0.1"] if mode == "none" else []
        host_ip = local_ip()
    wanted = etc.get("host_containers_internal_ip") or ""
    if wanted:
        host_ip = None if wanted == "none" else wanted
    base = etc.get("base_hosts_file") or "/etc/hosts"
    if base == "none":
        base = ""
    elif base == "image":
        base = os.path.join(rootfs, "etc", "hosts")  # read below within the rootfs
    out = {"resolv.conf": with_dns(resolv or resolv_conf(mode), spec.get("dns")),
           "hostname": spec["hostname"] + "\n"}
    if not etc.get("no_hosts"):
        out["hosts"] = hosts_file([spec["hostname"], cfg["name"]], addrs, host_ip,
                                  spec.get("extra_hosts"), base, rootfs)
    return out


def joined_files(other_run_dir: str, name: str) -> dict[str, str]:
    """A container in another's network namespace (a pod member) uses that one's
    resolv.conf, and its hosts file plus a line for its own name, as Podman does."""
    out: dict[str, str] = {}
    resolv = _read(os.path.join(other_run_dir, "resolv.conf"))
    if resolv is not None:
        out["resolv.conf"] = resolv
    hosts = _read(os.path.join(other_run_dir, "hosts"))
    if hosts is not None:
        out["hosts"] = hosts.rstrip("\n") + f"\n127.0.0.1\t{name}\n"
    return out
