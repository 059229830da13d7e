"""Containers on user-defined networks: what create records, what the monitor is told at
start (the networks' definitions, the rootless network namespace to join), and which
containers use a network (network rm)."""

from __future__ import annotations

import re
from typing import Any

from pyman.errors import PymanError
from pyman.storage.containers import ContainerConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyman.engine.containers.operations import ContainerService

ALIAS_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")
NETAVARK = ("/usr/libexec/podman/netavark", "/usr/lib/podman/netavark")
AARDVARK = ("/usr/libexec/podman/aardvark-dns", "/usr/lib/podman/aardvark-dns")


MODE_WORDS = ("bridge", "slirp4netns", "pod", "none", "default", "private", "ns",
              "container", "host", "pasta")


def plan(spec: str, aliases: list[str], ip: str | None = None,
         mac: str | None = None, extra: list[str] | None = None) -> dict[str, Any]:
    """``--network n1[,n2]`` or ``--network n1:alias=a,ip=...,mac=...,interface_name=...``,
    more networks by repeating --network (Podman's syntax), ``--network-alias``, ``--ip``,
    ``--mac-address``: every network must exist; the flags' aliases apply on each; an
    address needs a single network and must lie in its subnet."""
    from pyman.errors import NetworkNotFoundError
    from pyman.netns.networks import NetworkStore

    for alias in aliases:
        _check_alias(alias)
    wanted: list[tuple[str, dict[str, Any]]] = []
    name, colon, rest = spec.partition(":")
    if colon:
        wanted.append((name, _per_network(name, rest)))
    else:  # a comma separated list, for backwards compatibility (Podman's)
        wanted += [(n, {}) for n in spec.split(",") if n]
    for more in extra or []:
        name, _, rest = more.partition(":")
        if not name:
            raise PymanError("network name cannot be empty: invalid argument")
        if name in MODE_WORDS:
            raise PymanError(f"can only set extra network names, selected mode {name} "
                             "conflicts with bridge: invalid argument")
        wanted.append((name, _per_network(name, rest)))
    if (ip or mac) and len(wanted) > 1:
        raise PymanError(f"--{'ip' if ip else 'mac-address'} can only be set for a single "
                         "network: invalid argument")
    store = NetworkStore()
    out: dict[str, Any] = {}
    for name, opts in wanted:
        try:
            net = store.find(name)
        except NetworkNotFoundError as exc:
            raise NetworkNotFoundError(
                f"{exc} (--network takes a network's name, see `pyman network ls`, or a "
                "mode: pasta, slirp4netns, host, none, container:<name|id>, ns:<path>)"
            ) from None
        per = {"aliases": [*opts.get("aliases", []), *aliases],
               "interface_name": opts.get("interface_name") or f"eth{len(out)}"}
        if str(net["name"]) in out:
            raise PymanError(f"network {net['name']} is given twice: name it once, with all "
                             "of its options")
        if ip or mac or opts.get("ip") or opts.get("mac"):
            _static(per, net, opts.get("ip") or ip, opts.get("mac") or mac)
        out[str(net["name"])] = per
    ifaces = [per["interface_name"] for per in out.values()]
    if len(set(ifaces)) != len(ifaces):
        raise PymanError(f"interface names must differ between networks: {', '.join(ifaces)}")
    return out


def _check_alias(alias: str) -> None:
    if not ALIAS_RE.match(alias):
        raise PymanError(f"invalid network alias {alias!r}: an alias is a DNS name "
                         "([a-zA-Z0-9][a-zA-Z0-9_.-]*)")


