"""`Engine.systemd`: `generate systemd`'s units, as a typed call."""

from __future__ import annotations

import os

from pyman.errors import PymanError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Set

    from pyman.engine import Engine
    from pyman.engine.systemd.units import UnitOptions


class SystemdService:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def unit_options(self, executable: str, **flags: object) -> UnitOptions:
        """The units' options for this engine's store: ``executable`` is pyman's absolute
        path, ``flags`` any other UnitOptions field (new, use_name, restart_policy ...).
        The units find the same store: its mounts are required, XDG_DATA_HOME and
        XDG_CONFIG_HOME (when set) are passed on."""
        from pyman import __version__
        from pyman.engine.systemd.generate import unit_runtime_dir
        from pyman.engine.systemd.units import UnitOptions

        paths = self._engine.paths
        runtime_dir = unit_runtime_dir(paths)
        environment = [env_assignment(var, os.environ[var])
                       for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")
                       if os.path.isabs(os.environ.get(var, ""))]
        settings: dict[str, object] = {
            "version": __version__, "requires_mounts": [runtime_dir, str(paths.data)],
            "environment": environment, "runtime_dir": runtime_dir}
        settings.update(flags)
        return UnitOptions(executable, **settings)  # type: ignore[arg-type]

    def generate(self, target: str, options: UnitOptions,
                 value_flags: Set[str] = frozenset()) -> dict[str, str]:
        """The units of a container or a pod: {service name: unit text}, in Podman's order
        (a pod's containers, then the pod). With ``options.new`` the recorded create
        command is parsed again: ``value_flags`` names the run options that take a value
        (every spelling; the CLI passes its own)."""
        from pyman.engine.systemd.generate import SystemdGenerator
        from pyman.engine.systemd.units import check_restart_policy

        check_restart_policy(options.restart_policy)
        if options.stop_timeout is not None and options.stop_timeout < 0:
            raise PymanError(f"invalid --time {options.stop_timeout}: must not be negative")
        if options.template and not options.new:
            raise PymanError("--template cannot be set with --new=false")
        return SystemdGenerator(self._engine.containers, options,
                                set(value_flags)).generate(target)


def env_assignment(var: str, value: str) -> str:
    """An Environment= word: % doubled (a specifier otherwise), quoted whole if need be."""
    word = f"{var}={value}".replace("%", "%%")
    if any(c in word for c in " \t\"'\\"):
        word = '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word
