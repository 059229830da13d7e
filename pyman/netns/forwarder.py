"""The published-port forwarder of a slirp4netns container (Podman's rootlessport role).

slirp4netns can forward host ports itself, but every byte then crosses its user-mode TCP
stack. This process instead holds the host's listening sockets (bound by the monitor in the
host's network namespace), moves itself into the container's network namespace, and for
each connection opens the container side there: the two sockets are joined with splice(2),
so the data never enters Python. Sockets keep the namespace they were created in, which is
what lets one process accept on the host and connect in the container.

Run as ``python -I -S forwarder.py <netns> <container addr> <fd>:<port>...`` by the monitor,
inside its user namespace (root there may join the container's netns); ``@<file>`` for the
address: read at each connection (a container on networks: its first address on them now,
"" on none; network connect/disconnect rewrite it). It exits when the monitor dies
(PDEATHSIG) or is told to (SIGTERM) at the container's exit.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading

CHUNK = 1 << 20
SPLICE_F_MOVE = 1


def pump(src: socket.socket, dst: socket.socket, done: threading.Event) -> None:
    """src -> dst through a pipe with splice, until src ends; then half-close dst."""
    r, w = os.pipe()
    try:
        while True:
            n = os.splice(src.fileno(), w, CHUNK, flags=SPLICE_F_MOVE)
            if n == 0:
                break
            while n:
                n -= os.splice(r, dst.fileno(), n, flags=SPLICE_F_MOVE)
    except OSError:
        pass  # a reset on either side ends this direction
    finally:
        os.close(r)
        os.close(w)
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if done.is_set():  # the other direction ended first: the connection is over
            src.close()
            dst.close()
        done.set()


def serve(conn: socket.socket, addr: tuple[str, int]) -> None:
    """One accepted host connection to the container port; the container side is created
    here, in the container's namespace (this process joined it)."""
    if addr[0].startswith("@"):  # a file naming it: changed by network connect/disconnect
        try:
            with open(addr[0][1:]) as f:
                addr = (f.read().strip(), addr[1])
        except OSError:
            addr = ("", addr[1])
        if not addr[0]:  # on no network now: the client sees the close
            conn.close()
            return
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    peer = socket.socket(family, socket.SOCK_STREAM)
    try:
        peer.connect(addr)
    except OSError:
        peer.close()
        conn.close()  # nothing listens in the container: the client sees the close
        return
    for s in (conn, peer):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    done = threading.Event()
    threading.Thread(target=pump, args=(conn, peer, done), daemon=True).start()
    pump(peer, conn, done)


def accept_loop(listener: socket.socket, addr: tuple[str, int]) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=serve, args=(conn, addr), daemon=True).start()


def main(argv: list[str]) -> int:
    from pyman.rootless import libc

    parent = os.getppid()
    netns, target = argv[0], argv[1]
    listeners = []
    for item in argv[2:]:
        fd_text, _, port_text = item.partition(":")
        listeners.append((socket.socket(fileno=int(fd_text)), int(port_text)))
    libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        return 0  # the monitor died before PDEATHSIG was armed
    ns_fd = os.open(netns, os.O_RDONLY)
    libc.setns(ns_fd, libc.CLONE_NEWNET)
    os.close(ns_fd)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    for listener, cport in listeners[1:]:
        threading.Thread(target=accept_loop, args=(listener, (target, cport)),
                         daemon=True).start()
    if listeners:
        accept_loop(listeners[0][0], (target, listeners[0][1]))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    sys.exit(main(sys.argv[1:]))
