"""Published ports end to end, as the unprivileged user: busybox httpd in the container, the
host fetching through 127.0.0.1:<port>, in pasta and slirp4netns modes; `port`, ps, inspect;
the port freed at stop; and the errors for bad specs, ports in use and privileged ports."""

from __future__ import annotations

import json
import socket

import pytest
from lifecycle_util import own_processes, wait_for
from net_util import fetch, free_port

SERVE = "echo hello-from-$HOSTNAME > /index.html && exec httpd -f -p 80 -h /"


@pytest.mark.parametrize("mode", ["pasta", "slirp4netns"])
def test_published_port_serves_and_is_freed_at_stop(run_pyman, mode: str) -> None:
    port = free_port()
    name = f"web-{mode}"
    r = run_pyman("run", "-d", "--name", name, "--hostname", name, "--network", mode,
                  "-p", f"{port}:80", "-p", "127.0.0.1::81", "alpine", "sh", "-c", SERVE)
    assert r.returncode == 0, r.stderr
    try:
        assert wait_for(lambda: fetch(port) == f"hello-from-{name}\n", 15)
        lines = run_pyman("port", name).stdout.splitlines()
        assert lines[0] == f"80/tcp -> 0.0.0.0:{port}"
        assert lines[1].startswith("81/tcp -> 127.0.0.1:")
        assert run_pyman("port", name, "80").stdout == f"0.0.0.0:{port}\n"
        miss = run_pyman("port", name, "82/udp")
        assert (miss.returncode, miss.stderr) == (
            125, 'Error: failed to find published port "82/udp"\n')
        ps = run_pyman("ps", "--filter", f"name={name}", "--format", "{{.Ports}}").stdout
        assert ps.startswith(f"0.0.0.0:{port}->80/tcp, 127.0.0.1:")
        info = json.loads(run_pyman("inspect", name).stdout)[0]
        assert info["NetworkSettings"]["Ports"]["80/tcp"] == [{"HostIp": "",
                                                               "HostPort": str(port)}]
        assert info["HostConfig"]["PortBindings"]["81/tcp"][0]["HostIp"] == "127.0.0.1"

        busy = run_pyman("run", "--rm", "--network", mode, "-p", f"{port}:80", "alpine",
                         "true")
        assert busy.returncode == 126
        assert busy.stderr == (f"Error: cannot publish 0.0.0.0:{port}/tcp: address already "
                               "in use: another process holds it; pick another host port\n")
        assert run_pyman("stop", "-t", "0", name).returncode == 0
        assert fetch(port) is None
        # the port is free again: a second container takes it
        r = run_pyman("run", "--rm", "--network", mode, "-p", f"{port}:80", "alpine",
                      "true")
        assert r.returncode == 0, r.stderr
    finally:
        run_pyman("rm", "-f", name)
    assert f"{port}" not in run_pyman("ps", "-a", "--format", "{{.Ports}}").stdout


def udp_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_udp_port_and_publish_all(run_pyman, tmp_path) -> None:
    """UDP through slirp4netns's own forwarding: the host port is held while the container
    runs and free after (busybox has no UDP server to talk to); -P maps an EXPOSEd port to
    a free one."""
    udp = free_port()
    r = run_pyman("run", "-d", "--name", "udp1", "--network", "slirp4netns",
                  "-p", f"127.0.0.1:{udp}:5353/udp", "alpine", "sleep", "60")
    assert r.returncode == 0, r.stderr
    try:
        assert udp_taken(udp)
        assert run_pyman("port", "udp1").stdout == f"5353/udp -> 127.0.0.1:{udp}\n"
    finally:
        run_pyman("rm", "-f", "-t", "0", "udp1")
    assert not udp_taken(udp)

    cid = run_pyman("create", "--network", "none", "alpine", "true").stdout.strip()
    tar = tmp_path / "rootfs.tar"
    tmp_path.chmod(0o777)
    assert run_pyman("export", "-o", str(tar), cid).returncode == 0
    run_pyman("rm", cid)
    imp = run_pyman("import", "--change", "EXPOSE 80/tcp", str(tar), "localhost/exposed:1")
    assert imp.returncode == 0, imp.stderr
    r = run_pyman("run", "-d", "--name", "pall", "-P", "localhost/exposed:1", "sh", "-c", SERVE)
    assert r.returncode == 0, r.stderr
    try:
        line = run_pyman("port", "pall").stdout.strip()
        assert line.startswith("80/tcp -> 0.0.0.0:"), line
        port = int(line.rsplit(":", 1)[1])
        assert wait_for(lambda: fetch(port) is not None, 15)
    finally:
        run_pyman("rm", "-f", "pall")
        run_pyman("rmi", "localhost/exposed:1")


