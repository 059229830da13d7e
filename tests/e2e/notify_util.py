"""A systemd notify socket for the tests: a unix datagram socket the test binds, as systemd
binds $NOTIFY_SOCKET for a Type=notify unit, and reads what the service sends."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time


class NotifyListener:
    def __init__(self, abstract: bool = False) -> None:
        # sun_path holds 108 bytes: a short directory of its own, not pytest's tmp_path
        self.dir = tempfile.mkdtemp(prefix="pyman-ntf-", dir="/tmp")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"pyman-test-notify-{os.getpid()}-{os.path.basename(self.dir)}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.address = os.path.join(self.dir, "notify")
            self.sock.bind(self.address)
        self.messages: list[dict[str, str]] = []

    def env(self, base: dict[str, str]) -> dict[str, str]:
        return {**base, "NOTIFY_SOCKET": self.address}

    def _take(self, data: bytes) -> None:
        fields = {}
        for line in data.decode(errors="replace").split("\n"):
            key, eq, value = line.partition("=")
            if eq:
                fields[key] = value
        self.messages.append(fields)

    def drain(self) -> list[dict[str, str]]:
        """What has arrived by now, without waiting."""
        self.sock.setblocking(False)
        try:
            while True:
                self._take(self.sock.recv(65536))
        except BlockingIOError:
            pass
        return self.messages

    def wait_for(self, key: str, timeout: float = 20) -> str | None:
        """The value of ``key`` once a message carries it (None if none does in time)."""
        deadline = time.monotonic() + timeout
        while True:
            for m in self.drain():
                if key in m:
                    return m[key]
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.setblocking(True)
            self.sock.settimeout(left)
            try:
                self._take(self.sock.recv(65536))
            except TimeoutError:
                return None

    def value(self, key: str) -> str | None:
        """The last value of ``key`` received so far."""
        found = None
        for m in self.drain():
            found = m.get(key, found)
        return found

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
