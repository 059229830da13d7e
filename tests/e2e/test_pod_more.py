"""Pods, continued: exit policies (pod create --exit-policy, play kube's stop), --infra=false,
--infra-image/--infra-command (and containers.conf's infra_image), a shared /dev/shm, and
pod top / pause / unpause / stats."""

from __future__ import annotations

import json
from pathlib import Path

from lifecycle_util import wait_for


def _ok(r):  # type: ignore[no-untyped-def]
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def _state(run_pyman, pod: str) -> str:  # type: ignore[no-untyped-def]
    return str(run_pyman("pod", "inspect", pod, "--format", "{{.State}}").stdout.strip())


def test_exit_policies(run_pyman, tmp_path: Path) -> None:
    try:
        cont = _ok(run_pyman("pod", "create", "--name", "tpx-c")).stdout.strip()
        assert run_pyman("pod", "inspect", cont, "--format", "{{.ExitPolicy}}"
                         ).stdout == "continue\n"
        stop = _ok(run_pyman("pod", "create", "--name", "tpx-s", "--exit-policy", "stop")
                   ).stdout.strip()
        assert run_pyman("pod", "inspect", stop, "--format", "{{.ExitPolicy}}"
                         ).stdout == "stop\n"
        r = run_pyman("pod", "create", "--exit-policy", "invalid")
        assert r.returncode == 125 and r.stderr == (
            'Error: running pod create option: invalid pod exit policy: "invalid"\n')

        _ok(run_pyman("run", "--pod", cont, "alpine", "true"))
        _ok(run_pyman("run", "--pod", stop, "alpine", "true"))
        # continue: the infra runs on; stop: the pod stops once its last member exited
        # (promptly: the bats test gives it 3 s)
        assert wait_for(lambda: _state(run_pyman, stop) == "Exited", 3)
        assert _state(run_pyman, cont) == "Degraded"

        # with two members, the first exit does not stop the pod
        two = _ok(run_pyman("pod", "create", "--exit-policy", "stop")).stdout.strip()
        _ok(run_pyman("run", "-d", "--pod", two, "--name", "tpx-long", "alpine", "sleep",
                      "1000"))
        _ok(run_pyman("run", "--pod", two, "alpine", "true"))
        assert not wait_for(lambda: _state(run_pyman, two) == "Exited", 2)
        _ok(run_pyman("stop", "-t", "0", "tpx-long"))
        assert wait_for(lambda: _state(run_pyman, two) == "Exited", 10)

        # play kube (also `kube play`) makes pods with the policy stop
        yaml = tmp_path / "k.yaml"
        yaml.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: tpx-kube\nspec:\n"
                        "  containers:\n  - command:\n    - \"true\"\n    image: alpine\n"
                        "    name: ctr\n  restartPolicy: OnFailure\n")
        _ok(run_pyman("play", "kube", str(yaml)))
        assert run_pyman("pod", "inspect", "tpx-kube", "--format", "{{.ExitPolicy}}"
                         ).stdout == "stop\n"
        assert wait_for(lambda: _state(run_pyman, "tpx-kube") == "Exited", 10)
    finally:
        run_pyman("pod", "rm", "-f", "-a", "-t", "0")


def test_no_infra_and_pod_top(run_pyman) -> None:
    try:
        pod = _ok(run_pyman("pod", "create", "--infra=false")).stdout.strip()
        doc = json.loads(run_pyman("pod", "inspect", pod).stdout)
        assert doc["CreateInfra"] is False and doc["Containers"] == []
        r = run_pyman("pod", "top", pod)
        assert r.returncode == 125 and "no running containers in pod" in r.stderr
        for _ in range(2):
            _ok(run_pyman("run", "-d", "--pod", pod, "alpine", "top", "-d", "2"))
        r = _ok(run_pyman("pod", "top", pod))
        lines = r.stdout.splitlines()
        assert lines[0].split()[:3] == ["USER", "PID", "PPID"]
        # two pid namespaces of their own: each top is pid 1 of its container
        assert [ln.split()[1] for ln in lines[1:] if "top -d 2" in ln] == ["1", "1"]
        r = _ok(run_pyman("pod", "top", pod, "pid", "args"))
        assert r.stdout.splitlines()[0].split() == ["PID", "COMMAND"]
        assert _state(run_pyman, pod) == "Running"

        # a pod with an infra: its catatonit shows too
        pod2 = _ok(run_pyman("pod", "create", "--name", "tpx-top")).stdout.strip()
        _ok(run_pyman("run", "-d", "--pod", pod2, "alpine", "sleep", "1000"))
        out = _ok(run_pyman("pod", "top", "tpx-top", "args")).stdout
        assert "/catatonit -P" in out and "sleep 1000" in out

        r = run_pyman("pod", "stats", "--no-stream", "tpx-top")
        assert r.returncode == 125 and r.stderr.count("\n") == 1
        r = run_pyman("pod", "unpause", "tpx-top")
        assert r.returncode == 125 and "no paused containers in pod tpx-top" in r.stderr
        r = run_pyman("pod", "pause", "tpx-none")
        assert r.returncode == 125
    finally:
        run_pyman("pod", "rm", "-f", "-a", "-t", "0")


