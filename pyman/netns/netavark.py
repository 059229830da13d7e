"""A container's interfaces on user-defined networks, by netavark, from the monitor.

The monitor runs in the rootless network namespace's user namespace (netns/rootless_netns.py),
so netavark, started in the holder's mount and network namespaces, may create the bridge and
firewall rules there and move a veth end into the container's namespace, which it is given
as an inherited fd. The contract is Podman's: ``netavark --config DIR setup NETNS`` with the
network options JSON on stdin (container_id, container_name, networks with interface name,
static IPs and aliases, network_info with each network's definition, port_mappings);
teardown takes the same JSON. Podman does the IP allocation itself, and so does this module
(``ipam.json`` in the namespace's state dir, under its lock).

Stdlib only: the monitor imports it for containers on networks.
"""

from __future__ import annotations

import json
import os
import subprocess

from pyman.errors import PymanError
from pyman.netns.rootless_netns import _Lock, _read_json, _write_json
from pyman.rootless import libc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


LAST = "-last"  # ipam.json: the address last handed out per network (no network's name)


def _next_free(sub: dict[str, Any], taken: dict[str, str], last: str | None) -> str | None:
    """Podman's IPAM order: the next free address after the last one handed out, wrapping
    around, within the subnet's lease range (--ip-range), never the gateway: an address
    given back is not the next one handed out (a reconnect gets a new one)."""
    import ipaddress

    net = ipaddress.ip_network(sub["subnet"], strict=False)
    lease = sub.get("lease_range") or {}
    lo = int(ipaddress.ip_address(lease.get("start_ip") or net.network_address + 1))
    hi = int(ipaddress.ip_address(lease.get("end_ip") or net.broadcast_address - 1))
    if hi < lo:
        return None
    try:
        start = int(ipaddress.ip_address(last)) + 1 if last else lo
    except ValueError:  # a damaged ipam.json: from the start
        start = lo
    if not lo <= start <= hi:
        start = lo
    gateway = sub.get("gateway")
    for n in range(hi - lo + 1):
        ip = str(ipaddress.ip_address(lo + (start - lo + n) % (hi - lo + 1)))
        if ip != gateway and ip not in taken:
            return ip
    return None


def allocate(nv: dict[str, Any], cid: str) -> dict[str, str]:
    """An IPv4 address per network for ``cid`` (the same again if it has one): the next
    free one of the network's first subnet (_next_free)."""
    directory = nv["dir"]
    with _Lock(directory):
        path = os.path.join(directory, "ipam.json")
        ipam = _read_json(path)
        if not isinstance(ipam, dict):
            ipam = {}  # none yet, or torn: the netns's users hold on to what they have
        out: dict[str, str] = {}
        last = ipam.get(LAST)
        if not isinstance(last, dict):
            last = ipam[LAST] = {}
        for name, info in nv["network_info"].items():
            if not isinstance(ipam.get(name), dict):
                ipam[name] = {}
            taken = ipam[name]
            mine = [ip for ip, owner in taken.items() if owner == cid]
            if mine:
                out[name] = mine[0]
                continue
            wanted = nv["networks"].get(name, {}).get("static_ip")
            if wanted:  # --ip
                if taken.get(wanted, cid) != cid:
                    raise PymanError(f"IPAM error: requested ip address {wanted} is already "
                                     f"allocated to container ID {taken[wanted]}")
                taken[wanted] = cid
                out[name] = wanted
                continue
            ip = _next_free(info["subnets"][0], taken, last.get(name))
            if ip is None:
                raise PymanError(f"IPAM error: failed to find free IP in network {name}: "
                                 f"its subnet {info['subnets'][0]['subnet']} is full")
            last[name] = ip
            taken[ip] = cid
            out[name] = ip
        _write_json(path, ipam)
    return out


