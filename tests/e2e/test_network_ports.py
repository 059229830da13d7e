"""Published ports of a container on user-defined networks follow it through network
disconnect and connect: gone with its last network, back on reconnect (a new address, a new
MAC, as Podman's IPAM hands out the next free one), kept when another network remains; its
/etc/hosts lines follow too."""

from __future__ import annotations

import json
import re
import subprocess

from lifecycle_util import wait_for
from net_util import fetch, free_port
from test_networks import netns_dir

SERVE = "echo hi-from-web > /index.html && exec httpd -f -p 80 -h /"
HOST_PYTHON = ("-v", "/usr:/usr:ro", "-v", "/usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:ro",
               "-v", "/usr/lib64:/lib64:ro", "alpine", "/usr/bin/python3")
HOST_SERVER = ("import socket, sys\ns = socket.socket()\n"
               "s.bind(('127.0.0.1', int(sys.argv[1])))\ns.listen(8)\nwhile True:\n"
               " c, _ = s.accept()\n c.sendall(b'host-here\\n')\n c.close()\n")
UDP_ECHO = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.bind(('0.0.0.0', 7000))\nwhile True:\n d, a = s.recvfrom(100)\n"
            " s.sendto(d, a)\n")


def test_ports_and_hosts_follow_connect_and_disconnect(run_pyman, fresh_env) -> None:
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    def net(name: str, key: str) -> str:
        out = pm("inspect", "--format",
                 f'{{{{(index .NetworkSettings.Networks "{name}").{key}}}}}', "web")
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    for name in ("n1", "n2"):
        assert pm("network", "create", name).returncode == 0
    port = free_port()
    try:
        # another container keeps the rootless netns up across the disconnects
        assert pm("run", "-d", "--name", "bg", "--network", "n1", "alpine", "sleep",
                  "120").returncode == 0
        r = pm("run", "-d", "--name", "web", "-p", f"{port}:80", "--network", "n1", "alpine",
               "sh", "-c", SERVE)
        assert r.returncode == 0, r.stderr
        cid = r.stdout.strip()
        assert wait_for(lambda: fetch(port) == "hi-from-web\n", 10)
        ip, mac = net("n1", "IPAddress"), net("n1", "MacAddress")
        assert net("n1", "Aliases") == f"[{cid[:12]}]"
        assert f"{ip}\t{cid[:12]} web\n" in pm("exec", "web", "cat", "/etc/hosts").stdout

        assert pm("network", "disconnect", "n1", "web").stdout == ""
        assert ip not in pm("exec", "web", "cat", "/etc/hosts").stdout
        assert fetch(port) is None  # on no network: the connection is closed
        assert pm("network", "connect", "n1", "web").returncode == 0
        assert wait_for(lambda: fetch(port) == "hi-from-web\n", 10)
        new_ip, new_mac = net("n1", "IPAddress"), net("n1", "MacAddress")
        assert (new_ip != ip, new_mac != mac) == (True, True)
        assert f"{new_ip}\t{cid[:12]} web\n" in pm("exec", "web", "cat", "/etc/hosts").stdout

        assert pm("network", "connect", "n2", "web").returncode == 0
        assert net("n2", "Aliases") == f"[{cid[:12]}]"
        assert pm("network", "disconnect", "n1", "web").returncode == 0
        assert fetch(port) == "hi-from-web\n"  # through n2 now
        hosts = pm("exec", "web", "cat", "/etc/hosts").stdout
        assert new_ip not in hosts and f"{net('n2', 'IPAddress')}\t" in hosts
        nets = json.loads(pm("inspect", "web").stdout)[0]["NetworkSettings"]["Networks"]
        assert sorted(nets) == ["n2"]
    finally:
        assert pm("rm", "-af", "-t", "0").returncode == 0
    assert wait_for(lambda: not (netns_dir() / "holder.json").exists(), 5)
    assert fetch(port) is None


