"""The options that let a container run as a systemd service: --cidfile, --sdnotify and
--cgroups, checked as Podman 4.3 checks them (its messages, exit 125), and the notify
settings handed to the monitor.

The client never notifies systemd itself: the monitor does (monitor/sdnotify.py), because it
is the process that stays (MAINPID) and it knows when the container runs (READY=1).
"""

from __future__ import annotations

import os

from pyman.errors import PymanError

TYPE_CHECKING = False
if TYPE_CHECKING:

    from pyman.monitor.protocol import MonitorConfig, NotifyCfg

SDNOTIFY_MODES = ("container", "conmon", "ignore")
CGROUP_MODES = ("enabled", "no-conmon", "split", "disabled")
# where the notify socket appears in a --sdnotify=container container, as Podman puts it
CONTAINER_SOCKET = "/run/notify/notify.sock"


def check_sdnotify(mode: str) -> str:
    if mode not in SDNOTIFY_MODES:
        raise PymanError(f'invalid config provided: invalid argument: invalid sdnotify value '
                         f'"{mode}": must be container, conmon or ignore')
    return mode


def check_cgroups(mode: str, limits: bool) -> str:
    """pyman never moves its monitor into a cgroup of its own: it stays where the caller runs
    (a systemd unit's cgroup), which is what no-conmon and split ask of conmon. The container
    gets a cgroup only with limits on a delegated cgroup v2 tree (runtime/cgroups.py), the
    same for enabled, no-conmon and split; disabled promises none, so limits are refused."""
    if mode not in CGROUP_MODES:
        raise PymanError(f'running container create option: invalid cgroup mode "{mode}": '
                         "invalid argument")
    if mode == "disabled" and limits:
        raise PymanError("--cgroups=disabled: the container has no cgroup, so --memory, "
                         "--cpus and --pids-limit cannot be honoured")
    return mode


def check_cidfile(path: str) -> None:
    """Before anything is pulled or created: the file must not exist (Podman's words)."""
    if os.path.lexists(path):
        raise PymanError(f"container id file exists. Ensure another container is not using it "
                         f"or delete {path}")


def open_cidfile(path: str) -> int:
    """Claimed before the container is created (O_EXCL: of two runs one wins)."""
    check_cidfile(path)
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        check_cidfile(path)
        raise
    except OSError:
        raise PymanError(f"opening cidfile {path}") from None


def read_cidfile(path: str) -> str | None:
    """The id a --cidfile names; None when the file is missing (the caller decides whether
    --ignore covers that)."""
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PymanError(f"reading CIDFile: open {path}: {exc.strerror}") from None


def missing_cidfile(path: str) -> PymanError:
    return PymanError(f"reading CIDFile: open {path}: no such file or directory")


def notify_config(mode: str, environ: dict[str, str] | None = None) -> NotifyCfg | None:
    """What the monitor needs to notify systemd: the socket ($NOTIFY_SOCKET, set by systemd
    for Type=notify units) and the mode. None when there is nothing to do."""
    socket = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if mode == "ignore" or not socket:
        return None
    return {"mode": mode, "socket": socket}


def container_mount(socket: str) -> dict[str, object] | None:
    """--sdnotify=container: the host's socket bound into the container. An abstract socket
    (@name) cannot be bound: it is reachable only from the host's network namespace, so the
    container sees it only with --network host (NOTIFY_SOCKET is passed on as it is)."""
    if socket.startswith("@"):
        return None
    return {"destination": CONTAINER_SOCKET, "type": "bind", "source": socket,
            "options": ["bind", "rprivate"]}


def add_listen(cfg: MonitorConfig) -> None:
    """Socket activation (systemd's LISTEN_* environment, Podman's #10443): the variables go
    on to the container with LISTEN_PID=1 (it is pid 1 there), and the sockets, fds 3.., are
    handed on by the monitor to the runtime (`--preserve-fds`). Only the fds open here go:
    one that is not would make the runtime fail."""
    env = [f"{k}={'1' if k == 'LISTEN_PID' else os.environ[k]}"
           for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES") if k in os.environ]
    if not env:
        return
    cfg["spec"]["env"] = [*cfg["spec"]["env"], *env]
    want = os.environ.get("LISTEN_FDS", "")
    count = 0
    for fd in range(3, 3 + (int(want) if want.isdigit() else 0)):
        try:
            os.fstat(fd)
        except OSError:
            break
        count += 1
    if count:
        cfg["listen_fds"] = count
