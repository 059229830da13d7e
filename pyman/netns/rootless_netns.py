"""The user's rootless network namespace (Podman's "rootless-netns"): where the bridges of
user-defined networks live, with netavark's firewall rules and aardvark-dns.

A small holder process keeps it: it is root in a fully mapped user namespace of its own (the
user namespace every container on a network joins, so that it may plug veths into their
network namespaces), has a mount namespace of its own (netavark and aardvark-dns run there)
and a network namespace whose uplink is pasta. Made when the first container joins a network
(``ensure``, by the engine), ended when the last one leaves (``release``, by its monitor).
State in ``<runtime>/rootless-netns/``: ``holder.json``, ``users/<container id>`` (one file
per container on a network), ``conf/`` (netavark's --config: aardvark-dns's files),
``ipam.json`` (the addresses handed out), ``lock`` (flock: one holder, however many race).

Stdlib only: the monitor imports ``release``; the holder itself runs this file as
``python3 -I -S rootless_netns.py <dir> <sync-fd> <ctl-fd> <pasta>``.
"""

from __future__ import annotations

import json
import os
import signal
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

DIR_NAME = "rootless-netns"
PASTA_COMMS = ("pasta", "pasta.avx2", "passt", "passt.avx2")


def state_dir(runtime: str) -> str:
    return os.path.join(runtime, DIR_NAME)


class _Lock:
    def __init__(self, directory: str, name: str = "lock") -> None:
        self.path = os.path.join(directory, name)
        self.fd = -1

    def __enter__(self) -> _Lock:
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def _read_json(path: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_json(path: str, doc: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


def _alive(st: Any) -> bool:
    from pyman.procinfo import same_process

    return isinstance(st, dict) and same_process(int(st.get("pid") or 0), st.get("start"),
                                                 str(st.get("boot") or ""))


def _kill_checked(pid: int, *comms: str) -> None:
    """SIGKILL ``pid`` if it still is one of ``comms`` (never a reused pid)."""
    if pid <= 0:
        return
    try:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() not in comms:
                return
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass


def _is_pasta(pid: int) -> bool:
    from pyman.procinfo import start_time

    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() in PASTA_COMMS and start_time(pid) is not None
    except OSError:
        return False


def _users(directory: str) -> list[str]:
    try:
        return os.listdir(os.path.join(directory, "users"))
    except FileNotFoundError:
        return []


def _teardown(directory: str, st: Any) -> None:
    """End the holder and everything it started; forget the addresses handed out."""
    if isinstance(st, dict) and _alive(st):
        try:
            os.kill(int(st["pid"]), signal.SIGKILL)
        except OSError:
            pass
    if isinstance(st, dict):
        # Debian's pasta is passt's binary execing its AVX2 build
        _kill_checked(int(st.get("pasta_pid") or 0), *PASTA_COMMS)
    try:
        with open(os.path.join(directory, "conf", "aardvark-dns", "aardvark.pid")) as f:
            _kill_checked(int(f.read().strip() or 0), "aardvark-dns")
    except (OSError, ValueError):
        pass
    import shutil

    for name in ("holder.json", "ipam.json", "pasta.pid", "pasta.log", "netns",
                 "netavark.lock"):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    shutil.rmtree(os.path.join(directory, "conf"), ignore_errors=True)
    shutil.rmtree(os.path.join(directory, "users"), ignore_errors=True)


def ensure(runtime: str, cid: str, pasta: str) -> dict[str, Any]:
    """The running holder (started if there is none), with ``cid`` counted as a user."""
    directory = state_dir(runtime)
    os.makedirs(runtime, mode=0o700, exist_ok=True)  # makedirs gives parents 0755
    os.makedirs(directory, mode=0o700, exist_ok=True)
    with _Lock(directory):
        st = _read_json(os.path.join(directory, "holder.json"))
        if not _alive(st):
            _teardown(directory, st)  # a holder killed meanwhile leaves nothing behind
            st = _start_holder(directory, pasta)
            _write_json(os.path.join(directory, "holder.json"), st)
        elif not _is_pasta(int(st.get("pasta_pid") or 0)):
            _restart_uplink(directory, st, pasta)
        os.makedirs(os.path.join(directory, "users"), exist_ok=True)
        with open(os.path.join(directory, "users", cid), "w"):
            pass
        return dict(st)


def _restart_uplink(directory: str, st: dict[str, Any], pasta: str) -> None:
    """A killed uplink (pasta) is started again into the holder's namespaces (its user
    namespace is ours to join): the containers on networks get their way out back. When
    that fails, it is said, with what still works."""
    import logging
    import subprocess

    pid = int(st["pid"])
    old = st.get("pasta_pid")
    argv = [pasta, "--config-net", "--quiet", "-t", "none", "-u", "none", "-T", "none",
            "-U", "none", "--log-file", os.path.join(directory, "pasta.log"), "--pid",
            os.path.join(directory, "pasta.pid"), "--userns", f"/proc/{pid}/ns/user",
            "--netns", f"/proc/{pid}/ns/net"]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=10)
        with open(os.path.join(directory, "pasta.pid")) as f:
            new = int(f.read().strip() or 0)
        ok = proc.returncode == 0 and _is_pasta(new)
        why = proc.stderr.decode(errors="replace").strip()
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        ok, new, why = False, 0, str(exc)
    if ok:
        st["pasta_pid"] = new
        _write_json(os.path.join(directory, "holder.json"), st)
        logging.getLogger("pyman").info(  # repaired: nothing to say at the default level
            "the uplink of the rootless network namespace (pasta, pid %s) was gone: started "
            "again (pid %s)", old, new)
        return
    logging.getLogger("pyman").warning(
        "the uplink of the rootless network namespace (pasta, pid %s) is gone and could not "
        "be started again (%s): containers on networks reach each other but not the outside "
        "until the last of them stops", old, why or "no reason given")


def release(runtime: str, cid: str) -> None:
    """``cid`` left its networks: the last one out ends the namespace."""
    directory = state_dir(runtime)
    if not os.path.isdir(directory):
        return
    with _Lock(directory):
        try:
            os.unlink(os.path.join(directory, "users", cid))
        except FileNotFoundError:
            pass
        if not _users(directory):
            _teardown(directory, _read_json(os.path.join(directory, "holder.json")))


def end_if_last(runtime: str, cid: str) -> bool:
    """When ``cid`` is the namespace's only user: end the namespace now (True)."""
    directory = state_dir(runtime)
    if not os.path.isdir(directory):
        return False
    with _Lock(directory):
        if set(_users(directory)) - {cid}:
            return False
        _teardown(directory, _read_json(os.path.join(directory, "holder.json")))
        return True


def status(runtime: str) -> dict[str, Any] | None:
    st = _read_json(os.path.join(state_dir(runtime), "holder.json"))
    return st if _alive(st) else None


def _start_holder(directory: str, pasta: str) -> dict[str, Any]:
    import subprocess

    from pyman.errors import PymanError
    from pyman.procinfo import boot_id, start_time
    from pyman.rootless.userns import host_id_maps, parent_map

    maps = host_id_maps()
    sync_r, sync_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", os.path.abspath(__file__), directory, str(sync_w),
         str(ctl_r), pasta],
        pass_fds=(sync_w, ctl_r), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    os.close(sync_w)
    os.close(ctl_r)
    try:
        parent_map(proc.pid, sync_r, ctl_w, maps)
        os.close(ctl_w)
        ctl_w = -1
        with os.fdopen(sync_r, "rb") as f:
            sync_r = -1
            answer = f.read().decode(errors="replace")
        if not answer.startswith("R "):
            raise PymanError("cannot set up the rootless network namespace: "
                             f"{answer[1:].strip() or 'its holder process exited'}")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        for fd in (sync_r, ctl_w):
            if fd >= 0:
                os.close(fd)
    return {"pid": proc.pid, "start": start_time(proc.pid), "boot": boot_id(),
            "pasta_pid": int(answer.split()[1])}