def test_an_address_given_back_is_not_the_next_handed_out(run_pyman, fresh_env) -> None:
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    assert pm("network", "create", "--subnet", "10.77.5.0/24", "n1").returncode == 0
    try:
        assert pm("run", "-d", "--name", "keep", "--network", "n1", "alpine", "sleep",
                  "120").returncode == 0
        ips = [pm("run", "--rm", "--network", "n1", "alpine", "sh", "-c",
                  "ip -o -4 addr show eth0").stdout.split()[3] for _ in range(2)]
        assert ips == ["10.77.5.3/24", "10.77.5.4/24"]
    finally:
        assert pm("rm", "-af", "-t", "0").returncode == 0


def test_udp_published_on_a_network(run_pyman, fresh_env) -> None:
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    import socket

    assert pm("network", "create", "n1").returncode == 0
    port = free_port()
    try:
        # the image's busybox nc has no UDP: the host's python (its /usr and libraries
        # bound in read-only) echoes datagrams
        r = pm("run", "-d", "--name", "echo", "--network", "n1", "-p", f"{port}:7000/udp",
               *HOST_PYTHON, "-c", UDP_ECHO)
        assert r.returncode == 0, r.stderr

        def echoed() -> bool:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(1)
                s.sendto(b"dgram\n", ("127.0.0.1", port))
                try:
                    return s.recv(100) == b"dgram\n"
                except OSError:
                    return False

        assert wait_for(echoed, 15)
        assert pm("port", "echo").stdout == f"7000/udp -> 0.0.0.0:{port}\n"
    finally:
        assert pm("rm", "-af", "-t", "0").returncode == 0


def test_per_network_options_and_repeated_network_flags(run_pyman, fresh_env) -> None:
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    assert pm("network", "create", "--subnet", "10.78.1.0/24", "n1").returncode == 0
    assert pm("network", "create", "--subnet", "10.78.2.0/24", "--ip-range",
              "10.78.2.128/25", "n2").returncode == 0
    info = json.loads(pm("network", "inspect", "n2").stdout)[0]
    assert info["subnets"][0]["lease_range"] == {"start_ip": "10.78.2.129",
                                                 "end_ip": "10.78.2.254"}
    try:
        r = pm("run", "-d", "--name", "multi",
               "--network", "n1:alias=web,alias=www,ip=10.78.1.50,mac=02:00:00:00:00:50",
               "--network", "n2:interface_name=second", "alpine", "sleep", "120")
        assert r.returncode == 0, r.stderr
        addrs = pm("exec", "multi", "ip", "-o", "addr").stdout
        # the lease range's first address, with the subnet's prefix; the interface named
        assert "inet 10.78.1.50/24" in addrs and "inet 10.78.2.129/24" in addrs, addrs
        links = pm("exec", "multi", "ip", "-o", "link").stdout
        assert re.search(r"^\d+: second[@:]", links, re.M), links
        assert "02:00:00:00:00:50" in pm("exec", "multi", "ip", "link", "show", "eth0").stdout
        for name in ("web", "www", "multi"):
            got = pm("run", "--rm", "--network", "n1", "alpine", "nslookup", name)
            assert "10.78.1.50" in got.stdout, (name, got.stdout)
        nets = json.loads(pm("inspect", "multi").stdout)[0]["NetworkSettings"]["Networks"]
        assert sorted(nets) == ["n1", "n2"]
        assert nets["n1"]["Aliases"][:2] == ["web", "www"]
        for args, why in (
                (("--network", "n1:color=red"),
                 "invalid option for network n1: unknown bridge network option: color"),
                (("--network", "n1:alias="),
                 "invalid option for network n1: alias cannot be empty"),
                (("--network", "n1", "--network", "host"),
                 "can only set extra network names, selected mode host conflicts with bridge"),
                (("--network", "host", "--network", "n1"),
                 "cannot set multiple networks without bridge network mode, selected mode "
                 "host"),
                (("--network", "n1:interface_name=x", "--network", "n2:interface_name=x"),
                 "interface names must differ between networks"),
                (("--network", "n1:ip=10.9.9.9"),
                 "requested static ip 10.9.9.9 is not in any subnet on network n1")):
            bad = pm("create", *args, "alpine", "true")
            assert (bad.returncode, why in bad.stderr) == (125, True), (args, bad.stderr)
        bad = pm("network", "create", "--ip-range", "10.1.0.0/24", "n3")
        assert (bad.returncode, bad.stderr) == (
            125, "Error: cannot set gateway or range without subnet\n")
        bad = pm("network", "create", "--subnet", "10.79.0.0/24", "--ip-range",
                 "10.80.0.0/25", "n3")
        assert (bad.returncode, bad.stderr) == (
            125, "Error: lease range start ip 10.80.0.1 not in subnet 10.79.0.0/24\n")
        assert pm("ps", "-aq").stdout.split() == [r.stdout.strip()[:12]]
    finally:
        assert pm("rm", "-af", "-t", "0").returncode == 0


