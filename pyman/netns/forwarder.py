"""The published-port forwarder of a slirp4netns container or one on user-defined networks
(Podman's rootlessport role).

slirp4netns can forward host ports itself, but every byte then crosses its user-mode TCP
stack. This process instead holds the host's listening sockets (bound by the monitor in the
host's network namespace), moves itself into the container's network namespace, and for
each connection opens the container side there: the two sockets are joined with splice(2),
so the data never enters Python. Sockets keep the namespace they were created in, which is
what lets one process accept on the host and connect in the container.

UDP (containers on networks): each host client gets a socket of its own in the container's
namespace, datagrams relayed both ways, forgotten after a minute without traffic.

Run as ``python -I -S forwarder.py <netns> <container addr> <fd>:<port>[/udp]...`` by the
monitor, inside its user namespace (root there may join the container's netns); ``@<file>`` for the
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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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


def resolve(addr: tuple[str, int]) -> tuple[str, int]:
    """``@file``: the address the file names now (network connect/disconnect change it);
    "" when the container is on no network."""
    if not addr[0].startswith("@"):
        return addr
    try:
        with open(addr[0][1:]) as f:
            return f.read().strip(), addr[1]
    except OSError:
        return "", addr[1]


def serve(conn: socket.socket, addr: tuple[str, int]) -> None:
    """One accepted host connection to the container port; the container side is created
    here, in the container's namespace (this process joined it)."""
    addr = resolve(addr)
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


UDP_IDLE = 60.0  # seconds a client's flow to the container is kept without traffic


def udp_loop(host: socket.socket, addr: tuple[str, int]) -> None:
    """Datagrams from host clients to the container port, each client with a socket of its
    own in the container's namespace (so replies find their way back), dropped when idle."""
    import time

    flows: dict[Any, tuple[socket.socket, list[float]]] = {}
    lock = threading.Lock()

    def back(peer: socket.socket, client: Any, seen: list[float]) -> None:
        while True:
            try:
                data = peer.recv(65535)
            except TimeoutError:
                if time.monotonic() - seen[0] < UDP_IDLE:
                    continue
                break
            except OSError:
                break
            seen[0] = time.monotonic()
            try:
                host.sendto(data, client)
            except OSError:
                pass
        with lock:
            flows.pop(client, None)
        peer.close()

    while True:
        try:
            data, client = host.recvfrom(65535)
        except OSError:
            return
        with lock:
            flow = flows.get(client)
        if flow is None:
            target = resolve(addr)
            if not target[0]:
                continue  # on no network now: dropped
            family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
            peer = socket.socket(family, socket.SOCK_DGRAM)
            peer.settimeout(5)
            try:
                peer.connect(target)
            except OSError:
                peer.close()
                continue
            flow = (peer, [time.monotonic()])
            with lock:
                flows[client] = flow
            threading.Thread(target=back, args=(peer, client, flow[1]), daemon=True).start()
        flow[1][0] = time.monotonic()
        try:
            flow[0].send(data)
        except OSError:
            pass


def main(argv: list[str]) -> int:
    from pyman.rootless import libc

    parent = os.getppid()
    netns, target = argv[0], argv[1]
    listeners = []
    for item in argv[2:]:  # <fd>:<port>[/udp]
        fd_text, _, port_text = item.partition(":")
        port_text, _, proto = port_text.partition("/")
        listeners.append((socket.socket(fileno=int(fd_text)), int(port_text), proto))
    libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        return 0  # the monitor died before PDEATHSIG was armed
    ns_fd = os.open(netns, os.O_RDONLY)
    libc.setns(ns_fd, libc.CLONE_NEWNET)
    os.close(ns_fd)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    for listener, cport, proto in listeners[1:]:
        threading.Thread(target=udp_loop if proto == "udp" else accept_loop,
                         args=(listener, (target, cport)), daemon=True).start()
    if listeners:
        listener, cport, proto = listeners[0]
        (udp_loop if proto == "udp" else accept_loop)(listener, (target, cport))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    sys.exit(main(sys.argv[1:]))
