"""containers-storage.conf(5): where pyman keeps its store, and how it mounts rootfs.

One file applies, as containers/storage picks it for a rootless user:
``$CONTAINERS_STORAGE_CONF``, else ``$XDG_CONFIG_HOME/containers/storage.conf`` (else
~/.config), else the system file (/etc/containers/storage.conf, else
/usr/share/containers/storage.conf). A user file wins entirely (nothing is inherited from the
system one); from the system file a rootless user takes only ``driver``,
``rootless_storage_path`` and the overlay ``mount_program`` (its graphroot and runroot are
root's). Keys: [storage] driver (overlay | vfs), graphroot, rootless_storage_path (wins over
graphroot; $HOME, $UID and $USER expanded), runroot, [storage.options.overlay] mount_program.
``$STORAGE_DRIVER`` overrides the driver, as in containers/storage.

pyman keeps its own layout in a ``pyman`` directory under those roots: Podman reads the same
file, and its store (overlay-*, libpod, volumes ...) must not mix with pyman's.
"""

from __future__ import annotations

import os

from pyman.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SYSTEM_FILES = ("/etc/containers/storage.conf", "/usr/share/containers/storage.conf")
DRIVERS = ("overlay", "vfs")


class StorageConf:
    def __init__(self, file: str = "", user_file: bool = False, driver: str = "",
                 graphroot: str = "", runroot: str = "", mount_program: str = "") -> None:
        self.file = file  # "" when no file applies
        self.user_file = user_file
        self.driver = driver or "overlay"
        self.graphroot = graphroot  # "" for pyman's XDG default
        self.runroot = runroot
        self.mount_program = mount_program


def config_file(config_dir: str) -> tuple[str, bool]:
    """(the file that applies or "", whether it is the user's own)."""
    env = os.environ.get("CONTAINERS_STORAGE_CONF")
    if env:
        return (env, True) if os.path.exists(env) else ("", False)
    user = os.path.join(config_dir, "storage.conf")
    if os.path.exists(user):
        return user, True
    return next(((p, False) for p in SYSTEM_FILES if os.path.exists(p)), ("", False))


def expand(path: str, key: str, file: str) -> str:
    """containers/storage's expansion: $UID, then the environment ($HOME, $USER ...)."""
    out = os.path.expandvars(path.replace("$UID", str(os.getuid())))
    if not os.path.isabs(out):
        raise ConfigError(f"{file}: {key} {path!r} must be an absolute path")
    return os.path.normpath(out)


def _str(table: dict[str, Any], key: str, where: str, file: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(f"{file}: [{where}] {key} must be a string, not {value!r}")
    return value


def load(config_dir: str) -> StorageConf:
    file, user_file = config_file(config_dir)
    if not file:
        return StorageConf(driver=os.environ.get("STORAGE_DRIVER", ""))
    from pyman.tomlfile import read_toml

    data = read_toml(file) or {}
    storage = data.get("storage") or {}
    if not isinstance(storage, dict):
        raise ConfigError(f"{file}: storage must be a table ([storage])")
    options = storage.get("options") or {}
    overlay = options.get("overlay") if isinstance(options, dict) else None
    overlay = overlay if isinstance(overlay, dict) else {}
    driver = os.environ.get("STORAGE_DRIVER") or _str(storage, "driver", "storage", file)
    if driver == "overlay2":
        driver = "overlay"
    if driver and driver not in DRIVERS:
        if user_file or os.environ.get("STORAGE_DRIVER"):
            raise ConfigError(f"{file}: driver {driver!r} is not one pyman has: use overlay "
                              "(kernel overlay, else fuse-overlayfs) or vfs (a copy per "
                              "container)")
        driver = ""  # a system driver rootless cannot use: the default, as containers/storage
    mount_program = _str(overlay, "mount_program", "storage.options.overlay", file) or \
        _str(options if isinstance(options, dict) else {}, "mount_program",
             "storage.options", file)
    rootless_path = _str(storage, "rootless_storage_path", "storage", file)
    graphroot = _str(storage, "graphroot", "storage", file) if user_file else ""
    runroot = _str(storage, "runroot", "storage", file) if user_file else ""
    if rootless_path:
        graphroot = rootless_path
    return StorageConf(
        file=file, user_file=user_file, driver=driver,
        graphroot=expand(graphroot, "graphroot", file) if graphroot else "",
        runroot=expand(runroot, "runroot", file) if runroot else "",
        mount_program=expand(mount_program, "mount_program", file) if mount_program else "",
    )
