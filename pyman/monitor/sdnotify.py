"""sd_notify(3) from the monitor: one datagram to $NOTIFY_SOCKET (a path, or @name for an
abstract socket). Stdlib only. The monitor is the process that stays for the container's
whole life, so it is the service's MAINPID; with --sdnotify=conmon it also says READY=1 once
the container runs, with --sdnotify=container the container says it itself."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyman.monitor.protocol import NotifyCfg


def send(target: str, message: str) -> str:
    """Send ``message``; "" when it went, else why not (the service then times out or
    fails on its own: systemd is the one to report it)."""
    import socket

    addr = "\0" + target[1:] if target.startswith("@") else target
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(addr)
            sock.sendall(message.encode())
    except OSError as exc:
        return f"cannot notify {target}: {exc.strerror or exc}"
    return ""


def started(cfg: NotifyCfg | None) -> str:
    """Once the container runs: MAINPID (and READY=1 in conmon mode)."""
    if not cfg:
        return ""
    lines = [f"MAINPID={os.getpid()}"]
    if cfg["mode"] == "conmon":
        lines.append("READY=1")
    return send(cfg["socket"], "\n".join(lines) + "\n")
