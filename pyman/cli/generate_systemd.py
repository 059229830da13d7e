"""pyman generate systemd: units for a container or a pod (engine/systemd/generate.py)."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from pyman.cli import complete_values as cv


def run_value_flags() -> set[str]:
    """The run/create options that take a value, every spelling: to parse a recorded
    create command the way `pyman run` parsed it."""
    from pyman.cli.run import app as run_app

    run = typer.main.get_command(run_app).commands["run"]  # type: ignore[attr-defined]
    return {name for p in run.params if p.param_type_name == "option" and not p.is_flag
            for name in p.opts}


def executable() -> str:
    """pyman's absolute path, as the units must name it."""
    import shutil

    path = sys.argv[0]
    if os.sep not in path:
        path = shutil.which(path) or path
    return os.path.abspath(path)


def generate_systemd(
    target: Annotated[str, typer.Argument(
        help="A container or a pod (name or id).", autocompletion=cv.pods_and_containers)],
    new: Annotated[bool | None, typer.Option(
        "--new/--no-new", help="Create the container (or pod) at each start and remove it "
        "at stop.")] = None,
    template: Annotated[bool, typer.Option(
        "--template", help="A template unit (container-NAME@.service): each instance %i "
        "runs its own container, NAME-%i; implies --new.")] = False,
    name: Annotated[bool, typer.Option(
        "--name", "-n", help="Name the units and commands by names, not ids.")] = False,
    files: Annotated[bool, typer.Option(
        "--files", "-f", help="Write <unit>.service files into the current directory.")
                     ] = False,
    restart_policy: Annotated[str | None, typer.Option(
        "--restart-policy", help="Restart= of the service (default: the container's own "
        "restart policy if it has one, else on-failure).",
        autocompletion=cv.systemd_restart_policies)] = None,
    restart_sec: Annotated[int, typer.Option(
        "--restart-sec", help="RestartSec= of the service (seconds, 0: systemd's).")] = 0,
    time_: Annotated[int | None, typer.Option(
        "--time", "-t", help="Stop timeout (default: the container's, 10).")] = None,
    container_prefix: Annotated[str, typer.Option(
        "--container-prefix", help="Prefix of container units.")] = "container",
    pod_prefix: Annotated[str, typer.Option("--pod-prefix", help="Prefix of pod units.")
                          ] = "pod",
    separator: Annotated[str, typer.Option(
        "--separator", help="Between the prefix and the name or id.")] = "-",
    no_header: Annotated[bool, typer.Option(
        "--no-header", help="No comment header with the version and the date.")] = False,
    format_: Annotated[str | None, typer.Option("--format", help="json")] = None,
) -> None:
    """Generate systemd units for a container or a pod."""
    from pyman import __version__
    from pyman.cli.context import engine as make_engine
    from pyman.engine.systemd.generate import SystemdGenerator, unit_runtime_dir
    from pyman.engine.systemd.units import UnitOptions, check_restart_policy
    from pyman.errors import PymanError

    if template and new is False:
        raise PymanError("--template cannot be set with --new=false")
    new = bool(new or template)
    restart_given = restart_policy is not None
    restart_policy = restart_policy or "on-failure"
    check_restart_policy(restart_policy)
    if format_ not in (None, "", "json"):
        raise PymanError(f"unknown --format argument: {format_}")
    if time_ is not None and time_ < 0:
        raise PymanError(f"invalid --time {time_}: must not be negative")
    engine = make_engine()
    paths = engine.paths
    # the store is where XDG_DATA_HOME says: the unit must find the same one
    environment = [env_assignment(var, os.environ[var]) for var in
                   ("XDG_DATA_HOME", "XDG_CONFIG_HOME") if os.path.isabs(os.environ.get(var, ""))]
    runtime_dir = unit_runtime_dir(paths)
    opts = UnitOptions(
        executable=executable(), new=new, use_name=name, restart_policy=restart_policy,
        restart_given=restart_given, template=template,
        restart_sec=restart_sec, stop_timeout=time_, container_prefix=container_prefix,
        pod_prefix=pod_prefix, separator=separator, header=not no_header,
        version=__version__, requires_mounts=[runtime_dir, str(paths.data)],
        environment=environment, runtime_dir=runtime_dir)
    units = SystemdGenerator(engine.containers, opts, run_value_flags()).generate(target)
    if files:
        written = []
        for service, text in units.items():
            path = os.path.join(os.getcwd(), f"{service}.service")
            tmp = f"{path}.tmp-{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(text)
            os.rename(tmp, path)  # a file is whole or absent
            written.append(path)
        if format_ == "json":
            print(json.dumps(written, indent=1))
        else:
            print("\n".join(written))
        return
    if format_ == "json":
        print(json.dumps(dict(sorted(units.items())), indent=1))
        return
    sys.stdout.write("".join(units.values()))


def env_assignment(var: str, value: str) -> str:
    """An Environment= word: % doubled (a specifier otherwise), quoted whole if need be."""
    word = f"{var}={value}".replace("%", "%%")
    if any(c in word for c in " \t\"'\\"):
        word = '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word
