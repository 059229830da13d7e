"""`pyman system check`: one line per prerequisite, ok or its fix; exit 125 when a plain run
cannot work. Each prerequisite is broken on purpose in a private user + mount namespace
(broken_host.py), never on the machine itself."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from broken_host import line, run_broken


@pytest.fixture
def env(fresh_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A private runtime dir per test: the runtime trial's verdicts are cached there, and a
    broken host's must not reach the session's."""
    run = tmp_path / "xdg-run"
    run.mkdir(mode=0o700)
    return {**fresh_env, "XDG_RUNTIME_DIR": str(run)}


def check(pyman_bin: Path, env: dict[str, str], setup: str = "true"):
    return run_broken(pyman_bin, env, setup, "system", "check")


def test_this_host_passes_with_every_line(run_pyman, env) -> None:
    r = run_pyman("system", "check", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    names = ["subuids", "subgids", "newuidmap", "newgidmap", "user namespaces", "overlay",
             "OCI runtime", "network", "/dev/net/tun", "catatonit", "cgroups",
             "XDG_RUNTIME_DIR", "lingering", "store filesystem"]
    for name in names:
        assert line(r.stdout, name).startswith("ok") or name == "cgroups", r.stdout
    assert line(r.stdout, "XDG_RUNTIME_DIR").endswith(env["XDG_RUNTIME_DIR"])
    j = run_pyman("system", "check", "--format", "json", env=env)
    assert j.returncode == 0 and {c["name"] for c in json.loads(j.stdout)} >= set(names)


def test_no_subuid_range(pyman_bin, env, tmp_path) -> None:
    (tmp_path / "subuid").write_text("someone:100000:65536\n")
    r = check(pyman_bin, env, f"mount --bind {tmp_path}/subuid /etc/subuid")
    ln = line(r.stdout, "subuids")
    user = env["USER"]
    assert ln.startswith("fail") and f"no subuid range for user {user}" in ln, r.stdout
    assert f"usermod --add-subuids 196608-262143 {user}" in ln  # above someone's range
    assert line(r.stdout, "subgids").startswith("ok")
    assert r.returncode == 125 and "subuids" in r.stderr


def test_too_small_subuid_range(pyman_bin, env, tmp_path) -> None:
    (tmp_path / "subgid").write_text(f"{env['USER']}:300000:1000\n")
    r = check(pyman_bin, env, f"mount --bind {tmp_path}/subgid /etc/subgid")
    ln = line(r.stdout, "subgids")
    assert ln.startswith("warn") and "has 1000 subgids" in ln and "usermod --add-subgids" in ln


def test_newuidmap_missing_or_not_setuid(pyman_bin, env, tmp_path) -> None:
    r = check(pyman_bin, env, "mount --bind /dev/null /usr/bin/newuidmap")
    ln = line(r.stdout, "newuidmap")
    assert ln.startswith("fail") and "not installed" in ln and "apt-get install uidmap" in ln
    assert r.returncode == 125
    shutil.copy("/usr/bin/newgidmap", tmp_path / "newgidmap")
    os.chmod(tmp_path / "newgidmap", 0o755)  # a copy without the setuid bit
    r = check(pyman_bin, env, f"mount --bind {tmp_path}/newgidmap /usr/bin/newgidmap")
    ln = line(r.stdout, "newgidmap")
    assert ln.startswith("fail") and "neither the setuid bit nor a file capability" in ln
    assert "setcap cap_setgid+ep /usr/bin/newgidmap" in ln and r.returncode == 125


def test_user_namespaces_exhausted(pyman_bin, env) -> None:
    # the limit is per user namespace: the nested one pyman runs in is the only one allowed
    r = check(pyman_bin, env, "echo 1 > /proc/sys/user/max_user_namespaces")
    ln = line(r.stdout, "user namespaces")
    assert ln.startswith("fail") and "sysctl -w user.max_user_namespaces=" in ln, r.stdout
    assert r.returncode == 125


DENY_MOUNT = [sys.executable, str(Path(__file__).with_name("deny_mount.py"))]


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="deny_mount.py's filter is x86_64's")
def test_apparmor_takes_the_capabilities(pyman_bin, env, tmp_path) -> None:
    """User namespaces are made but mounts in them refused (a seccomp filter here), and the
    sysctl of Ubuntu 24.04's AppArmor restriction, bound over /proc/sys/kernel, says 1."""
    r = run_broken(pyman_bin, env, "true", "system", "check", wrap=DENY_MOUNT)
    ln = line(r.stdout, "user namespaces")  # without the sysctl: the general reason
    assert ln.startswith("fail") and "a mount inside a new user namespace fails" in ln, r.stdout
    assert "EPERM" in ln and r.returncode == 125
    kernel = tmp_path / "kernel"
    kernel.mkdir()  # this kernel has no such file: a directory in place of /proc/sys/kernel
    (kernel / "apparmor_restrict_unprivileged_userns").write_text("1\n")
    r = run_broken(pyman_bin, env, f"mount --bind {kernel} /proc/sys/kernel", "system",
                   "check", wrap=DENY_MOUNT)
    ln = line(r.stdout, "user namespaces")
    assert ln.startswith("fail") and "kernel.apparmor_restrict_unprivileged_userns = 1" in ln
    assert "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in ln, r.stdout
    assert "`userns,`" in ln and r.returncode == 125


