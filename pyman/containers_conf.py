"""containers.conf(5): the defaults Podman's own config files give pyman.

Files, as Podman reads them (later ones override earlier ones key by key; a list replaces the
whole list): /usr/share/containers/containers.conf, /etc/containers/containers.conf, the
sorted ``*.conf`` of /etc/containers/containers.conf.d, then for a rootless user
``$XDG_CONFIG_HOME/containers/containers.conf`` (else ~/.config) and its ``containers.conf.d``.
``$CONTAINERS_CONF`` replaces that list with one file; ``$CONTAINERS_CONF_OVERRIDE`` is read
last. Keys pyman does not honour are ignored, as Podman ignores unknown ones.

Read once per process and only by the commands that need it (run/create, info, pods); pyman
already imports tomllib on that path (registries.conf), so parsing costs ~1 ms. Stdlib only.
"""

from __future__ import annotations

import os
from functools import cache

from pyman.errors import ConfigError
from pyman.tomlfile import read_toml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SYSTEM_FILES = ("/usr/share/containers/containers.conf", "/etc/containers/containers.conf")
SYSTEM_DROPINS = "/etc/containers/containers.conf.d"
# containers.conf(5) helper_binaries_dir default on Linux
DEFAULT_HELPER_DIRS = ("/usr/local/libexec/podman", "/usr/local/lib/podman",
                       "/usr/libexec/podman", "/usr/lib/podman")
ROOTLESS_NETWORK_CMDS = ("slirp4netns", "pasta")
EVENTS_LOGGERS = ("file", "journald", "none")

# (table, key) -> the type a value must have; every other key is ignored
STR, STR_LIST, RUNTIMES = "string", "array of strings", "table of string arrays"
INT, SIZE = "integer", "size (bytes, or a string such as \"1mb\")"
BOOL = "boolean"
KEYS: dict[tuple[str, str], str] = {
    ("engine", "runtime"): STR,
    ("engine", "runtimes"): RUNTIMES,
    ("engine", "helper_binaries_dir"): STR_LIST,
    ("engine", "network_cmd_path"): STR,
    ("engine", "image_volume_mode"): STR,
    ("engine", "infra_image"): STR,
    ("engine", "infra_command"): STR,
    ("network", "default_rootless_network_cmd"): STR,
    ("containers", "default_capabilities"): STR_LIST,
    ("containers", "env"): STR_LIST,
    ("containers", "default_ulimits"): STR_LIST,
    ("containers", "init_path"): STR,
    ("containers", "log_driver"): STR,
    ("containers", "log_size_max"): INT,
    ("engine", "events_logger"): STR,
    ("engine", "events_logfile_path"): STR,
    ("engine", "events_logfile_max_size"): SIZE,
    ("containers", "userns"): STR,  # the default --userns
    ("engine", "network_cmd_options"): STR_LIST,  # slirp4netns's (netns/slirp.py)
    ("containers", "dns_servers"): STR_LIST,
    ("containers", "dns_searches"): STR_LIST,
    ("containers", "dns_options"): STR_LIST,
    ("containers", "base_hosts_file"): STR,
    ("containers", "host_containers_internal_ip"): STR,
    ("containers", "no_hosts"): BOOL,
}


class ContainersConf:
    """The merged values pyman honours; ``origin`` names the file each one came from."""

    def __init__(self) -> None:
        self.files: list[str] = []  # the files read, in order
        self.values: dict[tuple[str, str], Any] = {}
        self.origin: dict[tuple[str, str], str] = {}

    def get(self, table: str, key: str, default: Any = None) -> Any:
        return self.values.get((table, key), default)

    def source(self, table: str, key: str) -> str:
        return self.origin.get((table, key), "")

    @property
    def runtime(self) -> str:
        """[engine] runtime as a name or path; a name with an [engine.runtimes] entry becomes
        the first of its paths that exists."""
        name = str(self.get("engine", "runtime", ""))
        paths = (self.get("engine", "runtimes") or {}).get(name) or []
        return next((p for p in paths if os.access(p, os.X_OK)), name)

    @property
    def helper_binaries_dir(self) -> list[str]:
        return list(self.get("engine", "helper_binaries_dir", DEFAULT_HELPER_DIRS))

    @property
    def default_rootless_network_cmd(self) -> str:
        return str(self.get("network", "default_rootless_network_cmd", ""))

    @property
    def default_capabilities(self) -> list[str] | None:
        """None when no file sets it (pyman's built-in Podman 4.3 set applies)."""
        caps = self.get("containers", "default_capabilities")
        return None if caps is None else list(caps)

    @property
    def env(self) -> list[str]:
        return list(self.get("containers", "env", ()))

    @property
    def default_ulimits(self) -> list[str]:
        return list(self.get("containers", "default_ulimits", ()))

    @property
    def log_driver(self) -> str:
        """The default --log-driver ("": k8s-file)."""
        return str(self.get("containers", "log_driver", ""))

    @property
    def log_size_max(self) -> int:
        """The log's size limit for containers without --log-opt max-size (< 0: none)."""
        return int(self.get("containers", "log_size_max", -1))

    @property
    def init_path(self) -> str:
        return str(self.get("containers", "init_path", ""))

    def find_helper(self, name: str) -> str | None:
        """Podman's FindHelperBinary: helper_binaries_dir first, then $PATH."""
        import shutil

        for d in self.helper_binaries_dir:
            path = os.path.join(d, name)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
        return shutil.which(name)


