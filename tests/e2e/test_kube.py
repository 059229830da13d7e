"""kube generate / play / down end to end, as the unprivileged user: the YAML validates against
Kubernetes' own schemas (kubernetes-validate), a generated pod played back serves on its port
and generates the same YAML again, and bad files are refused whole with file, line and field."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from lifecycle_util import wait_for
from net_util import fetch, free_port

# busybox sh as pid 1 ignores SIGTERM unless it traps it: a server that stops at once
SERVE = ("echo {text} > /index.html; trap 'exit 0' TERM; httpd -f -p 80 -h / & "
         "while :; do sleep 0.2; done")
K8S = kubernetes_validate.utils.latest_version()


def documents(text: str) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    for d in docs:
        kubernetes_validate.validate(d, K8S, strict=True)  # raises on anything invalid
    return docs


def stable(text: str) -> list[dict[str, Any]]:
    """The YAML without what differs on every run (times, random node ports)."""
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    for d in docs:
        d["metadata"].pop("creationTimestamp", None)
        for p in d["spec"].get("ports", []):
            p.pop("nodePort", None)
    return docs


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_round_trip_pod_with_ports_volumes_and_security(run_pyman, tmp_path: Path) -> None:
    port = free_port()
    host_dir = tmp_path / "share"
    host_dir.mkdir()
    (host_dir / "note").write_text("from the host\n")
    assert run_pyman("pod", "create", "--name", "tk1", "-p", f"{port}:80").returncode == 0
    try:
        assert run_pyman("volume", "create", "tk1-data").returncode == 0
        r = run_pyman("run", "-d", "--pod", "tk1", "--name", "tk1-web", "-e", "GREETING=hi",
                      "-v", "tk1-data:/data", "-v", f"{host_dir}:/host:ro",
                      "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN",
                      "--security-opt", "no-new-privileges", "-w", "/data",
                      "alpine", "sh", "-c", SERVE.format(text="kube-web"))
        assert r.returncode == 0, r.stderr
        r = run_pyman("kube", "generate", "--service", "tk1")
        assert r.returncode == 0, r.stderr
        first = r.stdout
        service, pod = documents(first)
        assert service["kind"] == "Service" and service["spec"]["type"] == "NodePort"
        assert service["spec"]["ports"][0]["targetPort"] == 80
        assert pod["kind"] == "Pod" and pod["metadata"]["name"] == "tk1"
        spec = pod["spec"]
        assert spec["hostname"] == "tk1" and spec["restartPolicy"] == "Never"
        (c,) = spec["containers"]
        assert c["name"] == "web" and c["image"] == "docker.io/library/alpine:latest"
        assert c["command"][:2] == ["sh", "-c"]
        assert c["env"] == [{"name": "GREETING", "value": "hi"}]
        assert c["ports"] == [{"containerPort": 80, "hostPort": port}]
        assert c["workingDir"] == "/data"
        sec = c["securityContext"]
        assert sec["allowPrivilegeEscalation"] is False
        assert "CAP_NET_ADMIN" in sec["capabilities"]["add"]
        assert "CAP_CHOWN" in sec["capabilities"]["drop"]
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        assert mounts["/host"]["readOnly"] is True
        vols = {v["name"]: v for v in spec["volumes"]}
        assert vols[mounts["/data"]["name"]]["persistentVolumeClaim"] == {
            "claimName": "tk1-data"}
        assert vols[mounts["/host"]["name"]]["hostPath"]["path"] == str(host_dir)
        assert wait_for(lambda: fetch(port) == "kube-web\n", 10)

        # the same YAML played back: the pod serves on the same port again
        path = write(tmp_path, "tk1.yaml", first)
        assert run_pyman("pod", "rm", "-f", "tk1").returncode == 0
        assert fetch(port) is None
        r = run_pyman("kube", "play", path)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == "Pod:" and len(lines[1]) == 64 and lines[2] == "Container:"
        assert wait_for(lambda: fetch(port) == "kube-web\n", 10)
        doc = json.loads(run_pyman("inspect", "tk1-web").stdout)[0]
        assert doc["State"]["Running"] and "GREETING=hi" in doc["Config"]["Env"]
        r = run_pyman("exec", "tk1-web", "sh", "-c", "cat /host/note; ls -d /data; pwd")
        assert r.stdout.splitlines() == ["from the host", "/data", "/data"], r.stderr
        again = run_pyman("kube", "generate", "--service", "tk1").stdout
        documents(again)
        assert stable(again) == stable(first)

        # playing it twice is refused; down removes the pod, the claim's volume stays
        r = run_pyman("kube", "play", path)
        assert r.returncode == 125 and "already exists" in r.stderr
        old = json.loads(run_pyman("pod", "inspect", "tk1").stdout)["Id"]
        r = run_pyman("kube", "play", "--replace", path)
        assert r.returncode == 0, r.stderr
        assert json.loads(run_pyman("pod", "inspect", "tk1").stdout)["Id"] != old
        assert wait_for(lambda: fetch(port) == "kube-web\n", 10)
        r = run_pyman("kube", "down", path)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[0] == "Pods stopped:"
        assert run_pyman("pod", "exists", "tk1").returncode == 1
        assert fetch(port) is None
        assert run_pyman("volume", "exists", "tk1-data").returncode == 0
    finally:
        run_pyman("pod", "rm", "-f", "tk1")
        run_pyman("volume", "rm", "-f", "tk1-data")


def test_containers_outside_a_pod_and_user_and_read_only(run_pyman, tmp_path: Path) -> None:
    names = ("tk2-a", "tk2-b")
    try:
        for name in names:
            r = run_pyman("create", "--name", name, "-u", "1000:1000", "--read-only",
                          "--cap-drop", "ALL", "--cap-add", "KILL", "alpine", "sleep", "60")
            assert r.returncode == 0, r.stderr
        r = run_pyman("generate", "kube", *names)  # Podman's older spelling
        assert r.returncode == 0, r.stderr
        (pod,) = documents(r.stdout)
        assert pod["metadata"]["name"] == "tk2-a-pod"
        assert [c["name"] for c in pod["spec"]["containers"]] == list(names)
        sec = pod["spec"]["containers"][0]["securityContext"]
        assert sec["runAsUser"] == 1000 and sec["runAsGroup"] == 1000
        assert sec["readOnlyRootFilesystem"] is True
        # KILL is in Kubernetes' default set: nothing to add, the rest of that set dropped
        assert "add" not in sec["capabilities"]
        assert "CAP_CHOWN" in sec["capabilities"]["drop"]
        assert "CAP_KILL" not in sec["capabilities"]["drop"]

        path = write(tmp_path, "tk2.yaml", r.stdout)
        r = run_pyman("kube", "play", "--no-start", path)
        assert r.returncode == 0, r.stderr
        assert "Containers:" in r.stdout
        doc = json.loads(run_pyman("inspect", "tk2-a-pod-tk2-a").stdout)[0]
        assert doc["State"]["Status"] == "created"
        assert doc["Config"]["User"] == "1000:1000"
        assert doc["HostConfig"]["ReadonlyRootfs"] is True
        r = run_pyman("kube", "generate", "tk2-a-pod")
        (back,) = documents(r.stdout)
        assert back["spec"]["containers"][0]["securityContext"] == sec
        r = run_pyman("kube", "play", "--down", path)
        assert r.returncode == 0, r.stderr
        assert run_pyman("pod", "exists", "tk2-a-pod").returncode == 1
    finally:
        run_pyman("pod", "rm", "-f", "tk2-a-pod")
        run_pyman("rm", "-f", *names)


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: tk3
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: tk3
  template:
    metadata:
      labels:
        app: tk3
    spec:
      containers:
      - name: main
        image: alpine
        command: ["sh", "-c"]
        args: ["echo from-deployment; trap 'exit 0' TERM; while :; do sleep 0.2; done"]
        env:
        - name: N
          value: "1"
      - name: side
        image: alpine
        args: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
"""


