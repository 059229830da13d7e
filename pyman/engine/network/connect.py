"""network connect / disconnect: a container's networks changed, while it runs too.

A stopped container only has its record changed; the next start plugs it in. A running
one gets netavark setup (or teardown) for just that network, run by the engine after it
joins the rootless netns's user namespace (the owner may: it made it), against the
container's netns through /proc/<pid>/ns/net; monitor.json is rewritten so that the
monitor's teardown at the end covers the networks the container has by then, and its
resolv.conf is rewritten in place (a bind-mounted file: the same inode).
"""

from __future__ import annotations

import os
from typing import Any

from pyman.errors import ContainerStateError, PymanError
from pyman.eventlog import emit
from pyman.storage.atomic import read_json, write_json
from pyman.storage.containers import ContainerConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyman.engine.containers.operations import ContainerService


def _check_mode(c: ContainerConfig) -> None:
    if c.network != "netavark":
        raise PymanError(f'"{c.network.split(":")[0]}" is not supported: invalid network '
                         "mode (only containers created with --network NAME have networks "
                         "to connect to)")


def connect(svc: ContainerService, net_key: str, ctr_key: str,
            aliases: list[str]) -> None:
    from pyman.engine.network.user_networks import ALIAS_RE
    from pyman.netns.networks import NetworkStore

    for alias in aliases:
        if not ALIAS_RE.match(alias):
            raise PymanError(f"invalid network alias {alias!r}: an alias is a DNS name "
                             "([a-zA-Z0-9][a-zA-Z0-9_.-]*)")
    net = NetworkStore().find(net_key)
    c = svc.store.find(ctr_key)
    _check_mode(c)
    name = str(net["name"])
    if name in c.networks:
        return  # as Podman 4.3: nothing to do, no error
    svc.live_state(c.id)
    with svc.store.lock(c.id):
        c = svc.store.find(c.id)
        used = {per.get("interface_name") for per in c.networks.values()}
        iface = next(f"eth{i}" for i in range(64) if f"eth{i}" not in used)
        per = {"aliases": list(aliases), "interface_name": iface}
        st = svc.store.state(c.id)
        if st.status == "running":
            _plug(svc, c, name, net, per)
        c.networks[name] = per
        _save(svc, c)
    emit("network", "connect", id_=c.id, name=c.name, network=name)


def disconnect(svc: ContainerService, net_key: str, ctr_key: str) -> None:
    from pyman.netns.networks import NetworkStore

    net = NetworkStore().find(net_key)
    c = svc.store.find(ctr_key)
    _check_mode(c)
    name = str(net["name"])
    if name not in c.networks:
        raise PymanError(f"container {c.name} is not connected to network {name}")
    svc.live_state(c.id)
    with svc.store.lock(c.id):
        c = svc.store.find(c.id)
        if svc.store.state(c.id).status == "running":
            _unplug(svc, c, name)
        del c.networks[name]
        _save(svc, c)
    emit("network", "disconnect", id_=c.id, name=c.name, network=name)


def _save(svc: ContainerService, c: ContainerConfig) -> None:
    from dataclasses import asdict

    write_json(svc.store.dir(c.id) / "config.json", asdict(c))


def _running_netns(svc: ContainerService, c: ContainerConfig) -> tuple[dict[str, Any], str]:
    """(monitor.json, the container's netns path) of a running container on networks."""
    from pyman.procinfo import same_process

    run_dir = svc.store.run_dir(c.id)
    try:
        cfg = read_json(run_dir / "monitor.json")
    except (OSError, ValueError):
        raise ContainerStateError(
            f"{run_dir / 'monitor.json'} is damaged: restart container {c.name} to change "
            "its networks") from None
    st = svc.store.state(c.id)
    if not isinstance(cfg, dict) or not isinstance(cfg.get("netavark"), dict) or \
            not same_process(st.pid, st.pid_start, st.boot_id):
        raise ContainerStateError(
            f"container {c.name} runs without a network of its own (it was started with "
            "none): stop it, connect it, and start it again")
    return cfg, f"/proc/{st.pid}/ns/net"


def _plug(svc: ContainerService, c: ContainerConfig, name: str, net: dict[str, Any],
          per: dict[str, Any]) -> None:
    from pyman.netns import netavark

    cfg, netns = _running_netns(svc, c)
    nv = cfg["netavark"]
    nv["networks"][name] = {"aliases": [*per["aliases"], c.id[:12]],
                            "interface_name": per["interface_name"]}
    nv["network_info"][name] = net
    ips = netavark.allocate(nv, c.id)
    try:
        status = netavark.run(nv, "setup", netns,
                              netavark.options(nv, c.id, c.name, {name: ips[name]}),
                              outside=True)
    except BaseException:
        netavark.free(nv, c.id, name)
        raise
    run_dir = svc.store.run_dir(c.id)
    write_json(run_dir / "monitor.json", cfg, sync=False)
    write_json(run_dir / "networks.json", {**_status(run_dir), **status}, sync=False)
    _rewrite_resolv(run_dir, nv)
    _rewrite_hosts(run_dir, [c.hostname, c.name], add=ips[name])
    _retarget(run_dir, nv, ips)


