"""The build's containers: a RUN runs in a real container of the image being built (created
and started by ContainerService, under a monitor, as `pyman run`); COPY/ADD unpack into a
created container's root (engine/copy/cp.py's helper); either way the container's overlay upper
dir becomes the step's layer (engine/commit.upper_layer) and the container is removed.

Build containers carry the label io.pyman.build=<pid>:<start time> of the build that made
them: a build killed meanwhile leaves one behind, and the next build removes it.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from pyman.engine.types import BUILD_LABEL, RunOptions
from pyman.errors import BuildStepError, Interrupted, PymanError

if TYPE_CHECKING:
    from pyman.engine import Engine
    from pyman.storage.containers import ContainerConfig
    from pyman.storage.images import ImageRecord

# mount points the runtime makes for pyman's own mounts: children before their parents
MOUNT_POINTS = ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/etc/localtime",
                "/run/.containerenv", "/run/secrets", "/dev/shm", "/dev/mqueue", "/dev/pts",
                "/sys/fs/cgroup", "/sys/fs", "/etc", "/run", "/dev", "/proc", "/sys"]


def _me() -> str:
    from pyman.procinfo import start_time

    return f"{os.getpid()}:{start_time(os.getpid())}"


def remove_stale(engine: Engine) -> None:
    """Remove the build containers of builds that are gone (killed while running a step)."""
    from pyman.procinfo import start_time

    svc = engine.containers
    for c in svc.store.all():
        owner = (c.labels or {}).get(BUILD_LABEL)
        if not owner:
            continue
        pid, _, started = owner.partition(":")
        try:
            alive = start_time(int(pid)) == int(started)
        except (ValueError, OSError):
            alive = False
        if not alive:
            try:
                svc.remove(c.id, force=True)
            except PymanError:
                pass


class Containers:
    """Makes, uses and removes the build's containers."""

    def __init__(self, engine: Engine, opts: Any) -> None:
        self.engine = engine
        self.opts = opts  # BuildOptions: network, dns, ulimits, security options, volumes
        # --jobs: forks of this process into a user namespace or a container's root one at
        # a time (a child must not inherit another thread's half-done work)
        self.fork_lock = threading.Lock()
        self._live: set[str] = set()  # RUN containers running now (several with --jobs)
        self.stopping = False  # interrupted: no further RUN starts

    def _create(self, rec: ImageRecord, argv: list[str], env: list[str], user: str,
                workdir: str, mounts: list[str] | None = None, network: str | None = None
                ) -> ContainerConfig:
        o = self.opts
        run = RunOptions(
            image=rec.id, command=argv, entrypoint="", env=env, user=user or None,
            workdir=workdir or None, make_workdir=True,  # WORKDIR: made when missing
            network=network or o.network or None,
            labels={BUILD_LABEL: _me()}, image_volume="ignore", pull="never",
            dns=list(o.dns), dns_search=list(o.dns_search), dns_option=list(o.dns_option),
            add_host=list(o.add_host), ulimit=list(o.ulimit), security_opt=list(o.security_opt),
            cap_add=list(o.cap_add), cap_drop=list(o.cap_drop), volumes=list(o.volumes),
            mounts=list(mounts or []), systemd="false", log_driver="k8s-file",
            hostname=None)
        return self.engine.containers.create(run, rec)

    def _layer(self, c: ContainerConfig) -> tuple[str, int]:
        from pyman.engine.images.commit import upper_layer

        store = self.engine.containers.store
        upper = store.dir(c.id) / "upper"
        if (store.dir(c.id) / "rootfs").is_dir() or not upper.is_dir():
            raise PymanError("pyman build needs the overlay storage driver (the build "
                             "container keeps no overlay upper dir with the vfs driver)")
        lowers = self._lowers(c)
        drop = [*MOUNT_POINTS, *(m.get("destination", "") for m in c.mounts)]
        with self.fork_lock:
            return upper_layer(self.engine.paths, str(upper), lowers, drop, move=True)

    def _lowers(self, c: ContainerConfig) -> list[str]:
        from pyman.storage.layers import LayerStore

        layers = LayerStore(self.engine.paths.layers)
        return [str(layers.diff(d)) for d in c.layers]

    def _remove(self, c: ContainerConfig) -> None:
        try:
            with self.fork_lock:
                self.engine.containers.remove(c.id, force=True)
        except PymanError:
            pass

    def run(self, rec: ImageRecord, argv: list[str], env: list[str], user: str,
            workdir: str, mounts: list[str], network: str | None, shown: str
            ) -> tuple[str, int]:
        """Run ``argv``; its layer (diff_id, size). A non-zero exit is BuildStepError with
        the command's exit code."""
        import sys

        if self.stopping:
            raise Interrupted("build interrupted")
        c = self._create(rec, argv, env, user, workdir, mounts, network)
        self._live.add(c.id)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            quiet = open(os.devnull, "wb") if self.opts.quiet else None  # -q: no output
            out = quiet or self.opts.output
            try:
                # no signals proxied: the CLI stops the build on SIGTERM/SIGINT
                result = self.engine.containers.start(c, detach=False, sig_proxy=False,
                                                      stdout=out, stderr=out)
            except Interrupted:
                raise
            except PymanError as exc:  # the runtime failed: exit status 1, as Buildah's
                raise BuildStepError(f"while running runtime: {exc}", exit_code=1) from None
            finally:
                if quiet is not None:
                    quiet.close()
            code = result.exit_code if result.exit_code is not None else 125
            if code != 0:
                raise BuildStepError(f"while running runtime: exit status {code}",
                                     exit_code=code)
            return self._layer(c)
        finally:
            self._live.discard(c.id)
            self._remove(c)

    def kill_running(self) -> None:
        """SIGKILL every RUN container running now: an interrupted --jobs build's other
        stages end at once instead of after their steps (the main thread, which got the
        signal, waits for them); no RUN starts after this."""
        self.stopping = True
        for cid in list(self._live):
            try:
                self.engine.containers.kill(cid)
            except PymanError:
                pass  # not running (any more)

    def copy(self, rec: ImageRecord, payload_fd: int, dest: str, workdir: str,
             chown: str | None) -> tuple[str, int]:
        """Unpack the payload (engine/build/copy.py) into a container of ``rec``."""
        from pyman.engine.build import copy as build_copy
        from pyman.engine.copy.cp import CopyService

        c = self._create(rec, ["/bin/true"], [], "", workdir)
        try:
            def child() -> None:
                build_copy.unpack(payload_fd, dest, workdir, chown)

            with self.fork_lock:
                CopyService(self.engine.paths).in_container(c.id, child, writable=True)
            return self._layer(c)
        finally:
            self._remove(c)

    def read(self, rec: ImageRecord, sources: list[str], out_fd: int, chmod: int | None,
             what: str) -> None:
        """Write the payload of ``sources`` read from ``rec``'s filesystem (COPY --from)."""
        from pyman.engine.build import copy as build_copy
        from pyman.engine.copy.cp import CopyService

        c = self._create(rec, ["/bin/true"], [], "", "/")
        try:
            def child() -> None:
                with os.fdopen(out_fd, "wb", closefd=False) as out:
                    build_copy.write_payload("/", sources, out, chmod=chmod, what=what)

            with self.fork_lock:
                CopyService(self.engine.paths).in_container(c.id, child, writable=False)
        finally:
            self._remove(c)
