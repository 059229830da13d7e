"""Starting the user-mode network helper (slirp4netns or pasta) for a container's netns.

Stdlib only: the monitor runs this between ``runtime create`` and ``runtime start``, when the
container's network namespace exists but its process has not started yet.
"""

from __future__ import annotations

import os
import select
import subprocess

from pyman.errors import PymanError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TUN = "/dev/net/tun"


class NetworkError(PymanError):
    pass


def find_helper(mode: str) -> str:
    """Podman's rule: containers.conf network_cmd_path (slirp4netns), else the first of
    helper_binaries_dir, else $PATH."""
    from pyman.containers_conf import current

    conf = current()
    path = conf.get("engine", "network_cmd_path", "") if mode == "slirp4netns" else ""
    path = path or conf.find_helper(mode)
    if not path:
        raise NetworkError(
            f"{mode} not found: install it (`apt-get install "
            f"{'passt' if mode == 'pasta' else mode}`) or use --network none or --network "
            f"host (looked in {':'.join(conf.helper_binaries_dir)} and $PATH)"
        )
    return path


def check_tun() -> None:
    if not os.access(TUN, os.R_OK | os.W_OK):
        raise NetworkError(
            f"{TUN} is not accessible to uid {os.getuid()}, so rootless networking cannot "
            f"create its tap device: as root run `chmod 0666 {TUN}` (distributions ship it "
            "so), or use --network none or --network host"
        )


class Helper:
    """A running network helper: our child (slirp4netns) or a daemon pid (pasta)."""

    def __init__(self, proc: subprocess.Popen[bytes] | None, exit_w: int | None = None,
                 pid: int = 0) -> None:
        self.proc = proc
        self.exit_w = exit_w
        self.pid = pid

    def stop(self) -> None:
        if self.exit_w is not None:
            os.close(self.exit_w)  # slirp4netns exits when its exit fd closes
            self.exit_w = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        elif self.pid:
            try:
                os.kill(self.pid, 15)
            except ProcessLookupError:
                pass


def _last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            lines = [ln.strip() for ln in f if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def start_slirp4netns(binary: str, pid: int, log_path: str, api_socket: str | None = None,
                      timeout: float = 10) -> Helper:
    ready_r, ready_w = os.pipe()
    exit_r, exit_w = os.pipe()
    os.set_inheritable(exit_w, False)
    argv = [binary, "--configure", "--mtu=65520", "--disable-host-loopback",
            f"--ready-fd={ready_w}", f"--exit-fd={exit_r}", str(pid), "tap0"]
    if api_socket:  # relative: a socket path (sun_path) holds only 108 bytes
        argv[1:1] = [f"--api-socket={os.path.basename(api_socket)}"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, pass_fds=(ready_w, exit_r), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log,
                                cwd=os.path.dirname(api_socket) if api_socket else None)
    os.close(ready_w)
    os.close(exit_r)
    ready, _, _ = select.select([ready_r], [], [], timeout)
    ok = bool(ready) and os.read(ready_r, 1) == b"1"
    os.close(ready_r)
    helper = Helper(proc, exit_w)
    if not ok:
        helper.stop()
        why = _last_line(log_path) or "it did not become ready"
        raise NetworkError(f"slirp4netns failed to set up the container network: {why}")
    return helper


def slirp_add_hostfwd(api_socket: str, m: dict[str, Any]) -> None:
    """One published port through slirp4netns's own forwarding (its API socket)."""
    import json
    import socket

    req = {"execute": "add_hostfwd",
           "arguments": {"proto": m["protocol"], "host_addr": m["host_ip"] or "0.0.0.0",
                         "host_port": m["host_port"], "guest_port": m["container_port"]}}
    dir_fd = os.open(os.path.dirname(api_socket), os.O_RDONLY | os.O_DIRECTORY)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        try:  # through the directory's fd: the full path may be too long for sun_path
            s.connect(f"/proc/self/fd/{dir_fd}/{os.path.basename(api_socket)}")
        finally:
            os.close(dir_fd)
        s.sendall(json.dumps(req).encode())
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    try:
        answer = json.loads(reply or b"{}")
    except ValueError:
        answer = {"error": {"desc": reply.decode(errors="replace")}}
    if "error" in answer:
        desc = answer["error"].get("desc", answer["error"]) if isinstance(
            answer["error"], dict) else answer["error"]
        raise NetworkError(f"cannot publish {m['host_ip'] or '0.0.0.0'}:{m['host_port']}/"
                           f"{m['protocol']}: slirp4netns: {desc}")


def pasta_port_args(ports: list[dict[str, Any]]) -> list[str]:
    """-t/-u specs: ``[addr/]host:container`` per mapping; ``none`` for an unused kind."""
    out: list[str] = []
    for proto, flag in (("tcp", "-t"), ("udp", "-u")):
        specs = [f"{m['host_ip'] + '/' if m['host_ip'] else ''}{m['host_port']}:"
                 f"{m['container_port']}" for m in ports if m["protocol"] == proto]
        for spec in specs or ["none"]:
            out += [flag, spec]
    return out


def bind_netns(pid: int, path: str) -> None:
    """Bind the netns of ``pid`` to a file: pasta drops capabilities before opening it, and
    /proc/<pid>/ns of a not-yet-started (non-dumpable) container would need CAP_SYS_PTRACE."""
    from pyman.rootless import libc

    with open(path, "w"):
        pass
    libc.mount(f"/proc/{pid}/ns/net", path, None, libc.MS_BIND)


def start_pasta(binary: str, pid: int, log_path: str, pid_file: str,
                ports: list[dict[str, Any]] | None = None, timeout: float = 10) -> Helper:
    netns = os.path.join(os.path.dirname(pid_file), "netns")
    bind_netns(pid, netns)
    # without a TTY pasta stays in the foreground only with -f; we want it to daemonize once
    # the namespace is configured, so its exit tells us it is ready
    argv = [binary, "--config-net", "--quiet", *pasta_port_args(ports or []), "-T", "none",
            "-U", "none", "--log-file", log_path, "--pid", pid_file,
            "--runas", "0:0", "--netns", netns]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise NetworkError("pasta did not finish configuring the network in time") from None
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        msg = why[-1] if why else _last_line(log_path) or f"exit status {done.returncode}"
        raise NetworkError(f"pasta failed to set up the container network: {msg}")
    try:
        with open(pid_file) as f:
            daemon = int(f.read().strip() or 0)
    except (OSError, ValueError):
        daemon = 0
    return Helper(None, None, daemon)
