"""The monitor's relay: the container's output to the log, to a directly attached client and
to the clients of the attach socket; their input to the container's stdin (a pty master or a
pipe); their window sizes to the pty.

Stdlib only and lean (os, select; _socket for accept): the lean waiter (lean.py) runs it
for the container's whole life.

The attach socket (``<run-dir>/attach``, SOCK_SEQPACKET: one message per read or write)
speaks in messages whose first byte says what they are:

  monitor -> client  ``1``+data stdout, ``2``+data stderr, ``x``+exit code (then it closes)
  client -> monitor  ``0``+data stdin, ``e`` end of stdin, ``w``+``<rows> <cols>`` a resize
"""

from __future__ import annotations

import os
import select
import time

from pyman.monitor.k8slog import K8sFileLog

CHUNK = 65536
CLIENT_BACKLOG = 8 << 20  # bytes queued for a client that does not read: then it is dropped
STDIN_BACKLOG = 1 << 20  # input queued for the container: clients are not read meanwhile
STREAM_TAG = {"stdout": b"1", "stderr": b"2"}


class Relay:
    def __init__(self, log: K8sFileLog | None, outputs: dict[int, str],
                 direct: dict[str, int] | None = None, listen: int = -1,
                 stdin: int = -1, master: int = -1, clients: list[int] | None = None) -> None:
        self.log = log
        self.outputs = dict(outputs)  # read fd -> stream name
        self.direct = dict(direct or {})  # stream name -> fd of a client given at start
        self.listen = listen  # the attach socket, listening
        self.stdin = stdin  # where clients' input goes: the pty master or a pipe; -1: nowhere
        self.master = master  # the pty master, for resizes; -1 without a terminal
        self.clients: dict[int, list[bytes]] = {fd: [] for fd in clients or ()}
        self.pending_in = b""
        for fd in self.clients:
            os.set_blocking(fd, False)
        if self.stdin >= 0:
            os.set_blocking(self.stdin, False)

    # -- handing over to a fresh interpreter (lean.py) -----------------------------------
    def handover(self) -> list[str]:
        """The relay as arguments for ``from_args`` in the exec'ed waiter; its fds are made
        inheritable."""
        args = [f"out={fd}:{name}" for fd, name in self.outputs.items()]
        args += [f"direct={name}:{fd}" for name, fd in self.direct.items()]
        args += [f"client={fd}" for fd in self.clients]
        args += [f"{k}={v}" for k, v in (("listen", self.listen), ("stdin", self.stdin),
                                           ("master", self.master)) if v >= 0]
        fds = [*self.outputs, *self.direct.values(), *self.clients, self.listen, self.stdin,
               self.master]
        for fd in fds:
            if fd >= 0:
                os.set_inheritable(fd, True)
        return args

    @classmethod
    def from_args(cls, args: list[str], log: K8sFileLog | None) -> Relay:
        outputs: dict[int, str] = {}
        direct: dict[str, int] = {}
        clients: list[int] = []
        single = {"listen": -1, "stdin": -1, "master": -1}
        for arg in args:
            key, _, value = arg.partition("=")
            if key == "out":
                fd, _, name = value.partition(":")
                outputs[int(fd)] = name
            elif key == "direct":
                name, _, fd = value.partition(":")
                direct[name] = int(fd)
            elif key == "client":
                clients.append(int(value))
            elif key in single:
                single[key] = int(value)
        return cls(log, outputs, direct, clients=clients, **single)

    # -- the loop ------------------------------------------------------------------------
    def run(self, deadline: float | None = None) -> bool:
        """Relay until every output ends (True) or, with ``deadline`` (a time.monotonic()
        value), until then (False)."""
        while self.outputs:
            timeout = None
            if deadline is not None:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    return False
            rlist = list(self.outputs)
            if self.listen >= 0:
                rlist.append(self.listen)
            if len(self.pending_in) < STDIN_BACKLOG:
                rlist += list(self.clients)
            wlist = [fd for fd, queue in self.clients.items() if queue]
            if self.pending_in and self.stdin >= 0:
                wlist.append(self.stdin)
            try:
                ready_r, ready_w, _ = select.select(rlist, wlist, [], timeout)
            except InterruptedError:
                continue
            for fd in ready_r:
                if fd in self.outputs:
                    self._output(fd)
                elif fd == self.listen:
                    self._accept()
                elif fd in self.clients:
                    self._from_client(fd)
            for fd in ready_w:
                if fd == self.stdin:
                    self._write_stdin()
                elif fd in self.clients:
                    self._flush(fd)
        return True

    def _output(self, fd: int) -> None:
        try:
            data = os.read(fd, CHUNK)
        except InterruptedError:
            return
        except OSError:  # EIO: a pty master whose other side is all closed
            data = b""
        stream = self.outputs[fd]
        if not data:
            os.close(fd)
            del self.outputs[fd]
            if fd == self.stdin:
                self.stdin = -1
            if fd == self.master:
                self.master = -1
            return
        if self.log is not None:
            self.log.write(stream, data)
        client = self.direct.get(stream)
        if client is not None:
            try:
                _write_all(client, data)
            except OSError:  # the client went away (EPIPE): the log keeps being written
                del self.direct[stream]
        message = STREAM_TAG[stream] + data
        for cfd in list(self.clients):
            self.clients[cfd].append(message)
            self._flush(cfd)

    def _accept(self) -> None:
        import _socket

        listener = _socket.socket(fileno=self.listen)
        try:
            fd, _ = listener._accept()  # type: ignore[attr-defined]
        except OSError:
            return
        finally:
            listener.detach()
        os.set_inheritable(fd, False)
        os.set_blocking(fd, False)
        self.clients[fd] = []

    def _from_client(self, fd: int) -> None:
        try:
            msg = os.read(fd, CHUNK + 1)
        except BlockingIOError:
            return
        except OSError:
            msg = b""
        if not msg:
            self.drop(fd)
            return
        kind, data = msg[:1], msg[1:]
        if kind == b"0" and self.stdin >= 0:
            self.pending_in += data
            self._write_stdin()
        elif kind == b"e" and self.stdin >= 0 and self.master < 0:
            # a pipe's reader sees the end; a terminal has no end of input to pass on
            self._write_stdin()
            os.close(self.stdin)
            self.stdin, self.pending_in = -1, b""
        elif kind == b"w" and self.master >= 0:
            try:
                rows, cols = (int(x) for x in data.split())
                resize(self.master, rows, cols)
            except (ValueError, OSError):
                pass

    def _write_stdin(self) -> None:
        try:
            n = os.write(self.stdin, self.pending_in)
        except BlockingIOError:
            return
        except OSError:  # nobody reads the container's stdin any more
            self.pending_in = b""
            return
        self.pending_in = self.pending_in[n:]

    def _flush(self, fd: int) -> None:
        queue = self.clients[fd]
        while queue:
            try:
                os.write(fd, queue[0])
            except BlockingIOError:
                if sum(len(m) for m in queue) > CLIENT_BACKLOG:
                    self.drop(fd)  # it stopped reading: the container must not wait
                return
            except OSError:
                self.drop(fd)
                return
            del queue[0]

    def drop(self, fd: int) -> None:
        self.clients.pop(fd, None)
        os.close(fd)

    # -- the end -------------------------------------------------------------------------
    def stop_listening(self) -> None:
        """No new clients: the container has exited."""
        if self.listen >= 0:
            os.close(self.listen)
            self.listen = -1

    def finish(self, code: int, wait: float = 5.0) -> None:
        """Tell every client the exit code (after what output they still have queued) and
        close them; a client that does not read within ``wait`` seconds is just closed."""
        self.stop_listening()
        end = time.monotonic() + wait
        for fd in self.clients:
            self.clients[fd].append(b"x" + str(code).encode())
        while self.clients:
            left = end - time.monotonic()
            if left <= 0:
                break
            _, ready, _ = select.select([], list(self.clients), [], left)
            for fd in ready:
                self._flush(fd)
                if fd in self.clients and not self.clients[fd]:
                    self.drop(fd)
        for fd in list(self.clients):
            self.drop(fd)
        for fd in {self.stdin, self.master} - {-1, *self.outputs}:
            try:
                os.close(fd)
            except OSError:
                pass
        self.stdin = self.master = -1


def resize(master: int, rows: int, cols: int) -> None:
    """TIOCSWINSZ on the pty master: the kernel signals the foreground process group."""
    import fcntl
    import struct
    import termios

    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
