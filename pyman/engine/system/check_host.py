"""`pyman system check`'s host checks: networking helpers, the session (runtime dir,
lingering), cgroups and the store's filesystem; and the whole list in order."""

from __future__ import annotations

import os

from pyman.config import Paths
from pyman.engine.system.check import (
    Check,
    _user,
    check_idmap_tool,
    check_overlay,
    check_runtime,
    check_subids,
    check_userns,
    probe_namespaces,
)
from pyman.rootless.packages import install_command

TUN = "/dev/net/tun"
# filesystems a rootless store does not work on (no sub-id owners, no xattrs, no overlay)
NETWORK_FS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "fuse.sshfs",
              "fuse.glusterfs", "9p", "lustre", "gpfs", "afs", "beegfs")
STACKED_FS = ("overlay", "fuse.fuse-overlayfs", "aufs")


def check_network() -> list[Check]:
    from pyman.containers_conf import current
    from pyman.engine.network.modes import default_network

    conf = current()
    pasta, slirp = conf.find_helper("pasta"), conf.find_helper("slirp4netns")
    mode, why = default_network()
    found = {"pasta": pasta, "slirp4netns": slirp}
    install = (f"as root run `{install_command('passt')}` (pasta) or "
               f"`{install_command('slirp4netns')}`")
    if not pasta and not slirp:
        net = Check("network", "fail", f"neither pasta nor slirp4netns is installed, so only "
                                       f"--network none or host work: {install}")
    elif not found.get(mode):
        net = Check("network", "fail", f"the default network mode is {mode} ({why}) but it is "
                                       f"not installed: {install}")
    else:
        other = "slirp4netns" if mode == "pasta" else "pasta"
        extra = f"; {other} at {found[other]}" if found[other] else ""
        net = Check("network", "ok", f"{mode} ({found[mode]}; {why}){extra}")
    try:
        os.close(os.open(TUN, os.O_RDWR))
        tun = Check(TUN, "ok", "usable")
    except OSError as exc:
        tun = Check(TUN, "fail", f"{TUN} cannot be opened ({exc.strerror}), so pasta and "
                                 f"slirp4netns cannot make their tap device: as root run "
                                 f"`modprobe tun && chmod 0666 {TUN}`, or use --network none")
    return [net, tun]


def check_init() -> Check:
    from pyman.containers_conf import current

    conf = current()
    path = conf.get("containers", "init_path", "") or conf.find_helper("catatonit")
    if path and os.access(path, os.X_OK):
        return Check("catatonit", "ok", f"{path} (--init)")
    return Check("catatonit", "warn", f"not installed: --init and pods cannot run; as root run "
                                      f"`{install_command('catatonit')}`")


def check_cgroups() -> Check:
    from pyman.runtime.cgroups import delegation

    d = delegation()
    if d.ok:
        missing = [c for c in ("memory", "pids", "cpu") if c not in d.controllers]
        if missing:
            return Check("cgroups", "warn", f"delegated ({d.path}) without "
                                            f"{', '.join(missing)}: {_delegate_fix()}")
        return Check("cgroups", "ok", f"v2, delegated ({d.path}: "
                                      f"{' '.join(d.controllers)}): limits work")
    fix = (_delegate_fix() if "not delegated" in d.why else
           "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2) for them")
    return Check("cgroups", "warn", f"--memory, --cpus and --pids-limit are refused because "
                                    f"{d.why}: {fix}")


def _delegate_fix() -> str:
    return ("as root put `[Service]` and `Delegate=memory pids cpu cpuset` in "
            "/etc/systemd/system/user@.service.d/delegate.conf, `systemctl daemon-reload`, and "
            "log in again (a systemd user session: ssh or machinectl shell, not su)")


def check_runtime_dir(paths: Paths) -> Check:
    value = os.environ.get("XDG_RUNTIME_DIR")
    if not paths.runtime_fallback:
        return Check("XDG_RUNTIME_DIR", "ok", f"{value}")
    uid = os.getuid()
    why = "is unset" if not value else f"({value}) is not a private directory owned by you"
    return Check("XDG_RUNTIME_DIR", "warn",
                 f"{why}: pyman keeps its runtime state in {paths.runtime_base} (gone at "
                 f"reboot, not shared with a login session); log in through a session (ssh, "
                 f"machinectl shell {_user()}@) or `export XDG_RUNTIME_DIR=/run/user/{uid}` "
                 f"once `loginctl enable-linger {_user()}` made it")


def check_linger() -> Check:
    user = _user()
    if not os.path.isdir("/run/systemd/system"):
        return Check("lingering", "ok", "no systemd running: nothing stops containers at "
                                        "logout")
    if os.path.exists(os.path.join("/var/lib/systemd/linger", user)):
        return Check("lingering", "ok", f"enabled for {user}")
    return Check("lingering", "warn", f"not enabled for {user}: systemd stops this user's "
                                      f"containers and --user services at logout; run "
                                      f"`loginctl enable-linger {user}`")


def mount_of(path: str, mountinfo: str) -> tuple[str, str]:
    """(mount point, filesystem type) of the mount holding ``path``: the longest mount
    point that is ``path`` or above it (the last one mounted there wins)."""
    best = ("", "")
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5:
            continue
        point = fields[4].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[0]):
            best = (point, right.split()[0])
    return best


def check_store_fs(paths: Paths, mountinfo: str | None = None) -> Check:
    if mountinfo is None:
        try:
            with open("/proc/self/mountinfo") as f:
                mountinfo = f.read()
        except OSError:
            mountinfo = ""
    store = os.path.realpath(paths.data)
    point, fstype = mount_of(store, mountinfo)
    conf = paths.config / "storage.conf"
    if fstype in NETWORK_FS or fstype.startswith("nfs"):
        return Check("store filesystem", "warn",
                     f"the store {paths.data} is on {fstype} ({point}), where files cannot "
                     f"belong to sub-ids and overlay does not work: set rootless_storage_path "
                     f'= "/var/tmp/$USER/containers/storage" under [storage] in '
                     f"/etc/containers/storage.conf (as root), or graphroot in {conf}")
    if fstype in STACKED_FS:
        return Check("store filesystem", "warn",
                     f"the store {paths.data} is on {fstype} ({point}): kernel overlay does "
                     f"not stack on it, so fuse-overlayfs is used; set graphroot in {conf} "
                     "to a directory on a disk filesystem for speed")
    return Check("store filesystem", "ok", f"{fstype or '?'} ({point or '?'})")


def run_checks(paths: Paths, runtime: str | None = None) -> list[Check]:
    """Every check, in the order a first run meets them."""
    from pyman.config import secure
    from pyman.rootless.userns import SUBGID, SUBUID

    secure(paths)
    probe = probe_namespaces(str(paths.data))
    checks = []
    if os.getuid() != 0:
        checks += [check_subids("subuid", str(SUBUID)), check_subids("subgid", str(SUBGID)),
                   check_idmap_tool("newuidmap"), check_idmap_tool("newgidmap")]
    checks.append(check_userns(probe))
    checks += check_overlay(paths, probe)
    checks.append(check_runtime(paths, runtime))
    checks += check_network()
    checks += [check_init(), check_cgroups(), check_runtime_dir(paths), check_linger(),
               check_store_fs(paths)]
    return checks