def test_killed_uplink_and_dns_server_are_started_again(run_pyman, fresh_env) -> None:
    """pasta (the rootless netns's way out) and aardvark-dns killed while containers run:
    the next container start on a network brings both back."""
    import os
    import sys
    import time

    from test_networks import alive

    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    gateway = None
    for row in open("/proc/net/route").read().splitlines()[1:]:
        f = row.split()
        if f[1] == "00000000":
            gateway = ".".join(str(b) for b in bytes.fromhex(f[2])[::-1])
    assert gateway, "the host has no default route"
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", HOST_SERVER, str(port)])
    assert pm("network", "create", "n1").returncode == 0
    # pasta takes its gateway address to the host's loopback
    out = f"timeout 5 nc -w 2 {gateway} {port}"

    def reaches_host() -> bool:
        return "host-here" in pm("exec", "a1", "sh", "-c", out).stdout

    try:
        assert pm("run", "-d", "--name", "a1", "--network", "n1", "alpine", "sleep",
                  "120").returncode == 0
        assert wait_for(reaches_host, 20)
        holder = json.loads((netns_dir() / "holder.json").read_text())
        dns_pid = int((netns_dir() / "conf" / "aardvark-dns" / "aardvark.pid").read_text())
        for pid in (holder["pasta_pid"], dns_pid):
            os.kill(pid, 9)
        assert wait_for(lambda: not alive(holder["pasta_pid"]) and not alive(dns_pid), 5)
        assert not reaches_host()
        t0 = time.monotonic()
        r = pm("run", "-d", "--name", "a2", "--network", "n1", "alpine", "sleep", "120")
        assert (r.returncode, r.stderr, time.monotonic() - t0 < 20) == (0, "", True)
        now = json.loads((netns_dir() / "holder.json").read_text())
        assert now["pid"] == holder["pid"] and now["pasta_pid"] != holder["pasta_pid"]
        assert alive(now["pasta_pid"])
        assert wait_for(reaches_host, 20)
        got = pm("exec", "a2", "nslookup", "a1")
        ip = json.loads(pm("inspect", "a1").stdout)[0]["NetworkSettings"]["Networks"]["n1"][
            "IPAddress"]
        conf = netns_dir() / "conf" / "aardvark-dns"
        assert got.returncode == 0 and f"Address: {ip}" in got.stdout, (
            got.stdout, {p.name: p.read_text() for p in conf.iterdir()})
    finally:
        server.kill()
        server.wait()
        assert pm("rm", "-af", "-t", "0").returncode == 0
    assert wait_for(lambda: not (netns_dir() / "holder.json").exists(), 5)
    # SIGKILL is sent before holder.json goes, but the death itself lands a moment later
    assert wait_for(lambda: not alive(now["pasta_pid"]), 5)
