"""slirp4netns's options (``--network slirp4netns:cidr=...,port_handler=...``, containers.conf
``[engine] network_cmd_options``): checked at create with Podman's words, turned into the
helper's arguments and the addresses the container gets.

Stdlib only: the monitor reads the parsed options to start slirp4netns and write the files.
"""

from __future__ import annotations

import ipaddress
import os

from pyman.errors import PymanError

DEFAULT_CIDR = "10.0.2.0/24"
MTU = 65520
BOOL = {"true": True, "false": False}


def parse(options: list[str]) -> dict[str, object]:
    """Podman's parseSlirp4netnsNetworkOptions: later options win."""
    out: dict[str, object] = {"cidr": DEFAULT_CIDR, "mtu": MTU, "allow_host_loopback": False,
                              "enable_ipv6": False, "port_handler": "rootlesskit"}
    for opt in options:
        key, eq, value = opt.partition("=")
        if not eq:
            raise PymanError(f'unknown option for slirp4netns: "{opt}"')
        if key == "cidr":
            try:
                net = ipaddress.ip_network(value, strict=False)
            except ValueError:
                net = None
            if net is None or net.version != 4 or "/" not in value or net.prefixlen > 25:
                raise PymanError(f'invalid cidr "{value}"')
            out["cidr"] = str(net)
        elif key == "port_handler":
            if value not in ("slirp4netns", "rootlesskit"):
                raise PymanError(f'unknown port_handler for slirp4netns: "{value}"')
            out["port_handler"] = value
        elif key in ("allow_host_loopback", "enable_ipv6"):
            if value not in BOOL:
                raise PymanError(f'invalid value of {key} for slirp4netns: "{value}"')
            out[key] = BOOL[value]
        elif key in ("outbound_addr", "outbound_addr6"):
            _check_outbound(key, value)
            out[key] = value
        elif key == "mtu":
            if not value.isdigit() or int(value) < 68:
                raise PymanError(f'invalid mtu "{value}"')
            out["mtu"] = int(value)
        else:
            raise PymanError(f'unknown option for slirp4netns: "{opt}"')
    return out


def _check_outbound(key: str, value: str) -> None:
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        addr = None
    if addr is not None and addr.version == (4 if key == "outbound_addr" else 6):
        return
    if "/" in value or not os.path.exists(f"/sys/class/net/{value}"):
        kind = "IPv4" if key == "outbound_addr" else "IPv6"
        raise PymanError(f'invalid {key} "{value}": give an {kind} address or the name of '
                         "one of the host's interfaces")


def addresses(opts: dict[str, object]) -> tuple[str, str, str]:
    """(container, gateway, DNS) addresses in the subnet: .100, .2 and .3, as slirp4netns."""
    net = ipaddress.ip_network(str(opts.get("cidr") or DEFAULT_CIDR))
    base = net.network_address
    return str(base + 100), str(base + 2), str(base + 3)


def argv(opts: dict[str, object]) -> list[str]:
    """slirp4netns's own flags for the options."""
    out = [f"--mtu={opts.get('mtu', MTU)}"]
    if not opts.get("allow_host_loopback"):
        out.append("--disable-host-loopback")
    if str(opts.get("cidr") or DEFAULT_CIDR) != DEFAULT_CIDR:
        out.append(f"--cidr={opts['cidr']}")
    if opts.get("enable_ipv6"):
        out.append("--enable-ipv6")
    for key in ("outbound_addr", "outbound_addr6"):
        if opts.get(key):
            out.append(f"--{key.replace('_', '-')}={opts[key]}")
    return out