def _per_network(name: str, text: str) -> dict[str, Any]:
    """Podman's per-network options: alias= (repeatable), ip=, mac=, interface_name=."""
    out: dict[str, Any] = {"aliases": []}
    for opt in text.split(",") if text else []:
        key, eq, value = opt.partition("=")
        if key == "alias":
            if not value:
                raise PymanError(f"invalid option for network {name}: alias cannot be empty")
            _check_alias(value)
            out["aliases"].append(value)
        elif key in ("ip", "mac", "interface_name") and eq:
            if not value:
                raise PymanError(f"invalid option for network {name}: {key} cannot be empty")
            if key in out:
                raise PymanError(f"invalid option for network {name}: {key} given twice "
                                 "(pyman gives a container one address per network)")
            out[key] = value
        elif key == "ip6":
            raise PymanError(f"invalid option for network {name}: ip6: IPv6 networks are not "
                             "supported by pyman yet")
        else:
            raise PymanError(f"invalid option for network {name}: unknown bridge network "
                             f"option: {key}")
    return out


def _static(per: dict[str, Any], net: dict[str, Any], ip: str | None,
            mac: str | None) -> None:
    import ipaddress

    if ip:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            raise PymanError(f'"{ip}" is not an ip address') from None
        subnets = [ipaddress.ip_network(s["subnet"], strict=False)
                   for s in net.get("subnets") or []]
        if not any(addr in s for s in subnets):
            raise PymanError(f"requested static ip {ip} is not in any subnet on network "
                             f"{net['name']} ({', '.join(map(str, subnets))})")
        gateways = {s.get("gateway") for s in net.get("subnets") or []}
        if ip in gateways or any(addr in (s.network_address, s.broadcast_address)
                                 for s in subnets):
            raise PymanError(f"requested static ip {ip} is the gateway, network or broadcast "
                             f"address of network {net['name']}: pick another")
        per["static_ip"] = str(addr)
    if mac:
        if not MAC_RE.match(mac):
            raise PymanError(f"address {mac}: invalid MAC address")
        per["static_mac"] = mac.lower()


def find_binary(name: str, candidates: tuple[str, ...]) -> str:
    """Podman's helper lookup: containers.conf helper_binaries_dir, then the usual places."""
    import os

    from pyman.containers_conf import current

    found = current().find_helper(name)
    if found and os.path.isabs(found):
        return found
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    from pyman.rootless.packages import install_command

    raise PymanError(f"{name} not found: user-defined networks need netavark and "
                     f"aardvark-dns (`{install_command('netavark', 'aardvark-dns')}`)")


def monitor_config(svc: ContainerService, c: ContainerConfig) -> dict[str, Any]:
    """What the monitor needs for netavark; starts the user's rootless network namespace
    if none runs (this container is counted as one of its users from now on)."""
    from pyman.netns import rootless_netns
    from pyman.netns.helpers import check_tun, find_helper
    from pyman.netns.networks import NetworkStore

    store = NetworkStore()
    info = {}
    for name in c.networks:
        net = store.find(name)
        if net.get("driver", "bridge") != "bridge":
            raise PymanError(f"network {name}: driver {net.get('driver')} is not supported "
                             "by pyman (bridge only)")
        info[name] = net
    netavark = find_binary("netavark", NETAVARK)
    aardvark = find_binary("aardvark-dns", AARDVARK)
    pasta = find_helper("pasta")
    check_tun()
    runtime = str(svc.paths.runtime)
    holder = rootless_netns.ensure(runtime, c.id, pasta)
    pod_alias = []
    if c.infra and c.pod:  # a pod on a network answers to the pod's name (its infra's netns)
        from pyman.storage.pods import PodStore

        try:
            pod_alias = [PodStore(svc.paths.pods).find(c.pod).name]
        except PymanError:
            pod_alias = []
    networks = {name: {"aliases": [*per.get("aliases", []), *pod_alias, c.id[:12]],
                       "interface_name": per.get("interface_name") or f"eth{i}",
                       **{k: per[k] for k in ("static_ip", "static_mac") if per.get(k)}}
                for i, (name, per) in enumerate(c.networks.items())}
    return {"dir": rootless_netns.state_dir(runtime), "runtime": runtime,
            "holder": holder["pid"], "userns": f"/proc/{holder['pid']}/ns/user",
            "netavark": netavark, "aardvark": aardvark,
            "networks": networks, "network_info": info}


def users(svc: ContainerService, name: str) -> list[ContainerConfig]:
    return [c for c in svc.store.all() if name in c.networks]