def test_deployment_plays_as_one_pod_from_stdin(run_pyman) -> None:
    text = DEPLOYMENT.format(replicas=1)
    kubernetes_validate.validate(yaml.safe_load(text), K8S, strict=True)
    try:
        r = run_pyman("kube", "play", "-", input=text)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[2] == "Containers:"
        assert wait_for(lambda: "from-deployment" in run_pyman("logs", "tk3-pod-main").stdout,
                        10)
        r = run_pyman("exec", "tk3-pod-main", "sh", "-c", "echo $N; hostname")
        assert r.stdout.split() == ["1", "tk3-pod"], r.stderr
        doc = json.loads(run_pyman("pod", "inspect", "tk3-pod").stdout)
        assert doc["State"] == "Running" and doc["NumContainers"] == 3
        # Kubernetes' default restartPolicy (Always) is the containers' restart policy
        doc = json.loads(run_pyman("inspect", "tk3-pod-side").stdout)[0]
        assert doc["HostConfig"]["RestartPolicy"]["Name"] == "always"
        r = run_pyman("kube", "generate", "tk3-pod")
        assert documents(r.stdout)[0]["spec"]["restartPolicy"] == "Always"
    finally:
        run_pyman("pod", "rm", "-f", "tk3-pod")


BAD_FILES = [
    # (file text, line, words in the message)
    ("apiVersion: v1\nkind: Job\nmetadata:\n  name: x\n", 2, ["kind", "unsupported kind 'Job'"]),
    ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: tk4\nspec:\n  containers:\n"
     "  - name: a\n    image: alpine\n    ports:\n    - containerPort: web\n", 10,
     ["spec.containers[0].ports[0].containerPort", "must be an integer"]),
    ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: tk4\nspec:\n  containers:\n"
     "  - name: a\n    image: alpine\n    volumeMounts:\n    - name: nope\n"
     "      mountPath: /x\n", 10, ["spec.containers[0].volumeMounts[0].name", "no volume"]),
    ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: tk4\nspec:\n  containers:\n"
     "  - image: alpine\n", 7, ["spec.containers[0].name", "required"]),
    (DEPLOYMENT.format(replicas=3), 6, ["spec.replicas", "3 replicas"]),
    ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: tk4\nspec:\n  containers: [\n", 7,
     ["not valid YAML"]),
]


