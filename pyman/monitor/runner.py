"""One container run inside the monitor: rootfs, bundle, runtime create/start, network, wait."""

from __future__ import annotations

import json
import os
import subprocess
import time

from pyman.errors import PymanError
from pyman.eventlog import from_monitor
from pyman.monitor import rootfs_prep
from pyman.netns import files as netfiles
from pyman.netns.helpers import (
    Helper,
    PastaStart,
    bind_netns,
    check_joinable,
    new_netns,
    slirp_add_hostfwd,
    start_slirp4netns,
)
from pyman.procinfo import boot_id, start_time
from pyman.rootless import libc
from pyman.storage.atomic import write_json
from pyman.storage.rootfs import mount_rootfs, mount_shm, unmount_rootfs

TYPE_CHECKING = False  # typing costs ~15 ms of start-up; the monitor runs on every `run`
if TYPE_CHECKING:
    from typing import Any

    from pyman.monitor.protocol import MonitorConfig

PUBLISHING = ("slirp4netns", "pasta", "netavark")  # modes whose -p the monitor binds


class ContainerRun:
    def __init__(self, cfg: MonitorConfig, run_dir: str) -> None:
        self.cfg = cfg
        self.id: str = cfg["id"]
        self.run_dir = run_dir
        self.cdir: str = cfg["container_dir"]
        self.rootfs = os.path.join(self.cdir, "merged")
        self.runtime: str = cfg["runtime"]["path"]
        self.runtime_root: str = cfg["runtime"]["root"]
        self.runtime_flags: list[str] = list(cfg["runtime"].get("flags") or [])
        self.pid = 0
        self.created = False
        self.mounted = False
        self.helper: Helper | None = None
        self.plug: Any = None  # netns/container_net.Plug: on user-defined networks
        if cfg.get("netavark"):
            from pyman.netns.container_net import Plug

            self.plug = Plug(cfg, run_dir)
        # socket activation: fds 3.. the client was given, handed on to the runtime
        self.listen_fds = tuple(range(3, 3 + int(cfg.get("listen_fds") or 0)))
        self.pipes: dict[str, int] = {}
        self.master = -1  # the pty master, with a terminal
        self.stdin_w = -1  # the container's stdin pipe, held open for attach clients (-i)
        self.state: dict[str, Any] = {"status": "created", "monitor_pid": os.getpid(),
                                      "monitor_start": start_time(os.getpid()),
                                      "boot_id": boot_id(), "restart_count": 0}

    def _save(self, **changes: Any) -> None:
        self.state.update(changes)
        write_json(os.path.join(self.run_dir, "state.json"), self.state, sync=False)
        if not self.cfg.get("rm") and self.state["status"] != "created":
            # a copy that outlives a reboot (the runtime dir is a tmpfs); the old boot id
            # in it tells the next pyman command that nothing of this run is left
            write_json(os.path.join(self.cdir, "state.json"), self.state, sync=False)

    def _rt(self, *args: str) -> list[str]:
        return [self.runtime, "--root", self.runtime_root, *self.runtime_flags, *args]

    def start(self) -> int:
        mode = self.cfg["network"]
        ports = self.cfg.get("ports") or []
        # bound first: a port in use is reported before anything is mounted or created
        held = _bind(ports) if mode in PUBLISHING else []
        try:
            return self._start(mode, ports, held)
        finally:
            for sock in held:
                sock.close()  # the forwarder (or pasta) holds them now

    def _start(self, mode: str, ports: list[dict[str, Any]], held: list[Any]) -> int:
        if mode.startswith("ns:"):
            check_joinable(mode[3:])
        libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
        if self.cfg.get("shm_dir"):  # a pod's infra: the /dev/shm its members share
            mount_shm(self.cfg["shm_dir"])
        mount_rootfs(self.cfg["lowers"], self.cdir, self.rootfs, self.cfg.get("idmap"),
                     self.cfg.get("storage_driver") or "overlay",
                     self.cfg.get("mount_program") or "")
        self.mounted = True
        rootfs_prep.prepare(self.cfg, self.rootfs)  # /'s mode, /etc/mtab, --workdir
        if self.cfg.get("volumes_first_use") or self.cfg.get("chown"):
            self._volumes_first_use()
        rootfs_prep.passwd(self.cfg, self.rootfs, self.run_dir)  # keep-id, --hostuser
        self._write_bundle()
        libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
        return self._launch(mode, ports, held)

    def relaunch(self) -> int:
        """The restart policy's new run: the same bundle, rootfs and mounts; a fresh runtime
        container, and a fresh network helper (the network namespace died with the last)."""
        self.delete_runtime_state()
        self._stop_network()
        self._close_pipes()
        try:
            os.unlink(os.path.join(self.run_dir, "pid"))  # never mistaken for the new one
        except FileNotFoundError:
            pass
        mode = self.cfg["network"]
        ports = self.cfg.get("ports") or []
        held = _bind(ports) if mode in PUBLISHING else []
        try:
            return self._launch(mode, ports, held)
        finally:
            for sock in held:
                sock.close()

    def _launch(self, mode: str, ports: list[dict[str, Any]], held: list[Any]) -> int:
        from pyman.runtime.bundle import monitor_makes_netns

        log = os.path.join(self.run_dir, "net.log")
        netns, pasta_pid = (os.path.join(self.run_dir, n) for n in ("netns", "pasta.pid"))
        pasta, helper = None, self.cfg.get("network_helper") or ""  # pasta's, slirp4netns's
        if mode == "pasta":
            for sock in held:
                sock.close()  # pasta binds them itself
        if monitor_makes_netns(self.cfg):  # configured by pasta while the runtime creates
            new_netns(netns)
            pasta = PastaStart(helper, netns, log, pasta_pid, ports)
        if self.plug is not None:  # interfaces made by netavark before the runtime creates
            first = self.plug.setup()
            if held:  # TCP and UDP: to its first address
                target = os.path.join(self.run_dir, "forward-to")
                with open(target, "w") as f:
                    f.write(first)
                self._start_forwarder(list(zip(held, ports, strict=True)), "@" + target)
        try:  # a network helper joins between create and start; otherwise one call
            self._create(start=mode not in ("slirp4netns", "pasta"))
        except BaseException:
            if pasta is not None:  # cleanup() must find the daemon to stop
                self.helper = pasta.ready(quiet=True)
            raise
        if pasta is not None:
            self.helper = pasta.ready()
        elif mode == "pasta":  # keep-id: in the netns the runtime made
            bind_netns(self.pid, netns)
            self.helper = PastaStart(helper, netns, log, pasta_pid, ports).ready()
        if mode == "slirp4netns":
            self._start_slirp(helper, log, ports, held)
        if mode in ("slirp4netns", "pasta"):
            self._call("start", self.id)
        self._save(status="running", pid=self.pid, pid_start=start_time(self.pid),
                   exit_code=None, started_at=time.time())
        return self.pid

    def _start_slirp(self, helper: str, log: str, ports: list[dict[str, Any]],
                     held: list[Any]) -> None:
        """slirp4netns with the container's options; UDP ports (all of them with
        port_handler=slirp4netns) forwarded by slirp4netns itself, TCP by the forwarder."""
        opts = self.cfg.get("slirp") or {}
        own = [opts.get("port_handler") == "slirp4netns" or m["protocol"] == "udp"
               for m in ports]
        api = os.path.join(self.run_dir, "slirp.sock") if any(own) else None
        argv = addr = None
        if opts:
            from pyman.netns import slirp

            argv, addr = slirp.argv(opts), slirp.addresses(opts)[0]
        self.helper = start_slirp4netns(helper, self.pid, log, api, options=argv)
        for sock, m, by_slirp in zip(held, ports, own, strict=True):
            if by_slirp:
                sock.close()  # slirp4netns binds it itself, just below
                slirp_add_hostfwd(api or "", m)
        tcp = [(s, m) for s, m, by_slirp in zip(held, ports, own, strict=True)
               if not by_slirp]
        if tcp:
            self._start_forwarder(tcp, addr or netfiles.SLIRP_ADDR)

    def _start_forwarder(self, tcp: list[tuple[Any, dict[str, Any]]],
                         addr: str = netfiles.SLIRP_ADDR) -> None:
        """The published TCP ports of a slirp4netns container, or of one on a user-defined
        network, forwarded to ``addr`` in its netns (netns/forwarder.py)."""
        import sys

        netns = os.path.join(self.run_dir, "netns")
        if self.cfg["network"] == "slirp4netns":  # runc made it; the others are bound
            bind_netns(self.pid, netns)
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        fds = [s.fileno() for s, _ in tcp]
        args = [f"{s.fileno()}:{m['container_port']}"
                f"{'/udp' if m['protocol'] == 'udp' else ''}" for s, m in tcp]
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.join(here, "netns", "forwarder.py"), netns,
             addr, *args],
            pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        with open(os.path.join(self.run_dir, "forwarder.pid"), "w") as f:
            f.write(str(proc.pid))

    def _stop_forwarder(self) -> None:
        try:
            with open(os.path.join(self.run_dir, "forwarder.pid")) as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, 15)
            os.waitpid(pid, 0)  # our child: the ports are free once it is reaped
        except (ProcessLookupError, ChildProcessError):
            pass

    def _volumes_first_use(self) -> None:
        from pyman.runtime.users import resolve_user
        from pyman.storage.volume_copy import chown_tree, first_use, to_outer

        user = resolve_user(self.rootfs, self.cfg["spec"].get("user") or "")
        entries = self.cfg.get("volumes_first_use") or []
        uid, gid = user.uid, user.gid
        maps = self.cfg.get("userns_maps")
        if maps:  # keep-id: container ids -> ours (the rootfs shows ours already)
            uid, gid = to_outer(maps["uid"], uid), to_outer(maps["gid"], gid)
            for e in entries:
                for key in ("uid", "gid"):
                    if key in e:
                        e[key] = to_outer(maps[key], e[key])
        if entries:
            first_use(entries, self.rootfs, uid, gid, self.cfg["volumes_lock"])
        for path in self.cfg.get("chown") or ():  # U mounts, at every start
            chown_tree(path, uid, gid)

    def _write_bundle(self) -> None:
        from pyman.runtime.bundle import write_config

        files = netfiles.for_container(self.cfg, self.rootfs,
                                       self.plug.files() if self.plug is not None else None)
        join = self.cfg.get("join")
        if join and "network" in join["ns"]:
            files.update(netfiles.joined_files(join["run_dir"], self.cfg["name"]))
        if "hosts" not in files:  # containers.conf no_hosts: the image's own
            try:
                os.unlink(os.path.join(self.run_dir, "hosts"))
            except FileNotFoundError:
                pass
        for name, text in files.items():
            with open(os.path.join(self.run_dir, name), "w") as f:
                f.write(text)
        rootfs_prep.run_dir_extras(self.cfg, self.run_dir)  # .containerenv, secrets
        write_config(self.cfg, rootfs_prep.reachable_rootfs(self.cfg, self.rootfs),
                     self.run_dir)

    def _create(self, start: bool = False) -> None:
        """`runtime create`; ``start``: `runtime run --detach`, created and started by one
        runtime process (~5 ms less) when nothing has to happen in between."""
        pid_file = os.path.join(self.run_dir, "pid")
        verb = ["run", "--detach"] if start else ["create"]
        # the client's fds 3..: socket activation (systemd_opts) and --preserve-fds
        keep = max(int(self.cfg.get("preserve_fds") or 0), len(self.listen_fds))
        if keep:
            verb.append(f"--preserve-fds={keep}")
        argv = self._rt("--log", os.path.join(self.run_dir, "runtime.log"), "--log-format",
                        "json", *verb, "--bundle", self.run_dir, "--pid-file", pid_file,
                        self.id)
        if self.cfg["spec"].get("terminal"):  # never with passthrough (refused at create)
            err_r, err_w = os.pipe()
            self.pipes = {"stderr": err_r}  # runc's own words, should it fail
            self._create_tty(argv, err_w)
        else:
            stdin: int = subprocess.DEVNULL
            in_r = -1
            if self.cfg.get("stdin") == "inherit":  # an attached `run -i`: the client's own
                stdin = 0
            elif self.cfg.get("stdin") == "pipe":  # -i for clients of the attach socket
                in_r, self.stdin_w = os.pipe()
                stdin = in_r
            try:
                self._create_piped(argv, stdin)
            finally:
                if in_r >= 0:
                    os.close(in_r)
        self.created = True
        with open(pid_file) as f:
            self.pid = int(f.read().strip())

    def _kept_fds(self, keep: int) -> list[int]:
        """The client's fds the runtime hands on: --preserve-fds's and socket activation's."""
        return sorted({*self.listen_fds, *range(3, 3 + keep)})

    def _create_piped(self, argv: list[str], stdin: int) -> None:
        keep = int(self.cfg.get("preserve_fds") or 0)
        if self.cfg.get("log_driver") == "passthrough":  # the monitor's stdio: the client's
            proc = subprocess.run(argv, stdin=stdin, check=False, pass_fds=self._kept_fds(keep))
            if proc.returncode != 0:
                raise self._start_error(self._runtime_error() or f"exit status {proc.returncode}")
            return
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        self.pipes = {"stdout": out_r, "stderr": err_r}
        proc = subprocess.run(argv, stdin=stdin, stdout=out_w, stderr=err_w, check=False,
                              pass_fds=self._kept_fds(keep))
        os.close(out_w)
        os.close(err_w)
        if proc.returncode != 0:
            msg = self._runtime_error() or _drain(err_r) or f"exit status {proc.returncode}"
            raise self._start_error(msg)

    def _create_tty(self, argv: list[str], err_w: int) -> None:
        """`runtime create` with a terminal: the runtime opens the pty in the container and
        sends its master over the console socket; the monitor keeps it for the container's
        life (its output, the clients' input and window sizes)."""
        from pyman.runtime.console import ConsoleSocket

        with ConsoleSocket(self.run_dir) as console:
            proc = subprocess.Popen([*argv[:-1], "--console-socket", console.path, argv[-1]],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err_w, pass_fds=self._kept_fds(
                                        int(self.cfg.get("preserve_fds") or 0)))
            os.close(err_w)
            pidfd = os.pidfd_open(proc.pid)
            try:
                self.master = console.receive(abort_fd=pidfd)
            except PymanError:
                self.master = -1
            finally:
                os.close(pidfd)
                code = proc.wait()
        if code != 0 or self.master < 0:
            if self.master >= 0:
                os.close(self.master)
                self.master = -1
            msg = self._runtime_error() or _drain(self.pipes["stderr"]) or \
                f"exit status {code}"
            raise self._start_error(msg)
        os.close(self.pipes.pop("stderr"))
        self.pipes = {"stdout": self.master}  # a terminal has one output: the log's stdout

    def _start_error(self, message: str) -> PymanError:
        from pyman.runtime.failure import runtime_failure

        return runtime_failure(self.runtime, message)

    def listen_attach(self) -> int:
        """The attach socket (relay.py speaks on it); a path too long for sun_path is
        reached through the run dir's fd."""
        import _socket  # socket.py (with selectors, enum) would cost ~1.5 ms of each run

        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
        path = os.path.join(self.run_dir, "attach")
        dir_fd = -1
        if len(os.fsencode(path)) > 107:
            dir_fd = os.open(self.run_dir, os.O_RDONLY | os.O_DIRECTORY)
            path = f"/proc/self/fd/{dir_fd}/attach"
        try:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            old = os.umask(0o177)
            try:
                sock.bind(path)
            finally:
                os.umask(old)
        finally:
            if dir_fd >= 0:
                os.close(dir_fd)
        sock.listen(16)
        return sock.detach()

    def _runtime_error(self) -> str:
        """The last error the runtime logged (runc and crun both write JSON lines)."""
        msg = ""
        try:
            with open(os.path.join(self.run_dir, "runtime.log"), errors="replace") as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if entry.get("level") in ("error", "fatal"):
                        msg = str(entry.get("msg", ""))
        except OSError:
            pass
        return msg

    def _call(self, *args: str) -> None:
        proc = subprocess.run(self._rt(*args), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            raise self._start_error(self._runtime_error() or (err[-1] if err else args[0]))

    def output_fds(self) -> dict[str, int]:
        return self.pipes

    def wait(self) -> int:
        while True:
            try:
                _, status = os.waitpid(self.pid, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:
                return 125  # not ours: the runtime did not reparent it (should not happen)
        code = os.waitstatus_to_exitcode(status)
        return code if code >= 0 else 128 - code

    def delete_runtime_state(self) -> None:
        """`runtime delete`: after the client has its answer, the runtime's own state dir is
        all that is left, and nothing else refers to this container id any more."""
        if self.created:
            self.created = False
            subprocess.run(self._rt("delete", "--force", self.id), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

    def _stop_network(self, wait: bool = True) -> None:
        self._stop_forwarder()
        if self.helper is not None:
            self.helper.stop(wait)
            self.helper = None
        netns = os.path.join(self.run_dir, "netns")
        if self.plug is not None:
            self.plug.teardown(self.created)
        if os.path.exists(netns):  # the bind keeps the namespace alive: let it go
            try:
                libc.umount(netns, libc.MNT_DETACH)
            except OSError:
                pass

    def _close_pipes(self) -> None:
        for fd in self.pipes.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.pipes = {}

    def cleanup(self, code: int | None, error: str = "") -> None:
        if code is None:
            self.delete_runtime_state()
        if self.plug is not None:
            self.plug.end_if_last()
        self._stop_network(wait=bool(self.cfg.get("ports")))  # published: free them first
        self._close_pipes()
        for fd in (self.stdin_w,):
            if fd >= 0:
                os.close(fd)
        self.stdin_w = -1
        try:
            os.unlink(os.path.join(self.run_dir, "attach"))
        except OSError:
            pass
        if self.mounted:
            unmount_rootfs(self.rootfs)
        if self.plug is not None:
            self.plug.finish()
        if self.cfg.get("rm"):
            import shutil

            if code is not None:  # outlives the record: a waiter asks for it (Podman's too)
                from pyman.monitor.exit_codes import keep

                keep(self.run_dir, self.cfg["id"], code)
            shutil.rmtree(self.cdir, ignore_errors=True)
            shutil.rmtree(self.run_dir, ignore_errors=True)
            for vol in self.cfg.get("rm_volumes") or ():  # --rm takes its anonymous volumes
                shutil.rmtree(vol, ignore_errors=True)
            from_monitor(self.cfg, "remove")
            return
        if code is None:  # never started: Podman leaves such a container "Created"
            self._save(status="created", error=error)
        else:
            self._save(status="exited", exit_code=code, finished_at=time.time())
            from_monitor(self.cfg, "cleanup")






def _drain(fd: int) -> str:
    os.set_blocking(fd, False)
    try:
        data = os.read(fd, 65536)
    except OSError:
        data = b""
    lines = data.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


def _bind(ports: list[dict[str, Any]]) -> list[Any]:
    from pyman.netns.ports import bind_all  # socket and ipaddress: only when publishing

    return bind_all(ports)
