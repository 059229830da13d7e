"""pyman kube generate|play|down (and play kube): Kubernetes YAML in and out
(Engine.kube)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pyman.cli import complete_values as cv

app = typer.Typer(add_completion=False)
CTX = {"help_option_names": ["--help"]}
group = typer.Typer(add_completion=False, no_args_is_help=True, context_settings=CTX,
                    help="Play containers and pods from Kubernetes YAML, and generate it.")
app.add_typer(group, name="kube")
# Podman's older spelling, still in 4.3: `play kube FILE` is `kube play FILE`
play_group = typer.Typer(add_completion=False, no_args_is_help=True, context_settings=CTX,
                         help="Play containers, pods or volumes from a structured file.")
app.add_typer(play_group, name="play")


def generate_yaml(
    names: Annotated[list[str], typer.Argument(help="A pod, or containers not in a pod.",
                                             autocompletion=cv.pods_and_containers)],
    service: Annotated[bool, typer.Option("--service", "-s",
                                          help="Also generate a NodePort Service.")] = False,
    filename: Annotated[Path | None, typer.Option(
        "--filename", "-f", help="Write the YAML to this file (it must not exist).")] = None,
) -> None:
    """Generate Kubernetes YAML from containers or a pod."""
    from pyman.cli.context import engine as make_engine
    from pyman.errors import PymanError

    text = make_engine().kube.generate(names, service=service)
    if filename is None:
        print(text, end="")
        return
    try:
        with open(filename, "x") as f:
            f.write(text)
    except FileExistsError:
        raise PymanError(f"cannot write to {str(filename)!r}: file exists") from None


group.command("generate", context_settings=CTX)(generate_yaml)


@play_group.command("kube", context_settings=CTX)
@group.command("play", context_settings=CTX)
def play(
    file: Annotated[str, typer.Argument(help="Kubernetes YAML file, or - for stdin.")],
    down_: Annotated[bool, typer.Option("--down", help="Stop and remove the pods the file "
                                                       "describes.")] = False,
    start: Annotated[bool, typer.Option("--start/--no-start",
                                        help="Start the pods once created.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Suppress pull output.")
                     ] = False,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Remove the file's pods first if they exist.")] = False,
) -> None:
    """Create and run pods, containers and volumes from Kubernetes YAML."""
    if down_:
        down(file)
        return
    from pyman.cli.context import engine as make_engine
    from pyman.cli.progress import PullProgress

    with PullProgress(quiet) as progress:
        report = make_engine().kube.play(file, start=start, events=progress, replace=replace)
    out = []
    if report.volumes:
        out += ["Volume:", *report.volumes]
    for pod in report.pods:
        out += ["Pod:", pod.id, "Containers:" if len(pod.containers) > 1 else "Container:",
                *pod.containers, ""]
    print("\n".join(out))


@group.command("down", context_settings=CTX)
def down(
    file: Annotated[str, typer.Argument(help="Kubernetes YAML file, or - for stdin.")],
) -> None:
    """Stop and remove the pods a Kubernetes YAML file describes."""
    from pyman.cli.context import engine as make_engine

    report = make_engine().kube.down(file)
    if report.stopped:
        print("\n".join(["Pods stopped:", *report.stopped]))
    if report.removed:
        print("\n".join(["Pods removed:", *report.removed]))