def free(nv: dict[str, Any], cid: str, network: str | None = None) -> None:
    directory = nv["dir"]
    if not os.path.isdir(directory):
        return
    with _Lock(directory):
        path = os.path.join(directory, "ipam.json")
        ipam = _read_json(path)
        if not isinstance(ipam, dict):
            return
        for net, taken in ipam.items():
            if not isinstance(taken, dict) or net == LAST or (
                    network is not None and net != network):
                continue
            for ip in [ip for ip, owner in taken.items() if owner == cid]:
                del taken[ip]
        _write_json(path, ipam)


def options(nv: dict[str, Any], cid: str, name: str, ips: dict[str, str]) -> dict[str, Any]:
    """Podman's network options JSON for netavark."""
    nets = {}
    for i, (net, per) in enumerate(nv["networks"].items()):
        if net not in ips:
            continue  # connect/disconnect: only the network in question
        entry: dict[str, Any] = {"interface_name": per.get("interface_name") or f"eth{i}",
                                 "static_ips": [ips[net]]}
        if per.get("aliases"):
            entry["aliases"] = per["aliases"]
        if per.get("static_mac"):
            entry["static_mac"] = per["static_mac"]
        nets[net] = entry
    info = {}
    for net, doc in nv["network_info"].items():
        if net not in nets:
            continue
        # a container on one network must not reach another network's containers (the
        # issue's rule, Docker's default); Podman 4.3 leaves them routable by address.
        # netavark's `isolate` drops traffic between isolated bridges; the way out stays
        opts = {"isolate": "true", **(doc.get("options") or {})}
        info[net] = {**doc, "options": opts}
    return {"container_id": cid, "container_name": name, "networks": nets,
            "network_info": info, "port_mappings": []}


def _path_env() -> dict[str, str]:
    """netavark starts aardvark-dns through `systemd-run --scope` when it finds systemd-run on
    $PATH on a systemd host; that would leave the namespaces: a PATH without it (netavark
    needs only iptables from it), and /usr/sbin for iptables."""
    dirs = [d for d in os.environ.get("PATH", "/usr/bin:/bin").split(":")
            if d and not os.access(os.path.join(d, "systemd-run"), os.X_OK)]
    for d in ("/usr/sbin", "/sbin"):
        if d not in dirs:
            dirs.append(d)
    return {"PATH": ":".join(dirs), "LANG": "C"}


def forget_dead_aardvark(conf: str) -> None:
    """netavark SIGHUPs the pid in aardvark.pid and starts a server only when that fails: a
    killed aardvark-dns (a zombie its init has not reaped yet, or a reused pid) would leave
    every name unanswered. Without the file netavark starts a new one, which reads the
    entries of every network from the config dir: all names are answered again."""
    from pyman.procinfo import start_time

    path = os.path.join(conf, "aardvark-dns", "aardvark.pid")
    try:
        with open(path) as f:
            pid = int(f.read().strip() or 0)
        with open(f"/proc/{pid}/comm") as f:
            ok = f.read().strip() == "aardvark-dns" and start_time(pid) is not None
    except (OSError, ValueError):
        ok = False
    if not ok:
        try:
            os.unlink(path)
        except OSError:
            pass


