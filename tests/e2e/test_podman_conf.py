"""Podman's own config files steer pyman: containers.conf (network command, helper dirs,
capabilities, env, ulimits) and storage.conf (store roots, the vfs driver). Every file is the
test's own (XDG_CONFIG_HOME, CONTAINERS_CONF, CONTAINERS_STORAGE_CONF): nothing in /etc."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path

ALPINE = "127.0.0.1:5000/library/alpine:latest"
LAYERS = "127.0.0.1:5000/pyman-test/layers:latest"
# what pyman needs besides a network helper (runc, the id mappers, the rootfs and init)
NEEDED = ("runc", "newuidmap", "newgidmap", "fuse-overlayfs", "catatonit", "cp")


def user_conf(env: dict[str, str], text: str) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "containers" / "containers.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def storage_conf(env: dict[str, str], text: str) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "containers" / "storage.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_default_rootless_network_cmd_picks_slirp4netns(run_pyman, fresh_env) -> None:
    conf = user_conf(fresh_env, '[network]\ndefault_rootless_network_cmd = "slirp4netns"\n')
    info = json.loads(run_pyman("info", "--format", "json", env=fresh_env).stdout)
    assert info["host"]["rootlessNetworkCmd"] == "slirp4netns"
    assert info["host"]["network"] == {
        "default": "slirp4netns", "reason": f"default_rootless_network_cmd in {conf}"}
    assert str(conf) in info["host"]["containersConf"]
    r = run_pyman("run", "--name", "conf-net", ALPINE, "cat", "/proc/net/dev", env=fresh_env)
    assert r.returncode == 0, r.stderr
    assert "tap0:" in r.stdout  # slirp4netns' device (pasta copies the host's name)
    mode = run_pyman("inspect", "--format", "{{.HostConfig.NetworkMode}}", "conf-net",
                     env=fresh_env)
    assert mode.stdout.strip() == "slirp4netns", mode.stderr
    yaml = run_pyman("info", env=fresh_env).stdout
    assert f"reason: default_rootless_network_cmd in {conf}" in yaml


def test_missing_network_helper_is_one_clear_error(run_pyman, fresh_env, tmp_path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in NEEDED:
        found = shutil.which(name, path="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        assert found, f"{name} is not installed"
        (bindir / name).symlink_to(found)
    run_root = Path(fresh_env["XDG_DATA_HOME"]).parent / "run"  # removed with the store
    env = dict(fresh_env)
    env["PATH"] = f"{Path(env['PATH'].split(':')[0])}:{bindir}"  # pyman's venv, then bindir
    storage_conf(env, f'[storage]\nrunroot = "{run_root}"\n')
    user_conf(env, f'[engine]\nhelper_binaries_dir = ["{bindir}"]\n'
                   '[network]\ndefault_rootless_network_cmd = "slirp4netns"\n')
    assert run_pyman("pull", "-q", ALPINE, env=env).returncode == 0  # stderr: the error only
    r = run_pyman("run", "--name", "conf-nohelper", ALPINE, "true", env=env)
    assert r.returncode == 125
    assert r.stderr.startswith("Error: slirp4netns not found: install it"), r.stderr
    assert r.stderr.count("\n") == 1 and str(bindir) in r.stderr
    assert run_pyman("ps", "-a", "-q", env=env).stdout == ""
    leftovers = [d for d in (run_root / "pyman" / "containers").glob("*")
                 if d.is_dir()] if (run_root / "pyman" / "containers").exists() else []
    assert leftovers == []
    mine = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(run_root).encode() in cmdline:
            mine.append(pid)
    assert mine == []
    # --network pasta is refused the same way (helper dir and PATH lack it too)
    r = run_pyman("run", "--network", "pasta", ALPINE, "true", env=env)
    assert r.returncode == 125 and r.stderr.startswith("Error: pasta not found: install it")


def test_default_capabilities_env_ulimits(run_pyman, fresh_env) -> None:
    user_conf(fresh_env, '[containers]\ndefault_capabilities = ["CHOWN", "NET_RAW"]\n'
                         'env = ["FROM_CONF=yes", "TERM=dumb"]\n'
                         'default_ulimits = ["nofile=321:654"]\n'
                         '[engine]\nnot_a_pyman_key = 1\n')
    r = run_pyman("run", "--rm", "--network", "none", "-e", "TERM=vt100", ALPINE, "sh", "-c",
                  "grep CapBnd /proc/self/status; echo FROM_CONF=$FROM_CONF; echo TERM=$TERM;"
                  " echo nofile=$(ulimit -n):$(ulimit -Hn)", env=fresh_env)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(None, 1) if "\t" in line else line.split("=", 1)
                 for line in r.stdout.splitlines())
    assert int(lines["CapBnd:"], 16) == (1 << 0) | (1 << 13)  # CAP_CHOWN, CAP_NET_RAW
    assert lines["FROM_CONF"] == "yes" and lines["TERM"] == "vt100"
    assert lines["nofile"] == "321:654"
    # --cap-add and --ulimit still win over the defaults
    r = run_pyman("run", "--rm", "--network", "none", "--cap-add", "KILL", "--ulimit",
                  "nofile=100:200", ALPINE, "sh", "-c",
                  "grep CapBnd /proc/self/status; ulimit -n", env=fresh_env)
    assert r.returncode == 0, r.stderr
    capbnd, nofile = r.stdout.split()[1:3]
    assert int(capbnd, 16) == (1 << 0) | (1 << 5) | (1 << 13) and nofile == "100"


def test_malformed_containers_conf_is_one_line(run_pyman, fresh_env, tmp_path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text('[containers]\nenv = ["A=1" "B=2"]\n')
    assert run_pyman("pull", "-q", ALPINE, env=fresh_env).returncode == 0
    env = dict(fresh_env, CONTAINERS_CONF=str(bad))
    r = run_pyman("run", "--rm", "--network", "none", ALPINE, "true", env=env)
    assert r.returncode == 125
    assert r.stderr.startswith(f"Error: {bad}: invalid TOML: ") and "(at line 2, " in r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert run_pyman("ps", "-a", "-q", env=env).stdout == ""


def test_rootless_storage_path_and_vfs(run_pyman, fresh_env, tmp_path) -> None:
    graph = Path(fresh_env["XDG_DATA_HOME"]).parent / "graph"  # removed with the store
    conf = storage_conf(fresh_env, f'[storage]\ndriver = "vfs"\n'
                                   f'rootless_storage_path = "{graph}"\n')
    r = run_pyman("run", "--name", "conf-vfs", "--network", "none", LAYERS, "sh", "-c",
                  "ls /data /opaque; echo written > /data/new", env=fresh_env)
    assert r.returncode == 0, r.stderr
    listed = r.stdout.split()
    # the layers merged as overlay would: whiteouts and opaque dirs applied, none left
    assert "keep.txt" in listed and "gone.txt" not in listed
    assert "new.txt" in listed and "old.txt" not in listed
    images = json.loads((graph / "pyman" / "images.json").read_text())
    assert images, "the image is stored under rootless_storage_path"
    assert not (Path(fresh_env["XDG_DATA_HOME"]) / "pyman" / "images.json").exists()
    info = json.loads(run_pyman("info", "--format", "json", env=fresh_env).stdout)["store"]
    assert (info["graphRoot"], info["graphDriverName"], info["configFile"]) == (
        str(graph / "pyman"), "vfs", str(conf))
    driver = run_pyman("inspect", "--format", "{{.GraphDriver.Name}}", "conf-vfs",
                       env=fresh_env)
    assert driver.stdout.strip() == "vfs"
    cid = run_pyman("inspect", "--format", "{{.Id}}", "conf-vfs", env=fresh_env).stdout.strip()
    assert (graph / "pyman" / "containers" / cid / "rootfs" / "data").is_dir()
    # the copy is the container's: a restart keeps what it wrote, export shows it
    again = run_pyman("start", "-a", "conf-vfs", env=fresh_env)
    assert again.returncode == 0, again.stderr
    out = tmp_path / "vfs.tar"
    assert run_pyman("export", "-o", str(out), "conf-vfs", env=fresh_env).returncode == 0
    with tarfile.open(out) as tf:
        names = set(tf.getnames())
        assert "data/new" in names and "data/gone.txt" not in names
        assert not [m for m in tf.getmembers() if m.ischr() and m.devmajor == 0]
    assert run_pyman("rm", "conf-vfs", env=fresh_env).returncode == 0
    assert not (graph / "pyman" / "containers" / cid).exists()


KUBE_CAPS = """apiVersion: v1
kind: Pod
metadata:
  name: conf-kube
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: 127.0.0.1:5000/library/alpine:latest
    command: ["grep", "CapBnd", "/proc/self/status"]
    securityContext:
      capabilities:
        add: ["SYS_TIME"]
        drop: ["MKNOD", "NET_RAW", "AUDIT_WRITE"]
"""


def test_kube_play_capabilities_whatever_the_default_set(run_pyman, fresh_env, tmp_path) -> None:
    """Kubernetes' add/drop are against the OCI set: with containers.conf's own default set
    the container still gets exactly OCI + add - drop."""
    user_conf(fresh_env, '[containers]\ndefault_capabilities = ["CHOWN", "SYS_ADMIN"]\n')
    pod = tmp_path / "pod.yaml"
    pod.write_text(KUBE_CAPS)
    r = run_pyman("kube", "play", str(pod), env=fresh_env)
    assert r.returncode == 0, r.stderr
    r = run_pyman("wait", "conf-kube-main", env=fresh_env)
    assert r.stdout.strip() == "0", r.stderr
    bits = int(run_pyman("logs", "conf-kube-main", env=fresh_env).stdout.split()[1], 16)
    # OCI default: AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE
    # NET_RAW SETFCAP SETGID SETPCAP SETUID SYS_CHROOT; + SYS_TIME - MKNOD NET_RAW AUDIT_WRITE
    want = {0, 1, 3, 4, 5, 10, 31, 6, 8, 7, 18, 25}
    assert bits == sum(1 << n for n in want)
    run_pyman("pod", "rm", "-f", "conf-kube", env=fresh_env)
