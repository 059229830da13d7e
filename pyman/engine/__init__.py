"""The engine: what the CLI, the API service and Python programs call. Returns plain dataclasses."""

from __future__ import annotations

from functools import cached_property

from pyman.config import Paths, paths, secure


def configure(*, root: str = "", runroot: str = "", driver: str = "", volumepath: str = "",
              events_backend: str | None = None,
              warnings: Callable[[str], None] | None = None) -> None:
    """The process's settings the global options give (``--root``, ``--runroot``,
    ``--storage-driver``, ``--volumepath``, ``--events-backend``): every Engine made after
    this uses them. ``warnings`` takes the warning lines the engine would otherwise write
    on stderr (a damaged record skipped, a directory made private)."""
    if warnings is not None:
        from pyman.errors import on_warning

        on_warning(warnings)
    if root or runroot or driver or volumepath:
        from pyman.config import set_overrides

        set_overrides(root=root, runroot=runroot, driver=driver, volumepath=volumepath)
    if events_backend is not None:
        from pyman.eventlog import set_backend

        set_backend(events_backend)


class Engine:
    def __init__(self, p: Paths | None = None, *, runtime: str | None = None,
                 runtime_flags: list[str] | None = None) -> None:
        """``runtime``: an OCI runtime name or path (``--runtime``); None picks what works.
        ``runtime_flags``: ``--runtime-flag`` values, given to the runtime as ``--FLAG``."""
        self.paths = p or paths()
        self.runtime = runtime
        self.runtime_flags = list(runtime_flags or [])
        self.default_mounts_file: str | None = None  # --default-mounts-file
        secure(self.paths)  # two stats: the store and the runtime dir stay 0700

    @cached_property
    def images(self) -> "ImageService":  # noqa: UP037 - imported lazily below
        from pyman.engine.images.operations import ImageService

        return ImageService(self.paths)

    @cached_property
    def containers(self) -> "ContainerService":  # noqa: UP037
        from pyman.engine.containers.operations import ContainerService

        svc = ContainerService(self.paths, lambda: self.images, runtime=self.runtime)
        svc.options.update(runtime_flags=self.runtime_flags,
                           default_mounts_file=self.default_mounts_file)
        return svc

    @cached_property
    def volumes(self) -> "VolumeService":  # noqa: UP037
        from pyman.engine.volumes.operations import VolumeService

        return VolumeService(self.paths)

    @cached_property
    def pods(self) -> "PodService":  # noqa: UP037
        from pyman.engine.pods import PodService

        return PodService(self.paths, self.containers)

    @cached_property
    def networks(self) -> "NetworkService":  # noqa: UP037
        from pyman.engine.network.service import NetworkService

        return NetworkService(lambda: self.containers)

    @cached_property
    def registry(self) -> "RegistryService":  # noqa: UP037
        from pyman.engine.images.registry import RegistryService

        return RegistryService(self.paths)

    @cached_property
    def exec(self) -> "ExecService":  # noqa: UP037
        from pyman.engine.containers.exec import ExecService

        return ExecService(self.paths)

    @cached_property
    def copy(self) -> "CopyService":  # noqa: UP037
        from pyman.engine.copy.cp import CopyService

        return CopyService(self.paths)

    @cached_property
    def archives(self) -> "ArchiveService":  # noqa: UP037
        from pyman.engine.images.archives import ArchiveService

        return ArchiveService(self.paths)

    @cached_property
    def top(self) -> "TopService":  # noqa: UP037
        from pyman.engine.containers.top import TopService

        return TopService(self.paths)

    @cached_property
    def kube(self) -> "KubeService":  # noqa: UP037
        from pyman.engine.kube.service import KubeService

        return KubeService(self)

    @cached_property
    def systemd(self) -> "SystemdService":  # noqa: UP037
        from pyman.engine.systemd.service import SystemdService

        return SystemdService(self)

    @cached_property
    def system(self) -> "SystemService":  # noqa: UP037
        from pyman.engine.system.service import SystemService

        return SystemService(self)


from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyman.engine.containers.exec import ExecService
    from pyman.engine.containers.operations import ContainerService
    from pyman.engine.containers.top import TopService
    from pyman.engine.copy.cp import CopyService
    from pyman.engine.images.archives import ArchiveService
    from pyman.engine.images.operations import ImageService
    from pyman.engine.images.registry import RegistryService
    from pyman.engine.kube.service import KubeService
    from pyman.engine.network.service import NetworkService
    from pyman.engine.pods import PodService
    from pyman.engine.system.service import SystemService
    from pyman.engine.systemd.service import SystemdService
    from pyman.engine.volumes.operations import VolumeService
