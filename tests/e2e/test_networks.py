"""User-defined networks, as the unprivileged user: the definitions shared with Podman (its
files, its directory, its output and errors), and containers on networks in the rootless
network namespace: names and aliases answered by aardvark-dns, another network unreachable,
a network in use kept, and nothing left once the containers are gone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from lifecycle_util import wait_for
from net_util import fetch, free_port

SERVE = "echo hi-from-db > /index.html && exec httpd -f -p 80 -h /"
# the test image's busybox wget crashes (static glibc without NSS files): nc speaks HTTP
GET = 'printf "GET /index.html HTTP/1.0\\r\\n\\r\\n" | nc -w 2 {host} 80'


def netns_dir() -> Path:
    """The rootless netns state dir: XDG_RUNTIME_DIR is unset in the suite, so pyman's
    runtime dir is its fallback."""
    return Path(f"/tmp/pyman-run-{os.getuid()}/pyman/rootless-netns")


def alive(pid: int) -> bool:
    """A zombie counts as gone (this host's init reaps orphans slowly)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def podman_cmd(env: dict[str, str], runroot: str) -> list[str]:
    root = Path(env["XDG_DATA_HOME"]) / "containers" / "storage"
    return ["podman", "--root", str(root), "--runroot", runroot, "--storage-driver", "vfs"]


@pytest.fixture
def podman(fresh_env: dict[str, str]):  # type: ignore[no-untyped-def]
    runroot = tempfile.mkdtemp(prefix="pm-net-", dir="/tmp")  # podman wants a short path

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*podman_cmd(fresh_env, runroot), *args], env=fresh_env,
                              capture_output=True, text=True, timeout=60)

    yield run
    shutil.rmtree(runroot, ignore_errors=True)


