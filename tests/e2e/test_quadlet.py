"""Quadlet end to end, as the unprivileged user: the generator's units pass
`systemd-analyze verify --user`; a bad file is one line naming file and line; generated
.container, .volume and .pod units PLAYED as systemd would run them (no systemd runs here),
with a real NOTIFY_SOCKET; the pod flags the .pod units use."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from lifecycle_util import wait_for
from notify_util import NotifyListener, alive

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


def test_system_units_pass_systemd_analyze_verify(tmp_path: Path, pyman_bin: Path,
                                                   pyman_env: dict[str, str]) -> None:
    """Without --user (a rootful generator): the units want network-online.target, which
    the system manager has, and verify as system units."""
    src, out = tmp_path / "src", tmp_path / "out"
    write_files(src, FILES)
    gen = pyman_bin.parent / "pyman-quadlet"
    r = subprocess.run([str(gen), str(out)], env={**pyman_env, "QUADLET_UNIT_DIRS": str(src)},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    units = sorted(str(p) for p in out.glob("*.service"))
    assert "Wants=network-online.target\n" in (out / "web.service").read_text()
    v = subprocess.run(["systemd-analyze", "verify", *units], env=pyman_env, cwd=out,
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
    d = subprocess.run([str(pyman_bin), "quadlet", "--dryrun"],  # --user: not root
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


# ---------------------------------------------------------------- playing a unit as systemd


def unit_keys(unit: Path) -> dict[str, list[str]]:
    """[Unit] and [Service] keys with every value, in order (read here, not by the code
    under test)."""
    out: dict[str, list[str]] = {}
    section = ""
    for line in unit.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#") and section in ("Unit", "Service"):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def unit_env(keys: dict[str, list[str]], unit: str, runtime: str,
             base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    for assignment in keys.get("Environment", []):
        key, _, value = assignment.partition("=")
        env[key] = expand(value, unit, runtime)
    return env


def expand(word: str, unit_name: str, runtime: str) -> str:
    base = unit_name.rsplit(".", 1)[0]
    return (word.replace("%%", "\0").replace("%t", runtime).replace("%N", base)
            .replace("%n", unit_name).replace("\0", "%"))


def command(line: str, unit_name: str, runtime: str) -> tuple[list[str], bool]:
    ignore = line.startswith("-")
    return [expand(w, unit_name, runtime) for w in shlex.split(line.lstrip("-"))], ignore


def play(lines: list[str], unit: str, runtime: str, env: dict[str, str]) -> list[int]:
    codes = []
    for line in lines:
        argv, ignore = command(line, unit, runtime)
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        assert ignore or r.returncode == 0, (argv, r.stdout, r.stderr)
        codes.append(r.returncode)
    return codes


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


def test_play_a_pod_unit(tmp_path: Path, pyman_bin: Path, fresh_env: dict[str, str]) -> None:
    """The .pod unit as systemd runs it: ExecStartPre (pod create), ExecStart (pod start),
    then the PIDFile names the infra's monitor (Type=forking); stop and post-stop leave
    nothing, and doing it all twice works (--replace, --ignore)."""
    src, out = tmp_path / "src", tmp_path / "out"
    write_files(src, {"app.pod": "[Pod]\nPodName=qlet-papp\nNetwork=none\nLabel=t=qlet\n"})
    assert generate(pyman_bin, fresh_env, src, out).returncode == 0
    runtime = str(private_dir(tmp_path / "run"))
    fresh_env["XDG_RUNTIME_DIR"] = runtime
    keys = unit_keys(out / "app-pod.service")
    assert keys["Type"] == ["forking"] and keys["PIDFile"] == ["%t/%N.pid"]
    env = unit_env(keys, "app-pod.service", runtime, fresh_env)
    pidfile = Path(expand(keys["PIDFile"][0], "app-pod.service", runtime))
    for _ in range(2):
        play(keys["ExecStartPre"] + keys["ExecStart"], "app-pod.service", runtime, env)
        monitor = int(pidfile.read_text())
        assert alive(monitor)
        ps = subprocess.run([str(pyman_bin), "pod", "ps", "--format",
                             "{{.Name}} {{.Status}} {{.Labels}}"], env=fresh_env,
                            capture_output=True, text=True, timeout=60)
        assert ps.stdout.split()[:2] == ["qlet-papp", "Running"], ps.stderr
        play(keys["ExecStop"] + keys["ExecStopPost"], "app-pod.service", runtime, env)
        assert wait_for(lambda m=monitor: not alive(m), 30)  # type: ignore[misc]
        ps = subprocess.run([str(pyman_bin), "pod", "ps", "-q"], env=fresh_env,
                            capture_output=True, text=True, timeout=60)
        assert ps.stdout == "" and ps.returncode == 0
        left = subprocess.run([str(pyman_bin), "ps", "-aq"], env=fresh_env,
                              capture_output=True, text=True, timeout=60)
        assert left.stdout == ""
        pidfile.unlink()  # systemd removes the PID file once the service has stopped
    # stopping what is not there (a second stop, a failed start) is no error
    assert play(keys["ExecStop"] + keys["ExecStopPost"], "app-pod.service", runtime,
                env) == [0, 0]


def test_play_a_container_unit_with_a_real_notify_socket(tmp_path: Path, pyman_bin: Path,
                                                         fresh_env: dict[str, str]) -> None:
    """The .container unit (and the .volume it requires) as systemd runs them: ExecStart
    with $NOTIFY_SOCKET bound by the test (READY=1 and a MAINPID: the monitor), the
    container running as the file says; ExecStop + ExecStopPost leave no container, no
    monitor, no cidfile; and the unit starts again (a restart), then stops twice."""
    src, out = tmp_path / "src", tmp_path / "out"
    write_files(src, {k: v for k, v in FILES.items() if k in ("web.container", "cache.volume")})
    assert generate(pyman_bin, fresh_env, src, out).returncode == 0
    runtime = str(private_dir(tmp_path / "run"))
    fresh_env["XDG_RUNTIME_DIR"] = runtime  # the user manager's %t, and pyman's runtime dir
    vol, web = unit_keys(out / "cache-volume.service"), unit_keys(out / "web.service")
    assert "cache-volume.service" in web["Requires"] and web["Type"] == ["notify"]
    assert web["NotifyAccess"] == ["all"] and web["KillMode"] == ["mixed"]
    play(vol["ExecStart"], "cache-volume.service", runtime,
         unit_env(vol, "cache-volume.service", runtime, fresh_env))
    env = unit_env(web, "web.service", runtime, fresh_env)
    assert env["PODMAN_SYSTEMD_UNIT"] == "web.service"
    cidfile = Path(runtime, "web.cid")

    def pyman(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(pyman_bin), *args], env=fresh_env, capture_output=True,
                              text=True, timeout=60)

    for _ in range(2):
        listener = NotifyListener()
        monitor = 0
        try:
            play(web.get("ExecStartPre", []) + web["ExecStart"], "web.service", runtime,
                 listener.env(env))
            assert listener.wait_for("READY", 30) == "1"
            mainpid = listener.wait_for("MAINPID", 30)
            assert mainpid is not None
            monitor = int(mainpid)
            # a detached monitor re-execs into its lean waiter: mid-exec its cmdline reads ""
            assert alive(monitor) and wait_for(
                lambda m=monitor: "monitor" in Path(f"/proc/{m}/cmdline").read_text(), 5)
            cid = cidfile.read_text().strip()
            insp = pyman("inspect", "--format", "{{.State.Status}} {{.Name}} "
                         "{{range .Mounts}}{{.Name}}{{end}} {{.State.ConmonPid}}", cid)
            assert insp.stdout.split() == ["running", "qlet-web", "qlet-cache",
                                           str(monitor)], insp.stderr
            ex = pyman("exec", cid, "sh", "-c", "echo $GREETING")
            assert ex.stdout == "hello there\n", ex.stderr
        finally:
            listener.close()
            # systemctl stop: ExecStop, then every ExecStopPost (these also run when the
            # start failed or the monitor died, so the test plays them whatever happened)
            if monitor:
                play(web["ExecStop"], "web.service", runtime, env)
            play(web["ExecStopPost"], "web.service", runtime, env)
        assert wait_for(lambda m=monitor: not alive(m), 30)  # type: ignore[misc]
        ps = pyman("ps", "-a", "--format", "{{.Names}}")
        assert ps.returncode == 0 and "qlet-web" not in ps.stdout.split()
        assert not cidfile.exists()
    # stopping what is gone (a stop after a crash) is no error
    assert play(web["ExecStop"] + web["ExecStopPost"], "web.service", runtime,
                env) == [0, 0, 0]
    vols = pyman("volume", "ls", "-q")
    assert vols.stdout.split() == ["qlet-cache"]  # a named volume outlives its container


def test_play_a_pod_with_a_member_container(tmp_path: Path, pyman_bin: Path,
                                            fresh_env: dict[str, str]) -> None:
    """Pod=app.pod: the pod unit first (the member BindsTo= and comes After= it), then the
    member's unit joins the pod; stopping the member, then the pod, leaves nothing."""
    src, out = tmp_path / "src", tmp_path / "out"
    write_files(src, {"app.pod": "[Pod]\nPodName=qlet-mapp\nNetwork=none\n",
                      "member.container": "[Container]\nImage=alpine\nExec=sleep 1000\n"
                                          "Pod=app.pod\n"})
    assert generate(pyman_bin, fresh_env, src, out).returncode == 0
    runtime = str(private_dir(tmp_path / "run"))
    fresh_env["XDG_RUNTIME_DIR"] = runtime
    pod, member = unit_keys(out / "app-pod.service"), unit_keys(out / "member.service")
    assert pod["Wants"] == ["member.service"] and pod["Before"] == ["member.service"]
    assert member["BindsTo"] == ["app-pod.service"] and "app-pod.service" in member["After"]
    pod_env = unit_env(pod, "app-pod.service", runtime, fresh_env)
    member_env = unit_env(member, "member.service", runtime, fresh_env)

    def pyman(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(pyman_bin), *args], env=fresh_env, capture_output=True,
                              text=True, timeout=60)

    listener = NotifyListener()
    monitor = 0
    try:
        play(pod["ExecStartPre"] + pod["ExecStart"], "app-pod.service", runtime, pod_env)
        play(member["ExecStart"], "member.service", runtime, listener.env(member_env))
        assert listener.wait_for("READY", 30) == "1"
        monitor = int(listener.wait_for("MAINPID", 30) or 0)
        assert alive(monitor)
        insp = pyman("pod", "inspect", "--format",
                     "{{.Name}} {{.State}} {{.NumContainers}}", "qlet-mapp")
        assert insp.stdout.split() == ["qlet-mapp", "Running", "2"], insp.stderr
        names = pyman("pod", "inspect", "--format",
                      "{{range .Containers}}{{.Name}} {{end}}", "qlet-mapp")
        assert "systemd-member" in names.stdout.split(), (names.stdout, names.stderr)
    finally:
        listener.close()
        play(member["ExecStop"] + member["ExecStopPost"], "member.service", runtime,
             member_env)
        play(pod["ExecStop"] + pod["ExecStopPost"], "app-pod.service", runtime, pod_env)
    assert wait_for(lambda: not alive(monitor), 30)
    assert pyman("ps", "-aq").stdout == "" and pyman("pod", "ps", "-q").stdout == ""
