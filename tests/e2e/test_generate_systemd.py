"""pyman generate systemd, end to end: every unit passes `systemd-analyze verify --user`, and
since no systemd runs here each unit is PLAYED (unit_play.py): its Exec lines run in order
with a real notify socket, READY=1 and MAINPID (the monitor, alive) arrive or the PIDFile
names the monitor, ExecStop stops the container, ExecStopPost cleans up, and --new units
recreate their container cleanly when played twice. Pods: the pod unit and one per member."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lifecycle_util import NET
from notify_util import NotifyListener, alive
from unit_play import (
    Player,
    cleanup_dir,
    exec_argv,
    parse_unit,
    private_runtime_dir,
    run_reaped,
    verify,
)


@pytest.fixture
def runtime() -> Iterator[str]:
    path = private_runtime_dir()
    yield path
    cleanup_dir(path)


def pyman(pyman_bin: Path, env: dict[str, str], *args: str, cwd: Path | None = None
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(pyman_bin), *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=cwd, stdin=subprocess.DEVNULL)


def generate(pyman_bin: Path, env: dict[str, str], where: Path, *args: str) -> list[Path]:
    where.mkdir(exist_ok=True)
    r = pyman(pyman_bin, env, "generate", "systemd", "--files", *args, cwd=where)
    assert r.returncode == 0, r.stderr
    paths = [Path(p) for p in r.stdout.split()]
    assert all(p.parent == where and p.is_file() for p in paths), r.stdout
    return paths


def state(pyman_bin: Path, env: dict[str, str], name: str) -> tuple[str, int, str]:
    r = pyman(pyman_bin, env, "inspect", "--format",
              "{{.State.Status}} {{.State.ConmonPid}} {{.Id}}", name)
    if r.returncode != 0:
        return "gone", 0, ""
    status, pid, cid = r.stdout.split()
    return status, int(pid), cid


def test_container_unit_verify_and_play(tmp_path: Path, pyman_bin: Path,
                                        pyman_env: dict[str, str], runtime: str) -> None:
    env = {**pyman_env, "XDG_RUNTIME_DIR": runtime}  # the user session the unit runs in
    r = pyman(pyman_bin, env, "create", *NET, "--name", "sdg-plain", "--stop-timeout", "3",
              "--init", "alpine", "sleep", "600")
    assert r.returncode == 0, r.stderr
    try:
        [path] = generate(pyman_bin, env, tmp_path / "units", "--name", "sdg-plain")
        assert path.name == "container-sdg-plain.service"
        unit = parse_unit(path)
        assert unit.one("Service", "Type") == "forking"
        assert unit.one("Service", "TimeoutStopSec") == "63"
        assert unit.one("Service", "ExecStart") == f"{pyman_bin} start sdg-plain"
        verify([path], env, runtime)
        for _ in range(2):  # a restart of the service starts the same container again
            player = Player(path, pyman_env, runtime)
            main = player.start()
            status, monitor, _ = state(pyman_bin, env, "sdg-plain")
            assert (status, monitor) == ("running", main) and alive(main)
            player.stop()
            assert state(pyman_bin, env, "sdg-plain")[0] == "exited"
            assert not alive(main)
    finally:
        pyman(pyman_bin, env, "rm", "-f", "sdg-plain")


def test_new_container_unit_recreates_it(tmp_path: Path, pyman_bin: Path,
                                         pyman_env: dict[str, str], runtime: str) -> None:
    env = {**pyman_env, "XDG_RUNTIME_DIR": runtime}
    # words systemd would otherwise split, expand or take as specifiers
    r = pyman(pyman_bin, env, "create", *NET, "--name", "sdg-new", "-e", "MSG=a \"b\" $HOME",
              "--init", "alpine", "sh", "-c", 'echo "$MSG 100%"; exec sleep 600')
    assert r.returncode == 0, r.stderr
    original = r.stdout.strip()
    try:
        [path] = generate(pyman_bin, env, tmp_path / "units", "--new", "--name", "sdg-new")
        unit = parse_unit(path)
        assert (unit.one("Service", "Type"), unit.one("Service", "NotifyAccess")) == (
            "notify", "all")
        assert unit.all("Service", "PIDFile") == []
        verify([path], env, runtime)
        cidfile = Path(runtime) / "container-sdg-new.service.ctr-id"
        ids = [original]
        for _ in range(2):
            player = Player(path, pyman_env, runtime)
            main = player.start()
            status, monitor, cid = state(pyman_bin, env, "sdg-new")
            assert (status, monitor) == ("running", main) and alive(main)
            assert cid not in ids and cidfile.read_text() == cid  # a new container each time
            ids.append(cid)
            logs = pyman(pyman_bin, env, "logs", "sdg-new").stdout
            assert logs == 'a "b" $HOME 100%\n'
            player.stop()
            assert state(pyman_bin, env, "sdg-new")[0] == "gone"  # --rm, then rm -f
            assert not alive(main)
    finally:
        pyman(pyman_bin, env, "rm", "-f", "sdg-new")


@pytest.mark.parametrize("code", [3, 0])
def test_the_main_process_exits_with_the_containers_status(
        tmp_path: Path, pyman_bin: Path, pyman_env: dict[str, str], runtime: str,
        code: int) -> None:
    """The monitor (MAINPID) ends with the container's exit status, as conmon does, so
    Restart=on-failure restarts a failed container and leaves a finished one alone."""
    env = {**pyman_env, "XDG_RUNTIME_DIR": runtime}
    r = pyman(pyman_bin, env, "create", *NET, "--name", "sdg-exit", "alpine", "sh", "-c",
              f"exit {code}")
    assert r.returncode == 0, r.stderr
    try:
        [path] = generate(pyman_bin, env, tmp_path / "units", "--new", "--name", "sdg-exit")
        player = Player(path, pyman_env, runtime)
        player.notify = NotifyListener()
        player.env["NOTIFY_SOCKET"] = player.notify.address
        player._run("ExecStartPre")
        rc, codes = run_reaped(exec_argv(player.unit.one("Service", "ExecStart"),
                                         player.unit, runtime), player.env)
        assert rc == 0
        assert player.notify.wait_for("READY") == "1"
        main = int(player.notify.value("MAINPID") or 0)
        assert codes[main] == code, codes
        player.stop()
    finally:
        pyman(pyman_bin, env, "rm", "-f", "sdg-exit")


def test_pod_units_verify_and_play(tmp_path: Path, pyman_bin: Path,
                                   pyman_env: dict[str, str], runtime: str) -> None:
    env = {**pyman_env, "XDG_RUNTIME_DIR": runtime}
    r = pyman(pyman_bin, env, "pod", "create", "--name", "sdg-pod")
    assert r.returncode == 0, r.stderr
    try:
        for member in ("sdg-m1", "sdg-m2"):
            r = pyman(pyman_bin, env, "create", "--pod", "sdg-pod", "--name", member,
                      "--init", "alpine", "sleep", "600")
            assert r.returncode == 0, r.stderr
        for new in (False, True):
            where = tmp_path / ("new" if new else "plain")
            paths = generate(pyman_bin, env, where, "--name", *(["--new"] if new else []),
                             "sdg-pod")
            assert [p.name for p in paths] == ["pod-sdg-pod.service",
                                               "container-sdg-m2.service",
                                               "container-sdg-m1.service"]
            pod_unit = parse_unit(paths[0])
            members = "container-sdg-m1.service container-sdg-m2.service"
            assert pod_unit.all("Unit", "Wants")[-1] == members
            assert pod_unit.one("Unit", "Before") == members
            for p in paths[1:]:
                m = parse_unit(p)
                assert m.one("Unit", "BindsTo") == "pod-sdg-pod.service"
                assert "pod-sdg-pod.service" in m.all("Unit", "After")
            verify(paths, env, runtime)
            if new:  # the units make the pod and its members themselves
                assert pyman(pyman_bin, env, "pod", "rm", "-f", "sdg-pod").returncode == 0
            for _ in range(2 if new else 1):
                # systemd's order: the pod first (Before=), its members stopped first
                players = [Player(p, pyman_env, runtime) for p in paths]
                mains = [pl.start() for pl in players]
                pod = json.loads(pyman(pyman_bin, env, "pod", "inspect", "sdg-pod").stdout)
                assert pod["State"] == "Running"
                for name, main in zip(("sdg-m2", "sdg-m1"), mains[1:], strict=True):
                    status, monitor, _ = state(pyman_bin, env, name)
                    assert (status, monitor) == ("running", main) and alive(main)
                infra = state(pyman_bin, env, pod["InfraContainerID"])
                assert infra[:2] == ("running", mains[0])
                for pl in reversed(players):
                    pl.stop()
                assert not any(alive(m) for m in mains)
                if new:
                    assert pyman(pyman_bin, env, "pod", "exists", "sdg-pod").returncode == 1
                    assert state(pyman_bin, env, "sdg-m1")[0] == "gone"
    finally:
        pyman(pyman_bin, env, "pod", "rm", "-f", "sdg-pod")


def test_generate_refusals_and_json(pyman_bin: Path, pyman_env: dict[str, str],
                                    runtime: str) -> None:
    env = {**pyman_env, "XDG_RUNTIME_DIR": runtime}
    r = pyman(pyman_bin, env, "generate", "systemd", "sdg-none")
    assert r.returncode == 125
    assert r.stderr.startswith("Error: sdg-none does not refer to a container or pod: ")
    assert pyman(pyman_bin, env, "create", *NET, "--name", "sdg-j", "alpine").returncode == 0
    try:
        r = pyman(pyman_bin, env, "generate", "systemd", "--restart-policy", "bogus", "sdg-j")
        assert (r.returncode, r.stderr) == (125, "Error: bogus is not a valid restart "
                                                 "policy\n")
        r = pyman(pyman_bin, env, "generate", "systemd", "--format", "yaml", "sdg-j")
        assert (r.returncode, r.stderr) == (125, "Error: unknown --format argument: yaml\n")
        r = pyman(pyman_bin, env, "generate", "systemd", "--format", "json", "--name",
                  "--no-header", "--container-prefix", "ctr", "--separator", "_",
                  "--restart-policy", "always", "--restart-sec", "7", "-t", "2", "sdg-j")
        assert r.returncode == 0, r.stderr
        units = json.loads(r.stdout)
        assert list(units) == ["ctr_sdg-j"]
        text = units["ctr_sdg-j"]
        assert text.startswith("# ctr_sdg-j.service\n\n[Unit]\n")
        assert "\nRestart=always\nRestartSec=7\nTimeoutStopSec=62\n" in text
        assert "-t 2 sdg-j\n" in text
    finally:
        pyman(pyman_bin, env, "rm", "-f", "sdg-j")
    assert not os.path.exists(Path.cwd() / "ctr_sdg-j.service")


def test_generate_takes_the_containers_restart_policy(pyman_bin: Path,
                                                      pyman_env: dict[str, str],
                                                      runtime: str) -> None:
    """As Podman: without --restart-policy the container's own one (unless-stopped as
    always, on-failure:N with StartLimitBurst=N); --restart-policy wins."""
    env = {**pyman_env, "XDG_RUNTIME_DIR": runtime}
    made = []
    try:
        for name, policy in (("sdg-a", "always"), ("sdg-u", "unless-stopped"),
                             ("sdg-f", "on-failure:42")):
            r = pyman(pyman_bin, env, "create", *NET, f"--restart={policy}", "--name", name,
                      "alpine")
            assert r.returncode == 0, r.stderr
            made.append(name)
        text = pyman(pyman_bin, env, "generate", "systemd", "--new", "sdg-a").stdout
        assert "\nRestart=always\n" in text
        text = pyman(pyman_bin, env, "generate", "systemd", "--new", "--restart-policy",
                     "on-failure", "sdg-a").stdout
        assert "\nRestart=on-failure\n" in text
        assert "\nRestart=always\n" in pyman(pyman_bin, env, "generate", "systemd", "--new",
                                              "sdg-u").stdout
        text = pyman(pyman_bin, env, "generate", "systemd", "--new", "sdg-f").stdout
        assert "\nRestart=on-failure\nStartLimitBurst=42\n" in text
    finally:
        pyman(pyman_bin, env, "rm", "-f", *made)


def test_generate_template_units(pyman_bin: Path, pyman_env: dict[str, str],
                                 runtime: str) -> None:
    env = {**pyman_env, "XDG_RUNTIME_DIR": runtime}
    assert pyman(pyman_bin, env, "create", *NET, "--name", "sdg-t", "alpine",
                 "top").returncode == 0
    assert pyman(pyman_bin, env, "pod", "create", "--name", "sdg-tp").returncode == 0
    try:
        r = pyman(pyman_bin, env, "generate", "systemd", "--template", "-n", "sdg-t")
        assert r.returncode == 0, r.stderr
        text = r.stdout
        assert text.startswith("# container-sdg-t@.service\n")
        assert "Description=pyman container-sdg-t.service for %I\n" in text
        assert "Environment=PODMAN_SYSTEMD_UNIT=%n-%i\n" in text
        assert "\t--name sdg-t-%i" in text and "\t--replace" in text
        r = pyman(pyman_bin, env, "generate", "systemd", "--new=false", "--template", "sdg-t")
        assert (r.returncode, r.stderr) == (
            125, "Error: --template cannot be set with --new=false\n")
        r = pyman(pyman_bin, env, "generate", "systemd", "--template", "-n", "sdg-tp")
        assert (r.returncode, r.stderr) == (125, "Error: --template is not supported for pods\n")
    finally:
        pyman(pyman_bin, env, "rm", "-f", "sdg-t")
        pyman(pyman_bin, env, "pod", "rm", "-f", "sdg-tp")
