"""What the monitor does to a mounted rootfs before the bundle is written (stdlib only):
the root dir's mode, /etc/mtab, the --workdir check, /run/.containerenv and --secret copies
in the run dir, and the path the runtime's init can reach the rootfs by."""

from __future__ import annotations

import os
import stat

from pyman.errors import PymanError
from pyman.rootless import libc

TYPE_CHECKING = False
if TYPE_CHECKING:

    from pyman.monitor.protocol import MonitorConfig


def prepare(cfg: MonitorConfig, rootfs: str) -> None:
    """The image's permissions of / (engine/containers/root_mode.py: set on the mount, so in
    the upper dir), /etc/mtab, and a --workdir that must exist."""
    mode = int(cfg.get("root_mode") or 0o755)
    if os.stat(rootfs).st_mode & 0o777 != mode:
        os.chmod(rootfs, mode)
    ensure_mtab(rootfs)
    if cfg["spec"].get("check_cwd"):
        check_workdir(cfg, rootfs)


def passwd(cfg: MonitorConfig, rootfs: str, run_dir: str) -> None:
    """The entries of --userns=keep-id's user and --hostuser's (runtime/keep_id.py)."""
    if cfg.get("passwd_users"):
        from pyman.runtime.keep_id import write_files

        write_files(rootfs, run_dir, cfg["passwd_users"], cfg.get("group_entry"),
                    in_place=not cfg["spec"].get("read_only"))


def ensure_mtab(rootfs: str) -> None:
    """/etc/mtab -> /proc/mounts where the image has none (as Podman adds it): tools read
    it. Only under a real /etc dir (a symlinked one may lead anywhere)."""
    etc = os.path.join(rootfs, "etc")
    try:
        if not stat.S_ISDIR(os.lstat(etc).st_mode):
            return
        os.symlink("/proc/mounts", os.path.join(etc, "mtab"))
    except OSError:
        pass  # there already (a file or a link), or no /etc


def check_workdir(cfg: MonitorConfig, rootfs: str) -> None:
    """A --workdir must exist in the image or on a mount (or above one: the runtime makes
    the mount point); the image's own WORKDIR is made by the runtime (Podman's rules and
    message, exit 126)."""
    from pyman.runtime.inroot import is_dir_in_root

    cwd = os.path.normpath(cfg["spec"]["cwd"])
    for m in cfg.get("mounts") or []:
        dest = os.path.normpath(m["destination"])
        if cwd == dest or cwd.startswith(dest.rstrip("/") + "/") or \
                dest.startswith(cwd.rstrip("/") + "/"):
            return
    found = is_dir_in_root(rootfs, cwd.lstrip("/") or ".")
    if found is None:
        raise PymanError(f'workdir "{cwd}" does not exist on container {cfg["id"]}',
                         exit_code=126)
    if not found:
        raise PymanError(f'workdir "{cwd}" exists on container {cfg["id"]}, but is not a '
                         "directory", exit_code=126)


def run_dir_extras(cfg: MonitorConfig, run_dir: str) -> None:
    """/run/.containerenv's file (0644) and the --secret copies, bound by runtime/bundle.py."""
    containerenv = cfg.get("containerenv")
    if containerenv is not None:
        path = os.path.join(run_dir, ".containerenv")
        with open(path, "w") as f:
            f.write(containerenv)
        os.chmod(path, 0o644)
    if cfg.get("secrets"):
        write_secrets(cfg, run_dir)


def write_secrets(cfg: MonitorConfig, run_dir: str) -> None:
    """Each mount secret copied to <run>/secrets/<name>, owned by the uid and gid it asks
    for as the container's namespace maps them, with its mode (bound read-only by
    runtime/bundle.py)."""
    from pyman.storage.volume_copy import to_outer

    where = os.path.join(run_dir, "secrets")
    os.makedirs(where, mode=0o700, exist_ok=True)
    maps = cfg.get("userns_maps")
    for s in cfg["secrets"]:
        with open(s["data"], "rb") as f:
            data = f.read()
        dest = os.path.join(where, s["name"])
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        uid, gid = int(s["uid"]), int(s["gid"])
        if maps:
            uid, gid = to_outer(maps["uid"], uid), to_outer(maps["gid"], gid)
        os.chown(dest, uid, gid)
        os.chmod(dest, int(s["mode"]))


def reachable_rootfs(cfg: MonitorConfig, rootfs: str) -> str:
    """The rootfs as the runtime's init reaches it. In a user namespace that does not map
    the user (--userns=nomap, auto), the user's own private dirs above the store cannot be
    searched: the rootfs is bound (in this monitor's mount namespace only) on
    /tmp/pyman-rootfs-<uid>, an empty dir of the user's that anyone may search."""
    where = str(cfg.get("reachable_rootfs") or "")
    if not where:
        return rootfs
    try:
        os.mkdir(where, 0o711)
    except FileExistsError:
        pass
    st = os.lstat(where)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise PymanError(f"{where} is not a directory of this user's that only it may "
                         "write: remove it and run again")
    os.chmod(where, 0o711)
    libc.mount(rootfs, where, None, libc.MS_BIND | libc.MS_REC)
    return where
