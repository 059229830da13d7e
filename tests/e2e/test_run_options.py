"""run/create options seen from inside real containers: --read-only (+ its tmpfs), --init
(catatonit as pid 1), --ulimit, --add-host, --env-file, --hostname, --stop-signal and
--stop-timeout as stop uses them; the refusals (limits without a delegated cgroup v2, ulimits
above the user's own) that leave nothing behind; pause, unpause and rename; inspect."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

from lifecycle_util import NET

from pyman.engine.specgen.limits import fs_type
from pyman.runtime.cgroups import delegation


def lines_of(r) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out


def test_read_only_init_ulimit_hosts_env(run_pyman, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# a comment\n\n  FOO=from file\nQUOTED=\"kept\"\nBAR=1\n")
    script = (
        "touch /x 2>/dev/null && echo root=rw || echo root=ro; "
        "touch /tmp/a /run/b /var/tmp/c && echo tmpfs=ok; "
        "echo pid1=$(cat /proc/1/comm); echo init=$(/run/podman-init --version); "
        "echo nofile=$(ulimit -n):$(ulimit -Hn); "
        "echo hosts=$(grep -E 'foo|bar' /etc/hosts | tr '\\t\\n' ' '); "
        "echo hostname=$(hostname); echo FOO=$FOO; echo QUOTED=$QUOTED; echo BAR=$BAR"
    )
    f = lines_of(run_pyman(
        "run", "--rm", *NET, "--read-only", "--init", "--ulimit", "nofile=100:200",
        "--add-host", "foo:10.1.2.3", "--add-host", "bar:::1", "--env-file", str(env_file),
        "-e", "BAR=2", "--hostname", "box1", "alpine", "sh", "-c", script))
    assert (f["root"], f["tmpfs"], f["pid1"]) == ("ro", "ok", "podman-init")
    assert "catatonit" in f["init"]
    assert f["nofile"] == "100:200"
    assert f["hosts"].split() == ["10.1.2.3", "foo", "::1", "bar"]
    assert f["hostname"] == "box1"
    assert (f["FOO"], f["QUOTED"], f["BAR"]) == ("from file", '"kept"', "2")  # -e wins

    f = lines_of(run_pyman("run", "--rm", *NET, "--read-only", "--read-only-tmpfs=false",
                           "alpine", "sh", "-c",
                           "touch /tmp/a 2>/dev/null && echo tmp=rw || echo tmp=ro"))
    assert f["tmp"] == "ro"


def test_stop_signal_and_timeout(run_pyman) -> None:
    r = run_pyman("run", "-d", "--name", "ro-stop", *NET, "--stop-signal", "USR1",
                  "--stop-timeout", "2", "alpine", "sh", "-c",
                  "trap 'echo got USR1; exit 3' USR1; echo ready; while :; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 10
    while "ready" not in run_pyman("logs", "ro-stop").stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    cfg = json.loads(run_pyman("inspect", "ro-stop").stdout)[0]["Config"]
    assert (cfg["StopSignal"], cfg["StopTimeout"]) == (10, 2)
    assert run_pyman("stop", "ro-stop").returncode == 0
    st = json.loads(run_pyman("inspect", "ro-stop").stdout)[0]["State"]
    assert st["ExitCode"] == 3 and run_pyman("logs", "ro-stop").stdout == "ready\ngot USR1\n"

    # pid 1 ignores the stop signal: --stop-timeout is the grace time of stop and rm -f
    r = run_pyman("run", "-d", "--name", "ro-sleep", *NET, "--stop-timeout", "1", "alpine",
                  "sleep", "300")
    assert r.returncode == 0
    t0 = time.monotonic()
    r = run_pyman("rm", "-f", "ro-sleep")
    assert r.returncode == 0 and 1.0 <= time.monotonic() - t0 < 5
    assert "resorting to SIGKILL" in r.stderr
    assert run_pyman("rm", "-f", "ro-stop").returncode == 0


def test_refusals_leave_nothing(run_pyman) -> None:
    before = run_pyman("ps", "-aq").stdout
    d = delegation()
    cases = [
        (("--add-host", "foo"), 'Error: bad format for add-host: "foo"\n'),
        (("--add-host", "foo:notip"), 'Error: invalid IP address in add-host: "notip"\n'),
        (("--stop-signal", "BOGUS"), "Error: invalid signal: BOGUS\n"),
        (("--env-file", "/nonexistent"), 'Error: parsing env file "/nonexistent": open '
         "/nonexistent: no such file or directory\n"),
        (("--init", "--init-path", "/nonexistent"), "Error: container-init binary not found "
         "on the host: stat /nonexistent: no such file or directory\n"),
        (("--ulimit", "nofile=100:50"), 'Error: ulimit option "nofile=100:50" requires '
         "name=SOFT:HARD, failed to be parsed: ulimit soft limit must be less than or equal "
         "to hard limit: 100 > 50\n"),
        (("--ulimit", "bogus=1"), 'Error: ulimit option "bogus=1" requires name=SOFT:HARD, '
         "failed to be parsed: invalid ulimit type: bogus\n"),
    ]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        cases.append((("--ulimit", f"nofile=100:{hard + 1}"),
                      f"Error: invalid --ulimit nofile=100:{hard + 1}: the hard limit "
                      f"{hard + 1} is above this user's own hard limit {hard}, and only a "
                      f"privileged process may raise it. Use a hard limit of at most {hard}\n"))
    if not d.ok and fs_type("/sys/fs/cgroup") == "cgroup2":  # v1: ignored, with a warning
        cases.append((("--memory", "64m", "--pids-limit", "10"),
                      "Error: --memory, --pids-limit: resource limits need a cgroup v2 tree "
                      f"delegated to this user, and {d.why}. Run without --memory and "
                      "--pids-limit\n"))
        cases.append((("--cpus", "0.5"), "Error: --cpus: resource limits need a cgroup v2 "
                      f"tree delegated to this user, and {d.why}. Run without --cpus\n"))
    for flags, message in cases:
        r = run_pyman("run", "--rm", *NET, *flags, "alpine", "true")
        assert (r.returncode, r.stderr) == (125, message), flags
    # user and group names resolve in the image's files when the container starts (126)
    for user, message in [("nosuch", "unable to find user nosuch: no matching entries in "
                           "passwd file"),
                          ("root:nogrp", "unable to find group nogrp: no matching entries in "
                           "group file")]:
        r = run_pyman("run", "--rm", *NET, "-u", user, "alpine", "true")
        assert r.returncode == 126 and message in r.stderr, r.stderr
    r = run_pyman("run", "--rm", *NET, "-u", "nobody:nogroup", "alpine", "id")
    # as Podman: a user that is set also holds its primary group as a supplementary one
    assert r.stdout == "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n", r.stderr
    assert run_pyman("ps", "-aq").stdout == before


def test_pause_rename_and_inspect(run_pyman) -> None:
    r = run_pyman("create", "--name", "ro-insp", *NET, "--cap-add", "net_admin,sys_ptrace",
                  "--cap-drop", "chown", "--security-opt", "no-new-privileges",
                  "--security-opt", "seccomp=unconfined", "--security-opt", "label=disable",
                  "--read-only", "--init", "--ulimit", "nofile=100:200", "--add-host",
                  "foo:1.2.3.4", "alpine", "sleep", "300")
    assert r.returncode == 0, r.stderr
    doc = json.loads(run_pyman("inspect", "ro-insp").stdout)[0]
    h = doc["HostConfig"]
    assert h["CapAdd"] == ["CAP_NET_ADMIN", "CAP_SYS_PTRACE"]  # Podman's, byte for byte
    assert h["CapDrop"] == ["CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_MKNOD", "CAP_NET_RAW"]
    assert h["SecurityOpt"] == ["no-new-privileges", "label=disable", "seccomp=unconfined"]
    assert (h["Privileged"], h["ReadonlyRootfs"], h["Init"]) == (False, True, True)
    assert h["Ulimits"][0] == {"Name": "RLIMIT_NOFILE", "Soft": 100, "Hard": 200}
    assert h["ExtraHosts"] == ["foo:1.2.3.4"]
    assert (h["Memory"], h["NanoCpus"], h["PidsLimit"]) == (0, 0, 0)
    assert "CAP_SYS_PTRACE" in doc["BoundingCaps"] and "CAP_CHOWN" not in doc["EffectiveCaps"]
    assert doc["Config"]["StopSignal"] == 15 and doc["Config"]["StopTimeout"] == 10

    r = run_pyman("pause", "ro-insp")
    assert (r.returncode, r.stderr) == (
        125, "Error: \"ro-insp\" is not running, can't pause: container state improper\n")
    assert run_pyman("start", "ro-insp").returncode == 0
    if not delegation().ok:  # no cgroup to freeze: Podman's rootless cgroup v1 errors
        r = run_pyman("pause", "ro-insp")
        assert r.returncode == 125
        assert r.stderr in (
            "Error: can not pause containers on rootless containers with cgroup V1: this "
            "container does not have a cgroup\n",
            f"Error: can not pause this container: it has no cgroup to freeze, because "
            f"{delegation().why}\n")
        assert run_pyman("unpause", "ro-insp").returncode == 125

    assert run_pyman("run", "-d", "--name", "ro-other", *NET, "alpine", "sleep", "300"
                     ).returncode == 0
    r = run_pyman("rename", "ro-insp", "ro-other")
    assert r.returncode == 125 and "name ro-other already in use" in r.stderr
    r = run_pyman("rename", "ro-insp", "bad name")
    assert r.stderr == "Error: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument\n"
    r = run_pyman("rename", "ro-insp", "ro-renamed")
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    names = run_pyman("ps", "--format", "{{.Names}}").stdout.split()
    assert "ro-renamed" in names and "ro-insp" not in names
    assert run_pyman("stop", "-t", "0", "ro-renamed").returncode == 0  # found by its new name
    assert run_pyman("rm", "-f", "ro-renamed", "ro-other").returncode == 0


def test_go_style_boolean_values(run_pyman) -> None:
    # as Podman (pflag) takes them; the container's own arguments are not touched
    r = run_pyman("run", "--rm=true", "-i=false", "--sig-proxy=false", "--network=none",
                  "alpine", "echo", "--rm=false")
    assert (r.returncode, r.stdout) == (0, "--rm=false\n"), r.stderr
    r = run_pyman("run", "--rm=false", "--name", "bool-kept", "--read-only=true",
                  "--network=none", "alpine", "sh", "-c", "touch /x 2>/dev/null || echo ro")
    try:
        assert (r.returncode, r.stdout) == (0, "ro\n"), r.stderr
        assert run_pyman("container", "exists", "bool-kept").returncode == 0  # not --rm
    finally:
        run_pyman("rm", "-f=true", "bool-kept")
    assert run_pyman("container", "exists", "bool-kept").returncode == 1
    r = run_pyman("run", "--rm=maybe", "alpine", "true")
    assert r.returncode == 125 and "--rm" in r.stderr


def test_dns_servers_search_and_options(run_pyman) -> None:
    """--dns, --dns-search and --dns-option (also --dns-opt) replace those lines of the
    generated resolv.conf, in every network mode; inspect shows them; a server that is no
    address is refused before anything is made, in Podman's words."""
    for net in ("pasta", "none"):
        r = run_pyman("run", "--rm", "--network", net, "--dns", "192.0.2.53", "--dns",
                      "2001:db8::53", "--dns-search", "example.com", "--dns-opt", "ndots:2",
                      "--dns-option", "timeout:1", "alpine", "cat", "/etc/resolv.conf")
        assert r.returncode == 0, r.stderr
        # Podman's order: search, then the servers, then options
        assert r.stdout.splitlines() == ["search example.com", "nameserver 192.0.2.53",
                                         "nameserver 2001:db8::53", "options ndots:2 timeout:1"]
    r = run_pyman("create", "--name", "dns-inspect", "--dns", "192.0.2.53", "--dns-search",
                  "a.example", "alpine", "true")
    assert r.returncode == 0, r.stderr
    try:
        import json

        host = json.loads(run_pyman("inspect", "dns-inspect").stdout)[0]["HostConfig"]
        assert (host["Dns"], host["DnsSearch"], host["DnsOptions"]) == (
            ["192.0.2.53"], ["a.example"], [])
    finally:
        run_pyman("rm", "-f", "dns-inspect")
    bad = run_pyman("run", "--rm", "--name", "dns-bad", "--dns", "not-an-ip", "alpine", "true")
    assert (bad.returncode, bad.stderr) == (125, "Error: not-an-ip is not an ip address\n")
    assert run_pyman("container", "exists", "dns-bad").returncode == 1
