"""`pyman info`'s Podman fields read from the machine and the config files: the container
monitor in conmon's slot, registries.conf, the store's filesystem and space, memory, CPUs,
uptime; and YAML quoting as Go's writer does it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from lifecycle_util import NET

ALPINE = "127.0.0.1:5000/library/alpine:latest"


def _info(run_pyman, env) -> dict:
    r = run_pyman("info", "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_conmon_slot_names_the_monitor_that_runs_containers(run_pyman) -> None:
    """What Podman calls conmon is the program watching each container: info names pyman's
    monitor, and a running container's monitor (inspect's ConmonPid) runs exactly it."""
    r = run_pyman("run", "-d", *NET, "--name", "info-mon", ALPINE, "sleep", "60")
    assert r.returncode == 0, r.stderr
    try:
        mon = _info(run_pyman, None)["host"]["conmon"]
        assert mon["package"].startswith("pyman ")
        assert Path(mon["path"]).is_file() and mon["path"].endswith("monitor/__main__.py")
        assert "conmon's place" in mon["version"]
        pid = run_pyman("inspect", "--format", "{{.State.ConmonPid}}", "info-mon").stdout
        argv = Path(f"/proc/{int(pid)}/cmdline").read_bytes().split(b"\0")
        # the lean waiter is exec'd from the same package dir as the monitor itself
        assert any(a.decode().startswith(str(Path(mon["path"]).parent)) for a in argv), argv
        r = run_pyman("info", "--format", "{{.Host.Conmon.Path}}")
        assert r.stdout.strip() == mon["path"]
        r = run_pyman("info")
        assert re.search(r"\n  conmon:\n\s+package: pyman ", r.stdout), r.stdout
    finally:
        run_pyman("rm", "-f", "-t", "0", "info-mon")


def test_registries_section_from_registries_conf(run_pyman, fresh_env) -> None:
    conf = Path(fresh_env["XDG_CONFIG_HOME"]) / "containers" / "registries.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text('unqualified-search-registries = ["reg.example:5000", "docker.io"]\n'
                    '[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\n'
                    '[[registry.mirror]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n'
                    '[[registry]]\nlocation = "blocked.example"\nblocked = true\n')
    regs = _info(run_pyman, fresh_env)["registries"]
    assert list(regs) == ["blocked.example", "quay.io", "search"]  # sorted, as Go writes a map
    assert regs["search"] == ["reg.example:5000", "docker.io"]
    assert regs["quay.io"] == {
        "Blocked": False, "Insecure": False, "Location": "quay.io",
        "MirrorByDigestOnly": False, "Prefix": "quay.io", "PullFromMirror": "",
        "Mirrors": [{"Insecure": True, "Location": "127.0.0.1:5000", "PullFromMirror": ""}]}
    assert regs["blocked.example"]["Blocked"] is True
    assert regs["blocked.example"]["Mirrors"] is None
    # map keys stay as they are in templates (a struct's would be capitalised)
    r = run_pyman("info", "--format", "{{index .Registries \"quay.io\"}}|{{.Registries.search}}",
                  env=fresh_env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("|[reg.example:5000 docker.io]")
    assert "Location:quay.io" in r.stdout
    text = run_pyman("info", env=fresh_env).stdout
    assert "\nregistries:\n  blocked.example:\n    Blocked: true\n" in text
    # a colon alone needs no quotes; a list's dashes sit under its key, as Go writes them
    assert "\n    Mirrors:\n    - Insecure: true\n      Location: 127.0.0.1:5000\n" in text
    assert "\n  search:\n  - reg.example:5000\n  - docker.io\n" in text
    assert "\n    uidmap:\n    - container_id: 0\n      host_id: " in text


def test_store_and_host_facts(run_pyman, fresh_env) -> None:
    info = _info(run_pyman, fresh_env)
    store, host = info["store"], info["host"]
    st = os.statvfs(store["graphRoot"])
    assert store["graphRootAllocated"] == st.f_blocks * st.f_frsize
    status = store["graphStatus"]
    assert status["Native Overlay Diff"] == "true" and status["Using metacopy"] == "false"
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    kinds = {ln.split(" - ")[1].split()[0] for ln in mounts}
    names = {"extfs" if k.startswith("ext") else k for k in kinds}
    assert status["Backing Filesystem"] in names
    meminfo = dict(ln.split(":", 1) for ln in Path("/proc/meminfo").read_text().splitlines())
    assert host["memTotal"] == int(meminfo["MemTotal"].split()[0]) * 1024
    assert host["swapTotal"] == int(meminfo["SwapTotal"].split()[0]) * 1024
    assert host["cpus"] == os.cpu_count()
    assert re.fullmatch(r"\d+h \d+m \d+\.00s( \(Approximately \d+\.\d\d days\))?",
                        host["uptime"]), host["uptime"]
    r = run_pyman("info", "--format", "{{.Host.CPUs}} {{.Host.MemTotal}}", env=fresh_env)
    assert r.stdout.split() == [str(os.cpu_count()), str(host["memTotal"])]
    # Go's YAML quotes strings that would read back as booleans or numbers
    text = run_pyman("info", env=fresh_env).stdout
    assert '\n    Native Overlay Diff: "true"\n' in text
    version = host["distribution"]["version"]
    if re.fullmatch(r"[\d.]+", version):
        assert f'\n    version: "{version}"\n' in text
    # the vfs driver has no graphStatus, as in containers/storage
    conf = Path(fresh_env["XDG_CONFIG_HOME"]) / "containers" / "storage.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text('[storage]\ndriver = "vfs"\n')
    assert _info(run_pyman, fresh_env)["store"]["graphStatus"] == {}
    assert "\n  graphStatus: {}\n" in run_pyman("info", env=fresh_env).stdout