def test_infra_image_and_dev_shm(run_pyman, tmp_path: Path, pyman_env: dict[str, str]) -> None:
    try:
        # an image with its own pause program, as the bats test builds one
        _ok(run_pyman("run", "--name", "tpx-mk", "alpine", "sh", "-c",
                      "printf '#!/bin/sh\\nexec sleep 1000\\n' > /mypause; chmod 755 /mypause"))
        _ok(run_pyman("commit", "-q", "tpx-mk", "localhost/tpx-infra"))
        _ok(run_pyman("rm", "tpx-mk"))
        r = _ok(run_pyman("pod", "create", "--name", "tpx-i", "--infra-image",
                          "localhost/tpx-infra", "--infra-command", "/mypause",
                          "--infra-name", "tpx-i-infra"))
        infra = run_pyman("pod", "inspect", "--format", "{{.InfraContainerID}}", "tpx-i"
                          ).stdout.strip()
        assert run_pyman("container", "inspect", "--format", "{{.Config.Entrypoint}} "
                         "{{.Name}}", infra).stdout == "/mypause tpx-i-infra\n"
        _ok(run_pyman("pod", "start", "tpx-i"))
        assert "sleep 1000" in _ok(run_pyman("pod", "top", "tpx-i", "args")).stdout

        # a missing infra image: the pull's error, and no pod
        missing = "127.0.0.1:5000/no/such-infra:x"
        before = run_pyman("pod", "ps", "-q").stdout
        r = run_pyman("pod", "create", "--infra-image", missing)
        assert r.returncode == 125 and f"initializing source docker://{missing}" in r.stderr
        conf = tmp_path / "containers.conf"
        conf.write_text(f'[engine]\ninfra_image="{missing}"\n')
        env = dict(pyman_env, CONTAINERS_CONF=str(conf))
        r = run_pyman("pod", "create", env=env)
        assert r.returncode == 125 and f"initializing source docker://{missing}" in r.stderr
        r = run_pyman("create", "--pod", "new:tpx-new", "alpine", "true", env=env)
        assert r.returncode == 125 and f"initializing source docker://{missing}" in r.stderr
        assert run_pyman("pod", "ps", "-q").stdout == before

        # /dev/shm is the pod's: one member writes, the next one reads
        _ok(run_pyman("pod", "create", "--name", "tpx-shm"))
        _ok(run_pyman("run", "--rm", "--pod", "tpx-shm", "alpine", "sh", "-c",
                      "echo shared > /dev/shm/test1"))
        r = _ok(run_pyman("run", "--rm", "--pod", "tpx-shm", "alpine", "sh", "-c",
                          "cat /dev/shm/test1; stat -f -c %T /dev/shm; stat -c %a /dev/shm"))
        assert r.stdout == "shared\ntmpfs\n1777\n"
        # a pod without IPC shared keeps a /dev/shm per container
        _ok(run_pyman("pod", "create", "--name", "tpx-noipc", "--share", "net"))
        _ok(run_pyman("run", "--rm", "--pod", "tpx-noipc", "alpine", "touch", "/dev/shm/x"))
        r = run_pyman("run", "--rm", "--pod", "tpx-noipc", "alpine", "ls", "/dev/shm/x")
        assert r.returncode == 1
    finally:
        run_pyman("pod", "rm", "-f", "-a", "-t", "0")
        run_pyman("rm", "-f", "tpx-mk")
        run_pyman("rmi", "-f", "localhost/tpx-infra")


def test_pod_create_options_reach_members(run_pyman, tmp_path: Path) -> None:
    id_file = tmp_path / "pod-id"
    try:
        pod = _ok(run_pyman("pod", "create", "--name", "tpx-opts", f"--pod-id-file={id_file}",
                            "--hostname", "pod.example.net", "--add-host",
                            "some.where.xyz:172.20.1.2", "--dns", "172.20.9.9",
                            "--dns-search", "abc.example", "--dns-option", "ndots:3",
                            "--label", "k=v")).stdout.strip()
        assert id_file.read_text() == pod
        assert run_pyman("pod", "inspect", "--format", "{{(index .Containers 0).ID}}",
                         "tpx-opts").stdout.strip() == run_pyman(
            "pod", "inspect", "--format", "{{.InfraContainerID}}", "tpx-opts").stdout.strip()
        r = _ok(run_pyman("run", "--rm", "--pod", pod, "alpine", "sh", "-c",
                          "hostname; cat /etc/hosts /etc/resolv.conf"))
        lines = r.stdout.splitlines()
        assert lines[0] == "pod.example.net"
        assert "172.20.1.2\tsome.where.xyz" in lines
        assert any(ln.split("\t")[1].split()[0] == "pod.example.net" for ln in lines
                   if "\t" in ln)
        assert "nameserver 172.20.9.9" in lines and "search abc.example" in lines
        assert "options ndots:3" in lines
        assert run_pyman("pod", "ps", "--no-trunc", "--filter", "label=k=v", "--format",
                         "{{.ID}}").stdout == pod + "\n"
        assert run_pyman("pod", "ps", "-q", "--filter", "label=k=other").stdout == ""
        assert run_pyman("pod", "ps", "-q", "--filter", "name=^tpx-opts$", "--filter",
                         "ctr-number=1").stdout == pod[:12] + "\n"
        r = run_pyman("pod", "ps", "--filter", "bogus=1")
        assert (r.returncode, r.stderr) == (125, "Error: bogus is an invalid filter\n")
        r = run_pyman("run", "--rm", "--pod", "tpx-opts", "--hostname", "foobar", "alpine",
                      "hostname")
        assert r.returncode == 125 and r.stderr == (
            "Error: invalid config provided: cannot set hostname when joining the pod UTS "
            "namespace: invalid configuration\n")
        # --pod new: gives the pod the container's hostname
        r = _ok(run_pyman("run", "--rm", "--pod", "new:tpx-newh", "--hostname", "foobar",
                          "alpine", "hostname"))
        assert r.stdout == "foobar\n"
    finally:
        run_pyman("pod", "rm", "-f", "-a", "-t", "0")
