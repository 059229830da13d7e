"""Published ports of a container on user-defined networks follow it through network
disconnect and connect: gone with its last network, back on reconnect (a new address, a new
MAC, as Podman's IPAM hands out the next free one), kept when another network remains; its
/etc/hosts lines follow too."""

from __future__ import annotations

import json
import subprocess

from lifecycle_util import wait_for
from net_util import fetch, free_port
from test_networks import netns_dir

SERVE = "echo hi-from-web > /index.html && exec httpd -f -p 80 -h /"


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
