"""Names of containers, pods and volumes: Podman's rule [a-zA-Z0-9][a-zA-Z0-9_.-]* on every
path that makes or renames one, with Podman's words and exit code, and nothing made when a
name is refused. generate systemd and Quadlet never write a bad name into a unit line, even
from a record an older pyman wrote."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ALPINE = "127.0.0.1:5000/library/alpine:latest"
RULE = "names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
# what -v reads as a volume name (".a" is a host path, "a:b" a destination)
AS_VOLUME = ["a\nb", "a\n", "-a", "a/b", "a b", "café", "é", "_a", "a\tb", "a\x1b"]
BAD = [*AS_VOLUME, ".a", "a:b"]


def _empty_store(run_pyman, env: dict[str, str]) -> None:
    assert run_pyman("ps", "-aq", env=env).stdout == ""
    assert run_pyman("pod", "ps", "-q", env=env).stdout == ""
    assert run_pyman("volume", "ls", "-q", env=env).stdout == ""


def _refused(r: subprocess.CompletedProcess[str], context: str) -> None:
    want = f"Error: {context}: {RULE}\n" if context else f"Error: {RULE}\n"
    assert (r.returncode, r.stdout, r.stderr) == (125, "", want)


def test_bad_names_are_refused_everywhere_and_nothing_is_made(run_pyman,
                                                             fresh_env: dict[str, str]) -> None:
    env = fresh_env
    for cmd in ("create", "run"):  # refused before the image is pulled
        _refused(run_pyman(cmd, "--name=a b", ALPINE, "true", env=env),
                 "running container create option")
    assert run_pyman("images", "-q", env=env).stdout == ""
    assert run_pyman("pull", "-q", ALPINE, env=env).returncode == 0
    for name in BAD:
        _refused(run_pyman("create", f"--name={name}", ALPINE, "true", env=env),
                 "running container create option")
        _refused(run_pyman("run", "--rm", f"--name={name}", ALPINE, "true", env=env),
                 "running container create option")
        _refused(run_pyman("pod", "create", f"--name={name}", env=env),
                 "running pod create option")
        _refused(run_pyman("pod", "create", f"--infra-name={name}", env=env),
                 "running container create option")
        _refused(run_pyman("volume", "create", "--", name, env=env),
                 "running volume create option")
        if name in AS_VOLUME:
            _refused(run_pyman("create", "-v", f"{name}:/data", ALPINE, "true", env=env),
                     f"creating named volume {json.dumps(name, ensure_ascii=False)}: "
                     "running volume create option")
    _empty_store(run_pyman, env)
    # rename: Podman's bare message, and the old name stays
    assert run_pyman("create", "--name=ok", ALPINE, "true", env=env).returncode == 0
    for name in BAD:
        _refused(run_pyman("rename", "--", "ok", name, env=env), "")
    r = run_pyman("ps", "-a", "--format", "{{.Names}}", env=env)
    assert r.stdout == "ok\n"


def test_names_podman_accepts_still_work(run_pyman, fresh_env: dict[str, str]) -> None:
    env = fresh_env
    assert run_pyman("pull", "-q", ALPINE, env=env).returncode == 0
    long = "a" * 300  # Podman 4.3 sets no length limit on container or pod names
    for name in ("a", "0", "A-b_c.d", long):
        r = run_pyman("create", f"--name={name}", ALPINE, "true", env=env)
        assert r.returncode == 0, r.stderr
    r = run_pyman("create", "--name=", ALPINE, "true", env=env)  # empty: a generated one
    assert r.returncode == 0, r.stderr
    assert run_pyman("pod", "create", f"--name=p{long}", env=env).returncode == 0
    r = run_pyman("volume", "create", "", env=env)  # empty: a generated one, as in Podman
    assert r.returncode == 0 and len(r.stdout.strip()) == 64, r.stderr
    assert run_pyman("volume", "rm", r.stdout.strip(), env=env).returncode == 0
    # a volume's name is a directory name: over 255 characters is refused clearly
    r = run_pyman("volume", "create", "v" * 256, env=env)
    assert r.returncode == 125 and "volume names are at most 255" in r.stderr, r.stderr
    assert run_pyman("volume", "create", "v" * 255, env=env).returncode == 0
    assert run_pyman("volume", "ls", "-q", env=env).stdout == "v" * 255 + "\n"


def _kube(path: Path, pod: str, container: str, claim: str) -> str:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod},
        "spec": {"containers": [{
            "name": container, "image": ALPINE, "command": ["true"],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}}))
    return str(path)


def test_kube_play_checks_every_name_before_making_anything(run_pyman, tmp_path: Path,
                                                            fresh_env: dict[str, str]) -> None:
    env = fresh_env
    # the file's own checks (DNS labels, Podman's rule for a claim): nothing made
    cases = [("p q", "c", "vol"), ("p\n", "c", "vol"), ("p", "c\n", "vol"),
             ("p", "c", "v/../../x"), ("p", "c", "-v"), ("p", "c", "v\n")]
    for pod, container, claim in cases:
        r = run_pyman("kube", "play", "--start=false", _kube(tmp_path / "k.yaml", pod,
                                                             container, claim), env=env)
        assert r.returncode == 125 and r.stderr.count("\n") == 1, r.stderr
        assert r.stderr.startswith(f"Error: {tmp_path}/k.yaml:1: "), r.stderr
        assert "is not a valid" in r.stderr or f"{claim!r}: {RULE}" in r.stderr, r.stderr
        _empty_store(run_pyman, env)
    # --replace with a bad name in the file removes nothing
    good = _kube(tmp_path / "good.yaml", "p", "c", "vol")
    assert run_pyman("kube", "play", "--start=false", good, env=env).returncode == 0
    bad = _kube(tmp_path / "bad.yaml", "p", "c", "v\nx")
    r = run_pyman("kube", "play", "--replace", "--start=false", bad, env=env)
    assert r.returncode == 125 and RULE in r.stderr
    assert run_pyman("pod", "ps", "--format", "{{.Name}}", env=env).stdout == "p\n"


def test_generate_systemd_refuses_a_bad_name_from_an_old_record(run_pyman,
                                                                fresh_env: dict[str, str]
                                                                ) -> None:
    env = fresh_env
    r = run_pyman("create", "--name=web", ALPINE, "true", env=env)
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    good = run_pyman("generate", "systemd", "--name", "--no-header", "web", env=env)
    assert good.returncode == 0 and "container-web.service" in good.stdout, good.stderr
    # what an older pyman let through: a newline in the name (edited in as it would be)
    cfg = Path(env["XDG_DATA_HOME"]) / "pyman" / "containers" / cid / "config.json"
    rec = json.loads(cfg.read_text())
    rec["name"] = "web\nExecStartPre=/bin/touch /tmp/pwned"
    cfg.write_text(json.dumps(rec))
    for args in (["--name"], [], ["--new", "--name"]):
        r = run_pyman("generate", "systemd", *args, cid, env=env)
        assert r.returncode == 125 and r.stdout == "", (args, r.stdout)
        assert r.stderr.startswith(f"Error: the container {cid[:12]} has the name "
                                   "'web\\nExecStartPre=/bin/touch /tmp/pwned', which pyman "
                                   "no longer accepts"), r.stderr
        assert r.stderr.count("\n") == 1 and f"pyman rename {cid[:12]} NEWNAME" in r.stderr
    # the way out the message gives works, and the unit is the same as before
    assert run_pyman("rename", cid, "web", env=env).returncode == 0
    again = run_pyman("generate", "systemd", "--name", "--no-header", "web", env=env)
    assert again.stdout == good.stdout


def test_quadlet_refuses_bad_name_keys(tmp_path: Path, pyman_bin: Path,
                                       pyman_env: dict[str, str]) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    files = {"ok.container": "[Container]\nImage=alpine\nContainerName=web-%i.x\n",
             "c.container": "[Container]\nImage=alpine\nContainerName=a b\n",
             "v.volume": "[Volume]\nVolumeName=../x\n",
             "p.pod": "[Pod]\nPodName=-p\n"}
    for name, text in files.items():
        (src / name).write_text(text)
    gen = pyman_bin.parent / "pyman-quadlet"
    r = subprocess.run([str(gen), "--user", str(out), str(out) + "-early", str(out) + "-late"],
                       env={**pyman_env, "QUADLET_UNIT_DIRS": str(src)},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert sorted(r.stderr.splitlines()) == sorted([
        f"pyman-quadlet: {src}/c.container:3: invalid ContainerName 'a b': {RULE}",
        f"pyman-quadlet: {src}/p.pod:2: invalid PodName '-p': {RULE}",
        f"pyman-quadlet: {src}/v.volume:2: invalid VolumeName '../x': {RULE}"])
    assert os.listdir(out) == ["ok.service"]
