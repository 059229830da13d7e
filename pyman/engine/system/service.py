"""`Engine.system`: info, check, df, prune, reset, migrate and the events log, as typed
calls returning the reports the system modules make."""

from __future__ import annotations

from typing import Any

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pyman.engine import Engine
    from pyman.engine.system.check import Check
    from pyman.engine.system.df import DiskUsage
    from pyman.engine.system.events import Event
    from pyman.engine.system.inspect import InspectReport
    from pyman.engine.system.ops import Migration
    from pyman.engine.system.prune import SystemPruneReport


class SystemService:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def info(self, *, cgroup_manager: str | None = None, events_backend: str | None = None,
             checks: bool = True) -> dict[str, Any]:
        """`pyman info`'s document (host, store, registries, version), keys as Podman's
        JSON. ``checks``: add `system check`'s findings (host.systemCheck, ~0.3 s)."""
        from pyman.engine.system.info import host_info

        return host_info(self._engine, cgroup_manager, events_backend, checks=checks)

    def version(self) -> dict[str, Any]:
        """`pyman version`'s document ({"Client": {...}})."""
        from pyman.engine.system.info import version

        return version()

    def check(self) -> list[Check]:
        """This host's prerequisites for rootless containers, each ok, warn or fail with
        its fix."""
        from pyman.engine.system.check_host import run_checks

        return run_checks(self._engine.paths, self._engine.runtime)

    def df(self) -> DiskUsage:
        """Each image, container and volume with its size and users."""
        from pyman.engine.system.df import disk_usage

        return disk_usage(self._engine)

    def check_prune_filters(self, filters: list[str]) -> dict[str, list[str]]:
        """``prune``'s filters by key; a key it does not take raises PymanError."""
        from pyman.engine.system.prune import check_filters

        return check_filters(filters)

    def prune(self, *, all_: bool = False, volumes: bool = False,
              filters: list[str] | None = None) -> SystemPruneReport:
        """Remove unused pods, containers, images (dangling ones, or every unused one with
        ``all_``), networks and, with ``volumes``, volumes. ``filters``: label=, label!=,
        until=."""
        from pyman.engine.system.prune import prune

        return prune(self._engine, all_, volumes, filters)

    def reset(self) -> list[str]:
        """Remove every container, pod, image, volume and network of the store; the
        warnings of what could not be removed."""
        from pyman.engine.system.ops import reset

        return reset(self._engine)

    def migrate(self) -> Migration:
        """Bring the store to the user's current sub-id range."""
        from pyman.engine.system.ops import migrate

        return migrate(self._engine)

    def inspect(self, keys: list[str], type_: str = "all") -> InspectReport:
        """`pyman inspect`: each key looked up in Podman's order (``type_``: container,
        image, volume or all); the documents found and the error of a miss (returned, not
        raised: Podman shows what it found, then fails)."""
        from pyman.engine.system.inspect import inspect

        return inspect(self._engine, keys, type_)

    def unshare(self, argv: list[str]) -> int:
        """`pyman unshare ARGV`: run a command in the user's namespace (the store's ids
        mapped); its exit code. A missing program raises CommandNotFoundError."""
        from pyman.engine.system.unshare import run

        return run(argv, self._engine.paths)

    def events(self, filters: list[str] | None = None, since: str | None = None,
               until: str | None = None) -> Iterator[Event]:
        """The events log's matching events so far, oldest first (``filters`` as
        `--filter`, ``since``/``until`` as Podman's times)."""
        from pyman.engine.system.events import events

        return events(filters or [], since, until, stream=False)

    def follow_events(self, filters: list[str] | None = None, since: str | None = None,
                      until: str | None = None, *, stopped: Callable[[], bool] | None = None
                      ) -> Iterator[Event]:
        """The matching events as they come (from ``since`` if given, else from now), until
        ``until`` passes, ``stopped()`` says so, or the caller stops iterating."""
        from pyman.engine.system.events import events

        return events(filters or [], since, until, stream=True, stopped=stopped)

    def event_json(self, event: Event) -> str:
        """An event as Podman's JSON line."""
        from pyman.engine.system.events import to_json

        return to_json(event)
