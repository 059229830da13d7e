"""What a container is told about its network, as Podman tells it: slirp4netns's options
(cidr=, port_handler=, allow_host_loopback=) with the addresses they give; /etc/hosts from a
base file, --add-host, host.containers.internal and the container's names; resolv.conf with
containers.conf's dns_servers/dns_searches/dns_options; --http-proxy. Every containers.conf is
the test's own (CONTAINERS_CONF)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from lifecycle_util import wait_for
from net_util import free_port


def conf_env(env: dict[str, str], tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "containers.conf"
    path.write_text(text)
    return {**env, "CONTAINERS_CONF": str(path)}


def host_ip() -> str:
    """The host's first global IPv4 address: what `hostname -I` prints first."""
    import subprocess

    return subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                          check=True).stdout.split()[0]


def test_slirp4netns_cidr_sets_address_gateway_dns_and_hosts(run_pyman) -> None:
    r = run_pyman("run", "--rm", "--network", "slirp4netns:cidr=172.25.39.0/24",
                  "--name", "cidr1", "--hostname", "cidr1", "alpine", "sh", "-c",
                  "cat /etc/hosts; echo ==; cat /etc/resolv.conf; echo ==; ip -4 -o addr; "
                  "ip route")
    assert r.returncode == 0, r.stderr
    hosts, resolv, net = r.stdout.split("==\n")
    assert "172.25.39.100\tcidr1 cidr1\n" in hosts  # hostname and name, as Podman
    assert f"{host_ip()}\thost.containers.internal" in hosts
    assert "nameserver 172.25.39.3\n" in resolv
    assert "inet 172.25.39.100/24" in net
    assert "default via 172.25.39.2" in net


@pytest.mark.parametrize("spec, message", [
    ("slirp4netns:cidr=bogus", 'invalid cidr "bogus"'),
    ("slirp4netns:cidr=fd00::/64", 'invalid cidr "fd00::/64"'),
    ("slirp4netns:port_handler=nope", 'unknown port_handler for slirp4netns: "nope"'),
    ("slirp4netns:allow_host_loopback=yes",
     'invalid value of allow_host_loopback for slirp4netns: "yes"'),
    ("slirp4netns:mtu=10", 'invalid mtu "10"'),
    ("slirp4netns:what", 'unknown option for slirp4netns: "what"'),
    ("slirp4netns:what=1", 'unknown option for slirp4netns: "what=1"'),
])
def test_bad_slirp4netns_options_are_refused(run_pyman, spec: str, message: str) -> None:
    r = run_pyman("create", "--network", spec, "alpine", "true")
    assert (r.returncode, r.stderr) == (125, f"Error: {message}\n")
    assert run_pyman("ps", "-aq", "--filter", "status=created").stdout == ""


@pytest.mark.parametrize("handler", ["slirp4netns", "rootlesskit"])
def test_port_handler_forwards_a_port_range(run_pyman, handler: str) -> None:
    base = free_port()
    ports = [base, base + 1]
    if any(not _free(p) for p in ports):
        pytest.skip("no two free ports in a row")
    name = f"range-{handler}"
    r = run_pyman("run", "-d", "--name", name, "--network",
                  f"slirp4netns:port_handler={handler},cidr=10.41.0.0/24",
                  "-p", f"{ports[0]}-{ports[1]}:{ports[0]}-{ports[1]}", "alpine", "sleep",
                  "300")
    assert r.returncode == 0, r.stderr
    try:
        for p in ports:
            assert run_pyman("exec", "-d", name, "nc", "-l", "-p", str(p), "-e",
                             "/bin/cat").returncode == 0
            assert wait_for(lambda p=p: _echo(p, b"ping\n") == b"ping\n", 10), p
    finally:
        run_pyman("rm", "-f", "-t", "0", name)
    assert all(_free(p) for p in ports)


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _echo(port: int, data: bytes) -> bytes | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(data)
            return s.recv(100)
    except OSError:
        return None


