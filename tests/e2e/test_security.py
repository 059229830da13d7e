"""Capabilities, no_new_privs, seccomp and --privileged, seen from inside real containers
(/proc/self/status, syscalls that the default profile refuses), compared with what Podman
4.3 gives for the same flags on this host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lifecycle_util import NET

from pyman.runtime.capabilities import CAP_NAMES

# one shell line printing the facts each case checks
FACTS = ("grep -E '^(CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; "
         "unshare -U true 2>/dev/null && echo unshare=ok || echo unshare=denied; "
         "echo procsys=$(grep -c ' /proc/sys ' /proc/mounts)")


def mask(*names: str) -> str:
    bits = 0
    for n in names:
        bits |= 1 << CAP_NAMES.index(n)
    return f"{bits:016x}"


PODMAN_DEFAULT = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
                  "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
                  "CAP_SETUID", "CAP_SYS_CHROOT")


def facts(run_pyman, *flags: str, cmd: str = FACTS) -> dict[str, str]:  # type: ignore[no-untyped-def]
    r = run_pyman("run", "--rm", *NET, *flags, "alpine", "sh", "-c", cmd)
    assert r.returncode == 0, (flags, r.stderr)
    out: dict[str, str] = {}
    for line in r.stdout.splitlines():
        key, sep, value = line.replace("=", ":", 1).partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def test_default_caps_seccomp_and_no_new_privs(run_pyman) -> None:
    f = facts(run_pyman)
    assert f["CapBnd"] == f["CapEff"] == mask(*PODMAN_DEFAULT) == "00000000800405fb"
    assert (f["CapAmb"], f["NoNewPrivs"], f["Seccomp"]) == ("0" * 16, "0", "2")
    assert f["unshare"] == "denied"  # the default profile: namespaces need CAP_SYS_ADMIN
    assert f["procsys"] == "1"  # a read-only path

    # the profile's rules follow the capabilities: with CAP_SYS_ADMIN unshare is allowed
    f = facts(run_pyman, "--cap-add", "sys_admin", "--cap-drop", "CAP_CHOWN")
    want = mask(*(set(PODMAN_DEFAULT) - {"CAP_CHOWN"} | {"CAP_SYS_ADMIN"}))
    assert f["CapBnd"] == f["CapEff"] == want == "00000000802405fa"
    assert (f["Seccomp"], f["unshare"]) == ("2", "ok")

    f = facts(run_pyman, "--security-opt", "seccomp=unconfined")
    assert (f["Seccomp"], f["unshare"], f["CapEff"]) == ("0", "ok", "00000000800405fb")

    f = facts(run_pyman, "--cap-drop", "all", "--security-opt", "no-new-privileges",
              "--security-opt", "label=disable")
    assert (f["CapBnd"], f["CapEff"], f["NoNewPrivs"]) == ("0" * 16, "0" * 16, "1")
    f = facts(run_pyman, "--cap-drop", "ALL", "--cap-add", "chown,kill")
    assert f["CapBnd"] == mask("CAP_CHOWN", "CAP_KILL")

    # a non-root user holds only what was added, as ambient capabilities (Podman's rule)
    f = facts(run_pyman, "--user", "1000", "--cap-add", "net_admin")
    assert f["CapEff"] == f["CapAmb"] == mask("CAP_NET_ADMIN")
    assert f["CapBnd"] == mask(*PODMAN_DEFAULT, "CAP_NET_ADMIN")


def test_privileged(run_pyman) -> None:
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    everything = f"{(1 << (last + 1)) - 1:016x}"
    tun = os.access("/dev/net/tun", os.R_OK | os.W_OK)
    f = facts(run_pyman, "--privileged", cmd=FACTS + ";"
              " grep ' /sys ' /proc/mounts | grep -q rw, && echo sys=rw;"
              " test -c /dev/net/tun && echo tun=yes || echo tun=no")
    assert f["CapBnd"] == f["CapEff"] == everything
    assert (f["Seccomp"], f["unshare"], f["sys"]) == ("0", "ok", "rw")
    assert f["procsys"] == "0"  # no masked or read-only paths
    assert f["tun"] == ("yes" if tun else "no")  # host devices the user can open


def test_seccomp_profile_file_and_refusals(run_pyman, tmp_path: Path) -> None:
    profile = tmp_path / "deny-mkdir.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 13}]}))
    r = run_pyman("run", "--rm", *NET, "--security-opt", f"seccomp={profile}", "alpine", "sh",
                  "-c", "mkdir /x 2>&1; touch /y && echo touched")
    assert r.returncode == 0, r.stderr
    assert "Permission denied" in r.stdout and "touched" in r.stdout

    before = run_pyman("ps", "-aq").stdout
    bad = tmp_path / "bad.json"
    bad.write_text("xx")
    for flags, message in [
        (("--cap-add", "bogus"), 'Error: "CAP_BOGUS": unknown capability\n'),
        (("--cap-drop", "CAP_NOPE"), 'Error: "CAP_NOPE": unknown capability\n'),
        (("--security-opt", "foo"), 'Error: invalid --security-opt 1: "foo"\n'),
        (("--security-opt", "no-new-privileges=maybe"),
         'Error: invalid --security-opt 2: "no-new-privileges=maybe"\n'),
        (("--security-opt", "seccomp=/nonexistent.json"),
         "Error: opening seccomp profile failed: open /nonexistent.json: "
         "no such file or directory\n"),
    ]:
        r = run_pyman("run", "--rm", *NET, *flags, "alpine", "true")
        assert (r.returncode, r.stderr) == (125, message), flags
    r = run_pyman("create", *NET, "--security-opt", f"seccomp={bad}", "alpine", "true")
    assert r.returncode == 125
    assert r.stderr.startswith(f"Error: loading seccomp profile ({bad}) failed: decoding")
    assert run_pyman("ps", "-aq").stdout == before  # nothing was created


@pytest.fixture
def podman(tmp_path: Path, registry: str) -> Iterator[list[str]]:
    """podman with a private store holding alpine from the loopback registry."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    root = tmp_path / "podman"
    base = ["podman", "--root", str(root / "r"), "--runroot", f"/tmp/pm-sec-{os.getpid()}",
            "--storage-driver", "vfs"]
    r = subprocess.run([*base, "pull", "-q", "--tls-verify=false",
                        f"{registry}/library/alpine:latest"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    yield [*base, "run", "--rm", *NET, f"{registry}/library/alpine:latest"]
    subprocess.run([*base, "system", "reset", "-f"], capture_output=True, timeout=60)
    subprocess.run(["unshare", "--map-auto", "--map-root-user", "rm", "-rf", "--", str(root),
                    f"/tmp/pm-sec-{os.getpid()}"], capture_output=True, timeout=60)


def test_same_sets_as_podman(run_pyman, podman: list[str]) -> None:
    """Capability sets, no_new_privs and seccomp mode as Podman 4.3 gives them, flag for flag
    (Podman's own profile differs: it lets unshare through, so that is not compared)."""
    status = "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status"
    for flags in [(), ("--cap-add", "sys_admin,NET_RAW", "--cap-drop", "CAP_CHOWN"),
                  ("--cap-drop", "all", "--security-opt", "no-new-privileges"),
                  ("--user", "1000", "--cap-add", "net_admin"),
                  ("--privileged",), ("--security-opt", "seccomp=unconfined")]:
        theirs = subprocess.run([*podman[:-1], *flags, podman[-1], "sh", "-c", status],
                                capture_output=True, text=True, timeout=120)
        ours = run_pyman("run", "--rm", *NET, *flags, "alpine", "sh", "-c", status)
        assert theirs.returncode == ours.returncode == 0, (flags, theirs.stderr, ours.stderr)
        assert ours.stdout == theirs.stdout, flags
