"""--ulimit, --memory, --cpus, --pids-limit, --add-host, --stop-signal, --init-path: checked
at create, so a bad value is refused before anything is written."""

from __future__ import annotations

import os
import re
import resource
import signal

from pyman.errors import PymanError

ULIMITS = {
    "as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}
UNLIMITED = -1


def parse_ulimits(items: list[str]) -> list[tuple[str, int, int]]:
    """``name=soft[:hard]`` (-1: unlimited) -> [(RLIMIT_X, soft, hard)]. A hard limit above
    the caller's own is refused here: raising it needs privileges the user lacks, and the
    runtime would only fail later with EPERM."""
    out: dict[str, tuple[int, int]] = {}
    for item in items:
        name, eq, value = item.partition("=")
        try:
            if not eq or not value:
                raise ValueError("missing value")
            rl = ULIMITS.get(name.strip().lower())
            if rl is None:
                raise ValueError(f"invalid ulimit type: {name}")
            soft_s, _, hard_s = value.partition(":")
            soft = int(soft_s)
            hard = int(hard_s) if hard_s else soft
            if UNLIMITED not in (soft, hard) and soft > hard:
                raise ValueError(f"ulimit soft limit must be less than or equal to hard "
                                 f"limit: {soft} > {hard}")
            if soft == UNLIMITED and hard != UNLIMITED:
                raise ValueError(f"ulimit soft limit must be less than or equal to hard "
                                 f"limit: unlimited > {hard}")
        except ValueError as exc:
            raise PymanError(f'ulimit option "{item}" requires name=SOFT:HARD, failed to be '
                             f"parsed: {exc}") from None
        _check_hard(item, rl, hard)
        out[rl] = (soft, hard)
    return [(k, s, h) for k, (s, h) in out.items()]


def _check_hard(item: str, rl: str, hard: int) -> None:
    _, own = resource.getrlimit(getattr(resource, rl))
    if own == resource.RLIM_INFINITY:
        return
    if hard == UNLIMITED or hard > own:
        shown = "unlimited" if hard == UNLIMITED else str(hard)
        raise PymanError(f"invalid --ulimit {item}: the hard limit {shown} is above this "
                         f"user's own hard limit {own}, and only a privileged process may "
                         f"raise it. Use a hard limit of at most {own}")


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$", re.I)


def parse_memory(text: str) -> int:
    """100m, 1g, 512k, 1048576 -> bytes (Podman's units, powers of 1024)."""
    m = _SIZE.match(text.strip())
    if not m:
        raise PymanError(f"invalid size: '{text}'")
    scale = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    return int(float(m.group(1)) * scale[m.group(2).lower()])


def ignored_on_cgroup_v1() -> bool:
    """Podman's rule: on a cgroup v1 (or hybrid) host a rootless container runs without
    cgroups, so limits are dropped with its warning rather than refused."""
    from pyman.runtime.cgroups import CGROUP_ROOT

    try:
        if fs_type(CGROUP_ROOT) == "cgroup2":  # unified: limits need delegation there
            return False
    except OSError:
        return False
    import logging

    logging.getLogger("pyman").warning(
        "Resource limits are not supported and ignored on cgroups V1 rootless systems")
    return True


def fs_type(path: str) -> str:
    """The filesystem type mounted at ``path`` (/proc/self/mountinfo's last entry for it)."""
    kind = ""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and fields[4] == path and " - " in line:
                kind = line.split(" - ", 1)[1].split()[0]
    return kind


def check_limits(memory: int, nano_cpus: int, pids_limit: int) -> None:
    """Limits need a delegated cgroup v2 tree; without one, refuse up front with the reason."""
    asked = [flag for flag, v in (("--memory", memory), ("--cpus", nano_cpus),
                                  ("--pids-limit", pids_limit)) if v > 0]
    if not asked:
        return
    from pyman.runtime.cgroups import delegation

    d = delegation()
    if not d.ok:
        raise PymanError(f"{', '.join(asked)}: resource limits need a cgroup v2 tree "
                         f"delegated to this user, and {d.why}. Run without "
                         f"{' and '.join(asked)}")
    need = {"--memory": "memory", "--cpus": "cpu", "--pids-limit": "pids"}
    missing = [need[f] for f in asked if need[f] not in d.controllers]
    if missing:
        raise PymanError(f"{', '.join(asked)}: the {', '.join(missing)} controller is not "
                         f"delegated to this user's cgroup {d.path}. Ask for it with "
                         "Delegate= in user@.service, or run without the limit")


def parse_add_host(items: list[str]) -> list[str]:
    """``host:ip`` (the ip may be IPv6, with colons): as given, after checking."""
    import ipaddress  # ~3 ms: only when there are hosts to check

    out = []
    for item in items:
        host, sep, ip = item.partition(":")
        if not sep or not host or not ip:
            raise PymanError(f'bad format for add-host: "{item}"')
        try:
            ipaddress.ip_address(ip.strip("[]"))
        except ValueError:
            raise PymanError(f'invalid IP address in add-host: "{ip}"') from None
        out.append(item)
    return out


def parse_signal(text: str) -> int:
    """TERM, SIGTERM, term or 15, as Podman accepts them (one leading dash is dropped, as
    its wrapper of docker's ParseSignal does), with Podman's errors."""
    text = text.removeprefix("-")
    if text.isdigit():
        if int(text) > 64:
            raise PymanError("valid signals are 1 through 64")
        if int(text) == 0:
            raise PymanError(f"invalid signal: {text}")
        return int(text)
    name = text.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise PymanError(f"invalid signal: {text}") from None


def init_binary(path: str | None) -> str:
    """The init to bind in for --init, Podman's rule: --init-path, else containers.conf
    init_path, else catatonit in helper_binaries_dir, else on $PATH."""
    from pyman.containers_conf import current

    conf = current()
    origin = ""
    if not path and conf.init_path:
        path, origin = conf.init_path, f" (init_path in {conf.source('containers', 'init_path')})"
    if path:
        if not os.path.isfile(path):
            raise PymanError(f"container-init binary not found on the host: stat {path}: "
                             f"no such file or directory{origin}")
        return os.path.abspath(path)
    found = conf.find_helper("catatonit")
    if found:
        return found
    from pyman.rootless.packages import install_command

    raise PymanError("container-init binary not found on the host: catatonit is not "
                     f"installed. Install catatonit (`{install_command('catatonit')}` as "
                     "root), or name an init with --init-path")


def default_ulimits(user: list[str]) -> list[tuple[str, int, int]]:
    """containers.conf default_ulimits, each overridden by a --ulimit of the same name."""
    from pyman.containers_conf import current

    conf = current()
    given = parse_ulimits(user)
    if not conf.default_ulimits:
        return given
    try:
        defaults = parse_ulimits(conf.default_ulimits)
    except PymanError as exc:
        from pyman.errors import ConfigError

        raise ConfigError(f"{conf.source('containers', 'default_ulimits')}: default_ulimits: "
                          f"{exc}") from None
    names = {name for name, _, _ in given}
    return [u for u in defaults if u[0] not in names] + given