def test_base_hosts_file_and_host_containers_internal_ip(run_pyman, pyman_env,
                                                          tmp_path) -> None:
    base = tmp_path / "hosts"
    base.write_text("10.11.12.13 one\n10.11.12.14 two #comment\n")
    env = conf_env(pyman_env, tmp_path, f'[containers]\nbase_hosts_file = "{base}"\n'
                   'host_containers_internal_ip = "10.20.30.40"\n')
    r = run_pyman("run", "--rm", "--network", "slirp4netns", "--add-host", "three:10.1.1.3",
                  "--name", "hb1", "--hostname", "hb1", "alpine", "cat", "/etc/hosts", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "10.1.1.3\tthree", "10.11.12.13\tone", "10.11.12.14\ttwo", "127.0.0.1\tlocalhost",
        "::1\tlocalhost", "10.20.30.40\thost.containers.internal host.docker.internal",
        "10.0.2.100\thb1 hb1"]
    # a name the base file has is left to it: no entry of the container's own
    r = run_pyman("run", "--rm", "--network", "slirp4netns", "--name", "one", "--hostname",
                  "one", "alpine", "cat", "/etc/hosts", env=env)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 5 and "10.0.2.100" not in r.stdout
    # none: no host.containers.internal line; no_hosts: the image's own file
    env = conf_env(pyman_env, tmp_path, '[containers]\nbase_hosts_file = "none"\n'
                   'host_containers_internal_ip = "none"\n')
    r = run_pyman("run", "--rm", "--network", "none", "--name", "hb2", "alpine", "cat",
                  "/etc/hosts", env=env)
    assert r.stdout.splitlines() == ["127.0.0.1\tlocalhost", "::1\tlocalhost",
                                     f"127.0.0.1\t{r.stdout.split()[-2]} hb2"], r.stderr
    env = conf_env(pyman_env, tmp_path, "[containers]\nno_hosts = true\n")
    image = run_pyman("run", "--rm", "--network", "none", "--name", "hb3", "alpine", "sh",
                      "-c", "cat /etc/hosts 2>/dev/null || echo none in the image", env=env)
    assert image.returncode == 0, image.stderr
    assert "host.containers.internal" not in image.stdout and "hb3" not in image.stdout


def test_default_hosts_take_the_hosts_entries_and_the_host_address(run_pyman) -> None:
    r = run_pyman("run", "--rm", "--network", "slirp4netns", "alpine", "cat", "/etc/hosts")
    assert r.returncode == 0, r.stderr
    own = Path("/etc/hosts").read_text().split()
    assert all(word in r.stdout.split() for word in own if not word.startswith("#"))
    assert f"{host_ip()}\thost.containers.internal" in r.stdout


def test_containers_conf_dns_settings_come_first_and_flags_add(run_pyman, pyman_env,
                                                             tmp_path) -> None:
    env = conf_env(pyman_env, tmp_path,
                   '[containers]\ndns_searches = ["example.com"]\n'
                   'dns_servers = ["1.1.1.1", "100.100.100.100"]\n'
                   'dns_options = ["ndots:3"]\n')
    r = run_pyman("run", "--rm", "--network", "slirp4netns", "alpine", "cat",
                  "/etc/resolv.conf", env=env)
    assert r.stdout == ("search example.com\nnameserver 1.1.1.1\nnameserver 100.100.100.100\n"
                        "options ndots:3\n"), r.stderr
    r = run_pyman("run", "--rm", "--network", "slirp4netns", "--dns", "9.9.9.9",
                  "--dns-search", "b.example", "alpine", "cat", "/etc/resolv.conf", env=env)
    assert r.stdout == ("search example.com b.example\nnameserver 1.1.1.1\n"
                        "nameserver 100.100.100.100\nnameserver 9.9.9.9\noptions ndots:3\n")


def test_http_proxy_variables_pass_unless_disabled(run_pyman, pyman_env) -> None:
    env = {**pyman_env, "http_proxy": "http://127.0.0.1:3128", "NO_PROXY": "localhost"}
    r = run_pyman("run", "--rm", "--network", "none", "alpine", "env", env=env)
    assert "http_proxy=http://127.0.0.1:3128\n" in r.stdout and "NO_PROXY=localhost\n" in \
        r.stdout, r.stderr
    r = run_pyman("run", "--rm", "--network", "none", "-e", "http_proxy=mine", "alpine", "env",
                  env=env)
    assert "http_proxy=mine\n" in r.stdout  # -e wins
    r = run_pyman("run", "--rm", "--http-proxy=false", "--network", "none", "alpine", "env",
                  env=env)
    assert r.returncode == 0, r.stderr
    assert "proxy" not in r.stdout.lower() and "PATH=" in r.stdout


def test_pause_image_has_the_name_version_format_derives(run_pyman, fresh_env) -> None:
    v = run_pyman("version", "--format", "{{.Server.Version}}-{{.Server.Built}}",
                  env=fresh_env)
    assert v.returncode == 0, v.stderr
    assert run_pyman("pod", "create", "--name", "pp", env=fresh_env).returncode == 0
    images = run_pyman("images", "--format", "{{.Repository}}:{{.Tag}}", env=fresh_env).stdout
    assert f"localhost/podman-pause:{v.stdout.strip()}\n" in images
    assert run_pyman("pod", "rm", "pp", env=fresh_env).returncode == 0
    assert run_pyman("rmi", f"localhost/podman-pause:{v.stdout.strip()}",
                     env=fresh_env).returncode == 0
