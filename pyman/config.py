"""Where pyman keeps its files, following the XDG layout in docs/architecture.md.

Persistent data lives under ``$XDG_DATA_HOME/pyman``, transient state under
``$XDG_RUNTIME_DIR/pyman``; storage.conf's graphroot/rootless_storage_path and runroot
replace those bases (a ``pyman`` dir under them, see storage_conf.py). Hosts without a login
session (su, sudo -u, cron, CI) often have no usable runtime dir, or one inherited from
another user: then a private 0700 dir under /tmp named for the uid is used, and the user is
told once.

The ``pyman`` dirs themselves (store and runtime) are the user's alone, 0700 as Podman's:
image layers hold setuid files owned by the user on the host and running containers'
upper dirs hold world-writable dirs (/tmp), so the top dir is what keeps a neighbour out.
``secure()`` creates them so and repairs an open one (an older pyman made them 0755).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pyman.errors import StorageError, warn


@dataclass(frozen=True)
class Paths:
    """Where the store, the runtime state and the configuration live."""

    data: Path  # persistent store: blobs, layers, images, containers
    runtime: Path  # transient state: container state, sockets, runc root, locks
    config: Path  # $XDG_CONFIG_HOME/containers (Podman's user config dir)
    runtime_base: Path  # the XDG runtime dir itself (auth.json lives under it)
    runtime_fallback: bool  # true when XDG_RUNTIME_DIR was unusable
    driver: str = "overlay"  # storage.conf driver: overlay | vfs
    mount_program: str = ""  # storage.conf's fuse-overlayfs
    storage_conf: str = ""  # the storage.conf file that applied, "" for none
    volume_path: Path | None = None  # --volumepath; else volumes/ under data
    graphroot: str = ""  # storage.conf's graphroot, "" for the XDG default

    @property
    def podman_graphroot(self) -> Path:
        """Podman's own store root (its rootless network definitions live under it)."""
        if self.graphroot:
            return Path(self.graphroot)
        return _xdg("XDG_DATA_HOME", ".local/share") / "containers" / "storage"

    @property
    def blobs(self) -> Path:
        return self.data / "blobs"

    @property
    def layers(self) -> Path:
        return self.data / "layers"

    @property
    def containers(self) -> Path:
        return self.data / "containers"

    @property
    def volumes(self) -> Path:
        return self.volume_path or self.data / "volumes"

    @property
    def pods(self) -> Path:
        return self.data / "pods"

    @property
    def run_containers(self) -> Path:
        return self.runtime / "containers"

    @property
    def exits(self) -> Path:
        """Exit codes of --rm containers, kept after their records go (the API's wait)."""
        return self.runtime / "exits"

    @property
    def service_socket(self) -> Path:
        """`pyman system service`'s default socket: pyman's own, never Podman's
        podman.sock (`info` shows it as host.remoteSocket)."""
        return self.runtime_base / "pyman" / "pyman.sock"

    @property
    def locks(self) -> Path:
        return self.runtime / "locks"

    @property
    def runtime_root(self) -> Path:
        """The OCI runtime's --root."""
        return self.runtime / "oci"


def _home() -> Path:
    home = os.environ.get("HOME")
    if home:
        return Path(home)
    import pwd

    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var)
    if value and os.path.isabs(value):
        return Path(value)
    return _home() / default


def runtime_dir_usable(path: str | None, uid: int) -> bool:
    """A runtime dir must exist, be a real directory owned by us, and be private to us."""
    if not path or not os.path.isabs(path):
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == uid
        and os.access(path, os.W_OK | os.X_OK)
        and st.st_mode & 0o077 == 0
    )


def _fallback_runtime_dir(uid: int) -> Path:
    path = Path(f"/tmp/pyman-run-{uid}")
    try:
        path.mkdir(mode=0o700)
        created = True
    except FileExistsError:
        created = False
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
        raise StorageError(
            f"the fallback runtime directory {path} is not a private directory owned by uid "
            f"{uid}: remove it, or set XDG_RUNTIME_DIR to a 0700 directory you own"
        )
    if created:
        warn(f"WARN: XDG_RUNTIME_DIR is unset or not usable by uid {uid}; using {path} "
             "for transient state (`pyman system check` says how to get a session's)")
    return path


def _private_dir(path: Path, what: str) -> None:
    """One stat when all is well: create ``path`` 0700, or close it (with one warning) when
    it is open to others; refuse one that is not ours."""
    uid = os.getuid()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass  # a concurrent pyman made it: check what it made
        st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
        raise StorageError(
            f"the {what} {path} is not a directory owned by uid {uid}: move it away, or "
            "point storage.conf's graphroot/runroot at a directory of yours"
        )
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
        warn(f"WARN: the {what} {path} was open to other users (mode "
             f"{stat.S_IMODE(st.st_mode):04o}); made it 0700")


def secure(p: Paths) -> None:
    """Store and runtime dir private to the user, checked on every command's start."""
    _private_dir(p.data, "store")
    _private_dir(p.runtime, "runtime directory")


PYMAN_DIR = "pyman"  # pyman's own layout, under each root

# Podman's global options that move the store (--root, --runroot, --storage-driver,
# --volumepath): set by the CLI before the first paths() call; they win over storage.conf
OVERRIDES: dict[str, str] = {}


def set_overrides(**values: str) -> None:
    OVERRIDES.update({k: v for k, v in values.items() if v})
    paths.cache_clear()


@cache
def paths() -> Paths:
    from pyman.storage_conf import load

    uid = os.getuid()
    config = _xdg("XDG_CONFIG_HOME", ".config") / "containers"
    conf = load(str(config))  # two stats when there is no storage.conf
    if OVERRIDES.get("root"):  # as Podman's --root: the file's graph options do not apply
        conf.graphroot, conf.mount_program = OVERRIDES["root"], ""
    conf.runroot = OVERRIDES.get("runroot") or conf.runroot
    conf.driver = OVERRIDES.get("driver") or conf.driver
    env_runtime = os.environ.get("XDG_RUNTIME_DIR")
    fallback = not runtime_dir_usable(env_runtime, uid)
    if conf.runroot:  # auth.json still follows XDG_RUNTIME_DIR (or Podman's fallback)
        runtime_base = Path(conf.runroot) if fallback else Path(str(env_runtime))
        runtime = Path(conf.runroot) / PYMAN_DIR
    else:
        runtime_base = _fallback_runtime_dir(uid) if fallback else Path(str(env_runtime))
        runtime = runtime_base / PYMAN_DIR
    data_base = Path(conf.graphroot) if conf.graphroot else _xdg("XDG_DATA_HOME", ".local/share")
    return Paths(
        data=data_base / PYMAN_DIR,
        runtime=runtime,
        config=config,
        runtime_base=runtime_base,
        runtime_fallback=fallback,
        driver=conf.driver,
        mount_program=conf.mount_program,
        storage_conf=conf.file,
        volume_path=Path(OVERRIDES["volumepath"]) if OVERRIDES.get("volumepath") else None,
        graphroot=conf.graphroot,
    )