def test_store_on_a_network_filesystem(pyman_bin, env, tmp_path) -> None:
    """The store on a mount the kernel reports as fuse.sshfs: a real FUSE filesystem
    (fuse-overlayfs, whose subtype is the name it runs under) run as `sshfs`."""
    for d in ("l", "u", "w", "m"):
        (tmp_path / d).mkdir()
    os.symlink(shutil.which("fuse-overlayfs") or "/usr/bin/fuse-overlayfs", tmp_path / "sshfs")
    pid = tmp_path / "sshfs.pid"
    t = tmp_path
    setup = (f"{t}/sshfs -f -o lowerdir={t}/l,upperdir={t}/u,workdir={t}/w {t}/m "
             f">/dev/null 2>&1 & echo $! > {pid}\n"
             f"for i in $(seq 100); do grep -q ' {t}/m .* fuse.sshfs ' /proc/self/mountinfo "
             f"&& break; sleep 0.1; done")
    env = {**env, "XDG_DATA_HOME": f"{t}/m/data"}
    try:
        r = check(pyman_bin, env, setup)
    finally:  # the daemon keeps the namespace, and its mount, alive
        if pid.exists():
            os.kill(int(pid.read_text()), signal.SIGTERM)
    ln = line(r.stdout, "store filesystem")
    assert ln.startswith("warn") and f"is on fuse.sshfs ({t}/m)" in ln, r.stdout
    assert "rootless_storage_path" in ln and "/etc/containers/storage.conf" in ln


OVERLAY_STORE = ("mkdir -p {t}/l {t}/u {t}/w {t}/m && "
                 "mount -t overlay overlay -o lowerdir={t}/l,upperdir={t}/u,workdir={t}/w {t}/m")


def test_store_on_overlay_falls_back_to_fuse_overlayfs(pyman_bin, env, tmp_path) -> None:
    env = {**env, "XDG_DATA_HOME": f"{tmp_path}/m/data"}
    r = check(pyman_bin, env, OVERLAY_STORE.format(t=tmp_path))
    assert "fuse-overlayfs (/usr/bin/fuse-overlayfs) is used" in line(r.stdout, "overlay")
    assert line(r.stdout, "overlay").startswith("ok"), r.stdout
    fs = line(r.stdout, "store filesystem")
    assert fs.startswith("warn") and "is on overlay" in fs and "graphroot" in fs


def test_no_overlay_at_all(pyman_bin, env, tmp_path) -> None:
    """Kernel overlay refused on the store's filesystem and fuse-overlayfs not on PATH."""
    path = ":".join(p for p in env["PATH"].split(":") if p not in ("/usr/bin", "/bin"))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("unshare", "sh", "mount", "mkdir"):
        os.symlink(f"/usr/bin/{tool}" if os.path.exists(f"/usr/bin/{tool}") else f"/bin/{tool}",
                   bindir / tool)
    env = {**env, "XDG_DATA_HOME": f"{tmp_path}/m/data", "PATH": f"{path}:{bindir}"}
    r = check(pyman_bin, env, OVERLAY_STORE.format(t=tmp_path))
    ln = line(r.stdout, "overlay")
    assert ln.startswith("fail") and "fuse-overlayfs is not installed" in ln, r.stdout
    assert "apt-get install fuse-overlayfs" in ln and 'driver = "vfs"' in ln
    assert r.returncode == 125


def test_dev_fuse_unusable(pyman_bin, env, tmp_path) -> None:
    shut = tmp_path / "closed"
    shut.touch(mode=0o000)
    r = check(pyman_bin, env, f"mount --bind {shut} /dev/fuse")
    ln = line(r.stdout, "/dev/fuse")  # kernel overlay works here: only keep-id needs it
    assert ln.startswith("warn") and "chmod 0666 /dev/fuse" in ln, r.stdout
    env = {**env, "XDG_DATA_HOME": f"{tmp_path}/m/data"}
    r = check(pyman_bin, env, f"mount --bind {shut} /dev/fuse\n" + OVERLAY_STORE.format(t=tmp_path))
    assert line(r.stdout, "/dev/fuse").startswith("fail") and r.returncode == 125, r.stdout


def test_no_oci_runtime(pyman_bin, env) -> None:
    r = check(pyman_bin, env, "mount --bind /dev/null /usr/sbin/runc\n"
                              "mount --bind /dev/null /usr/bin/crun")
    ln = line(r.stdout, "OCI runtime")
    # not found: the one containers.conf names (the test ground's runc), or any
    assert ln.startswith("fail") and ("neither crun nor runc is installed" in ln
                                      or 'default OCI runtime "runc" not found' in ln), r.stdout
    assert "apt-get install crun" in ln and r.returncode == 125


