"""Network modes and published ports at create: the default mode and why, a mode checked (and
its helper binary found), -p/-P turned into mappings with free host ports chosen."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pyman.errors import PymanError
from pyman.netns import MODES

if TYPE_CHECKING:  # annotations only: ps imports fold_ports from here
    from pyman.engine.types import RunOptions


def default_network() -> tuple[str, str]:
    """(mode, why): containers.conf default_rootless_network_cmd when set, else pasta where
    it is installed (as Podman 5 does), else slirp4netns."""
    from pyman.containers_conf import current

    conf = current()
    if conf.default_rootless_network_cmd:
        origin = conf.source("network", "default_rootless_network_cmd")
        return conf.default_rootless_network_cmd, f"default_rootless_network_cmd in {origin}"
    if conf.find_helper("pasta"):
        return "pasta", "pasta is installed"
    return "slirp4netns", "pasta is not installed"


def split_options(mode: str) -> tuple[str, list[str]]:
    """``slirp4netns:cidr=10.1.2.0/24,port_handler=slirp4netns`` -> the mode and its options,
    checked (Podman's words) together with containers.conf's network_cmd_options."""
    base, colon, rest = mode.partition(":")
    if not colon or base in ("container", "ns"):
        return mode, []
    if base != "slirp4netns":
        raise PymanError(f"--network {mode}: only slirp4netns takes options "
                         "(slirp4netns:cidr=...,port_handler=...,allow_host_loopback=...)")
    options = [o for o in rest.split(",") if o]
    slirp_options(options)
    return base, options


def slirp_options(options: list[str]) -> dict[str, object]:
    """A slirp4netns container's options: containers.conf's, then the container's own."""
    from pyman.containers_conf import current
    from pyman.netns import slirp

    conf = list(current().get("engine", "network_cmd_options", None) or [])
    return slirp.parse([str(o) for o in conf] + options)


def check_network(mode: str) -> tuple[str, str | None]:
    """Validate the mode; for pasta and slirp4netns also find the helper binary."""
    if mode in ("private", "bridge"):
        mode = default_network()[0]
    if mode.startswith("ns:"):
        path = mode[3:]
        if not os.path.isabs(path) or not os.path.exists(path):
            raise PymanError(f"network namespace {path!r} does not exist: --network ns: "
                             "takes the absolute path of a bound netns file")
        return mode, None
    if mode not in MODES:
        raise PymanError(
            f"unknown network mode {mode!r}: use one of {', '.join(MODES)}, "
            "container:<name|id> or ns:<path>"
        )
    if mode in ("pasta", "slirp4netns"):
        from pyman.netns.helpers import check_tun, find_helper

        binary = find_helper(mode)
        check_tun()
        return mode, binary
    return mode, None


def published_ports(opts: RunOptions, image_config: dict[str, Any], network: str
                    ) -> list[dict[str, Any]]:
    """-p and -P as mappings, free host ports chosen for the unnamed ones (as Podman, at
    create). Modes without a network of their own have nothing to publish to."""
    if not opts.publish and not opts.publish_all:
        return []
    from pyman.netns import ports

    wanted = [m for spec in opts.publish for m in ports.parse_publish(spec)]
    if opts.publish_all:
        taken = {(m["container_port"], m["protocol"]) for m in wanted}
        wanted += [m for m in ports.exposed_ports(image_config.get("ExposedPorts") or {})
                   if (m["container_port"], m["protocol"]) not in taken]
    if network in ("host", "none") or network.startswith(("container:", "ns:")):
        import logging

        logging.getLogger("pyman").warning(
            "Port mappings have been discarded as one of the Host, Container, Pod, and None "
            "network modes are in use")
        return []
    return ports.assign_free(ports.merge(wanted))


def fold_ports(mappings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not mappings:
        return []
    from pyman.netns.ports import fold

    return fold(mappings)
