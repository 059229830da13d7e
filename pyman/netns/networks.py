"""Network definitions: Podman's netavark JSON files in Podman's own directory, so `podman
network ls` and `pyman network ls` show the same networks.

Rootless Podman 4.3 keeps them in ``<graphroot>/networks/<name>.json`` (graphroot: storage.conf's,
else ``$XDG_DATA_HOME/containers/storage``), or containers.conf's ``[network]
network_config_dir``; changes happen under ``netavark.lock`` there, the lock Podman takes. The
default network ``podman`` exists without a file (10.88.0.0/16, no DNS), as in Podman.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyman.errors import NetworkNotFoundError, PymanError

DEFAULT_NAME = "podman"
DEFAULT_SUBNET = "10.88.0.0/16"
FIRST_SUBNET = ipaddress.ip_network("10.89.0.0/24")
DRIVERS = ("bridge",)


def network_dir() -> Path:
    from pyman.config import paths
    from pyman.containers_conf import current

    configured = current().get("network", "network_config_dir", "")
    if configured:
        return Path(os.path.expanduser(str(configured)))
    return paths().podman_graphroot / "networks"


def go_time(ns: int) -> str:
    """Go's RFC 3339 with nanoseconds, in UTC (what Podman writes without a TZ)."""
    secs, frac = divmod(ns, 10**9)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{stamp}.{frac:09d}".rstrip("0").rstrip(".") + "Z"


def default_network() -> dict[str, Any]:
    return {"name": DEFAULT_NAME, "id": hashlib.sha256(DEFAULT_NAME.encode()).hexdigest(),
            "driver": "bridge", "network_interface": "podman0",
            "created": go_time(time.time_ns()),
            "subnets": [{"subnet": DEFAULT_SUBNET, "gateway": "10.88.0.1"}],
            "ipv6_enabled": False, "internal": False, "dns_enabled": False,
            "ipam_options": {"driver": "host-local"}}


def check_name(name: str) -> None:
    from pyman.names import valid_name  # one rule (a trailing newline passed `^...$`)

    if not valid_name(name):
        raise PymanError(f"network name {name} invalid: names must match "
                         "[a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument")


def check_options(options: dict[str, str]) -> None:
    """Podman 4.3's bridge options: mtu and vlan (integers); netavark reads both."""
    for key, value in options.items():
        if key not in ("mtu", "vlan"):
            raise PymanError(f"unsupported bridge network option {key}")
        try:
            int(value)
        except ValueError:
            raise PymanError(f'strconv.Atoi: parsing "{value}": invalid syntax') from None


def parse_subnet(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise PymanError(f"invalid CIDR address: {text}") from None


def host_subnets() -> list[ipaddress.IPv4Network]:
    """The IPv4 subnets the host routes to (its interfaces' and static routes'), from
    /proc/net/route: a network there would shadow them."""
    out: list[ipaddress.IPv4Network] = []
    try:
        with open("/proc/net/route") as fh:
            rows = fh.read().splitlines()[1:]
    except OSError:
        return out
    for row in rows:
        col = row.split()
        if len(col) < 8 or col[7] == "00000000":
            continue  # the default route covers everything; it is no conflict
        dest = ".".join(str(b) for b in bytes.fromhex(col[1])[::-1])
        mask = ".".join(str(b) for b in bytes.fromhex(col[7])[::-1])
        try:
            out.append(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False))
        except ValueError:
            continue
    return out


