"""Starting the user-mode network helper (slirp4netns or pasta) for a container's netns.

Stdlib only: the monitor runs this between ``runtime create`` and ``runtime start``, when the
container's network namespace exists but its process has not started yet.
"""

from __future__ import annotations

import os
import select
import subprocess

from pyman.errors import NetworkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TUN = "/dev/net/tun"


def find_helper(mode: str) -> str:
    """Podman's rule: containers.conf network_cmd_path (slirp4netns), else the first of
    helper_binaries_dir, else $PATH."""
    from pyman.containers_conf import current

    conf = current()
    path = conf.get("engine", "network_cmd_path", "") if mode == "slirp4netns" else ""
    path = path or conf.find_helper(mode)
    if not path:
        from pyman.rootless.packages import install_command

        pkg = "passt" if mode == "pasta" else mode
        raise NetworkError(
            f"{mode} not found: install it (`{install_command(pkg)}`) or use "
            "--network none or --network "
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

    def stop(self, wait: bool = True) -> None:
        """Stop the helper; ``wait``: until it is gone and its ports are free. Its exit takes
        ~15 ms (the kernel tears its tap device down): without published ports nobody needs
        to wait for that, and the monitor reaps it after the client has its answer."""
        if self.exit_w is not None:
            os.close(self.exit_w)  # slirp4netns exits when its exit fd closes
            self.exit_w = None
        if self.proc is not None and not wait:
            self.proc.kill()
        elif self.proc is not None:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        elif self.pid:
            stop_daemon(self.pid, wait)


def stop_daemon(pid: int, wait: bool = True, timeout: float = 5) -> None:
    """SIGKILL a helper daemon (pasta: its sockets and namespace go with it, nothing needs a
    graceful exit) and, ``wait``, wait until it is gone on a pidfd: no polling. It is our
    child once it daemonized (the monitor is a subreaper): reap it."""
    import signal

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        if wait:
            select.select([fd], [], [], timeout)
    except ProcessLookupError:
        pass
    finally:
        os.close(fd)
    if not wait:
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            lines = [ln.strip() for ln in f if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def start_slirp4netns(binary: str, pid: int, log_path: str, api_socket: str | None = None,
                      timeout: float = 10, options: list[str] | None = None) -> Helper:
    """``options``: its flags for the container's slirp4netns options (netns/slirp.py)."""
    ready_r, ready_w = os.pipe()
    exit_r, exit_w = os.pipe()
    os.set_inheritable(exit_w, False)
    argv = [binary, "--configure",
            *(options if options is not None else ["--mtu=65520", "--disable-host-loopback"]),
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


def new_netns(path: str) -> None:
    """A fresh network namespace bound to ``path``, made by a forked child of the monitor (so
    it belongs to the container's user namespace) before the runtime creates the container,
    which joins it by path: pasta configures it while `runtime create` runs."""
    from pyman.rootless import libc

    with open(path, "w"):
        pass
    pid = os.fork()
    if pid == 0:  # the child only unshares and binds: nothing of Python's state matters
        code = 1
        try:
            libc.unshare(libc.CLONE_NEWNET)
            libc.mount("/proc/self/ns/net", path, None, libc.MS_BIND)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise NetworkError("cannot create the container's network namespace")


class PastaStart:
    """pasta configuring a network namespace, in the background: without a TTY it
    daemonizes once the namespace is configured, so its first process's exit says ready."""

    def __init__(self, binary: str, netns: str, log_path: str, pid_file: str,
                 ports: list[dict[str, Any]] | None = None) -> None:
        argv = [binary, "--config-net", "--quiet", *pasta_port_args(ports or []), "-T",
                "none", "-U", "none", "--log-file", log_path, "--pid", pid_file,
                "--runas", "0:0", "--netns", netns]
        self.log_path, self.pid_file = log_path, pid_file
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def ready(self, timeout: float = 10, quiet: bool = False) -> Helper:
        """The running daemon; NetworkError when pasta failed (``quiet``: a Helper anyway,
        so that whatever did start is stopped)."""
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            if quiet:
                return Helper(None, None, 0)
            raise NetworkError("pasta did not finish configuring the network in time") from None
        try:
            with open(self.pid_file) as f:
                daemon = int(f.read().strip() or 0)
        except (OSError, ValueError):
            daemon = 0
        if self.proc.returncode != 0 and not quiet:
            if daemon:
                Helper(None, None, daemon).stop()
            why = err.decode(errors="replace").strip().splitlines()
            msg = why[-1] if why else _last_line(self.log_path) or \
                f"exit status {self.proc.returncode}"
            raise NetworkError(f"pasta failed to set up the container network: {msg}")
        return Helper(None, None, daemon)


def check_joinable(path: str) -> None:
    """--network ns:<path>: runc would only say "can't get final child's PID"; try the
    setns in a throwaway child first and say what is wrong."""
    from pyman.rootless import libc

    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            os._exit(100 + (exc.errno or 0) % 100)
        try:
            libc.setns(fd, libc.CLONE_NEWNET)
            code = 0
        except OSError as exc:
            code = 2 if exc.errno == 1 else 3  # EPERM: owned by another user namespace
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code >= 100:
        raise NetworkError(f"cannot open the network namespace {path}: "
                         f"{os.strerror(code - 100)}")
    if code == 2:
        raise NetworkError(
            f"cannot join the network namespace {path}: it belongs to a user namespace "
            "pyman's containers do not share (rootless, only namespaces made inside it can "
            "be joined); use --network container:<name> to share another container's")
    if code:
        raise NetworkError(f"cannot join the network namespace {path}: it is not a network "
                         "namespace file (bind-mount one from /proc/<pid>/ns/net)")
