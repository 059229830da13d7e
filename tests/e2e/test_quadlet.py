"""Quadlet end to end, as the unprivileged user: the generator's units pass
`systemd-analyze verify --user`; a bad file is one line naming file and line; the pod flags
the .pod units use (create --replace/--infra-name/--infra-conmon-pidfile, stop/rm --ignore)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

FILES = {
    "web.container": """\
[Unit]
Description=pyman quadlet e2e

[Container]
Image=alpine
ContainerName=qlet-web
Exec=sleep 1000
Environment=GREETING="hello there"
Volume=cache.volume:/cache
Network=none
Label=test=qlet

[Service]
TimeoutStartSec=60

[Install]
WantedBy=default.target
""",
    "cache.volume": "[Volume]\nVolumeName=qlet-cache\nLabel=test=qlet\n",
    "app.pod": "[Pod]\nPodName=qlet-app\n",
    "member.container": "[Container]\nImage=alpine\nExec=sleep 1000\nPod=app.pod\n",
}


def private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700)
    return path


def generate(pyman_bin: Path, env: dict[str, str], src: Path, out: Path
             ) -> subprocess.CompletedProcess[str]:
    gen = pyman_bin.parent / "pyman-quadlet"
    return subprocess.run([str(gen), "--user", str(out), str(out) + "-early",
                           str(out) + "-late"], env={**env, "QUADLET_UNIT_DIRS": str(src)},
                          capture_output=True, text=True, timeout=60)


def write_files(src: Path, files: dict[str, str]) -> None:
    src.mkdir()
    for name, text in files.items():
        (src / name).write_text(text)


def test_generated_units_pass_systemd_analyze_verify(tmp_path: Path, pyman_bin: Path,
                                                     pyman_env: dict[str, str]) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    write_files(src, FILES)
    r = generate(pyman_bin, pyman_env, src, out)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    units = sorted(p.name for p in out.glob("*.service"))
    assert units == ["app-pod.service", "cache-volume.service", "member.service",
                     "web.service"]
    assert os.readlink(out / "default.target.wants" / "web.service") == "../web.service"
    text = (out / "web.service").read_text()
    assert f"ExecStart={pyman_bin} run --name=qlet-web --cidfile=%t/%N.cid" in text
    # systemd-analyze needs a user runtime dir even to verify: a private one of our own
    env = {**pyman_env, "XDG_RUNTIME_DIR": str(private_dir(tmp_path / "run"))}
    v = subprocess.run(["systemd-analyze", "--user", "verify",
                        *(str(out / u) for u in units)], env=env, cwd=out,
                       capture_output=True, text=True, timeout=120)
    assert v.returncode == 0 and v.stderr == "" and v.stdout == "", (v.stdout, v.stderr)


def test_a_bad_file_is_reported_with_its_line_and_others_still_generate(
        tmp_path: Path, pyman_bin: Path, pyman_env: dict[str, str]) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    write_files(src, {"ok.container": "[Container]\nImage=alpine\n",
                      "bad.container": "[Container]\nImage=alpine\nTimezone=UTC\n"})
    r = generate(pyman_bin, pyman_env, src, out)
    assert r.returncode == 1
    assert r.stderr == f"pyman-quadlet: {src}/bad.container:3: unsupported key Timezone in " \
                       "[Container]\n"
    assert sorted(os.listdir(out)) == ["ok.service"]
    d = subprocess.run([str(pyman_bin), "quadlet", "--user", "--dryrun"],
                       env={**pyman_env, "QUADLET_UNIT_DIRS": str(src)},
                       capture_output=True, text=True, timeout=60)
    assert d.returncode == 1 and d.stdout.startswith("---ok.service---\n")
    assert "bad.container:3: unsupported key Timezone" in d.stderr


def test_a_volume_unit_makes_the_volume_owned_as_asked(tmp_path: Path, run_pyman,
                                                     pyman_bin: Path,
                                                     pyman_env: dict[str, str]) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    write_files(src, {"own.volume": "[Volume]\nVolumeName=qlet-own\nUser=7\nGroup=8\n"})
    assert generate(pyman_bin, pyman_env, src, out).returncode == 0
    start = [ln for ln in (out / "own-volume.service").read_text().splitlines()
             if ln.startswith("ExecStart=")]
    assert start == [f"ExecStart={pyman_bin} volume create --ignore --opt o=uid=7,gid=8 "
                     "qlet-own"]
    argv = start[0].removeprefix("ExecStart=").split()
    try:
        for _ in range(2):  # --ignore: a second start of the unit finds it there
            r = subprocess.run(argv, env=pyman_env, capture_output=True, text=True,
                               timeout=60)
            assert (r.returncode, r.stdout) == (0, "qlet-own\n"), r.stderr
        r = run_pyman("run", "--rm", "--network", "none", "-v", "qlet-own:/o", "alpine",
                      "stat", "-c", "%u %g", "/o")
        assert r.stdout == "7 8\n", r.stderr
    finally:
        run_pyman("volume", "rm", "qlet-own")
    bad = run_pyman("volume", "create", "--opt", "o=uid=bob", "qlet-bad")
    assert bad.returncode == 125 and bad.stderr == (
        'Error: cannot convert UID bob to integer: strconv.Atoi: parsing "bob": invalid '
        "syntax\n")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_pod_create_replace_infra_name_pidfile_and_ignore(tmp_path: Path, run_pyman,
                                                          pyman_env: dict[str, str]) -> None:
    pidfile = tmp_path / "app.pid"
    args = ("pod", "create", "--replace", "--infra-name", "qlet-app-infra",
            f"--infra-conmon-pidfile={pidfile}", "--name", "qlet-app")
    first = run_pyman(*args)
    assert first.returncode == 0, first.stderr
    try:
        second = run_pyman(*args)  # replaces the first
        assert second.returncode == 0 and second.stdout != first.stdout, second.stderr
        ids = run_pyman("pod", "ps", "-q", "--no-trunc").stdout.split()
        assert first.stdout.strip() not in ids and second.stdout.strip() in ids
        r = run_pyman("pod", "start", "qlet-app")
        assert r.returncode == 0, r.stderr
        pid = int(pidfile.read_text())
        infra = run_pyman("inspect", "--format", "{{.State.Status}} {{.Name}}",
                          "qlet-app-infra")
        assert infra.stdout.split() == ["running", "qlet-app-infra"], infra.stderr
        assert alive(pid) and "monitor" in Path(f"/proc/{pid}/cmdline").read_text()
    finally:
        run_pyman("pod", "rm", "-f", "qlet-app")
    for verb in (("stop", "--ignore"), ("rm", "--ignore", "--force")):
        r = run_pyman("pod", *verb, "qlet-app")
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    r = run_pyman("pod", "stop", "qlet-app")
    assert r.returncode != 0 and "no pod with name or ID qlet-app found" in r.stderr