def _unplug(svc: ContainerService, c: ContainerConfig, name: str) -> None:
    from pyman.netns import netavark

    cfg, netns = _running_netns(svc, c)
    nv = cfg["netavark"]
    ips = netavark.allocate(nv, c.id)
    gone = ips.pop(name)
    netavark.run(nv, "teardown", netns,
                 netavark.options(nv, c.id, c.name, {name: gone}), outside=True)
    netavark.free(nv, c.id, name)
    del nv["networks"][name]
    del nv["network_info"][name]
    run_dir = svc.store.run_dir(c.id)
    write_json(run_dir / "monitor.json", cfg, sync=False)
    done = _status(run_dir)
    done.pop(name, None)
    write_json(run_dir / "networks.json", done, sync=False)
    _rewrite_resolv(run_dir, nv)
    _rewrite_hosts(run_dir, [c.hostname, c.name], remove=gone)
    _retarget(run_dir, nv, ips)


def _status(run_dir: Any) -> dict[str, Any]:
    """networks.json: what netavark reported (a torn one is as good as none)."""
    try:
        done = read_json(run_dir / "networks.json")
    except (OSError, ValueError):
        done = None
    return done if isinstance(done, dict) else {}


def _rewrite_resolv(run_dir: os.PathLike[str], nv: dict[str, Any]) -> None:
    """In place: the container sees the file bound in, the same inode."""
    from pyman.netns import files, netavark

    text = netavark.resolv_conf(nv) or files.resolv_conf("pasta")
    with open(os.path.join(run_dir, "resolv.conf"), "w") as f:
        f.write(text)


def _rewrite_hosts(run_dir: os.PathLike[str], names: list[str], add: str = "",
                   remove: str = "") -> None:
    """The container's own lines, in place, as Podman: a network's address left goes (a line
    with it and one of the names), one joined is added with them."""
    path = os.path.join(run_dir, "hosts")
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return  # no_hosts: the image's own file
    if remove:
        lines = [ln for ln in lines if not (ln.split()[:1] == [remove] and set(
            ln.partition("#")[0].split()[1:]) & set(names))]
    if add:
        lines.append(f"{add}\t{' '.join(names)}")
    with open(path, "w") as f:
        f.write("".join(ln + "\n" for ln in lines))


def _retarget(run_dir: os.PathLike[str], nv: dict[str, Any], ips: dict[str, str]) -> None:
    """Published ports follow the container to its first network now (none: refused)."""
    path = os.path.join(run_dir, "forward-to")
    if not os.path.exists(path):
        return  # no published ports
    first = next((ips[n] for n in nv["networks"] if n in ips), "")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(first)
    os.replace(tmp, path)


def _keep_macs(opts: dict[str, Any], status: dict[str, Any]) -> None:
    """A reload makes the interfaces again with the MAC addresses they had (Podman's)."""
    for net, entry in opts["networks"].items():
        ifaces = (status.get(net) or {}).get("interfaces") or {}
        mac = (ifaces.get(entry["interface_name"]) or {}).get("mac_address")
        if mac and not entry.get("static_mac"):
            entry["static_mac"] = mac


def reload(svc: ContainerService, ctr_key: str) -> str:
    """The firewall rules and interfaces of a running container on networks, made again:
    netavark teardown, then setup, for every network it has (Podman's reload)."""
    from pyman.netns import netavark

    c = svc.store.find(ctr_key)
    st = svc.live_state(c.id)
    if c.network != "netavark" or st.status != "running":
        raise ContainerStateError("cannot reload network unless container network has been "
                                  "configured: container state improper")
    with svc.store.lock(c.id):
        cfg, netns = _running_netns(svc, c)
        nv = cfg["netavark"]
        if nv["networks"]:
            opts = netavark.options(nv, c.id, c.name, netavark.allocate(nv, c.id))
            _keep_macs(opts, _status(svc.store.run_dir(c.id)))
            try:
                netavark.run(nv, "teardown", netns, opts, outside=True)
            except PymanError:
                pass  # half of it may be gone already: that is what a reload repairs
            status = netavark.run(nv, "setup", netns, opts, outside=True)
            write_json(svc.store.run_dir(c.id) / "networks.json", status, sync=False)
    return c.id
