"""`pyman run` end to end: the real binary, as the unprivileged user, against the loopback
registry (docker.io mirrored to 127.0.0.1:5000 by registries.conf)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from lifecycle_util import own_processes, wait_for


def test_run_alpine_echo_hi(run_pyman) -> None:
    r = run_pyman("run", "--rm", "alpine", "echo", "hi")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hi\n"


def test_exit_code_is_the_containers(run_pyman) -> None:
    r = run_pyman("run", "--rm", "alpine", "sh", "-c", "echo out; echo err >&2; exit 42")
    assert r.returncode == 42
    assert r.stdout == "out\n"
    assert "err" in r.stderr


def test_command_not_found_is_127_and_not_executable_is_126(run_pyman) -> None:
    r = run_pyman("run", "--rm", "alpine", "no-such-command")
    assert r.returncode == 127, r.stderr
    assert "no-such-command" in r.stderr and r.stderr.startswith("Error: ")
    r = run_pyman("run", "--rm", "alpine", "/etc/passwd")
    assert r.returncode == 126, r.stderr


def test_missing_image_is_125_with_clear_error(run_pyman) -> None:
    r = run_pyman("run", "--rm", "127.0.0.1:5000/pyman-test/does-not-exist:latest", "true")
    assert r.returncode == 125
    # As podman: the pull announces itself, then exactly one error line.
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("Trying to pull "), r.stderr
    assert len(lines) == 2 and lines[1].startswith("Error: "), r.stderr
    assert "does-not-exist" in lines[1] and "manifest unknown" in lines[1]
    images = run_pyman("images")
    assert "does-not-exist" not in images.stdout


def test_malformed_reference_is_125(run_pyman) -> None:
    r = run_pyman("run", "--rm", "Alpine:UPPER!", "true")
    assert r.returncode == 125
    assert r.stderr.startswith("Error: ")


def test_rootless_identity_and_user_namespace(run_pyman) -> None:
    r = run_pyman("run", "--rm", "--network", "none", "alpine", "sh", "-c",
                  "id -u; cat /proc/self/uid_map")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0] == "0"
    first_map = lines[1].split()
    assert first_map == ["0", str(os.getuid()), "1"]  # container root is the user, not host root
    assert os.getuid() != 0


def test_env_workdir_entrypoint_and_image_config(run_pyman) -> None:
    r = run_pyman("run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "alpine", "sh", "-c",
                  'echo "$FOO $(pwd) $HOSTNAME"')
    assert r.returncode == 0, r.stderr
    foo, cwd, hostname = r.stdout.split()
    assert (foo, cwd) == ("bar", "/tmp") and len(hostname) == 12
    r = run_pyman("run", "--rm", "--entrypoint", "/bin/echo", "alpine", "from", "entrypoint")
    assert r.stdout == "from entrypoint\n", r.stderr


def test_image_config_entrypoint_cmd_env_workdir(run_pyman, registry) -> None:
    r = run_pyman("run", "--rm", f"{registry}/pyman-test/config:latest")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello from config in /srv\n"


def test_image_user_is_applied(run_pyman, registry) -> None:
    r = run_pyman("run", "--rm", f"{registry}/pyman-test/user:latest", "id", "-u")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1000"


@pytest.mark.parametrize("mode", ["none", "host", "slirp4netns", "pasta"])
def test_network_modes(run_pyman, mode: str) -> None:
    r = run_pyman("run", "--rm", "--network", mode, "alpine", "sh", "-c",
                  "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; cat /etc/hosts")
    assert r.returncode == 0, r.stderr
    ifaces = set(r.stdout.split("\n")[: r.stdout.count(":")])
    if mode == "none":
        assert "lo" in r.stdout and "tap0" not in r.stdout and "eth0" not in r.stdout
    elif mode == "slirp4netns":
        assert "tap0" in r.stdout and "10.0.2.100" in r.stdout
    elif mode == "pasta":
        assert "host.containers.internal" in r.stdout
        assert any(i not in ("lo", "") for i in ifaces) or "eth0" in r.stdout


def test_unknown_network_mode_is_refused(run_pyman) -> None:
    r = run_pyman("run", "--rm", "--network", "bogus", "alpine", "true")
    assert r.returncode == 125
    # as Podman: any other word names a network; the message lists the modes too
    assert r.stderr.startswith("Error: unable to find network with name or ID bogus: "
                               "network not found (--network takes")
    assert "pasta, slirp4netns, host, none" in r.stderr


def test_name_ps_and_rm(run_pyman) -> None:
    r = run_pyman("run", "--name", "keepme", "--network", "none", "alpine", "sh", "-c", "exit 3")
    assert r.returncode == 3
    ps = run_pyman("ps", "-a", "--format", "json")
    mine = [c for c in json.loads(ps.stdout) if c["Names"] == ["keepme"]]
    assert len(mine) == 1 and mine[0]["State"] == "exited" and mine[0]["ExitCode"] == 3
    assert mine[0]["Status"].startswith("Exited (3) ")
    table = run_pyman("ps", "-a").stdout
    assert "Exited (3)" in table and "keepme" in table
    dup = run_pyman("run", "--name", "keepme", "alpine", "true")
    assert dup.returncode == 125 and "already in use" in dup.stderr
    assert run_pyman("rm", "keepme").returncode == 0
    assert "keepme" not in run_pyman("ps", "-a").stdout


def test_rm_flag_leaves_nothing(run_pyman, pyman_env) -> None:
    before = run_pyman("ps", "-aq").stdout
    r = run_pyman("run", "--rm", "--name", "gone", "alpine", "true")
    assert r.returncode == 0
    assert run_pyman("ps", "-aq").stdout == before
    data = Path(pyman_env["XDG_DATA_HOME"]) / "pyman" / "containers"
    assert not any("gone" in p.read_text() for p in data.glob("*/config.json"))


def test_detached_run_prints_id_and_shows_running(run_pyman) -> None:
    r = run_pyman("run", "-d", "--name", "bg", "--network", "none", "alpine", "sleep", "30")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert len(cid) == 64
    ps = run_pyman("ps").stdout
    assert "bg" in ps and "Up " in ps
    refused = run_pyman("rm", "bg")
    assert refused.returncode != 0 and "running" in refused.stderr
    assert run_pyman("rm", "-f", "bg").returncode == 0
    assert "bg" not in run_pyman("ps", "-a").stdout


def test_images_and_rmi(run_pyman, fresh_env) -> None:
    assert run_pyman("pull", "-q", "alpine", env=fresh_env).returncode == 0
    out = run_pyman("images", env=fresh_env).stdout
    assert "docker.io/library/alpine" in out and "latest" in out
    assert run_pyman("rmi", "alpine", env=fresh_env).returncode == 0
    assert "alpine" not in run_pyman("images", env=fresh_env).stdout
    layers = Path(fresh_env["XDG_DATA_HOME"]) / "pyman" / "layers"
    assert not [p for p in layers.iterdir() if not p.name.startswith(".")]


def test_info_reports_runtime_and_rootless(run_pyman) -> None:
    r = run_pyman("info", "--format", "json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["host"]["rootless"] is True
    assert info["host"]["ociRuntime"]["name"] in ("runc", "crun")
    assert info["host"]["idMappings"]["uidmap"][0]["host_id"] == os.getuid()


def test_version(run_pyman) -> None:
    r = run_pyman("version")
    assert r.returncode == 0 and "Version:" in r.stdout


def _early_monitors() -> list[int]:
    """Our monitors started before their container existed (argv `__main__.py - ...`) that
    were never told which container to run."""
    return [pid for pid, _, _, cmd in own_processes()
            if any(a.endswith(b"monitor/__main__.py") for a in cmd.split(b"\0"))
            and b"-" in cmd.split(b"\0")]


def test_a_run_that_fails_before_its_container_leaves_no_monitor(run_pyman) -> None:
    """`run` starts the monitor early, while it resolves the image and writes the
    container; a run that then fails (a taken name, an unknown image, a bad option found at
    create) ends that monitor, and the error is the one it always was."""
    assert run_pyman("run", "-d", "--name", "early-taken", "alpine", "sleep", "30"
                     ).returncode == 0
    try:
        taken = run_pyman("run", "--rm", "--name", "early-taken", "alpine", "true")
        assert taken.returncode == 125
        assert "already in use" in taken.stderr
        missing = run_pyman("run", "--rm", "nosuch-image-early", "true")
        assert missing.returncode == 125
        assert _early_monitors() == []
        # a usage error ends pyman before the engine: the monitor it started reads EOF
        bad = run_pyman("run", "--rm", "--no-such-flag", "alpine", "true")
        assert bad.returncode == 125 and "unknown flag" in bad.stderr
        assert wait_for(lambda: _early_monitors() == [], timeout=5)
        ok = run_pyman("run", "--rm", "-i", "alpine", "cat", input="through stdin\n")
        assert (ok.returncode, ok.stdout) == (0, "through stdin\n")
    finally:
        run_pyman("rm", "-f", "-t", "0", "early-taken")