@pytest.mark.parametrize(("spec", "message"), [
    ("abc", "Error: parsing container port: invalid port number 'abc': use a number from 1 "
            "to 65535, or a range like 8000-8010\n"),
    ("70000:80", "Error: parsing host port: port numbers must be between 1 and 65535 "
                 "(inclusive), got 70000\n"),
    ("8080-8082:80", "Error: host and container port ranges have different lengths: 3 vs 1\n"),
    ("80/sctp", "Error: unrecognized protocol 'sctp' in port mapping '80/sctp': use tcp or "
                "udp\n"),
    ("1.2.3:80:80", "Error: cannot parse '1.2.3' as an IP address in port mapping "
                    "'1.2.3:80:80'\n"),
])
def test_bad_port_specs_are_refused_before_anything(run_pyman, spec: str, message: str
                                                    ) -> None:
    before = run_pyman("ps", "-aq").stdout
    r = run_pyman("run", "--rm", "-p", spec, "no-such-image-is-pulled", "true")
    assert (r.returncode, r.stderr) == (125, message)
    assert run_pyman("ps", "-aq").stdout == before


def test_privileged_port_and_modes_without_a_network(run_pyman) -> None:
    r = run_pyman("run", "--rm", "-p", "80:80", "alpine", "true")
    assert r.returncode == 126
    assert "net.ipv4.ip_unprivileged_port_start (1024)" in r.stderr
    assert len(r.stderr.splitlines()) == 1
    r = run_pyman("run", "--rm", "--network", "none", "-p", "18099:80", "alpine", "true")
    assert r.returncode == 0, r.stderr
    assert "Port mappings have been discarded" in r.stderr


def _helpers_of(cid: str) -> list[int]:
    """Our processes whose command line names the container (its run dir): its monitor,
    network helper, forwarder."""
    return [pid for pid, _, _, cmd in own_processes() if cid.encode() in cmd]


def _zombie_helpers() -> int:
    """Our zombies named like a network helper (a zombie's cmdline is empty: its comm)."""
    return sum(state == "Z" and comm in ("pasta", "passt", "slirp4netns")
               for _, comm, state, _ in own_processes())


@pytest.mark.parametrize("mode", ["pasta", "slirp4netns"])
def test_run_rm_returns_with_nothing_left(run_pyman, mode: str) -> None:
    """The monitor stops the network helper without waiting for its exit when no port is
    published, and answers first: by the time the client returns, and a reader of its
    output has seen EOF, the helper is gone or going; nothing of the container is left
    once the monitor has reaped it (no zombie, no helper)."""
    zombies = _zombie_helpers()
    cid = run_pyman("create", "--rm", "--network", mode, "alpine", "sh", "-c",
                    "echo out; echo err >&2").stdout.strip()
    assert len(cid) == 64
    started = run_pyman("start", "-a", cid)  # output read to EOF
    assert (started.returncode, started.stdout, started.stderr) == (0, "out\n", "err\n")
    assert wait_for(lambda: not _helpers_of(cid), timeout=10), _helpers_of(cid)
    assert run_pyman("container", "exists", cid).returncode == 1
    assert _zombie_helpers() == zombies