def test_network_helpers_and_tun(pyman_bin, env, tmp_path) -> None:
    r = check(pyman_bin, env, "mount --bind /dev/null /usr/bin/passt")
    ln = line(r.stdout, "network")
    assert ln.startswith("ok") and "slirp4netns" in ln and "pasta is not installed" in ln
    r = check(pyman_bin, env, "mount --bind /dev/null /usr/bin/passt\n"
                              "mount --bind /dev/null /usr/bin/slirp4netns")
    ln = line(r.stdout, "network")
    assert ln.startswith("fail") and "apt-get install passt" in ln and r.returncode == 125
    shut = tmp_path / "closed"
    shut.touch(mode=0o000)
    r = check(pyman_bin, env, f"mount --bind {shut} /dev/net/tun")
    ln = line(r.stdout, "/dev/net/tun")
    assert ln.startswith("fail") and "chmod 0666 /dev/net/tun" in ln and r.returncode == 125


def test_catatonit_missing_is_a_warning(pyman_bin, env) -> None:
    r = check(pyman_bin, env, "mount --bind /dev/null /usr/bin/catatonit")
    ln = line(r.stdout, "catatonit")
    assert ln.startswith("warn") and "apt-get install catatonit" in ln, r.stdout


def test_cgroups_without_delegation(run_pyman, env) -> None:
    """This host's hybrid cgroups (or an undelegated v2 tree): limits are refused, a warning."""
    r = run_pyman("system", "check", env=env)
    ln = line(r.stdout, "cgroups")
    assert ln.startswith("warn") and "--memory" in ln and ("unified_cgroup_hierarchy" in ln
                                                           or "Delegate=" in ln), r.stdout


def test_runtime_dir(run_pyman, env, tmp_path) -> None:
    bare = {k: v for k, v in env.items() if k != "XDG_RUNTIME_DIR"}
    ln = line(run_pyman("system", "check", env=bare).stdout, "XDG_RUNTIME_DIR")
    assert ln.startswith("warn") and "is unset" in ln and "loginctl enable-linger" in ln
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    os.chmod(open_dir, 0o755)
    ln = line(run_pyman("system", "check", env={**env, "XDG_RUNTIME_DIR": str(open_dir)}
                        ).stdout, "XDG_RUNTIME_DIR")
    assert ln.startswith("warn") and "not a private directory" in ln


SYSTEMD = ("mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && "
           "mount -t tmpfs tmpfs /var/lib/systemd && mkdir /var/lib/systemd/linger")


def test_lingering(pyman_bin, env) -> None:
    r = check(pyman_bin, env, SYSTEMD)
    ln = line(r.stdout, "lingering")
    assert ln.startswith("warn") and f"loginctl enable-linger {env['USER']}" in ln, r.stdout
    r = check(pyman_bin, env, SYSTEMD + f" && touch /var/lib/systemd/linger/{env['USER']}")
    assert line(r.stdout, "lingering").startswith("ok"), r.stdout


def test_info_shows_the_checks(run_pyman, pyman_bin, env) -> None:
    doc = json.loads(run_pyman("info", "--format", "json", env=env).stdout)
    found = {c["name"]: c["status"] for c in doc["host"]["systemCheck"]}
    assert found["subuids"] == "ok" and found["OCI runtime"] == "ok", found
    r = run_broken(pyman_bin, env, "mount --bind /dev/null /usr/bin/catatonit", "info",
                   "--format", "{{range .Host.SystemCheck}}{{.Status}} {{.Name}}\n{{end}}")
    assert "warn catatonit" in r.stdout.splitlines(), r.stdout + r.stderr
    assert run_pyman("info", "--format", "{{.Host.OCIRuntime.Name}}", env=env).stdout.strip()


def test_first_hour_errors_name_their_fix(run_pyman, env, test_images) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run_pyman("pull", f"127.0.0.1:{port}/x", env=env)
    assert r.returncode == 125 and "connection refused" in r.stderr
    assert "cannot reach" in r.stderr and "registries.conf" in r.stderr, r.stderr
    r = run_pyman("run", "--rm", "-p", "80:80", "alpine", "true", env=env)
    assert r.returncode != 0 and "ip_unprivileged_port_start" in r.stderr, r.stderr
    r = run_pyman("run", "--rm", "--network", "none", "--init-path", "/nonexistent",
                  "--init", "alpine", "true", env=env)
    assert r.returncode != 0 and "/nonexistent" in r.stderr, r.stderr


def test_a_named_runtime_gets_its_own_trial(run_pyman, env) -> None:
    r = run_pyman("--runtime", "/bin/false", "system", "check", env=env)
    ln = line(r.stdout, "OCI runtime")
    assert ln.startswith("fail") and "set by --runtime" in ln and "cannot start" in ln, ln
    assert r.returncode == 125
