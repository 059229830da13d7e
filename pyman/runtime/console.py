"""The receiving end of an OCI runtime's ``--console-socket``.

With a terminal, runc and crun open the pty inside the container and send its master over a
unix socket (SCM_RIGHTS); whoever listens there owns the terminal: it relays it and resizes
it. Stdlib only (the monitor uses this for ``run -t`` too).
"""

from __future__ import annotations

import os
import select
import socket

from pyman.errors import PymanError

MAX_PATH = 107  # sun_path is 108 bytes with its NUL


class ConsoleSocket:
    """A listening socket at a fresh path in ``directory`` (0600 in practice: only the user
    and the runtime, which runs as the same user, reach it). Use as a context manager."""

    def __init__(self, directory: str, name: str = "console") -> None:
        path = os.path.join(directory, f"{name}-{os.urandom(6).hex()}.sock")
        if len(os.fsencode(path)) > MAX_PATH:
            import tempfile  # a deep runtime dir: fall back to a short private dir

            self._tmpdir: str | None = tempfile.mkdtemp(prefix="pyman-console-")
            path = os.path.join(self._tmpdir, "s")
        else:
            self._tmpdir = None
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            self.sock.bind(path)
        finally:
            os.umask(old)
        self.sock.listen(1)

    def receive(self, abort_fd: int | None = None, timeout: float | None = None) -> int:
        """Wait for the runtime to connect and send the pty master; returns it. Gives up
        (PymanError) when ``abort_fd`` becomes readable first (e.g. a pidfd of the runtime,
        which exited without sending) or after ``timeout`` seconds."""
        watch = [self.sock.fileno()] + ([abort_fd] if abort_fd is not None else [])
        ready, _, _ = select.select(watch, [], [], timeout)
        if self.sock.fileno() not in ready:
            raise PymanError("the OCI runtime did not send the container's terminal")
        conn, _ = self.sock.accept()
        with conn:
            _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 4)
        if not fds:
            raise PymanError("the OCI runtime's console message carried no terminal")
        for extra in fds[1:]:
            os.close(extra)
        os.set_inheritable(fds[0], False)
        return fds[0]

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
        if self._tmpdir is not None:
            try:
                os.rmdir(self._tmpdir)
            except OSError:
                pass

    def __enter__(self) -> ConsoleSocket:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