@pytest.mark.parametrize("text,line,words", BAD_FILES)
def test_bad_files_are_refused_whole(run_pyman, fresh_env, tmp_path: Path, text: str,
                                     line: int, words: list[str]) -> None:
    # a good PersistentVolumeClaim and pod first: nothing of them may be made either
    good = ("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: tk4-claim\n---\n"
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: tk4-good\nspec:\n  containers:\n"
            "  - name: a\n    image: alpine\n---\n")
    path = write(tmp_path, "bad.yaml", good + text)
    r = run_pyman("kube", "play", path, env=fresh_env)
    assert r.returncode == 125
    (msg,) = r.stderr.strip().splitlines()
    assert msg.startswith(f"Error: {path}:{line + good.count(chr(10))}:"), msg
    for w in words:
        assert w in msg, msg
    assert run_pyman("pod", "ps", "-q", env=fresh_env).stdout == ""
    assert run_pyman("volume", "ls", "-q", env=fresh_env).stdout == ""
    assert run_pyman("ps", "-aq", env=fresh_env).stdout == ""


def test_failure_midway_removes_what_the_play_made(run_pyman, fresh_env, tmp_path: Path
                                                   ) -> None:
    missing = tmp_path / "not-there"
    text = ("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: tk5-claim\n---\n"
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: tk5a\nspec:\n  containers:\n"
            "  - name: a\n    image: alpine\n---\n"
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: tk5b\nspec:\n  containers:\n"
            "  - name: a\n    image: alpine\n    volumeMounts:\n    - name: h\n"
            "      mountPath: /h\n  volumes:\n  - name: h\n    hostPath:\n"
            f"      path: {missing}\n")
    r = run_pyman("kube", "play", write(tmp_path, "t.yaml", text), env=fresh_env)
    assert r.returncode == 125 and str(missing) in r.stderr, r.stderr
    assert run_pyman("pod", "ps", "-q", env=fresh_env).stdout == ""
    assert run_pyman("volume", "ls", "-q", env=fresh_env).stdout == ""
    assert run_pyman("ps", "-aq", env=fresh_env).stdout == ""
    assert not os.path.exists(missing)


def test_generate_errors(run_pyman, tmp_path: Path) -> None:
    r = run_pyman("kube", "generate", "tk6-nothing")
    assert r.returncode == 125 and "no such pod or container" in r.stderr
    assert run_pyman("pod", "create", "--name", "tk6").returncode == 0
    try:
        r = run_pyman("kube", "generate", "tk6")
        assert r.returncode == 125 and "only has an infra container" in r.stderr
        out = tmp_path / "exists.yaml"
        out.write_text("keep me\n")
        assert run_pyman("create", "--name", "tk6-c", "alpine", "true").returncode == 0
        r = run_pyman("kube", "generate", "-f", str(out), "tk6-c")
        assert r.returncode == 125 and "file exists" in r.stderr
        assert out.read_text() == "keep me\n"
    finally:
        run_pyman("rm", "-f", "tk6-c")
        run_pyman("pod", "rm", "-f", "tk6")
