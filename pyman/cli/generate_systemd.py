"""pyman generate systemd: units for a container or a pod (Engine.systemd)."""

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
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    if template and new is False:
        raise PymanError("--template cannot be set with --new=false")
    if format_ not in (None, "", "json"):
        raise PymanError(f"unknown --format argument: {format_}")
    systemd = make_engine().systemd
    opts = systemd.unit_options(
        executable(), new=bool(new or template), use_name=name,
        restart_policy=restart_policy or "on-failure",
        restart_given=restart_policy is not None, template=template,
        restart_sec=restart_sec, stop_timeout=time_, container_prefix=container_prefix,
        pod_prefix=pod_prefix, separator=separator, header=not no_header)
    units = systemd.generate(target, opts, run_value_flags())
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