def run(nv: dict[str, Any], verb: str, netns: str, opts: dict[str, Any],
        outside: bool = False) -> dict[str, Any]:
    """``netavark setup|teardown`` in the holder's mount and network namespaces; from the
    monitor (in the holder's user namespace already), or ``outside`` it (the engine:
    network connect/disconnect), joining the holder's user namespace first."""
    holder = int(nv["holder"])
    if verb == "setup":
        forget_dead_aardvark(os.path.join(nv["dir"], "conf"))
    ns_fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    fds = []
    try:
        fds = [os.open(f"/proc/{holder}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
               for kind in (("user",) if outside else ()) + ("mnt", "net")]
    except OSError:
        os.close(ns_fd)
        for fd in fds:
            os.close(fd)
        raise PymanError("the rootless network namespace is gone (its holder process "
                         f"{holder} exited): start the container again") from None

    def enter() -> None:  # in the child, before exec (single-threaded: setns(user) works)
        kinds = ((libc.CLONE_NEWUSER,) if outside else ()) + (libc.CLONE_NEWNS,
                                                               libc.CLONE_NEWNET)
        for fd, kind in zip(fds, kinds, strict=True):
            libc.setns(fd, kind)

    argv = [nv["netavark"], "--config", os.path.join(nv["dir"], "conf"), "--rootless",
            "true", "--aardvark-binary", nv["aardvark"], verb, f"/proc/self/fd/{ns_fd}"]
    # aardvark-dns, daemonized by netavark, must not become the monitor's child (the monitor
    # is a subreaper): it belongs to the namespace, not to this container
    if not outside:
        libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 0)
    try:  # one netavark at a time (as Podman): two would race on the same iptables chains
        with _Lock(nv["dir"], "netavark.lock"):
            proc = subprocess.run(argv, input=json.dumps(opts).encode(), capture_output=True,
                                  pass_fds=(ns_fd,), preexec_fn=enter, env=_path_env(),
                                  check=False)
    finally:
        if not outside:
            libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
        os.close(ns_fd)
        for fd in fds:
            os.close(fd)
    if proc.returncode != 0:
        msg = proc.stdout.decode(errors="replace").strip()
        try:
            msg = str(json.loads(msg).get("error", msg))
        except (ValueError, AttributeError):
            msg = msg or proc.stderr.decode(errors="replace").strip()
        raise PymanError(f"netavark {verb}: {msg}")
    try:
        out = json.loads(proc.stdout or b"{}")
    except ValueError:
        out = {}
    return out if isinstance(out, dict) else {}


def resolv_conf(nv: dict[str, Any]) -> str | None:
    """With DNS on any network: aardvark-dns on its gateways answers (names of the network,
    the host's resolvers for the rest); None to use the usual file."""
    servers = [info["subnets"][0]["gateway"] for info in nv["network_info"].values()
               if info.get("dns_enabled") and info.get("subnets")]
    if not servers:
        return None
    from pyman.netns.files import host_nameservers

    _, other = host_nameservers()
    search = [ln for ln in other if ln.startswith("search")]
    opts = [ln for ln in other if ln.startswith("options")]
    extra = " ".join(w for ln in search for w in ln.split()[1:])
    lines = [f"search dns.podman {extra}".rstrip(), *opts,
             *(f"nameserver {s}" for s in servers)]
    return "\n".join(lines) + "\n"


def forget(nv: dict[str, Any], cid: str) -> None:
    """A container whose monitor was killed (the reconcile): its namespace died with it, so
    its veths are gone; what is left is its names in aardvark-dns's files (rewritten under
    netavark's aardvark.lock, then SIGHUP makes aardvark-dns reread them), its addresses
    and its count as a user of the rootless netns."""
    import fcntl
    import signal

    from pyman.netns.rootless_netns import release

    conf = os.path.join(nv["dir"], "conf")
    adir = os.path.join(conf, "aardvark-dns")
    if os.path.isdir(adir):
        fd = os.open(os.path.join(conf, "aardvark.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            for net in nv["networks"]:
                path = os.path.join(adir, net)
                try:
                    with open(path) as f:
                        lines = f.read().splitlines()
                except OSError:
                    continue
                kept = [ln for ln in lines[1:] if ln.split(" ", 1)[0] != cid]
                if kept:
                    with open(path + ".tmp", "w") as f:
                        f.write("\n".join([lines[0], *kept]) + "\n")
                    os.replace(path + ".tmp", path)
                else:
                    os.unlink(path)
            try:
                with open(os.path.join(adir, "aardvark.pid")) as f:
                    os.kill(int(f.read().strip() or 0), signal.SIGHUP)
            except (OSError, ValueError):
                pass
        finally:
            os.close(fd)
    free(nv, cid)
    release(nv["runtime"], cid)