def _dropins(d: str) -> list[str]:
    try:
        names = sorted(e.name for e in os.scandir(d) if e.name.endswith(".conf") and e.is_file())
    except OSError:
        return []
    return [os.path.join(d, n) for n in names]


def user_config_dir() -> str:
    value = os.environ.get("XDG_CONFIG_HOME")
    if value and os.path.isabs(value):
        return os.path.join(value, "containers")
    return os.path.join(os.path.expanduser("~"), ".config", "containers")


def _must_exist(var: str, path: str) -> None:
    """As Podman: a file named by the environment must be there."""
    try:
        os.stat(path)
    except OSError as exc:
        raise ConfigError(f"{var} file: stat {path}: {(exc.strerror or '').lower()}") from None


def config_files(rootless: bool | None = None) -> list[str]:
    """The files Podman reads, in order (missing ones included: they are skipped)."""
    env = os.environ.get("CONTAINERS_CONF")
    if env:
        _must_exist("CONTAINERS_CONF", env)
        files = [env]
    else:
        files = [*SYSTEM_FILES, *_dropins(SYSTEM_DROPINS)]
        if os.getuid() != 0 if rootless is None else rootless:
            user = user_config_dir()
            files += [os.path.join(user, "containers.conf"),
                      *_dropins(os.path.join(user, "containers.conf.d"))]
    override = os.environ.get("CONTAINERS_CONF_OVERRIDE")
    if override:
        _must_exist("CONTAINERS_CONF_OVERRIDE", override)
        files.append(override)
    return files


def _checked(path: str, table: str, key: str, value: Any) -> Any:
    kind = KEYS[(table, key)]
    if kind == SIZE:
        return _size(path, key, value)
    ok = (isinstance(value, str) if kind == STR else
          isinstance(value, int) and not isinstance(value, bool) if kind == INT else
          isinstance(value, bool) if kind == BOOL else
          isinstance(value, list) and all(isinstance(v, str) for v in value) if kind == STR_LIST
          else isinstance(value, dict) and all(
              isinstance(v, list) and all(isinstance(p, str) for p in v)
              for v in value.values()))
    if not ok:
        raise ConfigError(f"{path}: [{table}] {key} must be a {kind}, not {value!r}")
    if (table, key) == ("network", "default_rootless_network_cmd") and value and \
            value not in ROOTLESS_NETWORK_CMDS:
        raise ConfigError(f"{path}: invalid default_rootless_network_cmd {value!r}: must be "
                          f"{' or '.join(ROOTLESS_NETWORK_CMDS)}")
    if (table, key) == ("engine", "events_logger") and value not in EVENTS_LOGGERS:
        raise ConfigError(f"{path}: invalid events_logger {value!r}: must be "
                          + ", ".join(EVENTS_LOGGERS))
    if (table, key) == ("containers", "log_size_max") and 0 <= value < 8192:
        raise ConfigError(f"{path}: log_size_max {value}: log size max should be negative or "
                          ">= 8192")
    return value


def _size(path: str, key: str, value: Any) -> int:
    """A byte count: an integer, or a string in Docker's units (4750, "1mb", "10 KiB")."""
    import re

    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)b?\s*", str(value), re.I) \
        if isinstance(value, str) else None
    if not m:
        raise ConfigError(f"{path}: [engine] {key} must be a {SIZE}, not {value!r}")
    power = "kmgtp".find(m.group(2).lower()) + 1 if m.group(2) else 0
    return int(float(m.group(1)) * (1024 if m.group(3) else 1000) ** power)


def merge(conf: ContainersConf, path: str, data: dict[str, Any]) -> None:
    conf.files.append(path)
    for (table, key) in KEYS:
        section = data.get(table)
        if isinstance(section, dict) and key in section:
            value = _checked(path, table, key, section[key])
            if (table, key) == ("engine", "runtimes"):  # a table: merged name by name
                value = {**(conf.values.get((table, key)) or {}), **value}
            conf.values[(table, key)] = value
            conf.origin[(table, key)] = path


def load(files: list[str] | None = None) -> ContainersConf:
    conf = ContainersConf()
    for path in config_files() if files is None else files:
        data = read_toml(path)
        if data is not None:
            merge(conf, path, data)
    return conf


@cache
def current() -> ContainersConf:
    """This process's containers.conf, read on first use."""
    return load()
