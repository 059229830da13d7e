"""Pods end to end, as the unprivileged user: members share the infra's network, IPC and UTS
namespaces (localhost, hostname), the pod's published port reaches a member, pod ps/inspect/
stop/start/rm/logs/exists behave like Podman's; --network container:<name> shares a netns."""

from __future__ import annotations

import json

from lifecycle_util import wait_for
from net_util import fetch, free_port

SERVE = "echo {text} > /index.html && exec httpd -f -p {port} -h /"


def test_pod_members_share_localhost_hostname_and_ports(run_pyman) -> None:
    port = free_port()
    r = run_pyman("pod", "create", "--name", "tp1", "-p", f"{port}:80")
    assert r.returncode == 0, r.stderr
    pod_id = r.stdout.strip()
    assert len(pod_id) == 64
    try:
        ps = run_pyman("pod", "ps").stdout.splitlines()
        assert ps[0].split()[:4] == ["POD", "ID", "NAME", "STATUS"]
        assert [ln for ln in ps if "tp1" in ln][0].split()[2] == "Created"

        r = run_pyman("run", "-d", "--pod", "tp1", "--name", "tp1-web", "alpine", "sh", "-c",
                      SERVE.format(text="pod-web", port=80))
        assert r.returncode == 0, r.stderr
        # another member: the web server is on its localhost, the hostname is the pod's,
        # and /etc/hosts names it
        r = run_pyman("run", "--rm", "--pod", "tp1", "--name", "tp1-client", "alpine", "sh",
                      "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do "
                      "wget -qO- http://localhost/index.html && break; sleep 0.3; done; "
                      "hostname; grep -c tp1-client /etc/hosts")
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == ["pod-web", "tp1", "1"]
        assert wait_for(lambda: fetch(port) == "pod-web\n", 10)  # the pod's published port

        doc = json.loads(run_pyman("pod", "inspect", "tp1").stdout)
        assert doc["Id"] == pod_id and doc["State"] == "Running"
        assert doc["SharedNamespaces"] == ["ipc", "net", "uts"]
        assert doc["InfraConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "",
                                                                  "HostPort": str(port)}]}
        assert {c["Name"] for c in doc["Containers"]} == {f"{pod_id[:12]}-infra", "tp1-web"}
        lines = run_pyman("ps", "-a", "--pod", "--filter", "name=tp1-web").stdout.splitlines()
        assert lines[0].split()[-3:] == ["POD", "ID", "PODNAME"]
        assert lines[1].split()[-2:] == [pod_id[:12], "tp1"]
        # a member shows the pod's published ports, as Podman's ps does
        line = run_pyman("ps", "--filter", "name=tp1-web").stdout.splitlines()[1]
        assert f"0.0.0.0:{port}->80/tcp  tp1-web" in line

        # the infra belongs to the pod; a running pod needs -f
        infra = doc["InfraContainerID"]
        r = run_pyman("rm", "-f", infra)
        assert r.returncode == 125 and "infra container of pod" in r.stderr
        r = run_pyman("pod", "rm", "tp1")
        assert r.returncode == 2 and "cannot be removed without force" in r.stderr
        r = run_pyman("run", "--rm", "--pod", "tp1", "-p", "9999:80", "alpine", "true")
        assert r.returncode == 125
        assert "ports must be defined when the pod is created" in r.stderr

        assert run_pyman("pod", "stop", "-t", "0", "tp1").stdout == pod_id + "\n"
        assert "Exited" in run_pyman("pod", "ps", "--format", "{{.Status}}").stdout
        assert fetch(port) is None
        assert run_pyman("pod", "start", "tp1").returncode == 0
        assert wait_for(lambda: fetch(port) == "pod-web\n", 10)
    finally:
        r = run_pyman("pod", "rm", "-f", "-t", "0", "tp1")
    assert (r.returncode, r.stdout) == (0, pod_id + "\n"), r.stderr
    assert run_pyman("pod", "exists", "tp1").returncode == 1
    assert "tp1" not in run_pyman("ps", "-a").stdout
    r = run_pyman("pod", "rm", "tp1")
    assert (r.returncode, r.stderr) == (1, "Error: no pod with name or ID tp1 found: "
                                           "no such pod\n")


def test_pod_logs_and_unknown_pod(run_pyman) -> None:
    assert run_pyman("pod", "create", "--name", "tp2", "--network", "none").returncode == 0
    try:
        for name in ("tp2-a", "tp2-b"):
            r = run_pyman("run", "--pod", "tp2", "--name", name, "alpine", "echo", f"from-{name}")
            assert (r.returncode, r.stdout) == (0, f"from-{name}\n"), r.stderr
        ids = {n: run_pyman("inspect", "--format", "{{.Id}}", n).stdout.strip()[:12]
               for n in ("tp2-a", "tp2-b")}
        out = run_pyman("pod", "logs", "tp2").stdout
        assert out == f"{ids['tp2-a']} from-tp2-a\n{ids['tp2-b']} from-tp2-b\n"
        assert run_pyman("pod", "logs", "-c", "tp2-b", "tp2").stdout == "from-tp2-b\n"
        assert "Degraded" in run_pyman("pod", "ps").stdout  # infra up, members exited
    finally:
        assert run_pyman("pod", "rm", "-f", "-t", "0", "tp2").returncode == 0
    r = run_pyman("run", "--rm", "--pod", "nope", "alpine", "true")
    assert (r.returncode, r.stderr) == (125, "Error: no pod with name or ID nope found: "
                                             "no such pod\n")


def test_network_container_shares_the_netns(run_pyman) -> None:
    r = run_pyman("run", "-d", "--name", "netbase", "--network", "none", "alpine", "sh", "-c",
                  SERVE.format(text="shared-ns", port=8080))
    assert r.returncode == 0, r.stderr
    try:
        r = run_pyman("run", "--rm", "--network", "container:netbase", "alpine", "sh", "-c",
                      "for i in 1 2 3 4 5 6 7 8 9 10; do "
                      "wget -qO- http://127.0.0.1:8080/index.html && break; sleep 0.3; done")
        assert (r.returncode, r.stdout) == (0, "shared-ns\n"), r.stderr
        # ns:<path> of a namespace pyman cannot join, or no namespace at all: one clear line
        pid = run_pyman("inspect", "--format", "{{.State.Pid}}", "netbase").stdout.strip()
        for path, why in ((f"/proc/{pid}/ns/net", "cannot open the network namespace"),
                          ("/etc/hostname", "it is not a network namespace file"),
                          ("/nonexistent", "does not exist")):
            r = run_pyman("run", "--rm", "--network", f"ns:{path}", "alpine", "true")
            assert r.returncode == 125 and why in r.stderr, r.stderr
            assert len(r.stderr.splitlines()) == 1
    finally:
        run_pyman("rm", "-f", "-t", "0", "netbase")


def test_pause_image_has_podmans_name(run_pyman, fresh_env) -> None:
    """localhost/podman-pause:<version>-<built>, which `version --format` spells (Podman's
    system tests remove it by that name)."""
    env = fresh_env
    r = run_pyman("pod", "create", "--name", "pn", env=env)
    assert r.returncode == 0, r.stderr
    name = run_pyman("version", "--format", "{{.Server.Version}}-{{.Server.Built}}",
                     env=env).stdout.strip()
    assert run_pyman("pod", "rm", "pn", env=env).returncode == 0
    r = run_pyman("rmi", f"localhost/podman-pause:{name}", env=env)
    assert r.returncode == 0, r.stderr