def test_network_definitions_shared_with_podman(run_pyman, fresh_env, podman) -> None:
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    ls = pm("network", "ls")
    assert ls.stdout == podman("network", "ls").stdout
    assert ls.stdout.splitlines() == ["NETWORK ID    NAME        DRIVER",
                                      "2f259bab93aa  podman      bridge"]
    assert pm("network", "create", "n1").stdout == "n1\n"
    r = pm("network", "create", "--subnet", "10.99.7.0/24", "--gateway", "10.99.7.9",
           "--internal", "--disable-dns", "--label", "a=b", "n2")
    assert r.returncode == 0, r.stderr
    assert podman("network", "create", "n3").stdout == "n3\n"  # after ours: the next /24
    assert pm("network", "create", "-o", "mtu=1400", "-o", "vlan=5", "n4").returncode == 0
    for args in (("network", "ls"), ("network", "ls", "-q"), ("network", "ls", "--no-trunc"),
                 ("network", "ls", "--filter", "name=^n[12]$"),
                 ("network", "ls", "--format", "{{.Name}} {{.ID}} {{.Driver}}"),
                 # not the default network: its "created" is the time of each listing
                 ("network", "ls", "--filter", "name=^n", "--format", "json"),
                 ("network", "ls", "--filter", "name=^n", "--format",
                  "{{.Labels}}|{{.Internal}}|{{.DNSEnabled}}|{{.NetworkInterface}}|"
                  "{{.Created}}"),
                 ("network", "inspect", "--format", "{{.Labels}} {{.Created}}", "n2"),
                 ("network", "inspect", "n1", "n2", "n3", "n4")):
        mine, theirs = pm(*args), podman(*args)
        assert (mine.returncode, mine.stdout) == (theirs.returncode, theirs.stdout), args
    n1, n2, n3 = json.loads(pm("network", "inspect", "n1", "n2", "n3").stdout)
    assert n1["subnets"] == [{"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}]
    assert n3["subnets"] == [{"subnet": "10.89.1.0/24", "gateway": "10.89.1.1"}]
    assert (n2["internal"], n2["dns_enabled"], n2["labels"]) == (True, False, {"a": "b"})
    assert n2["subnets"] == [{"subnet": "10.99.7.0/24", "gateway": "10.99.7.9"}]
    assert n1["network_interface"] == "podman1" and n3["network_interface"] == "podman3"

    # errors: Podman's words and codes, and nothing written
    before = sorted(os.listdir(Path(fresh_env["XDG_DATA_HOME"]) / "containers/storage/"
                               "networks"))
    for args in (("network", "create", "n1"),
                 ("network", "create", "--subnet", "10.89.0.128/25", "x1"),
                 ("network", "create", "--subnet", "10.1.0.0/33", "x1"),
                 ("network", "create", "--gateway", "10.1.0.1", "x1"),
                 ("network", "create", "--subnet", "10.5.0.0/24", "--gateway", "10.6.0.1",
                  "x1"),
                 ("network", "create", "bad/name"), ("network", "create", "nl\n"),
                 ("network", "create", "-d", "foo", "x1"),
                 ("network", "create", "-o", "foo=bar", "x1"),
                 ("network", "create", "-o", "mtu=abc", "x1"),
                 ("network", "inspect", "nope"), ("network", "rm", "nope"),
                 ("network", "rm", "--force", "nope"),
                 ("network", "rm", "podman"), ("network", "ls", "--filter", "foo=bar")):
        mine, theirs = pm(*args), podman(*args)
        assert (mine.returncode, mine.stdout, mine.stderr) == (
            theirs.returncode, theirs.stdout, theirs.stderr), args
    mac = pm("network", "create", "-d", "macvlan", "m1")
    assert mac.returncode == 125
    assert mac.stderr.startswith("Error: unsupported driver macvlan: rootless pyman makes "
                                 "bridge networks only")
    assert sorted(os.listdir(Path(fresh_env["XDG_DATA_HOME"]) / "containers/storage/"
                             "networks")) == before
    assert pm("network", "create", "--ignore", "n1").stdout == "n1\n"
    assert pm("network", "exists", "n3").returncode == 0
    assert pm("network", "exists", "nope").returncode == 1
    assert pm("network", "rm", "n4").stdout == "n4\n"
    assert pm("network", "rm", "n3", "n1").stdout == "n3\nn1\n"  # podman's network, gone
    assert podman("network", "ls", "-q").stdout == "n2\npodman\n"


def test_containers_resolve_each_other_on_a_network(run_pyman, fresh_env) -> None:
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    assert pm("network", "create", "n1").returncode == 0
    assert pm("network", "create", "n2").returncode == 0
    port = free_port()
    r = pm("run", "-d", "--name", "db", "--network", "n1", "--network-alias", "database",
           "-p", f"127.0.0.1:{port}:80", "alpine", "sh", "-c", SERVE)
    assert r.returncode == 0, r.stderr
    try:
        assert wait_for(lambda: fetch(port) == "hi-from-db\n", 5)  # published, from the host
        holder = json.loads((netns_dir() / "holder.json").read_text())
        aardvark = int((netns_dir() / "conf/aardvark-dns/aardvark.pid").read_text())
        pids = [holder["pid"], holder["pasta_pid"], aardvark]
        assert all(alive(p) for p in pids)
        for host in ("db", "database"):  # by name and by alias, from the same network
            out = pm("run", "--rm", "--network", "n1", "alpine", "sh", "-c",
                     GET.format(host=host))
            assert out.returncode == 0, out.stderr
            assert out.stdout.endswith("\n\nhi-from-db\n"), out.stdout  # text mode
        db_ip = json.loads((netns_dir() / "ipam.json").read_text())["n1"]
        assert list(db_ip) == ["10.89.0.2"]
        nets = json.loads(pm("inspect", "db").stdout)[0]["NetworkSettings"]["Networks"]
        assert list(nets) == ["n1"]
        assert (nets["n1"]["IPAddress"], nets["n1"]["IPPrefixLen"], nets["n1"]["Gateway"]) \
            == ("10.89.0.2", 24, "10.89.0.1")
        assert nets["n1"]["Aliases"] == ["database", r.stdout.strip()[:12]]
        # another network: no name, and no route to its address either
        other = pm("run", "--rm", "--network", "n2", "alpine", "sh", "-c",
                   f"{GET.format(host='db')}; echo; "
                   f"{GET.format(host='10.89.0.2').replace('-w 2', '-w 1')}; "
                   "cat /etc/resolv.conf")
        assert "hi-from-db" not in other.stdout
        assert "bad address 'db'" in other.stderr
        assert "nameserver 10.89.1.1" in other.stdout
        # a network in use stays (Podman's message and code); unknown networks are refused
        busy = pm("network", "rm", "n1")
        assert (busy.returncode, busy.stderr) == (
            2, 'Error: "n1" has associated containers with it. Use -f to forcibly delete '
               "containers and pods: network is being used\n")
        bad = pm("run", "--rm", "--network", "nosuch", "alpine", "true")
        assert bad.returncode == 125 and bad.stderr.startswith(
            "Error: unable to find network with name or ID nosuch: network not found (")
        alias = pm("create", "--network-alias", "x", "alpine", "true")
        assert alias.returncode == 125 and "need --network NAME" in alias.stderr
        # aardvark-dns killed: the next container on a network brings names back
        os.kill(aardvark, 9)
        assert wait_for(lambda: not alive(aardvark), 5)
        again = pm("run", "--rm", "--network", "n1", "alpine", "sh", "-c",
                   GET.format(host="db"))
        assert again.stdout.endswith("\n\nhi-from-db\n"), again.stderr
        pids[2] = int((netns_dir() / "conf/aardvark-dns/aardvark.pid").read_text())
    finally:
        assert pm("rm", "-af", "-t", "0").returncode == 0
    # the last container gone: the namespace, its holder, pasta and aardvark-dns too
    assert wait_for(lambda: not (netns_dir() / "holder.json").exists(), 5)
    assert wait_for(lambda: not any(alive(p) for p in pids), 5), pids
    assert fetch(port) is None
    assert not list((netns_dir()).glob("users/*"))
    assert pm("network", "rm", "n1", "n2").returncode == 0
    assert pm("ps", "-aq").stdout == ""


def test_network_rm_force_removes_its_containers(run_pyman, fresh_env) -> None:
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    assert pm("network", "create", "n9").returncode == 0
    r = pm("run", "-d", "--name", "on9", "--network", "n9", "alpine", "sleep", "60")
    assert r.returncode == 0, r.stderr
    for args in (("--label", "k=v", "lab"), ("idle",)):
        assert pm("network", "create", *args).returncode == 0
    assert pm("network", "prune", "-f", "--filter", "label=k=v").stdout == "lab\n"
    declined = run_pyman("network", "prune", input="n\n", env=fresh_env)
    assert declined.stdout.endswith("[y/N] ")
    assert pm("network", "prune", "-f").stdout == "idle\n"  # n9 is in use, podman stays
    assert pm("network", "ls", "-q").stdout == "n9\npodman\n"
    gone = pm("network", "rm", "-f", "-t", "0", "n9")
    assert (gone.returncode, gone.stdout) == (0, "n9\n"), gone.stderr
    assert pm("ps", "-aq").stdout == ""
    assert wait_for(lambda: not (netns_dir() / "holder.json").exists(), 5)


def test_racing_starts_share_one_netns_and_killed_monitors_leave_nothing(
        run_pyman, fresh_env, pyman_bin) -> None:
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    assert pm("network", "create", "n1").returncode == 0
    procs = [subprocess.Popen([str(pyman_bin), "run", "-d", "--name", name, "--network", "n1",
                               "alpine", "sleep", "60"], env=fresh_env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name in ("r1", "r2")]
    try:
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
        holder = json.loads((netns_dir() / "holder.json").read_text())
        assert len(list(netns_dir().glob("users/*"))) == 2  # one namespace, two users
        look = pm("run", "--rm", "--network", "n1", "alpine", "sh", "-c",
                  "nslookup r1 >/dev/null && nslookup r2 >/dev/null && echo both")
        assert look.stdout == "both\n", look.stderr
        # a monitor killed: the next command's reconcile takes its name, address and share
        mon = int(pm("inspect", "r1", "--format", "{{.State.ConmonPid}}").stdout)
        r1_ip = json.loads(pm("inspect", "r1").stdout)[0]["NetworkSettings"]["Networks"][
            "n1"]["IPAddress"]
        assert r1_ip.startswith("10.89.0.")  # .2 or .3: the race decides
        os.kill(mon, 9)
        assert wait_for(lambda: "Exited" in pm("ps", "-a", "--filter", "name=r1",
                                               "--format", "{{.Status}}").stdout, 5)
        assert len(list(netns_dir().glob("users/*"))) == 1
        gone = pm("run", "--rm", "--network", "n1", "alpine", "nslookup", "r1")
        assert gone.returncode != 0 and "NXDOMAIN" in gone.stdout + gone.stderr
        assert f'"{r1_ip}"' not in (netns_dir() / "ipam.json").read_text()
        mon = int(pm("inspect", "r2", "--format", "{{.State.ConmonPid}}").stdout)
        os.kill(mon, 9)
        pm("ps", "-a")  # the last user gone: the namespace ends
        assert not (netns_dir() / "holder.json").exists()
        assert wait_for(lambda: not any(alive(p) for p in (holder["pid"],
                                                          holder["pasta_pid"])), 5)
    finally:
        assert pm("rm", "-af", "-t", "0").returncode == 0


def test_two_networks_internal_and_no_dns(run_pyman, fresh_env) -> None:
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    for args in (("a",), ("b",), ("--internal", "inner"), ("--disable-dns", "quiet")):
        assert pm("network", "create", *args).returncode == 0
    try:
        for name, net in (("sa", "a"), ("sb", "b"), ("sq", "quiet")):
            r = pm("run", "-d", "--name", name, "--network", net, "alpine", "sh", "-c",
                   SERVE.replace("db", name))
            assert r.returncode == 0, r.stderr
        both = pm("run", "--rm", "--network", "a,b", "alpine", "sh", "-c",
                  f"{GET.format(host='sa')}; {GET.format(host='sb')}; ip -o -4 addr")
        assert "hi-from-sa" in both.stdout and "hi-from-sb" in both.stdout, both.stderr
        assert "eth0    inet 10.89.0." in both.stdout and "eth1    inet 10.89.1." in \
            both.stdout
        inner = pm("run", "--rm", "--network", "inner", "alpine", "ip", "route")
        assert inner.returncode == 0 and "default" not in inner.stdout  # no way out
        assert inner.stdout.startswith("10.89.2.0/24 dev eth0")
        quiet = pm("run", "--rm", "--network", "quiet", "alpine", "cat", "/etc/resolv.conf")
        assert quiet.returncode == 0 and "nameserver" in quiet.stdout
        assert "dns.podman" not in quiet.stdout and "10.89.3.1" not in quiet.stdout
        adir = netns_dir() / "conf/aardvark-dns"
        assert (adir / "a").exists() and not (adir / "quiet").exists()  # no names on it
        # the uplink killed: started again by the next start, quietly; names still work
        pasta = json.loads((netns_dir() / "holder.json").read_text())["pasta_pid"]
        os.kill(pasta, 9)
        assert wait_for(lambda: not alive(pasta), 5)
        late = pm("run", "--rm", "--network", "a", "alpine", "sh", "-c", GET.format(host="sa"))
        assert "hi-from-sa" in late.stdout
        assert late.stderr == ""
        again = json.loads((netns_dir() / "holder.json").read_text())["pasta_pid"]
        assert again != pasta and alive(again)
    finally:
        assert pm("rm", "-af", "-t", "0").returncode == 0
    assert wait_for(lambda: not (netns_dir() / "holder.json").exists(), 5)


def test_connect_and_disconnect_a_running_container(run_pyman, fresh_env) -> None:
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    for net in ("n1", "n2"):
        assert pm("network", "create", net).returncode == 0
    try:
        assert pm("run", "-d", "--name", "db", "--network", "n1", "alpine", "sh", "-c",
                  SERVE).returncode == 0
        assert pm("run", "-d", "--name", "cl", "--network", "n2", "alpine", "sleep",
                  "60").returncode == 0
        get = GET.format(host="db").replace("-w 2", "-w 1")
        assert "hi-from-db" not in pm("exec", "cl", "sh", "-c", get).stdout
        plain = pm("create", "--name", "plain", "--network", "pasta", "alpine", "true")
        assert plain.returncode == 0
        r = pm("network", "connect", "--alias", "client", "n1", "cl")
        assert (r.returncode, r.stdout) == (0, ""), r.stderr
        now = pm("exec", "cl", "sh", "-c", f"{get}; cat /etc/resolv.conf")
        assert "hi-from-db" in now.stdout and "nameserver 10.89.0.1" in now.stdout, now
        back = pm("exec", "db", "nslookup", "client")
        assert back.returncode == 0 and "10.89.0.3" in back.stdout, back
        nets = json.loads(pm("inspect", "cl").stdout)[0]["NetworkSettings"]["Networks"]
        assert sorted(nets) == ["n1", "n2"] and nets["n1"]["IPAddress"] == "10.89.0.3"
        assert pm("network", "rm", "n1").returncode == 2  # cl uses it now too
        # reload: the rules flushed inside the rootless netns come back (a ping of db is
        # not needed: the rule count says it)
        holder = json.loads((netns_dir() / "holder.json").read_text())["pid"]
        nsenter = ["nsenter", "-U", "-n", "--preserve-credentials", "-t", str(holder)]
        rules = subprocess.run([*nsenter, "iptables", "-t", "nat", "-S"], capture_output=True,
                               text=True).stdout
        assert "NETAVARK" in rules
        subprocess.run([*nsenter, "iptables", "-t", "nat", "-F"], check=True)
        r = pm("network", "reload", "cl")
        assert (r.returncode, r.stdout.strip()) == (0, json.loads(
            pm("inspect", "cl").stdout)[0]["Id"]), r.stderr
        again = subprocess.run([*nsenter, "iptables", "-t", "nat", "-S"], capture_output=True,
                               text=True).stdout
        assert again.count("-A POSTROUTING") >= 1, again
        assert "hi-from-db" in pm("exec", "cl", "sh", "-c", get).stdout  # still connected
        bad = pm("network", "reload", "plain")
        assert bad.returncode == 125 and "cannot reload network" in bad.stderr
        r = pm("network", "disconnect", "n1", "cl")
        assert r.returncode == 0, r.stderr
        after = pm("exec", "cl", "sh", "-c", f"{get}; ip -o -4 addr; cat /etc/resolv.conf")
        assert "hi-from-db" not in after.stdout and "10.89.0." not in after.stdout
        again = pm("network", "disconnect", "n1", "cl")
        assert (again.returncode, again.stderr) == (
            125, "Error: container cl is not connected to network n1\n")
        assert "10.89.0.3" not in json.loads((netns_dir() / "ipam.json").read_text())["n1"]
        bad = pm("network", "connect", "n1", "plain")
        assert bad.returncode == 125 and '"pasta" is not supported' in bad.stderr
    finally:
        assert pm("rm", "-af", "-t", "0").returncode == 0
    assert wait_for(lambda: not (netns_dir() / "holder.json").exists(), 5)


def test_a_pod_on_a_network_answers_to_its_name(run_pyman, fresh_env) -> None:
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    assert pm("network", "create", "n1").returncode == 0
    try:
        assert pm("pod", "create", "--name", "pp", "--network", "n1").returncode == 0
        r = pm("run", "-d", "--pod", "pp", "--name", "member", "alpine", "sh", "-c",
               SERVE.replace("db", "pod"))
        assert r.returncode == 0, r.stderr
        got = pm("run", "--rm", "--network", "n1", "alpine", "sh", "-c", GET.format(host="pp"))
        assert got.stdout.endswith("\n\nhi-from-pod\n"), got.stderr
    finally:
        assert pm("pod", "rm", "-f", "-t", "0", "pp").returncode == 0
    assert wait_for(lambda: not (netns_dir() / "holder.json").exists(), 5)


def test_static_ip_mac_and_mtu(run_pyman, fresh_env) -> None:
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    assert pm("network", "create", "-o", "mtu=1400", "n1").returncode == 0
    assert pm("network", "create", "n2").returncode == 0
    try:
        r = pm("run", "-d", "--name", "fixed", "--network", "n1", "--ip", "10.89.0.77",
               "--mac-address", "02:42:ac:11:00:07", "alpine", "sleep", "60")
        assert r.returncode == 0, r.stderr
        link = pm("exec", "fixed", "ip", "-o", "link", "show", "eth0").stdout
        addr = pm("exec", "fixed", "ip", "-o", "-4", "addr", "show", "eth0").stdout
        assert "mtu 1400" in link and "02:42:ac:11:00:07" in link, link
        assert "inet 10.89.0.77/24" in addr, addr
        assert pm("run", "--rm", "--network", "n1", "alpine", "nslookup",
                  "fixed").stdout.count("10.89.0.77") == 1
        clash = pm("run", "--rm", "--network", "n1", "--ip", "10.89.0.77", "alpine", "true")
        assert clash.returncode == 125
        assert "requested ip address 10.89.0.77 is already allocated to container ID " \
            f"{r.stdout.strip()}" in clash.stderr
        for args, why in (
                (("--ip", "10.1.1.1"), "requested static ip 10.1.1.1 is not in any subnet "
                                       "on network n1"),
                (("--ip", "bad"), '"bad" is not an ip address'),
                (("--mac-address", "zz"), "address zz: invalid MAC address")):
            bad = pm("create", "--network", "n1", *args, "alpine", "true")
            assert (bad.returncode, why in bad.stderr) == (125, True), bad.stderr
        two = pm("create", "--network", "n1,n2", "--ip", "10.89.0.9", "alpine", "true")
        assert "--ip can only be set for a single network" in two.stderr
        assert pm("ps", "-aq").stdout.split() == [r.stdout.strip()[:12]]  # nothing half-made
    finally:
        assert pm("rm", "-af", "-t", "0").returncode == 0
    assert wait_for(lambda: not (netns_dir() / "holder.json").exists(), 5)


def test_a_killed_holder_never_breaks_the_next_run(run_pyman, fresh_env) -> None:
    def pm(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pyman(*args, env=fresh_env)

    assert pm("network", "create", "n1").returncode == 0
    try:
        assert pm("run", "-d", "--name", "old", "--network", "n1", "alpine", "sleep",
                  "60").returncode == 0
        first = json.loads((netns_dir() / "holder.json").read_text())
        os.kill(first["pid"], 9)
        assert wait_for(lambda: not alive(first["pid"]), 5)
        r = pm("run", "-d", "--name", "new", "--network", "n1", "alpine", "sh", "-c",
               SERVE.replace("db", "new"))
        assert r.returncode == 0, r.stderr  # a fresh namespace, the dead one's rest cleared
        second = json.loads((netns_dir() / "holder.json").read_text())
        assert second["pid"] != first["pid"] and not alive(first["pasta_pid"])
        got = pm("run", "--rm", "--network", "n1", "alpine", "sh", "-c",
                 GET.format(host="new"))
        assert got.stdout.endswith("\n\nhi-from-new\n"), got.stderr
        assert pm("rm", "-f", "-t", "0", "old").returncode == 0  # must not end the new one
        assert alive(second["pid"])
    finally:
        assert pm("rm", "-af", "-t", "0").returncode == 0
    assert wait_for(lambda: not (netns_dir() / "holder.json").exists(), 5)