class NetworkStore:
    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory or network_dir()

    @contextmanager
    def lock(self) -> Iterator[None]:
        import fcntl

        for d in [*reversed(self.dir.parents), self.dir]:  # private, as Podman makes them
            if not d.exists():
                d.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(self.dir / "netavark.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def all(self) -> list[dict[str, Any]]:
        """Every network, sorted by name; a file that is not a network is skipped."""
        nets: dict[str, dict[str, Any]] = {}
        try:
            names = sorted(os.listdir(self.dir))
        except FileNotFoundError:
            names = []
        for fn in names:
            if not fn.endswith(".json"):
                continue
            try:
                with open(self.dir / fn) as f:
                    doc = json.load(f)
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict) and isinstance(doc.get("name"), str):
                nets[doc["name"]] = doc
        nets.setdefault(DEFAULT_NAME, default_network())
        return [nets[k] for k in sorted(nets)]

    def find(self, key: str) -> dict[str, Any]:
        """By name, else by full id, else by a unique id prefix (Podman's lookup)."""
        nets = self.all()
        for n in nets:
            if n["name"] == key:
                return n
        found = [n for n in nets if str(n.get("id", "")).startswith(key)] if key else []
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise PymanError(f"more than one result for network ID {key}")
        raise NetworkNotFoundError(f"unable to find network with name or ID {key}: "
                              "network not found")

    def exists(self, key: str) -> bool:
        try:
            self.find(key)
        except NetworkNotFoundError:
            return False
        return True

    def create(self, name: str, *, driver: str = "bridge", subnets: list[str] | None = None,
               gateways: list[str] | None = None, internal: bool = False,
               dns: bool = True, labels: dict[str, str] | None = None,
               ignore: bool = False, options: dict[str, str] | None = None,
               ranges: list[str] | None = None) -> dict[str, Any]:
        """A new bridge network, written only when everything about it is right."""
        check_name(name)
        check_options(options or {})
        if driver in ("macvlan", "ipvlan"):
            raise PymanError(
                f"unsupported driver {driver}: rootless pyman makes bridge networks only "
                f"({driver} needs a host interface an unprivileged user cannot attach to): "
                "use --driver bridge")
        if driver not in DRIVERS:
            raise PymanError(f"unsupported driver {driver}: invalid argument")
        nets_wanted = [parse_subnet(s) for s in subnets or []]
        gws = [ipaddress.ip_address(g) if _is_ip(g) else _bad_ip(g) for g in gateways or []]
        if (gws or ranges) and not nets_wanted:
            raise PymanError("cannot set gateway or range without subnet")
        if len(gws) > len(nets_wanted):
            raise PymanError("cannot set more gateways than subnets")
        if len(ranges or []) > len(nets_wanted):
            raise PymanError("cannot set more ranges than subnets")
        leases = [lease_range(r) for r in ranges or []]
        with self.lock():
            nets = self.all()
            for n in nets:
                if n["name"] == name:
                    if ignore:
                        return n
                    raise PymanError(f"network name {name} already used: network already "
                                     "exists")
            used: list[Any] = [parse_subnet(s["subnet"]) for n in nets
                               for s in n.get("subnets") or []]
            host = host_subnets()
            out_subnets: list[dict[str, Any]] = []
            for i, net in enumerate(nets_wanted):
                if any(net.overlaps(u) for u in used + host if u.version == net.version):
                    raise PymanError(f"subnet {net} is already used on the host or by "
                                     "another config")
                gw = gws[i] if i < len(gws) else next(net.hosts())
                if gw not in net:
                    raise PymanError(f"gateway {gw} not in subnet {net}")
                used.append(net)
                out_subnets.append({"subnet": str(net), "gateway": str(gw)})
                if i < len(leases):
                    for end in ("start_ip", "end_ip"):
                        if ipaddress.ip_address(leases[i][end]) not in net:
                            raise PymanError(f"lease range {end.split('_')[0]} ip "
                                             f"{leases[i][end]} not in subnet {net}")
                    out_subnets[-1]["lease_range"] = leases[i]
            if not out_subnets:
                net4 = free_subnet(used + host)
                out_subnets.append({"subnet": str(net4), "gateway": str(next(net4.hosts()))})
            taken = {n.get("network_interface") for n in nets}
            num = next(i for i in range(1, 100000) if f"podman{i}" not in taken)
            doc: dict[str, Any] = {
                "name": name, "id": os.urandom(32).hex(), "driver": driver,
                "network_interface": f"podman{num}", "created": go_time(time.time_ns()),
                "subnets": out_subnets,
                "ipv6_enabled": any(parse_subnet(s["subnet"]).version == 6
                                    for s in out_subnets),
                "internal": internal, "dns_enabled": dns}
            if labels:
                doc["labels"] = labels
            if options:
                doc["options"] = dict(options)
            doc["ipam_options"] = {"driver": "host-local"}
            path = self.dir / f"{name}.json"
            tmp = self.dir / f".{name}.json.tmp"
            with open(tmp, "w") as f:
                f.write(json.dumps(doc, indent=5))
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
            return doc

    def remove(self, key: str) -> str:
        with self.lock():
            net = self.find(key)
            if net["name"] == DEFAULT_NAME:
                raise PymanError(f"default network {DEFAULT_NAME} cannot be removed")
            try:
                os.unlink(self.dir / f"{net['name']}.json")
            except FileNotFoundError:
                pass
            return str(net["name"])


def lease_range(text: str) -> dict[str, str]:
    """--ip-range CIDR: its first and last host addresses (Podman's parseRange)."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise PymanError(f"invalid CIDR address: {text}") from None
    first, last = net.network_address + 1, net.broadcast_address - 1
    if net.prefixlen >= net.max_prefixlen - 1:
        first, last = net.network_address, net.broadcast_address
    return {"start_ip": str(first), "end_ip": str(last)}


def free_subnet(used: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """Podman's allocation: the first /24 from 10.89.0.0 up that overlaps nothing in use."""
    base = int(FIRST_SUBNET.network_address)
    for i in range(0, 256 * 256 * 118):  # up to 10.255.255.0
        net = ipaddress.IPv4Network((base + i * 256, 24))
        if not any(net.overlaps(u) for u in used if u.version == 4):
            return net
    raise PymanError("could not find free subnet from subnet pools")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _bad_ip(text: str) -> Any:
    raise PymanError(f"invalid gateway address {text!r}: give an IPv4 or IPv6 address")