def holder_main(argv: list[str]) -> int:
    """The holder: enter a new user + mount namespace, make the network namespace with pasta
    as its uplink, move into it, say ready, and wait to be killed."""
    from pyman.errors import PymanError
    from pyman.netns.helpers import PastaStart, new_netns
    from pyman.rootless import libc
    from pyman.rootless.enter import child_enter

    directory, sync_fd, ctl_fd, pasta = argv[0], int(argv[1]), int(argv[2]), argv[3]
    os.chdir("/")
    try:
        child_enter(libc.CLONE_NEWNS, sync_fd, ctl_fd)
        os.close(ctl_fd)
        libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
        netns = os.path.join(directory, "netns")
        new_netns(netns)
        helper = PastaStart(pasta, netns, os.path.join(directory, "pasta.log"),
                            os.path.join(directory, "pasta.pid")).ready()
        fd = os.open(netns, os.O_RDONLY)
        try:
            libc.setns(fd, libc.CLONE_NEWNET)
        finally:
            os.close(fd)
        os.makedirs(os.path.join(directory, "conf"), exist_ok=True)
    except (PymanError, OSError) as exc:
        os.write(sync_fd, b"E" + str(exc).encode())
        return 1
    os.write(sync_fd, f"R {helper.pid}".encode())
    os.close(sync_fd)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    while True:
        signal.pause()


def users_alive(runtime: str) -> Iterator[str]:
    yield from _users(state_dir(runtime))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    sys.exit(holder_main(sys.argv[1:]))
