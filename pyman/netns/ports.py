"""Published ports: parse ``-p`` specs, bind them on the host, and show them as Podman does.

A mapping is a plain dict (it travels in JSON to the monitor and the forwarder):
``{"host_ip": "", "host_port": 8080, "container_port": 80, "protocol": "tcp"}``.
Ranges are expanded into one mapping per port and folded back together for display.
Stdlib only: the monitor binds the host sockets with this.
"""

from __future__ import annotations

import ipaddress
import socket

from pyman.errors import PortError, PymanError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    Mapping = dict[str, Any]

PROTOCOLS = ("tcp", "udp")
UNPRIVILEGED_START = "/proc/sys/net/ipv4/ip_unprivileged_port_start"


def _port_range(text: str, what: str) -> tuple[int, int]:
    """``80`` or ``80-90`` as (first, count)."""
    first, sep, last = text.partition("-")
    lo = _port(first, what)
    hi = _port(last, what) if sep else lo
    if hi < lo:
        raise PortError(f"parsing {what} port: invalid range {text!r}: the end is below "
                        "the start")
    return lo, hi - lo + 1


def _port(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise PortError(f"parsing {what} port: invalid port number {text!r}: use a number "
                        "from 1 to 65535, or a range like 8000-8010") from None
    if not 1 <= value <= 65535:
        raise PortError(f"parsing {what} port: port numbers must be between 1 and 65535 "
                        f"(inclusive), got {value}")
    return value


def _split_ip(spec: str) -> tuple[str, str]:
    """Take a leading ``ip:`` (``[v6]:`` for IPv6) off a spec."""
    if spec.startswith("["):
        end = spec.find("]:")
        if end < 0:
            raise PortError(f"invalid port mapping {spec!r}: an IPv6 address goes in "
                            "brackets followed by a colon, as in [::1]:8080:80")
        return spec[1:end], spec[end + 2:]
    parts = spec.split(":")
    if len(parts) == 3:
        return parts[0], ":".join(parts[1:])
    if len(parts) > 3:
        raise PortError(f"invalid port mapping {spec!r}: use [ip:][hostPort:]containerPort"
                        "[/protocol]")
    return "", spec


def parse_publish(spec: str) -> list[Mapping]:
    """One ``-p`` value: ``[ip:][hostPort:]containerPort[/tcp|/udp]``, ports or ranges.
    A missing host port (``80`` or ``ip::80``) is 0: a free one is chosen at create."""
    body, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise PortError(f"unrecognized protocol {proto!r} in port mapping {spec!r}: use tcp "
                        "or udp")
    ip, rest = _split_ip(body)
    if ip:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise PortError(f"cannot parse {ip!r} as an IP address in port mapping "
                            f"{spec!r}") from None
    host_part, sep, ctr_part = rest.rpartition(":")
    if not ctr_part:
        raise PortError(f"invalid port mapping {spec!r}: the container port is missing")
    cfirst, count = _port_range(ctr_part, "container")
    if sep and host_part:
        hfirst, hcount = _port_range(host_part, "host")
        if hcount != count:
            raise PortError(f"host and container port ranges have different lengths: "
                            f"{hcount} vs {count}")
    else:
        hfirst = 0
    return [{"host_ip": ip, "host_port": hfirst + i if hfirst else 0,
             "container_port": cfirst + i, "protocol": proto} for i in range(count)]


def exposed_ports(exposed: Iterable[str]) -> list[Mapping]:
    """-P: every EXPOSEd port (``80/tcp``, ``53/udp``, ``8080``) to a free host port."""
    out: list[Mapping] = []
    for item in exposed:
        port, _, proto = item.partition("/")
        try:
            out += parse_publish(f"{port}/{proto or 'tcp'}")
        except PortError:
            continue  # a bad EXPOSE in an image is not the user's error
    return out


def merge(mappings: Iterable[Mapping]) -> list[Mapping]:
    """Drop duplicates; the same host port twice for different container ports is an
    error, as it can never work."""
    seen: dict[tuple[str, int, str], Mapping] = {}
    out: list[Mapping] = []
    for m in mappings:
        key = (m["host_ip"], m["host_port"], m["protocol"])
        if m["host_port"] and key in seen:
            if seen[key]["container_port"] == m["container_port"]:
                continue
            raise PortError(f"host port {m['host_port']}/{m['protocol']} is published twice "
                            f"(to container ports {seen[key]['container_port']} and "
                            f"{m['container_port']})")
        seen[key] = m
        out.append(m)
    return out


def _family(ip: str) -> int:
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def unprivileged_start() -> int:
    try:
        with open(UNPRIVILEGED_START) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 1024


def bind(m: Mapping) -> socket.socket:
    """The host socket of one mapping (listening, for tcp). Errors say what to do."""
    kind = socket.SOCK_STREAM if m["protocol"] == "tcp" else socket.SOCK_DGRAM
    ip = m["host_ip"]
    sock = socket.socket(_family(ip) if ip else socket.AF_INET, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    where = f"{ip or '0.0.0.0'}:{m['host_port']}"
    try:
        sock.bind((ip or "0.0.0.0", m["host_port"]))
        if kind == socket.SOCK_STREAM:
            sock.listen(128)
    except PermissionError:
        sock.close()
        start = unprivileged_start()
        raise PortError(
            f"cannot expose privileged port {m['host_port']} rootless: ports below "
            f"net.ipv4.ip_unprivileged_port_start ({start}) need root; choose a port >= "
            f"{start}, or as root lower it: `sysctl net.ipv4.ip_unprivileged_port_start="
            f"{m['host_port']}`") from None
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        if exc.errno == 98:  # EADDRINUSE
            why = "address already in use: another process holds it; pick another host port"
        raise PortError(f"cannot publish {where}/{m['protocol']}: {why}") from None
    return sock


def assign_free(mappings: list[Mapping]) -> list[Mapping]:
    """Fill host port 0 with ports free now (the kernel picks them), as Podman does at
    create; the monitor binds them again at every start."""
    out = []
    for m in mappings:
        if not m["host_port"]:
            sock = bind({**m, "host_port": 0})
            m = {**m, "host_port": sock.getsockname()[1]}
            sock.close()
        out.append(m)
    return out


def check_free(mappings: Iterable[Mapping]) -> None:
    """Bind and release each host port: a clear error before anything starts."""
    for m in mappings:
        bind(m).close()


# -- display ------------------------------------------------------------------------------


def _groups(mappings: Iterable[Mapping]) -> list[tuple[Mapping, int]]:
    """Consecutive host and container ports of one ip and protocol folded into ranges."""
    out: list[tuple[Mapping, int]] = []
    ordered = sorted(mappings, key=lambda m: (m["protocol"], m["host_ip"],
                                              m["container_port"]))
    for m in ordered:
        if out:
            first, n = out[-1]
            if (first["protocol"], first["host_ip"]) == (m["protocol"], m["host_ip"]) and \
                    first["container_port"] + n == m["container_port"] and \
                    first["host_port"] + n == m["host_port"]:
                out[-1] = (first, n + 1)
                continue
        out.append((m, 1))
    return out


def fold(mappings: Iterable[Mapping]) -> list[dict[str, Any]]:
    """Podman's PortMapping objects (``ps --format json``), consecutive ports folded into
    ranges: ``{"host_ip", "container_port", "host_port", "range", "protocol"}``."""
    return [{"host_ip": m["host_ip"], "container_port": m["container_port"],
             "host_port": m["host_port"], "range": n, "protocol": m["protocol"]}
            for m, n in _groups(mappings)]


def bind_all(mappings: list[dict[str, Any]]) -> list[Any]:
    """Bind every published port (the monitor holds them for the container's life); one
    that cannot be bound closes the others and fails the start with 126, as Podman's."""
    held: list[Any] = []
    try:
        for m in mappings:
            held.append(bind(m))
    except PymanError as exc:
        for sock in held:
            sock.close()
        # as Podman: the container could not be started
        raise PortError(str(exc), exit_code=126) from None
    return held
